"""A beat synthesised from scratch (no download): kick, snare, hats and a bass line, as a mix
and as stems. For the shipped example scene (examples/make_beat.py), tests and
`latentreel bench audio`.

120 beats per minute in 4/4: the kick on beats 1 and 3 (and the "and" of 4 every other
bar), the snare on 2 and 4, closed hats on every eighth, and a bass line on A, F, C, G, one
note a bar, pulsing in eighths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 44100
BPM = 120
ROOTS = [55.0, 43.65, 65.41, 49.0]  # Hz: A1, F1, C2, G1, one per bar


def kick(rate: int = RATE) -> np.ndarray:
    """A sine whose pitch falls from 150 to 45 Hz, with a fast decay: an 808-style kick."""
    t = np.arange(int(0.35 * rate)) / rate
    freq = 45 + 105 * np.exp(-t / 0.03)
    return 0.9 * np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / 0.09)


def snare(rate: int = RATE, rng=None) -> np.ndarray:
    """Noise with a short 190 Hz body."""
    rng = rng or np.random.default_rng(1)
    t = np.arange(int(0.2 * rate)) / rate
    noise = rng.uniform(-1, 1, len(t)) * np.exp(-t / 0.045)
    return 0.35 * noise + 0.25 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.03)


def hat(rate: int = RATE, rng=None) -> np.ndarray:
    """High-passed noise (a first difference), very short."""
    rng = rng or np.random.default_rng(2)
    t = np.arange(int(0.05 * rate)) / rate
    noise = np.diff(rng.uniform(-1, 1, len(t) + 1))
    return 0.12 * noise * np.exp(-t / 0.012)


def bass_note(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    """A soft saw-ish tone (three harmonics) with a pluck envelope."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    return 0.3 * tone * np.exp(-t / 0.25) * np.minimum(1, t / 0.005)


def _place(track: np.ndarray, sound: np.ndarray, seconds: float) -> None:
    fade = min(len(sound), int(0.01 * RATE))  # a cut-off tail would click (a false onset)
    sound = sound.copy()
    sound[len(sound) - fade:] *= np.linspace(1, 0, fade)
    i = int(round(seconds * RATE))
    n = min(len(sound), len(track) - i)
    if n > 0:
        track[i:i + n] += sound[:n]


def make_beat(bars: int) -> dict[str, np.ndarray]:
    """The stems (kick, snare, hats, bass) of ``bars`` bars, float32 at RATE."""
    beat = 60.0 / BPM
    length = int((bars * 4 * beat + 0.5) * RATE)
    parts = {name: np.zeros(length) for name in ("kick", "snare", "hats", "bass")}
    rng = np.random.default_rng(0)
    for bar in range(bars):
        start = bar * 4 * beat
        for b in (0, 2) + ((3.5,) if bar % 2 else ()):
            _place(parts["kick"], kick(), start + b * beat)
        for b in (1, 3):
            _place(parts["snare"], snare(rng=rng), start + b * beat)
        for e in range(8):
            _place(parts["hats"], hat(rng=rng), start + e * beat / 2)
        root = ROOTS[bar % len(ROOTS)]
        for e in range(8):
            _place(parts["bass"], bass_note(root, beat / 2), start + e * beat / 2)
    return {k: v.astype(np.float32) for k, v in parts.items()}


def write_beat(folder: Path, bars: int = 8) -> Path:
    """Write beat.wav (the mix), kick.wav and bass.wav into ``folder``; returns the mix."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    parts = make_beat(bars)
    mix = sum(parts.values())
    mix = mix / max(1.0, float(np.abs(mix).max()) / 0.95)
    soundfile.write(str(folder / "beat.wav"), mix, RATE)
    for name in ("kick", "bass"):
        soundfile.write(str(folder / f"{name}.wav"), parts[name], RATE)
    return folder / "beat.wav"
