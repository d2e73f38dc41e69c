"""Learning-rate schedule for latent optimisation: linear warm-up, then cosine decay."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, lr: float, warmup: float = 0.05, floor: float = 0.0) -> float:
    """lr at ``step`` of ``total``: ramps up over the first ``warmup`` fraction, then decays
    along a half cosine to ``floor * lr``. The decay matters: a constant lr leaves Adam
    jittering around the optimum instead of settling into it."""
    w = max(1, int(total * warmup))
    if step < w:
        return lr * (step + 1) / w
    progress = (step - w) / max(1, total - w)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
