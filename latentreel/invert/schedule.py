"""Schedules for latent optimisation: the learning rate (linear warm-up, then cosine decay)
and the noise added to W latents early on (NVIDIA's projector's ramp)."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, lr: float, warmup: float = 0.05, floor: float = 0.0,
                  hold: float = 0.0) -> float:
    """lr at ``step`` of ``total``: ramps up over the first ``warmup`` fraction, stays at
    ``lr`` until ``hold`` of the way, then decays along a half cosine to ``floor * lr``.

    The decay matters: a constant lr leaves Adam jittering around the optimum instead of
    settling into it. ``hold=0.75`` is NVIDIA's projector's shape (ramp down over the last
    quarter), which W/W+ inversions use: +1.2 to +6 dB median over decaying from the start
    (`latentreel bench projector`, random networks)."""
    w = max(1, int(total * warmup))
    if step < w:
        return lr * (step + 1) / w
    start = max(w, int(total * hold))
    if step < start:
        return lr
    progress = (step - start) / max(1, total - start)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def w_noise_scale(step: int, total: int, w_std: float, initial: float = 0.05,
                  ramp: float = 0.75) -> float:
    """Std of the Gaussian noise added to a W/W+ latent before synthesis at ``step``.

    Starts at ``initial * w_std`` (w_std: the typical distance of a mapped w from w_avg) and
    falls quadratically to zero at ``ramp`` of the way: early steps see a blurred landscape
    and avoid the nearest poor minimum; the last quarter settles without noise."""
    t = step / max(1, total)
    return w_std * initial * max(0.0, 1.0 - t / ramp) ** 2
