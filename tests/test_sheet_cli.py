"""`latentreel sheet`: what each montage holds, and one batched generator call per sheet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.edits import sheets as S
from latentreel.models.dcgan import DCGANGenerator
from latentreel.models.base import seed_latents

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch):
    """Batch sizes of every generator call made while the test runs."""
    sizes: list[int] = []
    original = DCGANGenerator.synthesize

    def counting(self, latents, space="z"):
        sizes.append(len(latents))
        return original(self, latents, space)

    monkeypatch.setattr(DCGANGenerator, "synthesize", counting)
    return sizes


@pytest.mark.parametrize("args,cells", [
    (["--seeds", "0-4"], 5),
    (["--psi", "1,0.7,0.5,0,-0.5,-1", "--seeds", "1,2,3"], 18),
    (["--plane", "--seeds", "4,5,6"], 25),
    (["--axes", "0-6"], 8),
    (["--direction", "sefa0", "--seeds", "1,2"], 14),
], ids=["seeds", "psi", "plane", "axes", "direction"])
def test_each_sheet_is_one_batched_call(tmp_path, monkeypatch, calls, args, cells):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    assert runner.invoke(app, ["directions", "sefa", "--k", "1"]).exit_code == 0
    out = tmp_path / "sheet.png"
    r = runner.invoke(app, ["sheet", "-o", str(out), "--cell", "40", *args])
    assert r.exit_code == 0, r.output
    assert calls == [cells]
    assert Image.open(out).mode == "RGB" and str(out) in r.output


def test_psi_row_goes_through_the_mean_to_the_anti_face(dcgan):
    lat, labels, rows = S.psi_grid(dcgan, [3, 4], [1, 0, -1])
    z = seed_latents(dcgan, [3, 4])
    mean = dcgan.mean_latent("z")
    assert torch.equal(lat[0], z[0]) and torch.allclose(lat[4], mean, atol=1e-5)
    # psi -1 reflects about the average face on the sphere: same length, and back again.
    assert lat[5].norm() == pytest.approx(float(z[1].norm()), rel=1e-5)
    assert torch.allclose(S.truncate(lat[5], mean, -1.0, "z"), z[1], atol=1e-4)
    assert labels[:3] == ["psi 1", "psi 0", "psi -1"] and rows == ["seed 3", "seed 4"]


def test_plane_holds_its_three_seeds_as_cells(dcgan):
    lat, labels, _ = S.plane_grid(dcgan, [4, 5, 6])
    z = seed_latents(dcgan, [4, 5, 6])
    for seed, zi in zip([4, 5, 6], z):
        i = labels.index(f"seed {seed}")
        assert torch.allclose(lat[i], zi, atol=1e-6)
    assert len(lat) == len(S.PLANE_COORDS) ** 2 and "(-0.5, -0.5)" in labels


def test_axis_latents_are_the_mean_and_one_hot(dcgan):
    lat, labels, _ = S.axis_grid(dcgan, [0, 99])
    assert torch.equal(lat[0], dcgan.mean_latent("z")) and labels == ["mean", "axis 0", "axis 99"]
    assert lat[1, 0] == lat[2, 99] == pytest.approx(10.0)  # sqrt(z_dim): a typical z length
    assert int((lat[1:] != 0).sum()) == 2


def test_direction_row_moves_each_seed_along_the_vector(dcgan):
    v = torch.from_numpy(np.eye(100, dtype=np.float32)[7])
    lat, labels, rows = S.direction_grid(dcgan, [1, 2], v, [-3, 0, 3], "x")
    z = seed_latents(dcgan, [1, 2])
    assert torch.allclose(lat[2] - lat[0], 6 * v) and torch.equal(lat[4], z[1])
    assert labels[:3] == ["x -3", "x +0", "x +3"] and rows == ["seed 1", "seed 2"]


@pytest.mark.parametrize("name,fmt", [("photo.png", "PNG"), ("photo.mp4", "JPEG")],
                         ids=["png", "jpeg-named-mp4"])
def test_strip_refuses_a_still_picture(tmp_path, name, fmt):
    picture = tmp_path / name
    Image.new("RGB", (32, 32), (200, 10, 10)).save(picture, format=fmt)
    r = CliRunner().invoke(app, ["strip", str(picture), "-o", str(tmp_path / "s.png")])
    assert r.exit_code == 2 and "is a still picture" in r.output and "not a video" in r.output
    assert not (tmp_path / "s.png").exists()
