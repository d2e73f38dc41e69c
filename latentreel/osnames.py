"""Names the operating system refuses: one check for every name or path a user supplies.

A scene (or a flag) can name a file the OS cannot even look up: a NUL byte, text that has no
bytes in the file system's encoding (a lone surrogate), a part longer than a directory entry
may be, or a path longer than the kernel takes. ``Path.exists`` and friends then raise
``OSError``/``ValueError`` instead of answering; checking first turns that into bad input
with a location, like any other wrong value.
"""

from __future__ import annotations

import os

# Linux's NAME_MAX and PATH_MAX; most file systems elsewhere allow no more.
NAME_MAX = 255
PATH_MAX = 4096


def name_problem(text: str) -> str | None:
    """Why the OS would refuse ``text`` as a file name or path, or None when it would not.

    Returns a phrase that reads after the field's name ("contains a NUL character; ...").
    """
    if "\x00" in text:
        return "contains a NUL character, which no file name can hold; remove it"
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        return ("holds characters that have no bytes in the file system's encoding "
                "(an unpaired surrogate escape?); write the name in plain text")
    if len(raw) > PATH_MAX:
        return (f"is {len(raw)} bytes long; paths are at most {PATH_MAX} bytes: "
                "give a shorter path")
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        return (f"has a part {len(longest)} bytes long; a file or folder name is at most "
                f"{NAME_MAX} bytes: give a shorter name")
    return None
