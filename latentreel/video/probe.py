"""Reading videos back: stream facts (frames, size, fps, codec) and decoded frames."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentreel.errors import BadInputError
from latentreel.video.writer import ffmpeg_exe


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float
    codec: str
    pix_fmt: str
    duration: float
    has_audio: bool


def probe_video(path: Path) -> VideoInfo:
    """Facts about ``path`` from ffmpeg's stream header, with frames counted by decoding."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such video file")
    head = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True).stderr
    m = re.search(r"Stream #\S+.*?: Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+)", head)
    if not m:
        raise BadInputError(f"{path}: no video stream found")
    fps_m = re.search(r"([\d.]+) fps", head)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return VideoInfo(frames=frames, width=int(m.group(3)), height=int(m.group(4)),
                     fps=float(fps_m.group(1)) if fps_m else 0.0, codec=m.group(1),
                     pix_fmt=m.group(2), duration=seconds,
                     has_audio=bool(re.search(r"Stream #\S+.*?: Audio:", head)))


def read_frames(path: Path) -> np.ndarray:
    """All frames of ``path`` as uint8 [N, H, W, 3]."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]
    return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)
