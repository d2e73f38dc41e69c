"""What a model path names, for messages: a regular file, or exactly what else it is.

A scene's ``model:`` can name anything on disk. Opening a FIFO would block forever and a link
to ``/dev/zero`` would read without end, so only regular files are opened; everything else is
named as what it is (a directory, a named pipe, a device, a symlink loop), not "missing".
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from latentreel.errors import ModelError, shown_path


def check_model_file(path: Path, hint: str = "") -> None:
    """Raises ModelError unless ``path`` is (a link to) a regular file.

    Args:
        hint: appended to the message, e.g. "; check the path in 'model:'".
    """
    where = shown_path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ModelError(f"model file {where} {_why_not(path, e)}{hint}") from None
    if stat.S_ISREG(mode):
        return
    kind = ("a directory" if stat.S_ISDIR(mode) else
            "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    linked = " (through a symbolic link)" if os.path.islink(path) else ""
    raise ModelError(f"model file {where} is {kind}{linked}, not a model file{hint}")


def _why_not(path: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "is a symbolic link loop"
    if e.errno == errno.ENOENT and os.path.islink(path):
        return "is a symbolic link to a file that does not exist"
    if e.errno == errno.ENOENT:
        return "does not exist"
    if e.errno == errno.ENOTDIR:
        return "does not exist (a part of its path is not a directory)"
    if e.errno == errno.EACCES:
        return "cannot be reached (permission denied)"
    if e.errno == errno.ENAMETOOLONG:
        return "has a name too long for this system"
    return f"cannot be read ({e.strerror or type(e).__name__})"
