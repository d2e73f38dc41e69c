"""Where a render's video goes, settled and checked before the first frame.

A render can spend minutes inverting photos before it writes anything, so an output it cannot
write (a folder, a path through a file, a read-only place) is found first; and an output that
is one of the run's own inputs (``-o scene.yaml``) is refused, since the finished video would
replace it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from latentreel.errors import BadInputError, quote, shown_path
from latentreel.osnames import name_problem
from latentreel.scene.model import Scene
from latentreel.video.formats import suffix_problem

def settle_output_path(requested: str | Path | None, default: Path, scene: Scene,
                       field: str = "-o/--out") -> Path:
    """The video path a render writes to, checked.

    Args:
        requested: the path asked for (``-o``), or None for ``default``. A folder (one that
            exists, or a path ending in '/') means ``default``'s file name inside it.
        default: the scene's own output path (after --preview renames it).
        scene: whose input files the output must not overwrite.
        field: how the message names where ``requested`` came from.

    Raises:
        BadInputError: a name the OS refuses, a suffix the encoder does not write, a place
            that cannot be written, or one of the run's inputs.
    """
    if requested is None:
        path, field = Path(default), "output.path"
    else:
        text = str(requested)
        problem = name_problem(text)
        if problem:
            raise BadInputError(f"{field} {quote(text)} {problem}")
        path = Path(text)
        if text.endswith(("/", os.sep)) or path.is_dir():
            path = path / Path(default).name
    where = f"{field} {shown_path(path)}"
    problem = suffix_problem(path)
    if problem:
        raise BadInputError(f"{where}: {problem}")
    _check_not_an_input(path, scene, where)
    _check_writable(path, where)
    return path


def _check_not_an_input(path: Path, scene: Scene, where: str) -> None:
    real = os.path.realpath(path)
    for source in run_inputs(scene):
        if os.path.realpath(source) == real:
            raise BadInputError(f"{where}: is an input of this render ({shown_path(source)}); "
                                "the video would replace it: write it somewhere else")


def run_inputs(scene: Scene) -> list[Path]:
    """Every file a scene reads: itself, its soundtrack, its model file, and each keyframe's
    files (photos, latent files, feedback targets), whatever the kind."""
    found = [scene.file, scene.base / scene.model]
    if scene.output.audio is not None:
        found.append(scene.output.audio)
    stack = [kf.params for kf in scene.keyframes]
    while stack:
        value = stack.pop()
        if isinstance(value, Path):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def _check_writable(path: Path, where: str) -> None:
    """The nearest existing folder on the way to ``path`` takes a new file (tried, since
    permission bits say nothing for root or read-only mounts); nothing is left behind."""
    if path.exists() and not path.is_file():
        raise BadInputError(f"{where}: exists and is not a file; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInputError(f"{where}: {shown_path(folder)} is a file, not a folder; "
                            "choose a path inside a folder")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".latentreel-probe."):
            pass
    except OSError as e:
        raise BadInputError(f"{where}: cannot write in {shown_path(folder)} "
                            f"({e.strerror or e}); choose a folder you can write to") from None
