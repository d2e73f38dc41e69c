"""Where latentreel keeps things between runs (converted weights, inversions, directions).

``LATENTREEL_CACHE`` overrides the location, so tests and CI can use a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def partial_file(path: Path) -> Path:
    """Create a hidden, empty temporary file next to ``path`` (same folder, so the rename onto
    ``path`` is atomic), with the permissions a new file gets (mkstemp makes 0600; a video is
    meant for sharing). Its name is unique, so concurrent writers never share one.

    Raises:
        OSError: the folder cannot be created or written to.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; it replaces ``path`` only when the
    block succeeds, and is removed otherwise, so readers never see half a file.

    Raises:
        OSError: the folder cannot be created or written to.
    """
    path = Path(path)
    tmp = partial_file(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
