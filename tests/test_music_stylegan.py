"""Music drives on a StyleGAN3 network (w+, a camera): pulses, truncation around w_avg and
camera shakes on the clicks' frames, and the path Ray workers receive draws the same."""

from __future__ import annotations

import pickle

import pytest
import torch

from latentreel.models.registry import load_generator
from latentreel.render.prepared import prepare_scene
from latentreel.scene.load import load_scene
from tests.music_tracks import click_track
from tests.stylegan3_nets import write_tiny_stylegan3

FPS = 10
CLICKS = [0.52, 1.33, 2.14]  # frames 5, 13, 21 (clear of half frames)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sg3music")
    write_tiny_stylegan3(folder / "tiny3.pkl")
    click_track(folder / "clicks.wav", CLICKS, 3.0)
    return folder


def _prepare(tiny, react: str):
    (tiny / "s.yaml").write_text(f"model: tiny3.pkl\naudio: clicks.wav\n{react}\n"
                                 f"output: {{fps: {FPS}, size: 16}}\n"
                                 "keyframes: [{seed: 1}, {seed: 1, camera: {x: 0}}]\n")  # still
    g = load_generator(str(tiny / "tiny3.pkl"))
    return prepare_scene(load_scene(tiny / "s.yaml"), generator=g, progress=False)


def _starts(x: torch.Tensor) -> list[int]:
    moved = x.flatten(1).norm(dim=1)
    return [f for f in range(len(moved)) if moved[f] > 1e-6 and
            (f == 0 or moved[f] > 1.5 * moved[f - 1] + 1e-6)]


@pytest.mark.parametrize("drive", ["pulse", "truncation"])
def test_drives_answer_on_the_clicks_frames_in_wplus(tiny, drive):
    plain = _prepare(tiny, "")
    react = _prepare(tiny, f"react: [{{feature: onsets, drive: {drive}, amount: 0.8, "
                     "threshold: 0.3, release: 0.2}]")
    assert react.space == "w+"
    frames = torch.arange(plain.path.total_frames)
    diff = react.path.latents(frames) - plain.path.latents(frames)
    assert _starts(diff) == [round(t * FPS) for t in CLICKS]


def test_the_camera_pans_and_shakes_on_the_clicks(tiny):
    plain = _prepare(tiny, "")
    frames = torch.arange(plain.path.total_frames)
    panned = _prepare(tiny, "react: [{feature: onsets, drive: camera, target: pan, "
                      "amount: 0.1}]")
    moved = panned.path.cameras(frames) - plain.path.cameras(frames)
    assert _starts(moved) == [round(t * FPS) for t in CLICKS]
    assert torch.equal(panned.path.latents(frames), plain.path.latents(frames))
    shaken = _prepare(tiny, "react: [{feature: onsets, drive: camera, amount: 0.1}]")
    jitter = (shaken.path.cameras(frames) - plain.path.cameras(frames)).norm(dim=1)
    first = round(CLICKS[0] * FPS)
    assert (jitter[:first] == 0).all() and jitter[first] > 0.01  # random, from the click on


def test_the_camera_zooms_on_the_clicks(tiny):
    plain = _prepare(tiny, "")
    frames = torch.arange(plain.path.total_frames)
    zoomed = _prepare(tiny, "react: [{feature: onsets, drive: camera, target: zoom, "
                      "amount: 1}]")
    moved = zoomed.path.cameras(frames) - plain.path.cameras(frames)
    assert _starts(moved) == [round(t * FPS) for t in CLICKS]
    assert (moved[:, :3] == 0).all() and float(moved[:, 3].max()) > 0.5  # zoom only, in log2
    g = load_generator(str(tiny / "tiny3.pkl"))
    first, before = round(CLICKS[0] * FPS), torch.tensor([round(CLICKS[0] * FPS) - 1])
    with torch.no_grad():
        def draw(prepared, idx):
            return g.synthesize(prepared.path.latents(idx), prepared.space,
                                camera=prepared.path.cameras(idx))
        assert torch.equal(draw(zoomed, before), draw(plain, before))  # still before the click
        clicked = torch.tensor([first])
        assert (draw(zoomed, clicked) - draw(plain, clicked)).abs().mean() > 0.01


def test_ray_workers_get_the_reactive_path(tiny):
    from latentreel.distributed.runner import cpu_path

    prepared = _prepare(tiny, "react: [{feature: onsets, drive: pulse, amount: 0.8}, "
                        "{feature: loudness, drive: camera, target: turn, amount: 0.2}]")
    shipped = pickle.loads(pickle.dumps(cpu_path(prepared.path)))
    frames = torch.arange(prepared.path.total_frames)
    assert torch.equal(shipped.latents(frames), prepared.path.latents(frames).cpu())
    assert torch.equal(shipped.cameras(frames), prepared.path.cameras(frames))
