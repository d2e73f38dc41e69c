"""Truncation psi around an average latent, on a line (W) or on the sphere (Gaussian z).

Pure functions on one latent ``latent`` [*S] and the mean [*S]; psi 1 keeps the latent, 0 gives
the mean, -1 its reflection, and reflecting twice gives the latent back.
"""

from __future__ import annotations

import torch

from latentreel.latents.interpolate import slerp


def linear_truncate(latent: torch.Tensor, mean: torch.Tensor, psi: float) -> torch.Tensor:
    """``mean + psi * (latent - mean)``: StyleGAN's truncation in W."""
    return mean + psi * (latent - mean)


def sphere_truncate(latent: torch.Tensor, mean: torch.Tensor, psi: float,
                    eps: float = 1e-6) -> torch.Tensor:
    """Truncation along the great circle from ``mean`` to ``latent``, for Gaussian z.

    The direction turns by psi times the angle between the two; the norm moves from the
    mean's (psi 0) to the latent's (|psi| 1). Gaussian samples live near a sphere, and a
    straight line from a face to an average face on that sphere leaves it: at psi -1 it ends
    at twice the radius, where every anti-face is the same exaggerated average. On the circle
    every psi in [-1, 1] stays among faces, psi -1 mirrors the latent about the mean's axis
    (for a mean at the origin or a latent parallel to it, this is the straight line).
    """
    a, m = latent.to(torch.float64).flatten(), mean.to(torch.float64).flatten()
    na, nm = a.norm(), m.norm()
    if na < eps or nm < eps:
        return linear_truncate(latent, mean, psi)
    ua, um = a / na, m / nm
    if abs(float(torch.dot(ua, um))) > 1 - eps:
        return linear_truncate(latent, mean, psi)
    # The direction is slerp between the unit vectors at t = psi (extrapolated for psi < 0);
    # the norm is not slerp's: a reflection keeps the latent's norm.
    direction = slerp(um, ua, torch.tensor([psi], dtype=torch.float64))[0]
    norm = nm + abs(psi) * (na - nm)
    return (direction * norm).reshape(latent.shape).to(latent.dtype)
