"""Streaming frames to ffmpeg (imageio-ffmpeg's bundled binary) as H.264 MP4.

Frames go through a bounded queue to a writer thread that feeds ffmpeg's stdin, so the
generator keeps working while ffmpeg encodes and memory does not grow with video length.
ffmpeg writes a hidden temporary file next to the output, renamed only when everything
succeeded: an exception, an ffmpeg failure or Ctrl-C leaves nothing at the output path.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from latentreel.errors import RenderError

_DONE = object()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def h264_args(*, fps: float, crf: int, preset: str, width: int, height: int,
              src_width: int, src_height: int) -> list[str]:
    """Output options shared by the streaming writer and the PNG-sequence baseline."""
    args = []
    if (width, height) != (src_width, src_height):
        args += ["-vf", f"scale={width}:{height}:flags=lanczos"]
    return args + [
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-pix_fmt", "yuv420p",  # QuickTime and most players need 4:2:0
        "-movflags", "+faststart",  # index first, so browsers start playing at once
        "-r", str(fps),
    ]


class FrameWriter:
    """Context manager that encodes uint8 RGB frames [N, H, W, 3] to ``path``.

    Args:
        path: the MP4 to write (replaced atomically at the end).
        fps: frames per second.
        size: output height (and width, unless ``out_width`` is given), lanczos-scaled.
        crf, preset: x264 quality and speed.
        out_width: output width for non-square videos (default: ``size``).
        queue_frames: frames buffered between the caller and ffmpeg.
    """

    def __init__(self, path: Path, *, fps: float, size: int, crf: int = 18,
                 preset: str = "medium", out_width: int | None = None, queue_frames: int = 64):
        self.path = Path(path)
        self.fps, self.size, self.crf, self.preset = fps, size, crf, preset
        self.out_width = out_width or size
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, queue_frames // 8))
        self.frames_written = 0
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._tmp: Path | None = None
        self._stderr = None
        self._shape: tuple[int, int] | None = None

    def __enter__(self) -> FrameWriter:
        return self

    def _start(self, height: int, width: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".partial.mp4",
                                   dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        os.chmod(self._tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a video is for sharing
        self._stderr = tempfile.TemporaryFile()  # a file, so ffmpeg never blocks on a pipe
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(self.fps), "-i", "-", "-an",
               *h264_args(fps=self.fps, crf=self.crf, preset=self.preset, width=self.out_width,
                          height=self.size, src_width=width, src_height=height),
               "-f", "mp4", str(self._tmp)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._stderr)
        self._shape = (height, width)
        self._thread = threading.Thread(target=self._pump, name="ffmpeg-writer", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is _DONE:
                    break
                self._proc.stdin.write(memoryview(item).cast("B"))
        except BaseException as e:  # broken pipe: ffmpeg died; reported by close()
            self._error = e
            item = None
            while item is not _DONE:  # drain so the producer never blocks
                item = self.queue.get()

    def write(self, frames) -> None:
        """Queue frames [N, H, W, 3] uint8 (numpy or a CPU/GPU torch tensor)."""
        if hasattr(frames, "detach"):
            frames = frames.detach().cpu().numpy()
        frames = np.ascontiguousarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames [N, H, W, 3], got {frames.dtype} "
                             f"{list(frames.shape)}")
        if self._proc is None:
            self._start(frames.shape[1], frames.shape[2])
        elif frames.shape[1:3] != self._shape:
            raise ValueError(f"frame size changed from {self._shape} to {frames.shape[1:3]}")
        if self._error is not None or self._proc.poll() is not None:
            self._fail("ffmpeg stopped while frames were still coming")
        self.queue.put(frames)
        self.frames_written += len(frames)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return " | ".join(text.splitlines()[-5:])

    def _fail(self, what: str) -> None:
        tail = self._stderr_tail()
        self.abort()
        raise RenderError(f"{what} while writing {self.path}" + (f": {tail}" if tail else ""))

    def close(self) -> None:
        """Finish encoding and move the file into place."""
        if self._proc is None:
            raise RenderError(f"no frames were written to {self.path}")
        self.queue.put(_DONE)
        self._thread.join()
        with contextlib.suppress(OSError):  # ffmpeg may already have closed its end
            self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0 or self._error is not None:
            self._fail(f"ffmpeg failed (exit {code})")
        os.replace(self._tmp, self.path)
        self._tmp = None
        self._stderr.close()

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial file; the output path is left untouched."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(_DONE)
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._proc = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: Path, frames_iter, **kwargs) -> int:
    """Encode an iterable of frame batches; returns the number of frames."""
    with FrameWriter(path, **kwargs) as writer:
        for frames in frames_iter:
            writer.write(frames)
    return writer.frames_written


def encode_png_sequence(png_dir: Path, out: Path, *, fps: float, size: int, crf: int = 18,
                        preset: str = "medium") -> Path:
    """ffmpeg over ``frame_%06d.png`` with the same codec settings (the naive baseline)."""
    from PIL import Image

    first = Image.open(Path(png_dir) / "frame_000000.png")
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", str(fps),
           "-i", str(Path(png_dir) / "frame_%06d.png"),
           *h264_args(fps=fps, crf=crf, preset=preset, width=size, height=size,
                      src_width=first.width, src_height=first.height), str(out)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise RenderError(f"ffmpeg failed on {png_dir}: {proc.stderr.decode()[-500:]}")
    return Path(out)
