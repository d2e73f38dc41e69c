"""The StyleGAN2 generator and its Generator-protocol backend on small random networks."""

from __future__ import annotations

import pytest
import torch

from latentreel.errors import BadInputError
from latentreel.models.base import Generator as GeneratorProtocol
from latentreel.models.stylegan2.backend import StyleGAN2Generator
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config, truncate_ws

CFG = StyleGAN2Config(img_resolution=32, z_dim=32, w_dim=24, mapping_layers=2,
                      channel_base=256, channel_max=32)


@pytest.fixture(scope="module")
def g() -> StyleGAN2Generator:
    torch.manual_seed(0)
    net = Generator(CFG)
    with torch.no_grad():
        net.mapping.w_avg.normal_()
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # visible noise, so the noise modes differ
    return StyleGAN2Generator(net, "cpu", name="tiny")


def _z(n=3, seed=1):
    return torch.randn(n, CFG.z_dim, generator=torch.Generator().manual_seed(seed))


def test_parameter_names_follow_nvidia_layout():
    names = set(Generator(StyleGAN2Config(img_resolution=8, z_dim=4, w_dim=4, mapping_layers=2,
                                          channel_base=32, channel_max=4)).state_dict())
    layer = ["weight", "bias", "noise_strength", "noise_const", "resample_filter",
             "affine.weight", "affine.bias"]
    rgb = ["weight", "bias", "affine.weight", "affine.bias"]
    want = {"mapping.fc0.weight", "mapping.fc0.bias", "mapping.fc1.weight", "mapping.fc1.bias",
            "mapping.w_avg", "synthesis.b4.const", "synthesis.b4.resample_filter",
            "synthesis.b8.resample_filter"}
    want |= {f"synthesis.b4.conv1.{n}" for n in layer}
    want |= {f"synthesis.b8.conv{i}.{n}" for i in (0, 1) for n in layer}
    want |= {f"synthesis.b{r}.torgb.{n}" for r in (4, 8) for n in rgb}
    assert names == want


@pytest.mark.parametrize("resolution,num_ws", [(4, 2), (32, 8), (256, 14), (1024, 18)])
def test_num_ws_by_resolution(resolution, num_ws):
    cfg = StyleGAN2Config(img_resolution=resolution, z_dim=4, w_dim=4, mapping_layers=1,
                          channel_base=resolution, channel_max=2)
    assert Generator(cfg).num_ws == num_ws


def test_orig_architecture_has_one_torgb():
    cfg = StyleGAN2Config(img_resolution=16, z_dim=4, w_dim=4, channel_base=64, channel_max=4,
                          architecture="orig")
    net = Generator(cfg)
    assert [hasattr(b, "torgb") for b in net.synthesis.blocks()] == [False, False, True]
    assert net.num_ws == 6 and net(torch.randn(2, 4)).shape == (2, 3, 16, 16)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Config(img_resolution=48)
    with pytest.raises(ValueError, match="'dense' is not supported"):
        StyleGAN2Config(architecture="dense")


def test_backend_satisfies_the_protocol_and_latent_shapes(g):
    assert isinstance(g, GeneratorProtocol)
    assert (g.name, g.resolution, g.latent_spaces) == ("tiny", 32, ("z", "w", "w+"))
    assert g.latent_shape("z") == (32,) and g.latent_shape("w") == (24,)
    assert g.latent_shape("w+") == (8, 24)
    assert torch.equal(g.mean_latent("z"), torch.zeros(32))
    torch.testing.assert_close(g.mean_latent("w"), g.net.mapping.w_avg)
    torch.testing.assert_close(g.mean_latent("w+"), g.net.mapping.w_avg.expand(8, 24))
    with pytest.raises(ValueError, match="expected w latents"):
        g.synthesize(torch.zeros(2, 32), "w")
    with pytest.raises(ValueError, match="space must be one of"):
        g.latent_shape("s")


def test_spaces_agree(g):
    z = _z()
    with torch.no_grad():
        from_z = g.synthesize(z, "z")
        w = g.to_space(z, "w")
        wp = g.to_space(z, "w+")
        assert w.shape == (3, 24) and wp.shape == (3, 8, 24)
        torch.testing.assert_close(g.synthesize(w, "w"), from_z)
        torch.testing.assert_close(g.synthesize(wp, "w+"), from_z)
        torch.testing.assert_close(from_z, g.net(z), rtol=1e-4, atol=1e-4)
    assert from_z.shape == (3, 3, 32, 32) and from_z.dtype == torch.float32


