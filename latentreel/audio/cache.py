"""Features computed once per sound file and frame rate, kept between runs.

Keyed by the file's bytes (sha256) and the fps, so an edited file or another frame rate is
analysed afresh and a renamed one is not; loading a scene, rendering it, resuming it and
plotting it all share one analysis.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from latentreel.audio.features import Features, analyse
from latentreel.audio.load import file_digest, load_sound
from latentreel.cache import cache_dir

VERSION = 2  # bump when the analysis changes what it computes
_MEMORY: dict[tuple[str, int], Features] = {}  # this process's analyses


def song_features(path: str | Path, fps: int) -> Features:
    """``path``'s features at ``fps``: from memory, the cache folder, or a fresh analysis.

    Raises:
        BadInputError: the file is missing, unreadable, empty or silent.
    """
    path = Path(path)
    if not path.is_file():
        load_sound(path)  # raises the one-line error
    key = (file_digest(path), fps)
    if key in _MEMORY:
        return _MEMORY[key]
    stored = cache_dir("audio") / f"{key[0]}-{fps}fps-v{VERSION}.npz"
    features = _read(stored)
    if features is None:
        features = analyse(load_sound(path), fps)
        _write(stored, features)
    _MEMORY[key] = features
    return features


def _read(stored: Path) -> Features | None:
    try:
        with np.load(stored) as data:
            values = {f.name: data[f.name] for f in fields(Features)}
    except (OSError, KeyError, ValueError):
        return None  # absent or unreadable: analyse again
    for name in ("fps", "frames"):
        values[name] = int(values[name])
    for name in ("duration", "tempo"):
        values[name] = float(values[name])
    return Features(**values)


def _write(stored: Path, features: Features) -> None:
    from latentreel.cache import atomic_write

    try:
        with atomic_write(stored) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{fl.name: getattr(features, fl.name) for fl in fields(Features)})
    except OSError:
        pass  # a cache that cannot be written costs time, not results
