"""Live control of a StyleGAN3 model: camera offsets, truncation in W+, and a replay that
matches (a tiny random network written as an NVIDIA pickle)."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.live.session import LiveOptions, perform, prepare_live
from latentreel.live.state import Control
from latentreel.scene import load_scene
from latentreel.video.probe import read_frames
from tests.stylegan3_nets import write_tiny_stylegan3

SCENE = """\
model: tiny3.pkl
output: {fps: 10, size: 32}
defaults: {hold: 0.2, transition: 0.5}
loop: true
keyframes: [{seed: 1, name: a, camera: {x: 0.1}}, {seed: 2}]
"""


def test_camera_and_truncation_steer_a_stylegan3_scene_and_replay(tmp_path):
    write_tiny_stylegan3(tmp_path / "tiny3.pkl")
    scene = tmp_path / "s.yaml"
    scene.write_text(SCENE)
    prepared, w = prepare_live(load_scene(scene), size=None, upscale=None, device="cpu",
                               progress=False)
    still = w.shot()
    assert torch.allclose(still.camera, torch.tensor([[0.1, 0.0, 0.0, 0.0]]))
    w.apply(Control("/latentreel/set", ("camera.angle", 30.0)))
    w.apply(Control("/latentreel/set", ("camera.x", -0.2)))
    w.apply(Control("/latentreel/set", ("camera.zoom", 4.0)))  # a factor: log2 4 = 2
    moved = w.shot()
    assert torch.allclose(moved.camera, torch.tensor([[-0.1, 0.0, 30.0, 2.0]]))
    w.apply(Control("/latentreel/set", ("truncation", 0.0)))  # W+: the average w
    mean = prepared.generator.mean_latent("w+")
    assert torch.allclose(w.shot().latent[0], mean.to(moved.latent), atol=1e-5)

    # A recorded performance with a camera message replays into the same frames.
    from latentreel.live.session import Hooks

    hooks, boxes = Hooks(), []
    hooks.on_ready = lambda result, inbox: boxes.append(inbox)
    hooks.on_frame = lambda index, applied: boxes[0].put(Control(
        "/latentreel/set", ("camera.angle", 45.0) if index == 2 else ("camera.zoom", 1.5))) \
        if index in (2, 4) else None
    record = tmp_path / "show.mp4"
    result = perform(load_scene(scene), LiveOptions(headless=True, max_frames=8, record=record,
                                                    device="cpu"), hooks=hooks)
    assert result.applied == 2
    again = tmp_path / "again.mp4"
    r = CliRunner().invoke(app, ["render", str(scene), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o", str(again),
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    a, b = read_frames(record), read_frames(again)
    assert a.shape == b.shape and (a == b).all()
