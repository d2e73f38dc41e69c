"""Choose the torch device once, at the entry point."""

from __future__ import annotations

import torch

from latentreel.errors import BadInputError

DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU.

    Raises:
        BadInputError: an unknown name, or a device this machine does not have.
    """
    name = (name or "auto").lower()
    if name not in DEVICES and not name.startswith("cuda:"):
        raise BadInputError(f"--device {name}: unknown device; use one of {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name.startswith("cuda") and not cuda:
        raise BadInputError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if name == "mps" and not mps:
        raise BadInputError("--device mps: MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def default_batch_size(device: torch.device, resolution: int) -> int:
    """A batch that keeps the device busy without holding much memory."""
    if device.type == "cpu":
        return 32 if resolution <= 128 else 4
    return 256 if resolution <= 128 else 16
