"""End to end: scenes rendered to real MP4s, decoded back and checked."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import RenderError
from latentreel.video.probe import probe_video, read_frames
from latentreel.video.writer import FrameWriter

runner = CliRunner()

SCENE = """
output: {path: out/v.mp4, fps: 10, size: 96, crf: 18}
defaults: {hold: 0.3, transition: 0.7}
loop: %s
keyframes:
  - {seed: 1, name: a}
  - {seed: 2, transition: {duration: 0.5, interpolation: spline, easing: linear}}
  - {anti: a, hold: 0.2}
"""


@pytest.mark.parametrize("loop,frames",
                         [("false", 3 + 3 + 2 + 7 + 5), ("true", 3 + 3 + 2 + 7 + 5 + 7)],
                         ids=["open", "loop"])
def test_render_writes_exact_frames(write_scene, tmp_path, loop, frames):
    scene = write_scene(SCENE % loop)
    result = runner.invoke(app, ["render", str(scene), "-q", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = probe_video(tmp_path / "out" / "v.mp4")
    assert (info.frames, info.width, info.height) == (frames, 96, 96)
    assert info.fps == 10 and info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert not list((tmp_path / "out").glob(".*partial*"))


def test_render_is_deterministic(write_scene, tmp_path):
    scene = write_scene(SCENE % "true")
    runs = {"a.mp4": "8", "b.mp4": "8", "c.mp4": "64"}
    for name, batch in runs.items():
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / name),
                                "--batch-size", batch])
        assert r.exit_code == 0, r.output
    a, b, c = (read_frames(tmp_path / n).astype(int) for n in runs)
    assert np.array_equal(a, b)  # same scene, same settings: the same frames
    # Another batch size may round a few pixels differently before x264, nothing more.
    assert a.shape == c.shape and np.abs(a - c).mean() < 0.5


def test_preview_and_overrides(write_scene, tmp_path):
    scene = write_scene(SCENE % "false")
    r = runner.invoke(app, ["render", str(scene), "-q", "--preview"])
    assert r.exit_code == 0, r.output
    info = probe_video(tmp_path / "out" / "v.preview.mp4")
    assert info.width == 128
    r = runner.invoke(app, ["render", str(scene), "-q", "--size", "64", "--fps", "5", "-o",
                            str(tmp_path / "small.mp4")])
    assert r.exit_code == 0
    info = probe_video(tmp_path / "small.mp4")
    assert (info.width, info.fps) == (64, 5)


def test_preview_skips_the_learned_upscaler_unless_asked(write_scene):
    from latentreel.render.pipeline import RenderOptions, _output_settings
    from latentreel.scene import load_scene

    scene = load_scene(write_scene(SCENE.replace("crf: 18", "crf: 18, upscale: realesrgan-x4plus")
                                   % "false"))
    assert scene.output.upscale == "realesrgan-x4plus"
    assert _output_settings(scene, RenderOptions(preview=True)).upscale == "lanczos"
    asked = RenderOptions(preview=True, upscale="realesr-animevideov3")
    assert _output_settings(scene, asked).upscale == "realesr-animevideov3"
    plain = load_scene(write_scene(SCENE % "false"))
    assert _output_settings(plain, RenderOptions(preview=True)).upscale == "none"


def test_faststart_puts_index_first(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    with FrameWriter(tmp_path / "x.mp4", fps=8, size=64) as w:
        w.write(frames)
    head = (tmp_path / "x.mp4").read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")
    assert len(read_frames(tmp_path / "x.mp4")) == 8


def test_exception_leaves_no_file(tmp_path):
    out = tmp_path / "x.mp4"
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(KeyError):
        with FrameWriter(out, fps=8, size=32) as w:
            w.write(frames)
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_failure_is_reported_and_cleaned(tmp_path):
    out = tmp_path / "x.mp4"
    out.write_bytes(b"old video")  # an existing file survives a failed render
    with pytest.raises(RenderError, match="ffmpeg"):
        with FrameWriter(out, fps=8, size=32, preset="not-a-preset") as w:
            w.write(np.zeros((4, 32, 32, 3), np.uint8))
    assert out.read_bytes() == b"old video"
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp4"]


def test_bad_latent_file_is_exit_2(write_scene, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    np.save(tmp_path / "short.npy", np.zeros(7, np.float32))
    for name, msg in (("bad.npz", "cannot read the latent file"),
                      ("short.npy", "shape [7] but dcgan-digiface needs [100]")):
        scene = write_scene(f"keyframes:\n  - latent: {name}\n", name=f"{name}.yaml")
        r = runner.invoke(app, ["render", str(scene), "-q"])
        assert r.exit_code == 2, r.output
        assert msg in r.output and "Traceback" not in r.output
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_latent_file_round_trip(write_scene, tmp_path):
    from latentreel.latentfile import LatentFile, load_latent, save_latent
    from latentreel.models.base import seed_latent

    save_latent(tmp_path / "me.npz", LatentFile(seed_latent(5, 100), "z", "dcgan-digiface",
                                                 {"note": "test"}))
    lf = load_latent(tmp_path / "me.npz")
    assert lf.model == "dcgan-digiface" and lf.meta == {"note": "test"}
    scene = write_scene("output: {fps: 5, size: 64}\nkeyframes:\n  - latent: me.npz\n"
                        "  - seed: 5\n")
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "x.mp4")])
    assert r.exit_code == 0, r.output
    frames = read_frames(tmp_path / "x.mp4")
    # seed 5 saved as a latent and seed 5 itself are the same face
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() < 2


def test_device_errors_are_bad_input(write_scene):
    scene = write_scene(SCENE % "false")
    r = runner.invoke(app, ["render", str(scene), "-q", "--device", "tpu"])
    assert r.exit_code == 2 and "unknown device" in r.output


def test_sample_sheet(tmp_path):
    from PIL import Image

    out = tmp_path / "sheet.png"
    r = runner.invoke(app, ["sample", "--seeds", "0-3,9", "-o", str(out), "--cell", "64"])
    assert r.exit_code == 0, r.output
    img = Image.open(out)
    assert img.width > 5 * 64 and img.height > 64
    r = runner.invoke(app, ["sample", "--seeds", "3-x", "-o", str(out)])
    assert r.exit_code == 2 and "--seeds" in r.output


def test_bf16_precision_renders_nearly_the_same(write_scene, tmp_path):
    scene = write_scene(SCENE % "false")
    for name, prec in (("fp32.mp4", "fp32"), ("bf16.mp4", "bf16")):
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / name),
                                "--precision", prec])
        assert r.exit_code == 0, r.output
    a = read_frames(tmp_path / "fp32.mp4").astype(int)
    b = read_frames(tmp_path / "bf16.mp4").astype(int)
    assert a.shape == b.shape and 0 < np.abs(a - b).mean() < 3
    r = runner.invoke(app, ["render", str(scene), "-q", "--precision", "fp16", "--device", "cpu"])
    assert r.exit_code == 2 and "fp16 needs a GPU" in r.output


def test_output_file_is_readable_by_others(tmp_path):
    import stat

    with FrameWriter(tmp_path / "x.mp4", fps=8, size=32) as w:
        w.write(np.zeros((2, 32, 32, 3), np.uint8))
    assert (tmp_path / "x.mp4").stat().st_mode & stat.S_IROTH
