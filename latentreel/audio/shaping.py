"""Shaping a per-frame feature before it drives anything. Pure numpy, [T] -> [T].

The order is fixed and the one audio engineers expect: a threshold gates small values, a
compressor evens out the loud ones, gain scales, and an envelope follower (attack, release)
smooths the result in time, so a pulse rises over ``attack`` and decays over ``release``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shaping:
    """How a reaction shapes its feature (defaults: unchanged)."""

    gain: float = 1.0  # multiplies the value
    threshold: float = 0.0  # values below it become 0, the rest is rescaled to [0, 1]
    compress: float = 0.0  # 0 keeps, towards 1 lifts quiet values (x ** (1 - compress))
    attack: float = 0.0  # seconds to rise to a new peak (0: at once)
    release: float = 0.0  # seconds to fall back (0: at once)


def gate(x: np.ndarray, threshold: float) -> np.ndarray:
    """Zero below ``threshold``; above it, rescaled so the range stays [0, 1]."""
    if threshold <= 0:
        return x
    return np.clip((x - threshold) / max(1e-9, 1 - threshold), 0.0, None)


def compress(x: np.ndarray, amount: float) -> np.ndarray:
    """A power curve: ``amount`` 0 keeps ``x``, towards 1 brings quiet values up to loud ones."""
    if amount <= 0:
        return x
    return np.power(np.clip(x, 0.0, None), 1.0 - min(amount, 0.99))


def follow(x: np.ndarray, attack: float, release: float, fps: int) -> np.ndarray:
    """An envelope follower: one-pole smoothing with separate rise and fall times (seconds).

    A rise (or fall) time s means 63% of the way after s seconds; 0 follows at once, so a
    click stays on its own frame."""
    if attack <= 0 and release <= 0:
        return x
    up = 1.0 - np.exp(-1.0 / (attack * fps)) if attack > 0 else 1.0
    down = 1.0 - np.exp(-1.0 / (release * fps)) if release > 0 else 1.0
    out = np.empty_like(x, dtype=np.float64)
    level = 0.0
    for i, v in enumerate(x.astype(np.float64)):
        level += (up if v > level else down) * (v - level)
        out[i] = level
    return out


def shape(x: np.ndarray, shaping: Shaping, fps: int) -> np.ndarray:
    """``x`` [T] shaped by ``shaping`` (see the module docstring for the order)."""
    y = gate(np.asarray(x, dtype=np.float64), shaping.threshold)
    y = compress(y, shaping.compress) * shaping.gain
    return follow(y, shaping.attack, shaping.release, fps)
