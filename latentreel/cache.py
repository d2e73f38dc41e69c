"""Where latentreel keeps things between runs (converted weights, inversions, directions).

``LATENTREEL_CACHE`` overrides the location, so tests and CI can use a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the user cache: ``cache_dir("facenet")``."""
    root = os.environ.get("LATENTREEL_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "latentreel"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_path(path: Path) -> Path:
    """A sibling temporary path to write to before renaming onto ``path``."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}{path.suffix}")
