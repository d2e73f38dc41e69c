"""Live audio features, block by block: loudness, three bands, onsets. Pure numpy, no I/O.

Each block of mono samples gives values in [0, 1]: loudness and band levels map their level
in dB linearly from FLOOR_DB (0) to 0 dB full scale (1), so a fixed sound gives a fixed
value whatever came before (a performance replays the same way); an onset is a jump in
spectral flux above the recent flux's mean plus THRESHOLD standard deviations, at most one
per refractory period (a drum's ring must not fire twice).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

FLOOR_DB = -60.0  # a level this quiet (or quieter) is 0
BANDS = {"bass": (20.0, 250.0), "mid": (250.0, 4000.0), "high": (4000.0, 11025.0)}  # Hz, as
# the file-driven features of `react:` (issue #20) have them
THRESHOLD = 1.5  # onset: flux above the recent median + THRESHOLD mean deviations
HISTORY_SECONDS = 1.0  # how much recent flux the onset threshold looks at
REFRACTORY = 0.1  # seconds after an onset in which no other fires


def level(power: float) -> float:
    """Mean power (full scale 1) -> 0..1 on a dB scale from FLOOR_DB to 0 dB."""
    db = 10 * math.log10(max(power, 1e-12))
    return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)


class FeatureTracker:
    """Turns consecutive blocks of samples at ``rate`` Hz into feature values."""

    def __init__(self, rate: int, block: int, refractory: float = REFRACTORY):
        self.rate, self.block = rate, block
        self._window = np.hanning(block).astype(np.float32)
        freqs = np.fft.rfftfreq(block, 1 / rate)
        self._bands = {name: (freqs >= lo) & (freqs < hi) for name, (lo, hi) in BANDS.items()}
        self._previous: np.ndarray | None = None
        self._flux: deque[float] = deque(maxlen=max(4, round(HISTORY_SECONDS * rate / block)))
        self._refractory_blocks = refractory * rate / block
        self._since_onset = math.inf

    def push(self, samples: np.ndarray) -> dict[str, float]:
        """Feature values for one block [block] of mono float samples in [-1, 1]."""
        x = np.asarray(samples, dtype=np.float32)
        out = {"loudness": level(float(np.mean(x * x)))}
        spectrum = np.abs(np.fft.rfft(x * self._window)) / (self.block / 4)
        power = spectrum ** 2
        for name, mask in self._bands.items():
            out[name] = level(float(power[mask].sum()) if mask.any() else 0.0)
        out["onsets"] = self._onset(spectrum)
        return out

    def _onset(self, spectrum: np.ndarray) -> float:
        self._since_onset += 1
        previous, self._previous = self._previous, spectrum
        if previous is None:
            return 0.0
        flux = float(np.maximum(spectrum - previous, 0.0).sum())
        history = np.asarray(self._flux) if self._flux else np.zeros(1)
        self._flux.append(flux)
        # Median and mean deviation: robust to the hits themselves in the history (a mean
        # and std there let a few loud hits raise the bar over the next one).
        middle = float(np.median(history))
        spread = float(np.mean(np.abs(history - middle)))
        fired = flux > middle + THRESHOLD * spread and flux > 1e-3 \
            and self._since_onset > self._refractory_blocks
        if fired:
            self._since_onset = 0
        return 1.0 if fired else 0.0


@dataclass
class Shaper:
    """Attack/release smoothing: rises towards a higher value with time constant ``attack``
    seconds and falls with ``release`` (0: at once)."""

    attack: float
    release: float
    value: float = 0.0

    def step(self, target: float, dt: float) -> float:
        tau = self.attack if target > self.value else self.release
        keep = math.exp(-dt / tau) if tau > 0 else 0.0
        self.value = target + (self.value - target) * keep
        return self.value
