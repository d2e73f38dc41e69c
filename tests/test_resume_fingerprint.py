"""A resumed render never joins segments of a different scene: the fingerprint is taken from the
prepared scene (every frame's latent and camera, the weights, the tuning, the output), so an
edit of any field that changes pixels starts afresh, and one that does not keeps the segments.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.video.probe import read_frames

runner = CliRunner()

SWEPT = """
output: {{fps: 10, size: 64}}
keyframes:
  - {{seed: 42, transition: {{duration: 3, sweep: {{direction: sefa0, from: {a}, to: {b}}}}}}}
  - {{seed: 7}}
"""

BASE = """
output: {fps: 8, size: 64, crf: 18}
defaults: {hold: 0.25, transition: 1.0, interpolation: slerp, easing: ease-in-out}
keyframes:
  - {seed: 1, name: a, transition: {sweep: {direction: sefa0, from: -2, to: 2}}}
  - {seed: 2}
  - {edit: {of: a, direction: sefa1, amount: 2}}
  - {anti: a}
"""

# One edit of each kind of field that decides pixels: (id, old text, new text).
EDITS = [
    ("seed", "{seed: 2}", "{seed: 3}"),
    ("hold", "hold: 0.25", "hold: 0.5"),
    ("duration", "transition: 1.0", "transition: 1.25"),
    ("interpolation", "interpolation: slerp", "interpolation: linear"),
    ("easing", "easing: ease-in-out", "easing: linear"),
    ("sweep-from", "from: -2", "from: -1"),
    ("sweep-direction", "direction: sefa0", "direction: sefa2"),
    ("edit-amount", "amount: 2}", "amount: 1}"),
    ("truncation", "{seed: 2}", "{seed: 2, truncation: 0.5}"),
    ("anti-psi", "{anti: a}", "{anti: {of: a, psi: -0.5}}"),
    ("loop", "keyframes:", "loop: true\nkeyframes:"),
    ("crf", "crf: 18", "crf: 30"),
    ("size", "size: 64", "size: 96"),
    ("upscale", "crf: 18", "crf: 18, upscale: lanczos, upscale_smooth: false"),
]


@pytest.fixture(scope="module")
def sefa(tmp_path_factory):
    r = runner.invoke(app, ["directions", "sefa", "--k", "3"])
    assert r.exit_code == 0, r.output


def _fingerprint(path, dcgan) -> str:
    from latentreel.render.prepared import prepare_scene
    from latentreel.scene import load_scene

    return prepare_scene(load_scene(path), generator=dcgan, progress=False).fingerprint()


@pytest.mark.parametrize("old,new", [(o, n) for _, o, n in EDITS], ids=[i for i, _, _ in EDITS])
def test_every_kind_of_edit_changes_the_fingerprint(sefa, dcgan, write_scene, old, new):
    assert old in BASE
    before = _fingerprint(write_scene(BASE, "a.yaml"), dcgan)
    assert _fingerprint(write_scene(BASE.replace(old, new, 1), "b.yaml"), dcgan) != before


def test_edits_that_change_no_pixel_keep_the_fingerprint(sefa, dcgan, write_scene):
    before = _fingerprint(write_scene(BASE, "a.yaml"), dcgan)
    same = BASE.replace("output: {", "# a comment\noutput: {path: elsewhere.mp4, ")
    same = same.replace("{seed: 2}", "{seed: 2, name: second}")
    assert _fingerprint(write_scene(same, "b.yaml"), dcgan) == before


def test_resume_after_a_sweep_edit_renders_the_edited_scene(sefa, write_scene, tmp_path,
                                                           monkeypatch):
    """The issue's case: segments of the first sweep are kept by an interrupted render; after
    the sweep is reversed, --resume must draw the reversed sweep, not join the old frames."""
    from latentreel.render.segments import SegmentWork

    scene = write_scene(SWEPT.format(a=-3, b=3))
    out = tmp_path / "out.mp4"
    args = ["render", str(scene), "-q", "-o", str(out), "--segment-seconds", "1"]

    def interrupted(self, out_path):  # every segment written, then killed before the join
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(SegmentWork, "join", interrupted)
        runner.invoke(app, args)
    kept = list((tmp_path / "out.mp4.segments").glob("segment_*.mp4"))
    assert len(kept) >= 4 and not out.exists()

    write_scene(SWEPT.format(a=3, b=-3))
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    fresh = tmp_path / "fresh.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(fresh), "--segment-seconds",
                            "1"])  # cut where the resumed render is cut: the same encoding
    assert r.exit_code == 0, r.output
    resumed, expected = read_frames(out), read_frames(fresh)
    assert len(resumed) == len(expected) > 30
    assert np.array_equal(resumed, expected)


def test_resume_of_the_same_scene_keeps_its_segments(write_scene, tmp_path, monkeypatch):
    from latentreel.render.segments import SegmentWork
    from latentreel.video import writer

    scene = write_scene("output: {fps: 10, size: 64}\nkeyframes: [{seed: 1}, {seed: 2}]\n")
    out = tmp_path / "out.mp4"
    args = ["render", str(scene), "-q", "-o", str(out), "--segment-seconds", "1"]
    with monkeypatch.context() as mp:
        mp.setattr(SegmentWork, "join", lambda self, p: (_ for _ in ()).throw(KeyboardInterrupt))
        runner.invoke(app, args)
    written = []
    real = writer.FrameWriter.write
    monkeypatch.setattr(writer.FrameWriter, "write",
                        lambda self, f: (written.append(len(f)), real(self, f))[1])
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    assert written == [] and out.is_file()  # every segment reused, none drawn again
