"""Imports torch, or fails with one clear line naming what was found and how to install it."""

import sys
from typing import Optional, Tuple

from . import INSTALL_HINT, MIN_TORCH


class TorchUnavailable(RuntimeError):
    """torch is missing or older than `MIN_TORCH`; the message is one line for the user."""


def parse_version(text: str) -> Optional[Tuple[int, int]]:
    """`'2.13.0+cpu'` → ``(2, 13)``; None when the text does not start with two numbers."""
    parts = text.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def check_torch_version(version: str) -> None:
    """Raises `TorchUnavailable` when `version` is older than `MIN_TORCH` (or unreadable)."""
    parsed = parse_version(version)
    if parsed is None or parsed < MIN_TORCH:
        want = ".".join(map(str, MIN_TORCH))
        raise TorchUnavailable(
            f"torch {version} in {sys.executable} is too old: the engine needs torch >= {want}; "
            f"upgrade with: {sys.executable} -m {INSTALL_HINT.replace('pip install', 'pip install --upgrade')}"
        )


def require_torch():
    """The torch module, checked to be recent enough."""
    try:
        import torch  # noqa: PLC0415
    except ImportError as e:
        py = ".".join(map(str, sys.version_info[:3]))
        raise TorchUnavailable(
            f"torch is not installed for {sys.executable} (Python {py}): {e}; install it with: {sys.executable} -m {INSTALL_HINT}"
        ) from None
    check_torch_version(torch.__version__)
    return torch
