"""Easing curves: t in [0, 1] -> [0, 1], monotone, f(0) = 0, f(1) = 1. Pure functions."""

from __future__ import annotations

from collections.abc import Callable

import torch


def linear(t: torch.Tensor) -> torch.Tensor:
    return t


def ease_in(t: torch.Tensor) -> torch.Tensor:
    return t * t * t


def ease_out(t: torch.Tensor) -> torch.Tensor:
    return 1 - (1 - t) ** 3


def ease_in_out(t: torch.Tensor) -> torch.Tensor:
    # Cubic in, cubic out: zero speed at both ends, C1 at the middle.
    return torch.where(t < 0.5, 4 * t**3, 1 - (-2 * t + 2) ** 3 / 2)


def smoothstep(t: torch.Tensor) -> torch.Tensor:
    return t * t * (3 - 2 * t)


EASINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": linear,
    "ease-in": ease_in,
    "ease-out": ease_out,
    "ease-in-out": ease_in_out,
    "smoothstep": smoothstep,
}


def ease(name: str, t: torch.Tensor) -> torch.Tensor:
    """Apply easing ``name`` to ``t`` (clamped to [0, 1])."""
    if name not in EASINGS:
        raise ValueError(f"unknown easing {name!r}; use one of {', '.join(EASINGS)}")
    return EASINGS[name](t.clamp(0, 1))