def test_w_plus_layers_act_separately(g):
    with torch.no_grad():
        wp = g.to_space(_z(1), "w+")
        base = g.synthesize(wp, "w+")
        fine = wp.clone()
        fine[:, -1] = g.to_space(_z(1, seed=9), "w")  # only the last toRGB's style
        assert not torch.allclose(g.synthesize(fine, "w+"), base)


def test_noise_modes(g):
    z = _z()
    with torch.no_grad():
        const = g.synthesize(z)
        torch.testing.assert_close(g.synthesize(z), const)  # no flicker between calls
        torch.manual_seed(0)
        random1 = g.synthesize(z, noise_mode="random")
        random2 = g.synthesize(z, noise_mode="random")
        none = g.synthesize(z, noise_mode="none")
    assert not torch.allclose(random1, random2) and not torch.allclose(const, none)
    maps = g.noise_maps()
    assert len(maps) == 7 and maps["b32.conv1"].shape == (32, 32)
    with torch.no_grad():
        saved = {k: v.clone() for k, v in maps.items()}
        for v in maps.values():
            v.zero_()  # the buffers themselves: zero noise maps == no noise
        torch.testing.assert_close(g.synthesize(z), none)
        for k, v in maps.items():
            v.copy_(saved[k])


def test_truncation(g):
    with torch.no_grad():
        wp = g.to_space(_z(), "w+")
    avg = g.net.mapping.w_avg
    torch.testing.assert_close(g.truncate(wp, 0.0, "w+"), avg.expand_as(wp))
    torch.testing.assert_close(truncate_ws(wp, avg, -1.0), 2 * avg - wp)
    cut = g.truncate(wp, 0.5, "w+", cutoff=3)
    torch.testing.assert_close(cut[:, :3], avg + 0.5 * (wp[:, :3] - avg))
    torch.testing.assert_close(cut[:, 3:], wp[:, 3:])
    w = wp[:, 0]
    torch.testing.assert_close(g.truncate(w, 0.7), avg + 0.7 * (w - avg))
    with torch.no_grad():
        torch.testing.assert_close(g.net(_z(), truncation_psi=0.5, truncation_cutoff=3),
                                   g.synthesize(cut, "w+"), rtol=1e-4, atol=1e-4)


def test_mapping_tracks_w_avg():
    torch.manual_seed(0)
    net = Generator(CFG)
    w = net.mapping(_z(64))
    net.mapping(_z(64), update_w_avg=True)
    torch.testing.assert_close(net.mapping.w_avg, (1 - 0.995) * w.detach().mean(0))


def test_reduced_precision_paths_stay_close_to_fp32(g):
    ws = g.to_ws(_z(), "z").detach()
    with torch.no_grad():
        ref = g.net.synthesis(ws)
        for dtype in (torch.bfloat16, torch.float16):
            out = g.net.synthesis(ws, half=dtype, half_all=True)
            assert out.dtype == torch.float32 and torch.isfinite(out).all()
            assert (out - ref).abs().mean() < 0.05 * ref.abs().mean(), dtype
    bf16 = StyleGAN2Generator(g.net, "cpu", precision="bf16")
    with torch.no_grad():
        assert (bf16.synthesize(_z()) - ref).abs().mean() < 0.05 * ref.abs().mean()
    with pytest.raises(BadInputError, match="fp16 needs a CUDA GPU"):
        StyleGAN2Generator(g.net, "cpu", precision="fp16")


def test_channels_last_gives_the_same_images(g):
    with torch.no_grad():
        a = StyleGAN2Generator(g.net, "cpu", channels_last=False).synthesize(_z())
        b = StyleGAN2Generator(g.net, "cpu", channels_last=True).synthesize(_z())
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_conv_clamp_bounds_every_rgb_contribution():
    cfg = StyleGAN2Config(img_resolution=16, z_dim=8, w_dim=8, channel_base=64, channel_max=8,
                          conv_clamp=0.01)
    torch.manual_seed(0)
    img = Generator(cfg)(torch.randn(4, 8))
    # Three toRGB outputs, each within +-0.01; upsampling with this filter cannot exceed them.
    assert img.abs().max() <= 3 * 0.01 + 1e-6
    assert img.abs().max() > 0.01


def test_gradients_reach_w_plus_and_noise_maps(g):
    wp = g.to_space(_z(1), "w+").detach().requires_grad_(True)
    noise = g.noise_maps()["b16.conv0"]
    noise.requires_grad_(True)
    try:
        g.synthesize(wp, "w+").square().mean().backward()
    finally:
        noise.requires_grad_(False)
    assert wp.grad is not None and wp.grad.abs().sum() > 0
    assert noise.grad is not None and noise.grad.abs().sum() > 0
    noise.grad = None
