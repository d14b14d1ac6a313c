"""Which torch device a job runs on.

``auto`` takes the first of CUDA (device 0), Apple MPS and the CPU that is available;
``cuda``, ``cuda:N``, ``mps`` and ``cpu`` ask for one, and an absent one is an error naming
what this machine has instead.
"""

import re
from dataclasses import dataclass
from typing import List

from ._torch import require_torch


class DeviceUnavailable(ValueError):
    """The requested device does not exist here; the message is one line for the user."""


@dataclass
class DeviceChoice:
    #: torch device string: ``cuda:0``, ``mps`` or ``cpu``.
    device: str
    #: what was asked for (``auto``, ``cuda``, …).
    requested: str
    #: one sentence: why this device.
    reason: str
    #: human name: the GPU's name, ``Apple MPS`` or ``CPU``.
    name: str


def mps_available() -> bool:
    torch = require_torch()
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> List[str]:
    """Every device torch can use here, e.g. ``['cuda:0', 'cuda:1', 'cpu']``."""
    torch = require_torch()
    out = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if mps_available():
        out.append("mps")
    out.append("cpu")
    return out


def _cuda_name(index: int) -> str:
    return require_torch().cuda.get_device_name(index)


def select_device(requested: str = "auto") -> DeviceChoice:
    """Resolves a device request.

    :raises DeviceUnavailable: for an unknown spelling or a device this machine lacks.
    """
    torch = require_torch()
    req = (requested or "auto").strip().lower()
    have = ", ".join(available_devices())
    if req == "auto":
        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            return DeviceChoice("cuda:0", requested, f"auto: CUDA is available ({torch.cuda.device_count()} device(s)); the first is used", _cuda_name(0))
        if mps_available():
            return DeviceChoice("mps", requested, "auto: no CUDA device; Apple MPS is available", "Apple MPS")
        return DeviceChoice("cpu", requested, "auto: neither a CUDA device nor Apple MPS is available", "CPU")
    m = re.fullmatch(r"cuda(?::(\d+))?", req)
    if m:
        index = int(m.group(1) or 0)
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
            raise DeviceUnavailable(f"device '{requested}' is not available: {why} (torch {torch.__version__}); available: {have}")
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceUnavailable(f"device '{requested}' is not available: this machine has {count} CUDA device(s), cuda:0…cuda:{count - 1}; available: {have}")
        return DeviceChoice(f"cuda:{index}", requested, f"asked for {requested}", _cuda_name(index))
    if req == "mps":
        if not mps_available():
            raise DeviceUnavailable(f"device 'mps' is not available: Apple MPS needs macOS on Apple silicon and a torch built with MPS; available: {have}")
        return DeviceChoice("mps", requested, "asked for mps", "Apple MPS")
    if req == "cpu":
        return DeviceChoice("cpu", requested, "asked for cpu", "CPU")
    raise DeviceUnavailable(f"unknown device '{requested}': use auto, cuda, cuda:N, mps or cpu")
