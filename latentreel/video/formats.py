"""The file names the encoder's output fits: it always writes MP4 (video.writer: ``-f mp4``)."""

from __future__ import annotations

from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".m4v")  # .m4v is an MP4 by another name


def suffix_problem(path: Path) -> str | None:
    """Why ``path``'s suffix does not fit the video the encoder writes, or None."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return None
    what = f"a {path.suffix} file" if path.suffix else "a name without a suffix"
    return (f"latentreel writes MP4 video, not {what}; end the name in "
            f"{' or '.join(VIDEO_SUFFIXES)}")
