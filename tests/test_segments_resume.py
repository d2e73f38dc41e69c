"""A segmented render killed outright (SIGKILL, as in a power cut) resumes to the same video."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.video.probe import read_frames

ROOT = Path(__file__).resolve().parents[1]
SCENE = """
output: {fps: 10, size: 64}
defaults: {hold: 0.2, transition: 1.0}
loop: true
keyframes: [{seed: 1}, {seed: 2}, {seed: 3}]
"""
# Runs the real CLI in a child process whose encoder is slowed down, so the test can kill it
# after the first two segments (of four) are complete and before the render ends.
CHILD = """
import sys, time
from latentreel.video import writer
real_write = writer.FrameWriter.write
def slow_write(self, frames):
    time.sleep(0.4)
    return real_write(self, frames)
writer.FrameWriter.write = slow_write
from latentreel.cli import main
sys.argv = ["latentreel", *sys.argv[1:]]
main()
"""


def _kill_when(child: subprocess.Popen, ready: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        assert child.poll() is None, "the render ended before it could be killed"
        assert time.monotonic() < deadline, "no segment appeared in time"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def test_killed_render_resumes_frame_for_frame(write_scene, tmp_path, monkeypatch):
    scene = write_scene(SCENE)
    args = ["render", str(scene), "-q", "--segment-seconds", "1", "--batch-size", "5"]
    whole = tmp_path / "whole.mp4"
    r = CliRunner().invoke(app, [*args, "-o", str(whole)])
    assert r.exit_code == 0, r.output

    out = tmp_path / "killed.mp4"
    work = tmp_path / "killed.mp4.segments"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args, "-o", str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _kill_when(child, work / "segment_00001.mp4")
    assert not out.exists()
    done = sorted(p.name for p in work.glob("segment_*.mp4"))
    assert done[:2] == ["segment_00000.mp4", "segment_00001.mp4"] and len(done) < 4

    from latentreel.video import writer

    real_write, written = writer.FrameWriter.write, []

    def counting_write(self, frames):
        written.append(len(frames))
        return real_write(self, frames)

    monkeypatch.setattr(writer.FrameWriter, "write", counting_write)
    # `--resume` alone: the segment length comes from the interrupted render.
    resume = ["render", str(scene), "-q", "--batch-size", "5", "-o", str(out), "--resume"]
    r = CliRunner().invoke(app, resume)
    assert r.exit_code == 0, r.output
    assert sum(written) == 36 - 10 * len(done)  # finished segments are not rendered again
    a, b = read_frames(whole), read_frames(out)
    assert a.shape == b.shape == (36, 64, 64, 3)
    # Same x264 settings and the same segment boundaries: identical decoded frames.
    assert np.array_equal(a, b)
    # The work folder (with the killed encoder's half-written file) is gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.mp4", "scene.yaml", "whole.mp4"]
