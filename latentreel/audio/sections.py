"""Song sections: where the timbre and harmony change for good (verse -> chorus).

Foote's novelty: a self-similarity matrix of beat-synchronous features (MFCC for timbre,
chroma for harmony), a checkerboard kernel slid along its diagonal, and the clear peaks of
that novelty curve, at least ``MIN_BEATS`` apart, are section starts. Cheap: a song has a
few hundred beats, so the matrix is small.
"""

from __future__ import annotations

import numpy as np

KERNEL_BEATS = 16  # checkerboard half-width: a section is compared with 16 beats each side
MIN_BEATS = 16  # sections shorter than four bars are not reported


def section_starts(power: np.ndarray, chroma: np.ndarray, beats: np.ndarray,
                   rate: int) -> np.ndarray:
    """Frames where a new section starts (after the first), from ``power`` [F, T] and
    ``chroma`` [12, T] spectra and the ``beats`` frames."""
    import librosa

    if len(beats) < 2 * KERNEL_BEATS:
        return np.zeros(0, dtype=np.int64)
    mel = librosa.feature.melspectrogram(S=power, sr=rate)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)
    feats = np.vstack([_standard(mfcc), _standard(chroma)])
    sync = librosa.util.sync(feats, beats, aggregate=np.median)[:, 1:]  # [D, B]: from beat 0
    unit = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-9)
    novelty = _novelty(unit.T @ unit)
    peaks = _peaks(novelty)
    return np.asarray(beats[peaks[peaks < len(beats)]], dtype=np.int64)


def _standard(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-9)


def _novelty(ssm: np.ndarray) -> np.ndarray:
    """Foote's checkerboard novelty along the diagonal of ``ssm`` [B, B]."""
    k = KERNEL_BEATS
    r = np.arange(-k, k) + 0.5
    taper = np.exp(-0.5 * (r / (0.5 * k)) ** 2)
    kernel = np.sign(r)[:, None] * np.sign(r)[None, :] * taper[:, None] * taper[None, :]
    padded = np.pad(ssm, k, mode="edge")
    n = len(ssm)
    out = np.array([(padded[i:i + 2 * k, i:i + 2 * k] * kernel).sum() for i in range(n)])
    return np.clip(out, 0, None)


def _peaks(novelty: np.ndarray) -> np.ndarray:
    """Local maxima clearly above the curve's typical level, ``MIN_BEATS`` apart."""
    if not novelty.any():
        return np.zeros(0, dtype=np.int64)
    level = novelty.mean() + novelty.std()
    order = np.argsort(-novelty)
    chosen: list[int] = []
    for i in order:
        if novelty[i] < level:
            break
        if i >= MIN_BEATS and all(abs(i - j) >= MIN_BEATS for j in chosen):
            chosen.append(int(i))
    return np.array(sorted(chosen), dtype=np.int64)
