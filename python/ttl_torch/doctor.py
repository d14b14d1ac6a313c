"""``python -m ttl_torch doctor``: one JSON object describing this Python, its torch and devices.

Fields: ``engine`` (this package's version), ``python`` (executable, version), ``torch`` (version, CUDA and cuDNN versions the build
carries, or null), ``cuda`` (available, device count, and per device: index, name, total
memory in bytes, compute capability ``"8.9"``), ``mps`` (built, available), ``device`` (what
`select_device` chose for the requested device and why, or the error when it is absent), and
``ok``.
"""

import platform
import sys
from typing import Any, Dict

from . import __version__
from ._torch import require_torch
from .device import DeviceUnavailable, mps_available, select_device


def doctor(requested: str = "auto") -> Dict[str, Any]:
    """The report as a dict (see the module doc); raises `TorchUnavailable` without a usable torch."""
    torch = require_torch()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    devices = []
    cuda_ok = torch.cuda.is_available()
    if cuda_ok:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append({"index": i, "name": p.name, "memoryBytes": int(p.total_memory), "capability": f"{p.major}.{p.minor}"})
    mps = getattr(torch.backends, "mps", None)
    report: Dict[str, Any] = {
        "engine": {"name": "ttl_torch", "version": __version__},
        "python": {"executable": sys.executable, "version": platform.python_version()},
        "torch": {"version": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn},
        "cuda": {"available": cuda_ok, "deviceCount": len(devices), "devices": devices},
        "mps": {"built": bool(mps is not None and mps.is_built()), "available": mps_available()},
    }
    try:
        choice = select_device(requested)
        report["device"] = {"requested": requested, "chosen": choice.device, "name": choice.name, "reason": choice.reason}
        report["ok"] = True
    except DeviceUnavailable as e:
        report["device"] = {"requested": requested, "chosen": None, "error": str(e)}
        report["ok"] = False
    return report
