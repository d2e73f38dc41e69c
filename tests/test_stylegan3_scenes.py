"""StyleGAN3 models do what StyleGAN2 models do (seeds, w/w+, truncation and anti-faces around
w_avg, inversion into W+, SeFa, sheets, feedback, analyze, play, segments), and move their
camera per frame; scenes asking a camera of a model without one are refused with line:col
(a tiny random network written as an NVIDIA pickle)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.models.registry import load_generator
from latentreel.models.stylegan3.backend import StyleGAN3Generator
from latentreel.video.probe import probe_video, read_frames
from tests.stylegan3_nets import write_tiny_stylegan3

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sg3")
    write_tiny_stylegan3(folder / "tiny3.pkl")
    return folder


@pytest.fixture(scope="module")
def g(tiny) -> StyleGAN3Generator:
    return load_generator(str(tiny / "tiny3.pkl"))


def _render(tiny, name: str, text: str, *extra: str):
    (tiny / f"{name}.yaml").write_text(text)
    out = tiny / f"{name}.mp4"
    r = runner.invoke(app, ["render", str(tiny / f"{name}.yaml"), "-q", "-o", str(out), *extra])
    return r, out


def test_the_backend_has_w_spaces_a_camera_and_no_noise(g):
    assert isinstance(g, StyleGAN3Generator) and g.has_camera and g.arch == "stylegan3-t"
    assert g.latent_spaces == ("z", "w", "w+") and g.num_ws == 6 and g.noise_maps() == {}
    with torch.no_grad():
        img = g.synthesize(torch.randn(3, g.z_dim), "z")
    assert img.shape == (3, 3, 16, 16) and torch.isfinite(img).all()


def test_seeds_truncation_and_anti_faces_render_in_wplus(tiny, g):
    r, out = _render(tiny, "faces", "model: tiny3.pkl\noutput: {fps: 5, size: 32}\n"
                     "defaults: {hold: 0.2, transition: 1}\nloop: true\n"
                     "keyframes: [{seed: 1, name: a}, {seed: 2, truncation: 0.5}, {anti: a}]\n")
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == 3 * (1 + 5)
    from latentreel.render.keyframes import resolve_keyframes
    from latentreel.scene import load_scene

    lat = resolve_keyframes(load_scene(tiny / "faces.yaml"), g, progress=False).latents
    w_avg = g.mean_latent("w+")
    assert torch.allclose(lat[2] - w_avg, -(lat[0] - w_avg), atol=1e-5)


def test_camera_moves_the_picture_per_frame_inside_the_batch(tiny, g):
    text = ("model: tiny3.pkl\noutput: {fps: 4, size: 16}\n"
            "defaults: {hold: 0, transition: 1, easing: linear}\n"
            "keyframes: [{seed: 1, camera: {x: 0}}, {seed: 1, camera: {x: 0.25}}]\n")
    r, out = _render(tiny, "pan", text, "--batch-size", "8")
    assert r.exit_code == 0, r.output
    frames = read_frames(out).astype(np.float32)
    assert frames.shape[0] == 4
    # The same face, moved right by 0.25 of the image (4 px) by the last frame.
    first, last = frames[0], frames[-1]
    shifted = np.abs(last[:, 4:] - first[:, :-4]).mean()
    assert shifted < 0.5 * np.abs(last - first).mean()


def test_camera_refused_on_models_without_an_input_transform(tiny, write_scene):
    scene = write_scene("model: dcgan-digiface\nkeyframes:\n  - {seed: 1}\n"
                        "  - {seed: 2, camera: {angle: 30}}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2 and "scene.yaml:4:" in r.output
    assert "keyframes[1].camera: dcgan-digiface has no input transform" in r.output
    from tests.test_stylegan2_rosinality import as_rosinality, random_net

    net = random_net()
    torch.save({"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg.clone()},
               tiny / "sg2.pt")
    r, out = _render(tiny, "sg2cam", "model: sg2.pt\ndefaults: {camera: {x: 0.1}}\n"
                     "keyframes: [{seed: 1}, {seed: 2}]\n")
    assert r.exit_code == 2 and "sg2cam.yaml:2:" in r.output and "defaults.camera" in r.output
    assert not out.exists()


def test_inversion_into_wplus_recovers_a_generated_face(g):
    from latentreel.invert.photo import InvertSettings, invert_target
    from latentreel.models.base import to_uint8

    with torch.no_grad():
        target = to_uint8(g.synthesize(torch.randn(1, g.z_dim), "z"))[0].numpy()
    settings = InvertSettings(steps=20, restarts=1, polish_steps=0, facenet_steps=0,
                              align=False, space="w+", method="optimize")
    result = invert_target(g, target, settings, progress=False)
    assert result.space == "w+" and tuple(result.latent.shape) == (6, 8)
    with torch.no_grad():
        start = to_uint8(g.synthesize(g.mean_latent("w+")[None], "w+"))[0].numpy()
    before = np.abs(start.astype(float) - target).mean()
    after = np.abs(to_uint8(g.synthesize(result.latent[None].float(), "w+"))[0].numpy()
                   .astype(float) - target).mean()
    assert after < 0.7 * before


def test_sefa_uses_the_style_affines_only(g):
    from latentreel.edits.fit import _style_weights, sefa_directions

    # Not the input layer's 4-d pose affine, nor toRGB: the 4 modulated convs' inputs.
    assert _style_weights(g).shape == (sum(layer.in_channels for layer in
                                           g.net.synthesis.layers()[:-1]), g.w_dim)
    dirs = sefa_directions(g, k=2)
    assert all(d.space == "w" and d.vector.shape == (g.w_dim,) for d in dirs)


def test_sheets_feedback_and_analyze(tiny):
    r = runner.invoke(app, ["sheet", "--psi", "1,0,-1", "--seeds", "5,6", "--model",
                            str(tiny / "tiny3.pkl"), "-o", str(tiny / "psi.png"), "--cell", "32"])
    assert r.exit_code == 0, r.output
    scene = tiny / "loop.yaml"
    scene.write_text("model: tiny3.pkl\noutput: {fps: 5, size: 32}\nloop: true\n"
                     "defaults: {hold: 0, transition: 0.4, camera: {angle: 10}}\n"
                     "keyframes: [{seed: 4, name: a}, {feedback: {from: a, steps: 2}}]\n")
    r = runner.invoke(app, ["analyze", str(scene), "-o", str(tiny / "loop"), "-q"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tiny / "loop" / "analysis.json").read_text())
    assert np.array(summary["keyframe_distance_matrix"]).shape == (3, 3)


def test_segmented_render_with_a_camera_matches_the_whole(tiny):
    text = ("model: tiny3.pkl\noutput: {fps: 5, size: 16, crf: 0}\nloop: true\n"
            "defaults: {hold: 0, transition: 1}\n"
            "keyframes: [{seed: 1}, {seed: 2, camera: {angle: 90}, "
            "transition: {duration: 1, turns: 1}}]\n")
    r, whole = _render(tiny, "spin", text)
    assert r.exit_code == 0, r.output
    r, parts = _render(tiny, "spin", text, "--segment-seconds", "1")
    assert r.exit_code == 0, r.output
    assert np.abs(read_frames(whole).astype(int) - read_frames(parts).astype(int)).max() <= 2


def test_play_shows_a_stylegan3_scene(tiny, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    scene = tiny / "play.yaml"
    scene.write_text("model: tiny3.pkl\noutput: {fps: 10, size: 48}\n"
                     "defaults: {hold: 0, transition: 0.5}\n"
                     "keyframes: [{seed: 1}, {seed: 2, camera: {x: 0.1, angle: 45}}]\n")
    r = runner.invoke(app, ["play", str(scene), "--frames", "12"])
    assert r.exit_code == 0, r.output
    assert "showed 12 frames" in r.output
