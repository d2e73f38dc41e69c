"""Content-addressed inversion cache: (image bytes, model, settings) -> latent file.

Re-rendering a scene with a photo keyframe never re-inverts the photo: the key changes only
when the photo's content, the model or an inversion setting changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from latentreel.cache import cache_dir


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


FORMAT = 2  # bump when cached entries change shape (2: the aligned crop is kept too)


def inversion_key(photo: Path, model: str, settings: dict) -> str:
    blob = json.dumps({"image": file_digest(photo), "model": model, "settings": settings,
                       "format": FORMAT},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached_inversion_path(key: str) -> Path:
    return cache_dir("inversions") / f"{key}.npz"
