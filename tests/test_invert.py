"""Inversion: optimiser, clipping, encoder, photo pipeline, cache, CLI and its bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.invert.clipping import clip_latents
from latentreel.invert.objective import LossWeights
from latentreel.invert.optimize import OptimizeSettings, optimize_latents
from latentreel.invert.schedule import warmup_cosine
from latentreel.latentfile import load_latent

runner = CliRunner()


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_schedule_warms_up_then_decays():
    lrs = [warmup_cosine(s, 100, 1.0) for s in range(100)]
    assert lrs[0] < lrs[4] <= 1.0 and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] < 0.01 and all(a >= b for a, b in zip(lrs[5:], lrs[6:]))


def test_clipping_modes():
    z = torch.tensor([[0.5, -4.0, 5.0, 2.9]])
    std = z.clone()
    clip_latents(std, "standard", 3.0)
    assert std[0].tolist() == pytest.approx([0.5, -3.0, 3.0, 2.9])
    sto = z.clone()
    clip_latents(sto, "stochastic", 3.0, torch.Generator().manual_seed(0))
    assert sto[0, 0] == 0.5 and sto[0, 3] == pytest.approx(2.9)
    assert sto.abs().max() <= 3.0 and sto[0, 1] != -3.0  # resampled, not piled on the bound


def test_optimiser_redraws_generated_faces(dcgan):
    z = torch.randn(3, 100, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        target = dcgan.synthesize(z)
    settings = OptimizeSettings(steps=120, restarts=3, lr=0.1, polish_steps=40,
                                weights=LossWeights(prior=0.0))
    res = optimize_latents(dcgan, target, settings)
    assert res.latents.shape == (3, 100)
    assert res.psnr.min() > 27, res.psnr  # random latents give about 12 dB
    assert res.history[-1] < res.history[0] / 5


def test_mask_ignores_masked_pixels(dcgan):
    z = torch.randn(1, 100, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        target = dcgan.synthesize(z)
    scribbled = target.clone()
    scribbled[..., :32] = 1.0  # the left half painted white
    mask = torch.ones(1, 1, 64, 64)
    mask[..., :32] = 0
    settings = OptimizeSettings(steps=80, restarts=2, lr=0.1, polish_steps=20,
                                weights=LossWeights(prior=0.0))
    errors = {}
    for name, m in (("masked", mask), ("unmasked", None)):
        res = optimize_latents(dcgan, scribbled, settings, mask=m)
        with torch.no_grad():
            recon = dcgan.synthesize(res.latents)
        errors[name] = (float((recon - target)[..., 32:].square().mean()),  # visible half
                        float((recon[..., :32] - 1).square().mean()))  # distance from white
    # With the mask it fits the real face better and ignores the white scribble.
    assert errors["masked"][0] < 0.7 * errors["unmasked"][0], errors
    assert errors["masked"][1] > errors["unmasked"][1], errors


def test_invert_cli_writes_latent_png_video_and_caches(astronaut_png, tmp_path):
    out = tmp_path / "me.npz"
    args = ["invert", str(astronaut_png), "-o", str(out), "--steps", "30", "--restarts", "2",
            "--tune-steps", "3", "-q", "--video", str(tmp_path / "progress.mp4")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    lf = load_latent(out)
    assert lf.latent.shape == (100,) and lf.model == "dcgan-digiface"
    assert lf.meta["settings"]["steps"] == 30 and "psnr" in lf.meta["metrics"]
    assert "tune:fingerprint" in lf.arrays and "pivot_psnr" in lf.meta["metrics"]  # tuned
    assert Image.open(out.with_suffix(".png")).width > 3 * 100
    from latentreel.video.probe import probe_video

    assert probe_video(tmp_path / "progress.mp4").frames > 10
    # Same photo, same settings: served from the cache, same latent.
    r2 = runner.invoke(app, args[:-2] + ["-o", str(tmp_path / "again.npz")])
    assert r2.exit_code == 0
    again = load_latent(tmp_path / "again.npz")
    assert np.array_equal(again.latent, lf.latent) and again.meta["metrics"]["cached"]


def test_photo_keyframe_renders(astronaut_png, write_scene, tmp_path):
    import shutil

    shutil.copy(astronaut_png, tmp_path / "me.png")
    scene = write_scene("""
        output: {fps: 5, size: 64}
        keyframes:
          - {photo: {path: me.png, steps: 20, tune: false}, name: me}
          - anti: me
    """)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "anti-me.mp4")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "anti-me.mp4").is_file()


def test_no_face_is_exit_2_and_no_align_works(tmp_path):
    noise = np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    r = runner.invoke(app, ["invert", str(tmp_path / "noise.png"), "-o", str(tmp_path / "n.npz"),
                            "-q", "--steps", "5", "--restarts", "1"])
    assert r.exit_code == 2 and "no face was found" in r.output and "--no-align" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "n.npz").exists()
    r = runner.invoke(app, ["invert", str(tmp_path / "noise.png"), "-o", str(tmp_path / "n.npz"),
                            "-q", "--steps", "5", "--restarts", "1", "--no-align", "--no-tune"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "n.npz").is_file()


@pytest.mark.parametrize("args,match", [
    (["--method", "magic"], "--method magic"),
    (["--method", "encoder"], "no trained encoder"),
], ids=["unknown-method", "encoder-missing"])
def test_bad_invert_options(astronaut_png, tmp_path, args, match):
    r = runner.invoke(app, ["invert", str(astronaut_png), "-o", str(tmp_path / "x.npz"), "-q",
                            *args])
    assert r.exit_code == 2 and match in r.output, r.output


def test_encoder_trains_saves_and_guesses(dcgan, tmp_path, monkeypatch):
    from latentreel.errors import ModelError
    from latentreel.invert.encoder import EncoderTraining, encoder_path, load_encoder, train_encoder

    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path))
    summary = train_encoder(dcgan, EncoderTraining(steps=8, batch=8), progress=False)
    assert encoder_path(dcgan.name).is_file() and summary["steps"] == 8
    enc = load_encoder(dcgan)
    with torch.no_grad():
        guess = enc(dcgan.synthesize(torch.randn(2, 100)))
    assert guess.shape == (2, 100)
    encoder_path(dcgan.name).write_bytes(b"junk")
    with pytest.raises(ModelError, match="train-encoder"):
        load_encoder(dcgan)


def test_lbfgs_polish_shows_progress(dcgan, capsys):
    from latentreel.invert.optimize import lbfgs_polish

    with torch.no_grad():
        target = dcgan.synthesize(torch.zeros(1, 100))
    x = torch.randn(1, 100, generator=torch.Generator().manual_seed(1)).requires_grad_(True)

    def objective(images, latents):
        return (images - target).square().flatten(1).mean(1)

    lbfgs_polish(dcgan, objective, x, "z", 4, progress=True)
    assert "polishing (L-BFGS)" in capsys.readouterr().err
    lbfgs_polish(dcgan, objective, x, "z", 2)  # quiet unless asked
    assert capsys.readouterr().err == ""


def test_auto_space_and_the_space_it_means_share_one_cached_inversion(astronaut_png, dcgan):
    """`invert` (space auto) and a `photo:` keyframe (space z on the DCGAN) invert once."""
    from latentreel.invert.photo import InvertSettings, invert_photo

    cheap = dict(steps=2, restarts=1, polish_steps=0, facenet_steps=0, align=False, tune=False,
                 seed=24)
    first = invert_photo(astronaut_png, dcgan, InvertSettings(space="auto", **cheap),
                         progress=False)
    second = invert_photo(astronaut_png, dcgan, InvertSettings(space="z", **cheap),
                          progress=False)
    assert not first.metrics.get("cached") and second.metrics["cached"]
    assert torch.equal(first.latent, second.latent)


def test_invert_steps_cap_every_stage():
    from latentreel.invert.photo import stage_steps

    assert stage_steps(1) == {"polish_steps": 1, "facenet_steps": 1}
    assert stage_steps(300) == {"polish_steps": 60, "facenet_steps": 80}  # the usual counts
