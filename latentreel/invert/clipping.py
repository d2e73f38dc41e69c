"""Keeping z inside the prior during optimisation (Lipton & Tripathi 2017).

``standard`` clamps out-of-range components to the boundary; ``stochastic`` resamples them
from the prior, which lets a stuck component jump to a fresh start instead of piling up on
the boundary. For a N(0, I) prior "out of range" means beyond ``bound`` standard deviations.
"""

from __future__ import annotations

import torch

CLIPPING = ("none", "standard", "stochastic")


@torch.no_grad()
def clip_latents(z: torch.Tensor, mode: str, bound: float = 3.0,
                 generator: torch.Generator | None = None) -> None:
    """Apply ``mode`` clipping to ``z`` in place."""
    if mode == "none":
        return
    if mode == "standard":
        z.clamp_(-bound, bound)
        return
    if mode == "stochastic":
        out = z.abs() > bound
        if out.any():
            fresh = torch.randn(z.shape, generator=generator, device="cpu").to(z.device, z.dtype)
            z[out] = fresh.clamp(-bound, bound)[out]
        return
    raise ValueError(f"unknown clipping {mode!r}; use one of {', '.join(CLIPPING)}")
