"""Joining complete MP4 segments without re-encoding (ffmpeg's concat demuxer).

Long installation renders are written as segments, each its own encode and so starting on
a keyframe; stream copy then joins them losslessly in the time it takes to copy the bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from latentreel.errors import RenderError
from latentreel.video.writer import atomic_output, run_ffmpeg


def _concat_line(path: Path) -> str:
    # The concat list quotes paths in '...'; a quote inside one is written '\''.
    quoted = str(Path(path).resolve()).replace("'", "'\\''")
    return f"file '{quoted}'\n"


def concat_segments(segment_paths: list[Path], out_path: Path) -> Path:
    """Join MP4 segments with identical codec settings into ``out_path``, in order.

    The result has its index first (+faststart) and replaces ``out_path`` atomically.

    Raises:
        ValueError: ``segment_paths`` is empty.
        RenderError: a segment is missing, or ffmpeg failed (its message included).
    """
    if not segment_paths:
        raise ValueError("concat_segments needs at least one segment")
    missing = [str(p) for p in segment_paths if not Path(p).is_file()]
    if missing:
        raise RenderError(f"cannot join segments, missing: {', '.join(missing)}")
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="latentreel-concat-") as work:
        listing = Path(work) / "segments.txt"
        listing.write_text("".join(_concat_line(p) for p in segment_paths), encoding="utf-8")
        with atomic_output(out_path) as tmp:
            # -xerror: without it, ffmpeg logs an unreadable segment, skips it and exits 0.
            run_ffmpeg(["-xerror", "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0",
                        "-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(tmp)],
                       f"joining {len(segment_paths)} segments into {out_path}")
    return out_path
