"""Where a render writes: checked before any frame, never over one of its own inputs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.video.probe import probe_video

runner = CliRunner()

SCENE = """
output: {fps: 4, size: 32}
defaults: {hold: 0.25, transition: 0.5}
keyframes:
  - seed: 1
  - latent: z.npy
"""


@pytest.fixture
def scene(write_scene, tmp_path):
    np.save(tmp_path / "z.npy", np.zeros(100, np.float32))
    (tmp_path / "photo.png").write_bytes(b"not really")
    return write_scene(SCENE)


def _render(scene, out: str):
    return runner.invoke(app, ["render", str(scene), "-q", "--device", "cpu", "-o", out])


@pytest.mark.parametrize("out,message", [
    ("x.gif", "not a .gif file; end the name in .mp4 or .m4v"),
    ("noext", "not a name without a suffix"),
    ("photo.png/x.mp4", "photo.png is a file, not a folder"),
    ("/proc/x.mp4", "cannot write in /proc"),
    ("a\0.mp4", "NUL"),
    ("b" * 300 + ".mp4", "304 bytes long"),
], ids=["gif", "no-suffix", "under-a-file", "proc", "nul", "too-long"])
def test_unusable_outputs_are_refused_up_front(scene, tmp_path, monkeypatch, out, message):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _render(scene, out)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: -o/--out ") and message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing made, nothing lost


def test_an_input_of_the_run_is_never_overwritten(write_scene, tmp_path):
    # A soundtrack (or a scene) may well be an .mp4 itself.
    scene = write_scene(SCENE.replace("latent: z.npy", "seed: 2"), name="scene.mp4")
    before = scene.read_bytes()
    for out in (str(scene), str(tmp_path / "." / "scene.mp4")):
        result = _render(scene, out)
        assert result.exit_code == 2 and "is an input of this render" in result.output
    assert scene.read_bytes() == before


@pytest.mark.parametrize("folder", ["existing", "new/"], ids=["existing-folder", "slash"])
def test_a_folder_takes_the_scenes_file_name(scene, tmp_path, folder):
    (tmp_path / "existing").mkdir()
    result = _render(scene, f"{tmp_path}/{folder}")
    assert result.exit_code == 0, result.output
    written = tmp_path / folder.rstrip("/") / "scene.mp4"
    assert probe_video(written).frames == 1 + 2 + 1


def test_scene_output_path_needs_a_video_suffix(write_scene):
    scene = write_scene("output: {path: v.gif}\nkeyframes:\n  - seed: 1\n")
    result = runner.invoke(app, ["validate", str(scene)])
    assert result.exit_code == 2
    assert f"{scene}:1:16: output.path: latentreel writes MP4 video, not a .gif" in result.output
