"""LPIPS as an inversion loss: loaded from a VGG16 checkpoint in the torch hub cache (written
here with random weights of VGG16's real shapes), never downloaded; a missing or damaged file
is one clear line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import ModelError
from latentreel.invert import perceptual

runner = CliRunner()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A private torch hub folder; forgets LPIPS models loaded from other folders."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(perceptual, "_CACHE", {})
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    return tmp_path / "hub" / "checkpoints" / perceptual.VGG_FILE


def _vgg_features(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision VGG16's `features.*` tensors (13 convs) with random values."""
    torch.manual_seed(seed)
    chans = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
             (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]  # conv positions in `features`
    sd = {}
    for i, (cin, cout) in zip(idx, chans):
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3) * (2 / (9 * cin)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(cout)
    sd["classifier.0.bias"] = torch.zeros(8)  # present in the real file, ignored
    return sd


def test_loads_the_hub_checkpoint_and_measures_distance(hub):
    sd = _vgg_features()
    torch.save(sd, hub)
    model = perceptual.load_lpips("cpu")
    assert perceptual.load_lpips("cpu") is model  # once per process and device
    assert torch.equal(getattr(model.net.slice3, "10").weight, sd["features.10.weight"])
    a = torch.rand(2, 3, 64, 64) * 2 - 1
    b = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        same = perceptual.lpips_distance(model, a, a)
        diff = perceptual.lpips_distance(model, a, b)
        big = perceptual.lpips_distance(model, torch.zeros(1, 3, 512, 512),
                                        torch.ones(1, 3, 512, 512))
    assert same.shape == (2,) and torch.allclose(same, torch.zeros(2), atol=1e-6)
    assert (diff > 0).all() and big.shape == (1,) and big > 0


def test_missing_weights_name_the_path_and_the_way_out(hub):
    with pytest.raises(ModelError, match=f"needs torchvision's VGG16 weights at .*{hub.name}"
                       ".*drop --lpips"):
        perceptual.load_lpips("cpu")


@pytest.mark.parametrize("content,problem", [
    (b"not a zip file at all", "not a readable VGG16 checkpoint"),
    ("tensor", "holds a Tensor"),
    ("wrong", "features.10.weight is torch.float32 \\[1\\]"),
    ("partial", "has no features.28.weight"),
])
def test_damaged_weights_are_one_clear_line(hub, content, problem):
    if content == "tensor":
        torch.save(torch.zeros(3), hub)
    elif content == "wrong":
        torch.save({**_vgg_features(), "features.10.weight": torch.zeros(1)}, hub)
    elif content == "partial":
        sd = _vgg_features()
        del sd["features.28.weight"]
        torch.save(sd, hub)
    else:
        hub.write_bytes(content)
    with pytest.raises(ModelError, match=problem) as e:
        perceptual.load_lpips("cpu")
    assert "\n" not in str(e.value) and str(hub) in str(e.value)


def test_lpips_loss_drives_an_inversion(hub, dcgan, tmp_path):
    torch.save(_vgg_features(), hub)
    from latentreel.invert.photo import InvertSettings, invert_target

    z = torch.randn(1, dcgan.z_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        target = ((dcgan.synthesize(z)[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    s = dict(steps=4, restarts=1, polish_steps=0, identity=0.0, align=False)
    seen = []
    real = perceptual.lpips_distance
    perceptual.lpips_distance = lambda *a: seen.append(1) or real(*a)
    try:
        r = invert_target(dcgan, target, InvertSettings(**s, facenet_steps=3, lpips=1.0),
                          progress=False)
    finally:
        perceptual.lpips_distance = real
    assert len(seen) == 3 + 1 and np.isfinite(r.metrics["psnr"])  # 3 steps + the final pick


def test_invert_cli_without_vgg_weights_is_exit_2_before_any_work(hub, tmp_path):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "blank.png")
    out = tmp_path / "me.npz"
    r = runner.invoke(app, ["invert", str(tmp_path / "blank.png"), "-o", str(out), "--lpips",
                            "1", "-q"])
    assert r.exit_code == 2 and "VGG16 weights" in r.output and "Traceback" not in r.output
    assert not out.exists()
