"""Reading videos back: stream facts (frames, size, fps, codec), decoded frames and sound.

imageio-ffmpeg ships ffmpeg but not ffprobe, so stream facts come from the header that
``ffmpeg -i`` prints, and the frame count from decoding (exact, also for edit lists).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentreel.errors import BadInputError
from latentreel.video.writer import ffmpeg_exe, run_ffmpeg


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # decoded video frames
    width: int  # pixels
    height: int
    fps: float  # frames per second of the video stream
    codec: str  # e.g. "h264"
    pix_fmt: str  # e.g. "yuv420p"
    duration: float  # seconds, the container's (longest stream)
    has_audio: bool  # an audio stream is present


@dataclass(frozen=True)
class _Header:
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    duration: float | None
    has_audio: bool


def _ffmpeg_summary(path: Path) -> str:
    """The stream summary ``ffmpeg -i path`` prints (it then exits 1: no output given)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return proc.stderr.decode(errors="replace")


def has_audio_stream(path: Path) -> bool:
    """Whether ``path`` is a readable media file with at least one audio stream."""
    return re.search(r"Stream #\S+.*?: Audio:", _ffmpeg_summary(Path(path))) is not None


def still_image_format(path: Path) -> str | None:
    """The format name when ffmpeg reads ``path`` as a still picture (PNG, JPEG, ...: its
    ``*_pipe`` and ``image2`` demuxers), else None. ffmpeg gives a picture a video stream,
    so a picture would otherwise pass for a one-frame video."""
    m = re.search(r"Input #0, ([^,]+), from", _ffmpeg_summary(Path(path)))
    name = m.group(1) if m else ""
    return name if name == "image2" or name.endswith("_pipe") else None


def _read_header(path: Path) -> _Header:
    """Parse the stream summary ffmpeg prints for ``ffmpeg -i path``."""
    if not path.is_file():
        raise BadInputError(f"{path}: no such video file; check the path")
    text = _ffmpeg_summary(path)
    video = re.search(r"Stream #\S+.*?: Video: (.*)", text)
    if video is None:
        raise BadInputError(f"{path}: no video stream found; is it a video file?")
    # "h264 (High) (avc1 / ...), yuv420p(tv, bt709, progressive), 128x128 [SAR 1:1], 10 fps"
    fields = [f.strip() for f in re.sub(r"\([^)]*\)|\[[^]]*\]", "", video.group(1)).split(",")]
    size = next(re.match(r"(\d+)x(\d+)", f) for f in fields if re.match(r"\d+x\d+", f))
    fps = next((float(f.split()[0]) for f in fields if f.endswith(" fps")), 0.0)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    return _Header(codec=fields[0].split()[0], pix_fmt=fields[1].split()[0],
                   width=int(size.group(1)), height=int(size.group(2)), fps=fps,
                   duration=(int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
                             + float(duration.group(3))) if duration else None,
                   has_audio=re.search(r"Stream #\S+.*?: Audio:", text) is not None)


def probe_video(path: Path) -> VideoInfo:
    """Facts about the video ``path``, with its frames counted by decoding them.

    Raises:
        BadInputError: the file is missing or has no video stream.
    """
    import imageio_ffmpeg

    path = Path(path)
    head = _read_header(path)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    return VideoInfo(frames=frames, width=head.width, height=head.height, fps=head.fps,
                     codec=head.codec, pix_fmt=head.pix_fmt,
                     duration=head.duration if head.duration is not None else seconds,
                     has_audio=head.has_audio)


def video_duration(path: Path) -> float:
    """The container's duration in seconds (to 10 ms), without decoding anything."""
    head = _read_header(Path(path))
    if head.duration is None:
        raise BadInputError(f"{path}: the file does not say how long it is; re-encode it")
    return head.duration


def read_frames(path: Path, size: int | None = None) -> np.ndarray:
    """All frames of ``path`` as uint8 [N, H, W, 3], or [N, size, size, 3] when ``size``.

    Meant for tests and analysis: the whole video is held in memory.
    """
    path = Path(path)
    head = _read_header(path)
    h, w = (size, size) if size else (head.height, head.width)
    scale = ["-vf", f"scale={w}:{h}:flags=area"] if size else []
    raw = run_ffmpeg(["-i", str(path), "-map", "0:v:0", *scale,
                            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], f"decoding {path}")
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def read_audio(path: Path, rate: int = 16000) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 samples [S] at ``rate`` Hz."""
    path = Path(path)
    raw = run_ffmpeg(["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
                            "-f", "f32le", "pipe:1"], f"decoding the sound of {path}")
    return np.frombuffer(raw, np.float32)
