"""Straight and great-circle interpolation between two latents of any shape. Pure functions.

``a`` and ``b`` have shape S; ``t`` is 1-D [T]; results are [T, *S] in ``a``'s dtype.
"""

from __future__ import annotations

import torch

INTERPOLATIONS = ("linear", "slerp", "spline")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    tt = t.to(torch.float64).reshape(-1, *([1] * a.ndim))
    out = a.to(torch.float64)[None] + tt * (b - a).to(torch.float64)[None]
    return out.to(a.dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Great-circle interpolation of the direction, linear interpolation of the norm.

    Equal-norm endpoints keep their norm all the way, which is what keeps a Gaussian latent
    "typical" mid-transition (a straight line dips towards the origin: a blander face).
    Parallel or opposite latents, or a zero latent, fall back to ``lerp``: between z and its
    anti-face -z there is no unique great circle, and the straight path through the average
    face is what people expect.
    """
    a64, b64 = a.to(torch.float64).flatten(), b.to(torch.float64).flatten()
    na, nb = a64.norm(), b64.norm()
    if na < eps or nb < eps:
        return lerp(a, b, t)
    ua, ub = a64 / na, b64 / nb
    cos = torch.dot(ua, ub).clamp(-1, 1)
    if abs(float(cos)) > 1 - eps:
        return lerp(a, b, t)
    omega = torch.arccos(cos)
    tt = t.to(torch.float64)[:, None]
    direction = (torch.sin((1 - tt) * omega) * ua + torch.sin(tt * omega) * ub) / torch.sin(omega)
    norm = (1 - tt) * na + tt * nb
    return (direction * norm).reshape(len(t), *a.shape).to(a.dtype)
