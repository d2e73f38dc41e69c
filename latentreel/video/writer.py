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
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from latentreel.cache import atomic_write, partial_file
from latentreel.errors import RenderError

_DONE = object()  # end-of-stream marker on the writer queue
_QUEUE_SLOTS = 4  # queue items; each holds up to queue_frames // _QUEUE_SLOTS frames


def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's bundled ffmpeg (there is no system ffmpeg to rely on)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def h264_args(*, crf: int, preset: str, width: int, height: int, src_width: int,
              src_height: int, threads: int | None = None) -> list[str]:
    """Output options shared by the streaming writer and the PNG-sequence baseline."""
    args = []
    if (width, height) != (src_width, src_height):
        args += ["-vf", f"scale={width}:{height}:flags=lanczos"]
    if threads is not None:
        args += ["-threads", str(threads)]
    return args + [
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-pix_fmt", "yuv420p",  # QuickTime and most players need 4:2:0
        "-movflags", "+faststart",  # index first, so browsers start playing at once
    ]


# ---------------------------------------------------------------- atomic output files

def _cannot_write(path: Path, e: OSError) -> RenderError:
    return RenderError(f"cannot write {path}: {e.strerror or e}; "
                       "choose an output folder you can write to")


def partial_path(path: Path) -> Path:
    """cache.partial_file for an output the user named.

    Raises:
        RenderError: the folder cannot be created or written to.
    """
    try:
        return partial_file(path)
    except OSError as e:
        raise _cannot_write(path, e) from None


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """cache.atomic_write for an output the user named: ``path`` is complete or absent.

    Raises:
        RenderError: the folder cannot be created or written to.
    """
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            tmp = stack.enter_context(atomic_write(path))
        except OSError as e:
            raise _cannot_write(path, e) from None
        yield tmp


def run_ffmpeg(args: list[str], what: str) -> bytes:
    """Run ffmpeg to completion and return its stdout.

    Raises:
        RenderError: ffmpeg failed; the message ends with the end of its stderr.
    """
    proc = subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RenderError(f"ffmpeg failed (exit {proc.returncode}) {what}: "
                          f"{stderr_tail(proc.stderr)}")
    return proc.stdout


def stderr_tail(raw: bytes) -> str:
    """ffmpeg's error lines, joined on one line: the first ones (ffmpeg reports the cause
    first, then the cascade of failures it led to) and the last ones (write errors)."""
    lines = raw.decode(errors="replace").strip().splitlines()
    if len(lines) > 5:
        lines = lines[:3] + ["..."] + lines[-2:]
    return " | ".join(lines) or "(no message)"


# ---------------------------------------------------------------- the streaming writer

def _as_frames(frames) -> np.ndarray:
    """uint8 [N, H, W, 3] numpy view of ``frames`` (numpy, or torch on any device)."""
    if hasattr(frames, "detach"):  # torch: one copy to the host, none if already there
        frames = frames.detach().cpu().numpy()
    frames = np.ascontiguousarray(frames)  # a no-op for the usual contiguous batches
    if frames.ndim == 3:
        frames = frames[None]
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [N, H, W, 3], got {frames.dtype} "
                         f"{list(frames.shape)}")
    return frames


def _even(name: str, value: int) -> None:
    if value <= 0 or value % 2:
        raise ValueError(f"{name} must be a positive even number of pixels (H.264 in "
                         f"yuv420p halves the colour resolution), got {value}")


