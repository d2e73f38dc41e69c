"""rosinality/stylegan2-pytorch checkpoints (.pt): written here from our own random networks."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from latentreel.errors import ModelError
from latentreel.models.stylegan2.backend import load_stylegan2_file
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config
from latentreel.models.stylegan2.ops import fir_filter

CFG = StyleGAN2Config(img_resolution=32, z_dim=32, w_dim=32, mapping_layers=3,
                      channel_base=256, channel_max=32)


def random_net(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    net = Generator(CFG).eval().requires_grad_(False)
    with torch.no_grad():
        net.mapping.w_avg.normal_()
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.2)
    return net


def as_rosinality(net: Generator) -> dict[str, torch.Tensor]:
    """Our tensors under rosinality's names and shapes (its Generator's state_dict layout)."""
    sd, ours = {}, net.state_dict()
    kernel = fir_filter([1, 3, 3, 1]) * 4
    for i in range(net.mapping.num_layers):
        sd[f"style.{i + 1}.weight"] = ours[f"mapping.fc{i}.weight"]
        sd[f"style.{i + 1}.bias"] = ours[f"mapping.fc{i}.bias"]
    sd["input.input"] = ours["synthesis.b4.const"][None]
    blocks = net.synthesis.blocks()
    convs = [("conv1", "synthesis.b4.conv1")]
    for j, b in enumerate(blocks[1:]):
        convs += [(f"convs.{2 * j}", f"synthesis.b{b.resolution}.conv0"),
                  (f"convs.{2 * j + 1}", f"synthesis.b{b.resolution}.conv1")]
        sd[f"convs.{2 * j}.conv.blur.kernel"] = kernel
        sd[f"to_rgbs.{j}.upsample.kernel"] = kernel
    for k, (src, dst) in enumerate(convs):
        sd[f"{src}.conv.weight"] = ours[f"{dst}.weight"][None]
        sd[f"{src}.conv.modulation.weight"] = ours[f"{dst}.affine.weight"]
        sd[f"{src}.conv.modulation.bias"] = ours[f"{dst}.affine.bias"]
        sd[f"{src}.noise.weight"] = ours[f"{dst}.noise_strength"].reshape(1)
        sd[f"{src}.activate.bias"] = ours[f"{dst}.bias"]
        sd[f"noises.noise_{k}"] = ours[f"{dst}.noise_const"][None, None]
    rgbs = [("to_rgb1", "synthesis.b4.torgb")] + [
        (f"to_rgbs.{j}", f"synthesis.b{b.resolution}.torgb") for j, b in enumerate(blocks[1:])]
    for src, dst in rgbs:
        sd[f"{src}.conv.weight"] = ours[f"{dst}.weight"][None]
        sd[f"{src}.conv.modulation.weight"] = ours[f"{dst}.affine.weight"]
        sd[f"{src}.conv.modulation.bias"] = ours[f"{dst}.affine.bias"]
        sd[f"{src}.bias"] = ours[f"{dst}.bias"].reshape(1, -1, 1, 1)
    return {k: v.clone() for k, v in sd.items()}


def _images(net_or_g, n=2):
    z = torch.randn(n, CFG.z_dim, generator=torch.Generator().manual_seed(5))
    return net_or_g.synthesize(z) if hasattr(net_or_g, "synthesize") else net_or_g(z)


def test_rosinality_checkpoint_renders_like_the_network_it_came_from(tmp_path):
    net = random_net()
    ckpt = {"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg.clone(),
            "args": argparse.Namespace(size=32, channel_multiplier=2)}
    torch.save(ckpt, tmp_path / "ros.pt")
    g = load_stylegan2_file(tmp_path / "ros.pt", "cpu")
    assert (g.resolution, g.z_dim, g.w_dim, g.num_ws) == (32, 32, 32, 8)
    for name, t in net.state_dict().items():
        torch.testing.assert_close(g.net.state_dict()[name], t, msg=name)
    with torch.no_grad():
        torch.testing.assert_close(_images(g), _images(net), rtol=1e-4, atol=1e-4)


def test_rosinality_without_latent_avg_gets_an_estimate(tmp_path):
    net = random_net()
    torch.save({"g_ema": as_rosinality(net)}, tmp_path / "train.pt")
    g = load_stylegan2_file(tmp_path / "train.pt", "cpu")
    with torch.no_grad():
        z = torch.randn(20000, CFG.z_dim, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(g.mean_latent("w"), net.mapping(z).mean(0), atol=0.05,
                                   rtol=0.05)


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_rosinality_files_cannot_run_code_and_bad_ones_are_named(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"g_ema": {}, "evil": _Hostile(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ModelError, match="evil.pt: not a loadable rosinality"):
        load_stylegan2_file(tmp_path / "evil.pt", "cpu")
    assert not marker.exists()
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="no 'g_ema' state dict in it .*state_dict"):
        load_stylegan2_file(tmp_path / "other.pt", "cpu")
    sd = as_rosinality(random_net())
    sd["convs.0.conv.extra"] = torch.zeros(1)
    torch.save({"g_ema": sd}, tmp_path / "extra.pt")
    with pytest.raises(ModelError, match="tensors a 32px StyleGAN2 generator does not: "
                                         "'convs.0.conv.extra'"):
        load_stylegan2_file(tmp_path / "extra.pt", "cpu")
    sd = as_rosinality(random_net())
    sd["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    torch.save({"g_ema": sd}, tmp_path / "blur.pt")
    with pytest.raises(ModelError, match="blur.kernel' is not the"):
        load_stylegan2_file(tmp_path / "blur.pt", "cpu")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "extra.pt").read_bytes()[:300])
    with pytest.raises(ModelError, match="cut.pt: .*truncated"):
        load_stylegan2_file(tmp_path / "cut.pt", "cpu")
