"""Installation renders: complete segments, resume after a crash, seamless join."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import RenderError
from latentreel.video.probe import probe_video, read_frames
from latentreel.video.segments import concat_segments
from latentreel.video.writer import write_video

runner = CliRunner()

SCENE = """
output: {fps: 10, size: 64}
defaults: {hold: 0.2, transition: 1.0}
loop: true
keyframes: [{seed: 1}, {seed: 2}, {seed: 3}]
"""


def test_interrupted_render_resumes_to_the_same_video(write_scene, tmp_path, monkeypatch):
    scene = write_scene(SCENE)
    whole = tmp_path / "whole.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(whole),
                            "--segment-seconds", "1"])
    assert r.exit_code == 0, r.output
    assert probe_video(whole).frames == 36 and not (tmp_path / "whole.mp4.segments").exists()

    # Crash while the third segment is being written.
    from latentreel.video import writer

    real_write, calls = writer.FrameWriter.write, {"n": 0}

    def flaky(self, frames):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_write(self, frames)

    out = tmp_path / "resumed.mp4"
    monkeypatch.setattr(writer.FrameWriter, "write", flaky)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out), "--segment-seconds", "1",
                            "--batch-size", "10"])
    assert r.exit_code == 130 and not out.exists()
    segs = sorted((tmp_path / "resumed.mp4.segments").glob("segment_*.mp4"))
    assert [s.name for s in segs] == ["segment_00000.mp4", "segment_00001.mp4"]
    monkeypatch.setattr(writer.FrameWriter, "write", real_write)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out), "--segment-seconds", "1",
                            "--batch-size", "10", "--resume"])
    assert r.exit_code == 0, r.output
    # The speed counts the 16 frames this run rendered, not the 20 it reused.
    assert "36 frames in " in r.output and "then 16 rendered at " in r.output
    assert r.output.rstrip().endswith("; 20 reused)")
    a, b = read_frames(whole), read_frames(out)
    assert a.shape == b.shape == (36, 64, 64, 3)
    assert np.array_equal(a, b)  # frame for frame, after decoding


def test_segmented_matches_a_single_encode_closely(write_scene, tmp_path):
    scene = write_scene(SCENE)
    for name, extra in (("one.mp4", []), ("seg.mp4", ["--segment-seconds", "1.5"])):
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / name), *extra])
        assert r.exit_code == 0, r.output
    a = read_frames(tmp_path / "one.mp4").astype(int)
    b = read_frames(tmp_path / "seg.mp4").astype(int)
    # Each segment starts a new GOP, so x264's lossy decisions differ slightly.
    assert a.shape == b.shape and np.abs(a - b).mean() < 2.0


def test_resume_of_a_different_scene_starts_afresh(write_scene, tmp_path):
    out = tmp_path / "x.mp4"
    work = tmp_path / "x.mp4.segments"
    work.mkdir()
    (work / "manifest.json").write_text('{"fingerprint": "other"}')
    (work / "segment_00000.mp4").write_bytes(b"stale")
    scene = write_scene(SCENE)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out), "--segment-seconds", "2",
                            "--resume"])
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == 36 and not work.exists()


def test_concat_joins_segments_without_re_encoding(tmp_path):
    rng = np.random.default_rng(0)
    segs = []
    for i, n in enumerate((5, 7, 4)):  # each its own encode, so each starts on a keyframe
        frames = rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
        segs.append(tmp_path / f"it's segment {i}.mp4")  # a quote in the name, too
        write_video(segs[-1], [frames], fps=8, size=32, preset="veryfast")
    out = concat_segments(segs, tmp_path / "joined" / "all.mp4")
    info = probe_video(out)
    assert (info.frames, info.fps, info.codec) == (16, 8.0, "h264")
    assert info.duration == pytest.approx(2.0, abs=0.05)
    joined = read_frames(out)
    assert np.array_equal(joined, np.concatenate([read_frames(s) for s in segs]))
    head = out.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")
    assert [p.name for p in out.parent.iterdir()] == ["all.mp4"]


def test_concat_of_a_missing_segment_leaves_nothing(tmp_path):
    write_video(tmp_path / "a.mp4", [np.zeros((2, 16, 16, 3), np.uint8)], fps=8, size=16)
    with pytest.raises(RenderError, match="missing: .*b.mp4"):
        concat_segments([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "all.mp4")
    (tmp_path / "c.mp4").write_bytes(b"not a video")
    with pytest.raises(RenderError, match="ffmpeg failed"):
        concat_segments([tmp_path / "a.mp4", tmp_path / "c.mp4"], tmp_path / "all.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "c.mp4"]


def test_closing_line_separates_set_up_from_render_speed():
    from latentreel.cli.render import timing_summary
    from latentreel.render.pipeline import RenderResult

    result = RenderResult(path=None, frames=100, seconds=12.0, setup_seconds=10.0, rendered=40)
    assert result.fps == 20.0  # 40 frames in the 2 s spent rendering
    assert timing_summary(100, 40, 12.0, 10.0) == \
        "100 frames in 12.0 s: 10.0 s set-up, then 40 rendered at 20.0 frames/s; 60 reused"
