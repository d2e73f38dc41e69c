"""Joining complete MP4 segments without re-encoding (ffmpeg's concat demuxer)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from latentreel.errors import RenderError
from latentreel.video.writer import ffmpeg_exe


def concat_segments(segments: list[Path], out: Path) -> Path:
    """Join ``segments`` (same codec settings) into ``out``, atomically, with +faststart."""
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        listing = Path(tmp) / "segments.txt"
        # The concat demuxer's list format: one `file '<path>'` line per segment.
        listing.write_text("".join(f"file '{Path(s).resolve()}'\n" for s in segments))
        partial = Path(tmp) / "joined.mp4"
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
               "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(partial)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RenderError(f"joining {len(segments)} segments into {out} failed: "
                              f"{proc.stderr.strip()[-400:]}")
        os.replace(partial, out)
    return out