class FrameWriter:
    """Context manager that encodes uint8 RGB frames [N, H, W, 3] to an H.264 MP4.

    ``write`` does not copy: the writer keeps a view of each batch until ffmpeg has read
    it, so do not change an array in place after writing it.

    Args:
        path: the MP4 to write (replaced atomically at the end; untouched on failure).
        fps: frames per second.
        size: output height (and width, unless ``out_width`` is given), lanczos-scaled.
        crf, preset: x264 quality (0-51, lower is better) and speed.
        src_size: (height, width) of the frames, or one int for square frames. When given,
            ffmpeg starts on ``__enter__`` (its start-up overlaps the first batch) and
            frames of any other size are refused.
        queue_frames: at most this many frames wait between the caller and ffmpeg.
        out_width: output width for non-square videos (default: ``size``).
        threads: x264 threads (default: ffmpeg's choice, about 1.5 per core).
    """

    def __init__(self, path: Path, *, fps: float, size: int, crf: int = 18,
                 preset: str = "medium", src_size: int | tuple[int, int] | None = None,
                 queue_frames: int = 64, out_width: int | None = None,
                 threads: int | None = None):
        _even("size", size)
        _even("out_width", out_width or size)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0 <= crf <= 51:  # x264 would quietly clamp a larger value to 51
            raise ValueError(f"crf must be 0 (lossless) to 51 (worst), got {crf}")
        self.path = Path(path)
        self.fps, self.size, self.crf, self.preset = fps, size, crf, preset
        self.out_width, self.threads = out_width or size, threads
        self.src_size = (src_size, src_size) if isinstance(src_size, int) else src_size
        self._chunk = max(1, queue_frames // _QUEUE_SLOTS)
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_SLOTS)
        self.frames_written = 0
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._pipe_error: BaseException | None = None
        self._tmp: Path | None = None
        self._stderr = None
        self._closed = False

    def __enter__(self) -> FrameWriter:
        if self.src_size is not None:
            self._start(*self.src_size)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _start(self, height: int, width: int) -> None:
        self._tmp = partial_path(self.path)
        self._stderr = tempfile.TemporaryFile()  # a file, so ffmpeg never blocks on a pipe
        cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-framerate", str(self.fps), "-i", "pipe:0", "-an",
               *h264_args(crf=self.crf, preset=self.preset, width=self.out_width,
                          height=self.size, src_width=width, src_height=height,
                          threads=self.threads),
               "-f", "mp4", str(self._tmp)]
        # ffmpeg gets its own session, so Ctrl-C reaches Python only and the writer (not
        # ffmpeg, finishing a half video on its own) decides what happens to the file.
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr, start_new_session=True)
        except OSError as e:
            self.abort()
            raise RenderError(f"cannot start ffmpeg ({cmd[0]}): {e}") from None
        self.src_size = (int(height), int(width))
        self._thread = threading.Thread(target=self._pump, name="ffmpeg-writer", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        """Writer thread: queue -> ffmpeg's stdin until the end marker."""
        item = None
        try:
            while (item := self._queue.get()) is not _DONE:
                self._proc.stdin.write(memoryview(item).cast("B"))
        except Exception as e:  # broken pipe: ffmpeg died; close() or write() reports it
            self._pipe_error = e
            while item is not _DONE:  # keep draining so the producer never blocks
                item = self._queue.get()

    def write(self, frames) -> None:
        """Queue frames [N, H, W, 3] (or one [H, W, 3]) uint8, numpy or torch.

        Blocks while ``queue_frames`` frames are waiting for ffmpeg.

        Raises:
            ValueError: wrong dtype or shape, or a frame size other than the first batch's.
            RenderError: ffmpeg has stopped (its message included); the file is removed.
        """
        if self._closed:
            raise RuntimeError(f"writer for {self.path} is closed")
        frames = _as_frames(frames)
        if self._proc is None:
            self._start(*frames.shape[1:3])
        elif frames.shape[1:3] != self.src_size:
            raise ValueError(f"frames are {list(frames.shape[1:3])} but this video's frames "
                             f"are {list(self.src_size)} (height, width)")
        for s in range(0, len(frames), self._chunk):
            if self._pipe_error is not None or self._proc.poll() is not None:
                self._fail("ffmpeg stopped while frames were still coming")
            self._queue.put(frames[s:s + self._chunk])  # a view: no copy
        self.frames_written += len(frames)

    def close(self) -> None:
        """Finish encoding and move the file into place.

        Raises:
            RenderError: no frames were written, or ffmpeg failed; nothing is left at ``path``.
        """
        if self._closed:
            return
        self._closed = True
        if self._proc is None:
            raise RenderError(f"no frames were written to {self.path}")
        try:
            self._queue.put(_DONE)
            self._thread.join()
            with contextlib.suppress(OSError):  # ffmpeg may already have closed its end
                self._proc.stdin.close()
            code = self._proc.wait()
            if code != 0 or self._pipe_error is not None:
                self._fail(f"ffmpeg failed (exit {code})")
            os.replace(self._tmp, self.path)
            self._tmp = None
        except BaseException:  # Ctrl-C while ffmpeg finishes, too
            self.abort()
            raise
        self._release()

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial file; the output path is left untouched."""
        self._closed = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._release()

    def _release(self) -> None:
        """Stop the writer thread (ffmpeg has exited), delete any partial file, free stderr."""
        if self._thread is not None and self._thread.is_alive():
            # Only this thread puts, so after emptying the queue the marker always fits.
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._queue.put_nowait(_DONE)
            self._thread.join()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _fail(self, what: str) -> None:
        self._stderr.seek(0)
        tail = stderr_tail(self._stderr.read())
        self.abort()
        raise RenderError(f"{what} while writing {self.path}: {tail}")


def write_video(path: Path, frames_iter: Iterable, **kwargs) -> int:
    """Encode an iterable of frame batches [N, H, W, 3] uint8 with ``FrameWriter``.

    Returns:
        The number of frames written.
    """
    with FrameWriter(path, **kwargs) as writer:
        for frames in frames_iter:
            writer.write(frames)
    return writer.frames_written


def encode_png_sequence(png_dir: Path, out: Path, *, fps: float, size: int, crf: int = 18,
                        preset: str = "medium") -> Path:
    """ffmpeg over ``png_dir/frame_%06d.png`` with the writer's codec settings (a baseline).

    Raises:
        RenderError: there is no ``frame_000000.png``, or ffmpeg failed.
    """
    from PIL import Image

    first = Path(png_dir) / "frame_000000.png"
    if not first.is_file():
        raise RenderError(f"{first}: no such file; the sequence must start at frame_000000.png")
    with Image.open(first) as img:
        width, height = img.size
    with atomic_output(Path(out)) as tmp:
        run_ffmpeg(["-framerate", str(fps), "-i", str(Path(png_dir) / "frame_%06d.png"),
                    *h264_args(crf=crf, preset=preset, width=size, height=size,
                               src_width=width, src_height=height), "-f", "mp4", str(tmp)],
                   f"encoding {png_dir}")
    return Path(out)
