"""The camera's zoom (StyleGAN3): zoom 1 is the camera as it was, bit for bit; zoom 2 shows the
centre magnified (synthesised from a smaller region of the Fourier input); scenes bound it,
ease it geometrically and fingerprint it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from latentreel.errors import SceneError
from latentreel.latents.camera import interpolate_camera
from latentreel.models.registry import load_generator
from latentreel.models.stylegan3.backend import camera_transforms
from latentreel.render.prepared import prepare_scene
from latentreel.scene.load import load_scene
from tests.stylegan3_nets import TINY_T, write_tiny_stylegan3

SCENE = ("model: tiny3.pkl\noutput: {fps: 4, size: 32}\n"
         "defaults: {hold: 0.5, transition: 1}\n"
         "keyframes: [{seed: 1, camera: {x: 0.1, angle: 20%s}}, {seed: 2}]\n")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zoom")
    # 32 px: enough detail that a magnified picture is told apart from the unzoomed one.
    write_tiny_stylegan3(folder / "tiny3.pkl", replace(TINY_T, img_resolution=32))
    return folder


@pytest.fixture(scope="module")
def g(tiny):
    return load_generator(str(tiny / "tiny3.pkl"))


def _centred_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation with each channel's mean removed (the colour cast of a random
    network would otherwise correlate everything)."""
    a, b = a - a.mean((2, 3), keepdim=True), b - b.mean((2, 3), keepdim=True)
    return float((a * b).sum() / (a.norm() * b.norm()))


def test_zoom_one_is_yesterdays_camera_bit_for_bit(g):
    old = torch.tensor([[0.1, -0.2, 33.0], [0.0, 0.0, 0.0], [-0.3, 0.05, 359.0]])
    new = torch.cat([old, torch.zeros(3, 1)], dim=1)
    assert torch.equal(camera_transforms(old), camera_transforms(new))
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(g.synthesize(z, "z", camera=old), g.synthesize(z, "z", camera=new))


def test_zoom_two_magnifies_the_centre(g):
    r, q = 32, 8
    cams = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])  # log2 zoom: 1 and 2
    for seed in range(4):
        z = torch.randn(1, 8, generator=torch.Generator().manual_seed(seed)).repeat(2, 1)
        with torch.no_grad():
            plain, zoomed = g.synthesize(z, "z", camera=cams).split(1)
        centre = F.interpolate(plain[:, :, q:r - q, q:r - q], size=(r, r), mode="bilinear",
                               align_corners=False)
        magnified, unzoomed = (_centred_correlation(centre, zoomed),
                               _centred_correlation(plain, zoomed))
        assert magnified > 0.75 and magnified > unzoomed + 0.2, (seed, magnified, unzoomed)


def test_the_transform_scales_about_the_centre():
    forward = torch.linalg.inv(camera_transforms(torch.tensor([[0.1, 0.0, 90.0, 1.0]]))[0]
                               .double())
    assert torch.allclose(forward[:2, :2], torch.tensor([[0.0, 2.0], [-2.0, 0.0]],
                                                        dtype=torch.float64), atol=1e-6)
    assert torch.allclose(forward[:2, 2], torch.tensor([0.1, 0.0], dtype=torch.float64))


def test_zoom_eases_geometrically():
    cams = interpolate_camera(torch.tensor([0.0, 0.0, 0.0, 0.0]),
                              torch.tensor([0.0, 0.0, 0.0, 2.0]), torch.tensor([0.0, 0.5, 1.0]))
    assert (2 ** cams[:, 3]).tolist() == [1.0, 2.0, 4.0]  # 1 -> 4 passes 2 halfway


def test_scenes_take_zoom_and_the_fingerprint_follows_it(tiny, g):
    def prepared(zoom: str):
        (tiny / "s.yaml").write_text(SCENE % zoom)
        return prepare_scene(load_scene(tiny / "s.yaml"), generator=g, progress=False)

    plain, one, two = prepared(""), prepared(", zoom: 1"), prepared(", zoom: 2")
    frames = torch.arange(plain.path.total_frames)
    assert torch.equal(plain.path.cameras(frames), one.path.cameras(frames))
    assert plain.fingerprint() == one.fingerprint() != two.fingerprint()
    cams = two.path.cameras(frames)
    assert cams.shape == (len(frames), 4) and float(cams[0, 3]) == 1.0  # log2 of 2
    assert float(cams[-1, 3]) < 1.0  # easing back towards the second keyframe's zoom 1


@pytest.mark.parametrize("zoom", ["0", "-1", "20"])
def test_a_zoom_out_of_range_is_refused_where_it_stands(tiny, zoom):
    (tiny / "bad.yaml").write_text(SCENE % f", zoom: {zoom}")
    with pytest.raises(SceneError) as err:
        load_scene(tiny / "bad.yaml")
    text = str(err.value)
    assert "bad.yaml:4:57: keyframes[0].camera.zoom:" in text and "[0.1, 10]" in text, text


def test_a_render_draws_the_zoom_and_zoom_one_draws_todays_frames(tiny):
    """Through the CLI (distinct-frame batching, encoding): zoom 1 renders the very frames of
    a camera without zoom, and a zoom changes them."""
    from typer.testing import CliRunner

    from latentreel.cli import app
    from latentreel.video.probe import read_frames

    def render(name: str, zoom: str):
        (tiny / f"{name}.yaml").write_text(
            "model: tiny3.pkl\noutput: {fps: 4, size: 32}\n"
            "defaults: {hold: 0, transition: 1, easing: linear}\n"
            f"keyframes: [{{seed: 1, camera: {{x: 0.1}}}}, {{seed: 1, camera: {{x: 0{zoom}}}}}]\n")
        r = CliRunner().invoke(app, ["render", str(tiny / f"{name}.yaml"), "-q", "-o",
                                     str(tiny / f"{name}.mp4"), "--batch-size", "8"])
        assert r.exit_code == 0, r.output
        return read_frames(tiny / f"{name}.mp4").astype(float)

    plain, one = render("plain", ""), render("one", ", zoom: 1")
    three = render("three", ", zoom: 3")
    assert (plain == one).all()
    assert abs(three[0] - plain[0]).mean() == 0 and abs(three[-1] - plain[-1]).mean() > 1
