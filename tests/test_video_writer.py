"""FrameWriter: H.264 out, frames back, and nothing left behind when anything fails."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
import torch

from latentreel.errors import RenderError
from latentreel.video.probe import probe_video, read_frames
from latentreel.video.writer import FrameWriter, encode_png_sequence, write_video


def moving_frames(n: int = 16, size: int = 64) -> np.ndarray:
    """Smooth, moving colour gradients [n, size, size, 3] uint8 (x264 keeps them close)."""
    y, x = np.mgrid[0:size, 0:size] / size
    t = np.arange(n)[:, None, None] / n
    x, y = x + 0 * t, y + 0 * t  # [n, size, size]
    chans = [np.sin(2 * np.pi * (x + t)), np.cos(2 * np.pi * (y - t)), np.sin(np.pi * (x + y))]
    return ((np.stack(chans, -1) + 1) * 127.5).astype(np.uint8)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_encodes_h264_yuv420p_with_index_first(tmp_path):
    out = tmp_path / "v.mp4"
    frames = moving_frames(16, 64)
    with FrameWriter(out, fps=12, size=128, crf=18, preset="veryfast") as w:
        w.write(frames[:5])
        w.write(torch.from_numpy(frames[5:]))  # torch tensors are taken too
    assert w.frames_written == 16
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.fps) == (16, 128, 128, 12.0)
    assert (info.codec, info.pix_fmt, info.has_audio) == ("h264", "yuv420p", False)
    assert info.duration == pytest.approx(16 / 12, abs=0.02)
    head = out.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart
    assert leftovers(tmp_path) == ["v.mp4"]


def test_decoded_frames_match_what_was_written(tmp_path):
    frames = moving_frames(12, 64)
    n = write_video(tmp_path / "v.mp4", [frames[:7], frames[7:]], fps=10, size=64, crf=10,
                    queue_frames=4)
    back = read_frames(tmp_path / "v.mp4")
    assert n == 12 and back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 5  # 4:2:0 colour, crf 10: close
    small = read_frames(tmp_path / "v.mp4", size=32)
    assert small.shape == (12, 32, 32, 3)


def test_src_size_starts_ffmpeg_up_front_and_refuses_other_sizes(tmp_path):
    with pytest.raises(ValueError, match=r"frames are \[32, 32\]"):
        with FrameWriter(tmp_path / "v.mp4", fps=8, size=64, src_size=64) as w:
            assert w._proc is not None  # started before the first frame
            w.write(moving_frames(4, 64))
            w.write(moving_frames(4, 32))
    assert leftovers(tmp_path) == []


def test_queue_is_bounded_while_ffmpeg_is_busy(tmp_path):
    frame = np.zeros((1, 256, 256, 3), np.uint8)  # 196 KB, more than a pipe holds
    with FrameWriter(tmp_path / "v.mp4", fps=8, size=256, queue_frames=8, preset="ultrafast") as w:
        w.write(frame)
        os.kill(w._proc.pid, signal.SIGSTOP)  # ffmpeg stops reading
        try:
            producer = threading.Thread(target=lambda: [w.write(frame) for _ in range(40)])
            producer.start()
            producer.join(0.5)
            assert producer.is_alive()  # write() blocks instead of piling frames up
            assert w.frames_written <= 1 + 8 + 1  # first + queue + the one being piped
        finally:
            os.kill(w._proc.pid, signal.SIGCONT)
        producer.join()
    assert probe_video(tmp_path / "v.mp4").frames == 41


@pytest.mark.parametrize("exc", [KeyError, KeyboardInterrupt], ids=["error", "ctrl-c"])
def test_exception_in_block_leaves_nothing(tmp_path, exc):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"previous video")  # untouched until a render succeeds
    with pytest.raises(exc), FrameWriter(out, fps=8, size=64) as w:
        w.write(moving_frames(8, 64))
        raise exc("boom")
    assert w._proc.poll() is not None  # ffmpeg is gone
    assert out.read_bytes() == b"previous video"
    assert leftovers(tmp_path) == ["v.mp4"]


@pytest.mark.parametrize("frames,noticed", [
    (1, "ffmpeg failed"),  # ffmpeg is still starting at the only write: close() notices
    (200, "ffmpeg stopped while frames were still coming"),  # 2.4 MB fill the pipe
], ids=["by-close", "by-write"])
def test_ffmpeg_failure_raises_render_error_with_its_message(tmp_path, frames, noticed):
    out = tmp_path / "v.mp4"
    with pytest.raises(RenderError, match="invalid preset 'not-a-preset'") as err:
        with FrameWriter(out, fps=8, size=64, preset="not-a-preset", queue_frames=8) as w:
            for _ in range(frames):
                w.write(moving_frames(1, 64))
    assert str(err.value).startswith(noticed) and str(out) in str(err.value)
    assert leftovers(tmp_path) == []


def test_ffmpeg_killed_midway_is_reported(tmp_path):
    out = tmp_path / "v.mp4"
    out.write_bytes(b"previous video")
    with pytest.raises(RenderError, match="ffmpeg"), FrameWriter(out, fps=8, size=64) as w:
        w.write(moving_frames(4, 64))
        w._proc.kill()
        for _ in range(100):
            w.write(moving_frames(4, 64))
    assert out.read_bytes() == b"previous video"
    assert leftovers(tmp_path) == ["v.mp4"]


def test_unwritable_folder_raises_render_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RenderError, match="cannot write"):
        with FrameWriter(tmp_path / "file" / "v.mp4", fps=8, size=64) as w:
            w.write(moving_frames(2, 64))
    assert leftovers(tmp_path) == ["file"]


@pytest.mark.parametrize("frames,message", [
    (np.zeros((2, 16, 16, 3), np.float32), "uint8"),
    (np.zeros((2, 16, 16), np.uint8), "uint8 frames"),
    (np.zeros((2, 16, 16, 4), np.uint8), r"\[2, 16, 16, 4\]"),
], ids=["float", "grey", "rgba"])
def test_bad_frames_are_refused(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message), FrameWriter(tmp_path / "v.mp4", fps=8,
                                                                size=16) as w:
        w.write(frames)
    assert leftovers(tmp_path) == []


def test_odd_size_and_empty_video_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        FrameWriter(tmp_path / "v.mp4", fps=8, size=65)
    with pytest.raises(ValueError, match="crf"):
        FrameWriter(tmp_path / "v.mp4", fps=8, size=64, crf=99)  # x264 would clamp it
    with pytest.raises(RenderError, match="no frames"), FrameWriter(tmp_path / "v.mp4", fps=8,
                                                                       size=64):
        pass
    assert leftovers(tmp_path) == []


def test_png_sequence_baseline_uses_the_same_settings(tmp_path):
    from PIL import Image

    frames = moving_frames(6, 32)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"frame_{i:06d}.png")
    out = encode_png_sequence(tmp_path, tmp_path / "out" / "png.mp4", fps=6, size=64, crf=18)
    info = probe_video(out)
    assert (info.frames, info.width, info.codec, info.pix_fmt) == (6, 64, "h264", "yuv420p")
    with pytest.raises(RenderError, match="frame_000000.png"):
        encode_png_sequence(tmp_path / "out", tmp_path / "x.mp4", fps=6, size=64, crf=18)
