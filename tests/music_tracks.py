"""Synthetic sound for the music tests: click tracks written with numpy and soundfile."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44100


def click(length: int = 400) -> np.ndarray:
    """A short percussive click (a decaying burst), peak 0.8."""
    n = np.arange(length)
    return (0.8 * np.exp(-n / 60) * np.sin(n * 0.5)).astype(np.float32)


def click_track(path: Path, times, seconds: float, rate: int = RATE,
                hum: float = 0.0) -> Path:
    """A WAV with a click at each of ``times`` (seconds); ``hum``: a quiet 220 Hz tone under
    it, so a feature like loudness has something between the clicks."""
    import soundfile

    y = np.zeros(int(seconds * rate), np.float32)
    if hum:
        y += (hum * np.sin(2 * np.pi * 220 * np.arange(len(y)) / rate)).astype(np.float32)
    c = click()
    for t in times:
        i = int(round(t * rate))
        y[i:i + len(c)] += c[:len(y) - i]
    soundfile.write(str(path), y, rate)
    return Path(path)
