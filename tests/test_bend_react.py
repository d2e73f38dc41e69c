"""A `bend` drive for `react:` (issues #20 and #22): the song moves a bend's number on top of
the keyframes' eased bends, on the click's frames only, nothing at amount 0, in the
fingerprint and in segments, and bad bend reactions are located."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import SceneError
from latentreel.render.prepared import prepare_scene
from latentreel.scene.load import load_scene
from latentreel.video.probe import read_frames
from tests.music_tracks import click_track

FPS = 10
CLICKS = [0.52, 1.27, 2.13]  # clear of half frames at 10 fps
SCENE = """
audio: clicks.wav
react: [{react}]
output: {{size: 64, fps: 10, crf: 0}}
keyframes:
  - {{seed: 1, hold: 0.5, transition: 1.5}}
  - {{seed: 2, hold: 0.5{bend}}}
"""
REACT = "{{feature: onsets, drive: bend, layer: conv2, op: {op}, amount: {amount}, release: 0}}"
runner = CliRunner()


@pytest.fixture
def clicks(tmp_path):
    return click_track(tmp_path / "clicks.wav", CLICKS, 2.5)


def _scene(write_scene, amount=30, op="rotate", bend="", name="scene.yaml"):
    react = REACT.format(op=op, amount=amount) if amount is not None else ""
    return write_scene(SCENE.format(react=react, bend=bend), name)


def _prepared(path, dcgan):
    return prepare_scene(load_scene(path), generator=dcgan, progress=False)


def _frames(prepared) -> torch.Tensor:
    return torch.cat(list(prepared.batches()))


def test_the_bend_number_jumps_on_the_click_frames_only(write_scene, dcgan, clicks):
    prepared = _prepared(_scene(write_scene), dcgan)
    angle = prepared.tracks["bend"][:, 0]
    moved = torch.nonzero(angle > 1).flatten().tolist()
    expected = [round(t * FPS) for t in CLICKS]
    assert moved == expected, (moved, angle.tolist())
    assert angle.max() <= 30 and angle[expected].min() > 10  # amount times the onset (<= 1)
    assert all(0 <= a <= 1 for i, a in enumerate(angle.tolist()) if i not in expected)
    plain = _frames(_prepared(_scene(write_scene, amount=None, name="p.yaml"), dcgan))
    change = (_frames(prepared).float() - plain.float()).abs().mean(dim=(1, 2, 3))
    assert all(change[e] > 5 * change[e - 1] + 1 for e in expected), change.tolist()


def test_amount_zero_draws_the_unbent_frames_exactly(write_scene, dcgan, clicks):
    zero = _prepared(_scene(write_scene, amount=0), dcgan)
    plain = _prepared(_scene(write_scene, amount=None, name="p.yaml"), dcgan)
    assert "bend" not in zero.tracks and zero.source.bender is None
    assert torch.equal(_frames(zero), _frames(plain))


def test_reactions_add_to_the_keyframes_eased_bends(write_scene, dcgan, clicks):
    bend = ", bend: [{layer: conv2, op: rotate, angle: 90}]"
    both = _prepared(_scene(write_scene, bend=bend), dcgan).tracks["bend"][:, 0]
    eased = _prepared(_scene(write_scene, amount=0, bend=bend, name="k.yaml"),
                      dcgan).tracks["bend"][:, 0]
    alone = _prepared(_scene(write_scene, name="r.yaml"), dcgan).tracks["bend"][:, 0]
    assert eased[-1] == 90 and eased[0] == 0
    assert torch.allclose(both, eased + alone, atol=1e-4)
    zoom = _prepared(_scene(write_scene, op="zoom", amount=-5, name="z.yaml"),
                     dcgan).tracks["bend"][:, 0]
    assert zoom.min() == pytest.approx(0.05) and zoom[0] == 1  # kept above 0, else 1 + ...


def test_the_fingerprint_follows_the_reacted_bends(write_scene, dcgan, clicks):
    prints = {_prepared(_scene(write_scene, amount=a, name=f"{a}.yaml"), dcgan).fingerprint()
              for a in (30, 20)}
    assert len(prints) == 2


def test_segments_draw_the_same_bent_frames(write_scene, dcgan, clicks, tmp_path):
    scene = _scene(write_scene)
    videos = [tmp_path / "one.mp4", tmp_path / "segments.mp4"]
    for out, extra in zip(videos, ([], ["--segment-seconds", "1"])):
        # Batches of 2 in both (a CPU conv's last bits can follow the batch's size)
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out), "--batch-size",
                                "2", *extra])
        assert r.exit_code == 0, r.output
    one, segmented = (read_frames(v) for v in videos)
    assert len(one) == 25 and np.array_equal(one, segmented)


BAD = [
    ("{feature: onsets, drive: bend, layer: conv2, op: twist}", "react[0].op",
     "expected one of translate"),
    ("{feature: onsets, drive: bend, op: rotate}", "react[0]", "needs `layer:`"),
    ("{feature: onsets, drive: pulse, layer: conv2}", "react[0].layer", "only a bend drive"),
    ("{feature: onsets, drive: bend, layer: conv2, op: rotate, channels: 0.5}",
     "react[0].channels", "op rotate takes no"),
    ("{feature: onsets, drive: bend, layer: conv2, op: zoom, target: x}", "react[0].target",
     "takes no target"),
]


@pytest.mark.parametrize("react,field,words", BAD)
def test_bad_bend_reactions_are_located(write_scene, clicks, react, field, words):
    path = write_scene(SCENE.format(react=react, bend=""))
    with pytest.raises(SceneError) as e:
        load_scene(path)
    hits = [ln for ln in e.value.problems if f": {field}: " in ln and words in ln]
    assert hits and hits[0].startswith(f"{path}:2:"), e.value.problems


def test_an_unknown_layer_is_located_once_the_model_is_loaded(write_scene, dcgan, clicks):
    path = write_scene(SCENE.format(react=REACT.format(op="rotate", amount=1).replace(
        "conv2", "conv9"), bend=""))
    with pytest.raises(SceneError) as e:
        _prepared(path, dcgan)
    assert f"{path}:2:" in str(e.value) and "no layer 'conv9'" in str(e.value), str(e.value)


def test_play_listen_leaves_a_bend_reaction_to_the_song(write_scene, clicks):
    from latentreel.live.reacting import LiveReactions, heard_live

    (r,) = load_scene(_scene(write_scene)).react
    assert r.bend.layer == "conv2" and r.bend.op == "rotate" and not heard_live(r)
    assert "cannot be steered live" in LiveReactions((r,), None, {}, FPS).steer_problem(0)
