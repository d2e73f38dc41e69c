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
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name.startswith("cuda") and not cuda:
        raise BadInputError(
            f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if name == "mps" and not mps:
        raise BadInputError("--device mps: MPS is not available here; use --device cpu or auto")
    if name.startswith("cuda"):
        # Renders call the generator with one batch shape over and over: let cuDNN time its
        # convolution algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True
    return torch.device(name)


PRECISIONS = ("fp32", "bf16", "fp16")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: full fp32).

    bf16 roughly doubles the DCGAN's speed on CPUs with AVX-512 BF16/AMX, at the cost of
    pixel values differing from fp32 by a few levels (up to ~15 of 255 at worst).

    Raises:
        BadInputError: an unknown precision, or fp16 where it is not supported.
    """
    if precision not in PRECISIONS:
        raise BadInputError(f"--precision {precision}: use one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type == "cpu":
        raise BadInputError("--precision fp16 needs a GPU; use bf16 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def default_batch_size(device: torch.device, resolution: int) -> int:
    """A batch that keeps the device busy without holding much memory."""
    if device.type == "cpu":
        return 32 if resolution <= 128 else 4
    return 256 if resolution <= 128 else 16
