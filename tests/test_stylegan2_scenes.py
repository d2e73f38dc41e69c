"""StyleGAN2 models in scenes: render in z, w and w+, anti-faces through w_avg, photos
inverted straight into W+ (a tiny random-weight network saved as a rosinality checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.latentfile import load_latent
from latentreel.video.probe import probe_video
from tests.test_stylegan2_rosinality import as_rosinality, random_net

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sg")
    net = random_net()
    torch.save({"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg.clone()},
               folder / "tiny.pt")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    return folder


@pytest.mark.parametrize("space", ["z", "w", "w+", None])
def test_render_in_every_space(tiny, space):
    name = {"w+": "wp", None: "default"}.get(space, space)
    scene = tiny / f"scene-{name}.yaml"
    anti = "" if space == "z" else ", {anti: a, truncation: 0.8}"  # z refuses both (below)
    scene.write_text(f"model: tiny.pt\n{f'space: {space}' if space else ''}\n"
                     "output: {fps: 5, size: 64}\ndefaults: {hold: 0.2, transition: 1}\n"
                     f"loop: true\nkeyframes: [{{seed: 1, name: a}}, {{seed: 2}}{anti}]\n")
    out = tiny / f"{name}.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == (2 if space == "z" else 3) * (1 + 5)


def test_default_space_is_wplus_and_truncation_lives_in_w(tiny):
    from latentreel.models.registry import load_generator
    from latentreel.render.keyframes import resolve_keyframes
    from latentreel.scene import load_scene

    g = load_generator(str(tiny / "tiny.pt"))
    scene = tiny / "trunc.yaml"
    scene.write_text("model: tiny.pt\nkeyframes: [{seed: 1, name: a}, "
                     "{seed: 1, truncation: 0}, {anti: a}]\n")
    lat = resolve_keyframes(load_scene(scene), g, progress=False).latents
    w_avg = g.mean_latent("w+")
    assert lat.shape == (3, g.num_ws, g.w_dim)
    assert torch.allclose(lat[1], w_avg)  # psi 0: the average face, not a zero z
    assert torch.allclose(lat[2] - w_avg, -(lat[0] - w_avg), atol=1e-5)


@pytest.mark.parametrize("keyframe,what", [("{anti: a}", "an anti-face"),
                                           ("{seed: 2, truncation: 0.7}", "truncation")])
def test_truncation_and_anti_faces_in_stylegan_z_are_refused(tiny, keyframe, what):
    scene = tiny / "zanti.yaml"
    scene.write_text("model: tiny.pt\nspace: z\noutput: {fps: 5, size: 64}\n"
                     f"keyframes: [{{seed: 1, name: a}}, {keyframe}]\n")
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tiny / "zanti.mp4")])
    assert r.exit_code == 2 and f"{what} on tiny happens in W" in r.output
    assert "zanti.yaml:4" in r.output and "space: w+" in r.output
    assert not (tiny / "zanti.mp4").exists()


def test_photo_inverts_into_wplus_and_is_used_in_scenes(tiny):
    out = tiny / "me.npz"
    r = runner.invoke(app, ["invert", str(tiny / "astronaut.png"), "-o", str(out), "--model",
                            str(tiny / "tiny.pt"), "--no-align", "--steps", "20",
                            "--restarts", "2", "--tune-steps", "2", "-q"])
    assert r.exit_code == 0, r.output
    lf = load_latent(out)
    assert lf.space == "w+" and lf.latent.shape == (8, 32) and np.isfinite(lf.latent).all()
    scene = tiny / "photo.yaml"
    scene.write_text("model: tiny.pt\nspace: w\noutput: {fps: 5, size: 64}\n"
                     "keyframes: [{latent: me.npz}]\n")
    r = runner.invoke(app, ["render", str(scene), "-q"])
    assert r.exit_code == 2 and "holds a 'w+' latent" in r.output and "space: w+" in r.output
    r = runner.invoke(app, ["invert", str(tiny / "astronaut.png"), "-o", str(out), "--model",
                            str(tiny / "tiny.pt"), "--no-align", "--method", "hybrid", "-q"])
    assert r.exit_code == 2 and "no trained encoder for tiny" in r.output


def test_hybrid_wplus_inversion_starts_from_the_mapped_encoder_guess(tiny):
    from latentreel.invert.encoder import (
        EncoderTraining,
        encoder_path,
        load_encoder,
        train_encoder,
    )
    from latentreel.invert.photo import InvertSettings, invert_target
    from latentreel.models.registry import load_generator

    g = load_generator(str(tiny / "tiny.pt"))
    train_encoder(g, EncoderTraining(steps=3, batch=4), progress=False)
    enc = load_encoder(g)
    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        target = ((g.synthesize(z)[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round()
    target = target.byte().numpy()
    s = dict(restarts=1, polish_steps=0, align=False, facenet_steps=0, space="w+")
    guess = invert_target(g, target, InvertSettings(method="encoder", **s), progress=False)
    with torch.no_grad():
        expected = g.to_space(enc(torch.from_numpy(target).permute(2, 0, 1)[None].float()
                                  / 127.5 - 1), "w+")[0]
    assert guess.space == "w+" and torch.allclose(guess.latent, expected, atol=1e-5)
    hybrid = invert_target(g, target, InvertSettings(method="hybrid", steps=40, **s),
                           progress=False)
    assert hybrid.metrics["method"] == "hybrid" and hybrid.metrics["psnr"] > guess.metrics["psnr"]
    encoder_path(g.name).unlink()  # the other tests invert from w_avg


def test_wplus_inversion_fits_noise_maps_without_leaking_them(tiny):
    from latentreel.invert.photo import InvertSettings, invert_photo
    from latentreel.models.registry import load_generator

    g = load_generator(str(tiny / "tiny.pt"))
    before = {k: v.clone() for k, v in g.noise_maps().items()}
    res = invert_photo(tiny / "astronaut.png", g,
                       InvertSettings(steps=10, restarts=2, align=False, facenet_steps=10,
                                      tune=False),
                       progress=False, use_cache=False, out=tiny / "noisy.npz")
    assert res.space == "w+" and set(res.noise) == set(before)
    changed = [k for k in before if not np.allclose(res.noise[k], before[k].numpy())]
    assert changed  # the maps were fitted ...
    for k, v in g.noise_maps().items():  # ... and the model's own maps are untouched
        assert torch.equal(v, before[k])
    with np.load(tiny / "noisy.npz") as f:  # kept in the latent file
        assert {f"noise:{k}" for k in before} <= set(f.files)


def test_noise_penalty_prefers_white_noise():
    from latentreel.invert.optimize import noise_penalty

    white = torch.randn(32, 32, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(white[None, None], 3, 1, 1)[0, 0]
    smooth = (smooth - smooth.mean()) / smooth.std()
    assert noise_penalty([smooth]) > 100 * noise_penalty([white])


def test_cache_hit_keeps_noise_maps_and_skips_alignment(tiny, monkeypatch):
    from latentreel.invert import photo as photo_module
    from latentreel.invert.photo import InvertSettings, invert_photo
    from latentreel.models.registry import load_generator

    g = load_generator(str(tiny / "tiny.pt"))
    settings = InvertSettings(steps=5, restarts=1, align=False, facenet_steps=5, tune=False)
    first = invert_photo(tiny / "astronaut.png", g, settings, progress=False)

    def no_alignment(*args, **kwargs):
        raise AssertionError("a cache hit must not detect or align faces again")

    monkeypatch.setattr(photo_module, "prepare_target", no_alignment)
    again = invert_photo(tiny / "astronaut.png", g, settings, progress=False,
                         out=tiny / "again.npz")
    assert again.metrics["cached"] and np.array_equal(again.target, first.target)
    assert set(again.noise) == set(first.noise)
    assert {f"noise:{k}" for k in first.noise} <= set(load_latent(tiny / "again.npz").arrays)


def test_w_noise_ramp_follows_nvidia_schedule():
    from latentreel.invert.schedule import w_noise_scale, warmup_cosine

    assert w_noise_scale(0, 1000, w_std=20.0) == pytest.approx(1.0)  # 0.05 x w_std
    assert w_noise_scale(375, 1000, w_std=20.0) == pytest.approx(0.25)  # (1 - 0.5)^2
    assert w_noise_scale(750, 1000, w_std=20.0) == 0 == w_noise_scale(999, 1000, w_std=20.0)
    lrs = [warmup_cosine(s, 1000, 0.1, hold=0.75) for s in range(1000)]
    assert lrs[0] < 0.1 and lrs[49] == lrs[500] == lrs[749] == 0.1  # warm-up, then held
    assert lrs[750] <= 0.1 and lrs[999] < 0.001 and lrs[800] > lrs[900]  # ramp-down


def test_w_noise_ramp_perturbs_early_steps_only(tiny):
    from latentreel.invert.optimize import OptimizeSettings, optimize_latents, w_spread
    from latentreel.models.registry import load_generator

    g = load_generator(str(tiny / "tiny.pt"))
    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(3))
    spread = w_spread(g)
    w = g.to_space(z, "w")
    assert spread == pytest.approx(float((g.to_space(torch.randn(4096, g.z_dim), "w")
                                          - g.mean_latent("w")).norm(dim=1).square()
                                         .mean().sqrt()), rel=0.05)
    with torch.no_grad():
        target = g.synthesize(w, "w")
    seen = []
    real = g.synthesize

    def recording(latents, space="z", **kw):
        seen.append(latents.detach().clone())
        return real(latents, space, **kw)

    g.synthesize = recording
    try:
        r = optimize_latents(g, target, OptimizeSettings(steps=8, restarts=1, w_noise=0.05),
                             space="w+", callback=lambda step, x: seen.append(("x", x.clone())))
    finally:
        del g.synthesize
    inputs = [s for s in seen if not isinstance(s, tuple)]
    states = [s[1] for s in seen if isinstance(s, tuple)]
    # step 0 synthesizes x0 + noise of std 0.05 * w_std; the last steps see x itself
    start = g.mean_latent("w+")
    assert float((inputs[0] - start).std()) == pytest.approx(0.05 * spread, rel=0.35)
    assert torch.equal(inputs[7], states[6]) and r.latents.shape == (1, g.num_ws, g.w_dim)


def test_projector_bench_compares_the_schedules_on_the_same_faces():
    from latentreel.bench.projector import VARIANTS, run_projector_bench

    r = run_projector_bench(faces=2, steps=6, device="cpu", log=lambda *a: None)
    assert set(r["variants"]) == set(VARIANTS)
    for v in r["variants"].values():
        assert len(v["psnr"]) == 2 and v["median_psnr"] == pytest.approx(np.median(v["psnr"]))
    assert "gain_over_cosine_db" in r["variants"]["hold"]
