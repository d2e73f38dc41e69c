"""Cheaper pivotal tuning on CPUs: the settings each device gets, the up-front time estimate,
frozen low-resolution blocks, the regulariser every k steps, and the bench on a tiny net."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

import latentreel.invert.tune as tune
from latentreel.bench.tune_speed import bench_generator, bench_pivot
from latentreel.invert.tune import TuneSettings, default_settings, tune_generator

TINY = TuneSettings(steps=6, lr=5e-3, locality_batch=1, locality_pool=8)


@pytest.fixture(scope="module")
def tiny():
    """A random StyleGAN2 at 16 px with 16-64 channels: the real code, milliseconds a step."""
    return bench_generator(None, 16, torch.device("cpu"), channel_base=256)


@pytest.fixture(scope="module")
def pivot(tiny):
    return bench_pivot(tiny)


def _fake(device: str, resolution: int, shared: bool = True):
    return SimpleNamespace(device=torch.device(device), resolution=resolution,
                           raw_conv_weights=shared)


def test_256_px_and_up_get_the_curvature_recipe_and_small_nets_todays():
    today = TuneSettings()
    assert default_settings(_fake("cpu", 64)) == today  # the DCGAN tunes in seconds anyway
    assert default_settings(_fake("cuda", 128)) == today
    assert default_settings(_fake("cuda", 1024)) == today  # not measured on a GPU yet
    for device in ("cpu", "mps"):
        for res in (256, 512, 1024):
            new = default_settings(_fake(device, res))
            assert (new.curvature, new.locality) == (tune.RECIPE["curvature"], 0.0)
            assert new.steps == tune.RECIPE["steps"] < today.steps
        bf16 = device == "cpu" and tune._has_bf16(torch.device("cpu"))
        assert (new.precision == "bf16") == bf16
    assert default_settings(_fake("mps", 256)).precision == "fp32"
    assert default_settings(_fake("cpu", 1024, shared=False)) == today  # StyleGAN3


def test_a_pool_that_fits_draws_the_untuned_images_once(tiny, pivot, monkeypatch):
    calls = []
    real = type(tiny).synthesize

    def counted(self, *args, **kwargs):
        calls.append(self is tiny)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(tiny), "synthesize", counted)
    tune_generator(tiny, [pivot], replace(TINY, steps=4))
    pooled = calls.count(True)
    calls.clear()
    monkeypatch.setattr(tune, "POOL_BYTES", 0)  # no pool: fresh latents drawn every step
    tune_generator(tiny, [pivot], replace(TINY, steps=4))
    assert calls.count(True) >= pooled + 3  # one more untuned pass a step (less the pool's)


def test_the_device_is_chosen_once_and_decides_the_settings(tiny):
    from latentreel.device import pick_device

    g = bench_generator(None, 16, pick_device("cpu"), channel_base=256)
    assert default_settings(g) == TuneSettings()  # 16 px: today's, on the device it was given
    assert default_settings(replace_resolution(g, 256)).steps == tune.RECIPE["steps"]


def replace_resolution(g, resolution: int):
    return SimpleNamespace(device=g.device, resolution=resolution,
                           raw_conv_weights=g.raw_conv_weights)


def test_a_long_tuning_says_how_long_and_how_to_shorten_it(tiny, pivot, monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(tune, "LONG_SECONDS", 0.0)
    result = tune_generator(tiny, [pivot], TINY, log=lines.append)
    assert len(lines) == 1, lines
    assert lines[0].startswith("tune: about ") and "6 steps" in lines[0]
    assert "--tune-steps" in lines[0] and "--no-tune" in lines[0] and "tune: false" in lines[0]
    assert len(result.step_seconds) == TINY.steps
    monkeypatch.setattr(tune, "LONG_SECONDS", 1e9)
    lines.clear()
    tune_generator(tiny, [pivot], TINY, log=lines.append)
    assert lines == []  # a short tuning stays quiet


def test_progress_prints_the_estimate_on_stderr(tiny, pivot, monkeypatch, capsys):
    monkeypatch.setattr(tune, "LONG_SECONDS", 0.0)
    tune_generator(tiny, [pivot], TINY, progress=True)
    err = capsys.readouterr().err
    assert err.count("tune: about ") == 1


def test_frozen_blocks_get_no_delta_and_keep_their_weights(tiny, pivot):
    result = tune_generator(tiny, [pivot], replace(TINY, tune_from=16))
    names = list(result.delta.low_rank) + list(result.delta.full)
    assert names and all(n.startswith("b16.") for n in names), names
    base, tuned = tiny.net.synthesis.b8.conv1.weight, result.generator.net.synthesis.b8.conv1
    torch.testing.assert_close(tuned.weight, base)
    assert result.psnr_after[0] > result.psnr_before[0]


def test_regulariser_every_k_steps_still_tunes(tiny, pivot):
    result = tune_generator(tiny, [pivot], replace(TINY, locality_every=3, steps=9))
    assert result.psnr_after[0] > result.psnr_before[0]
    assert tune._estimate_after(replace(TINY, locality_every=3, steps=9)) == 6  # whole cycles


def test_bf16_steps_run_and_tune(tiny, pivot):
    result = tune_generator(tiny, [pivot], replace(TINY, precision="bf16"))
    assert result.psnr_after[0] > result.psnr_before[0]


def test_bench_prints_both_settings_and_ratios_and_draws_them(monkeypatch, tmp_path):
    from PIL import Image

    from latentreel.bench.tune_speed import PICTURE_FACES, run_tune_speed_bench

    monkeypatch.setattr(tune, "POOL_BYTES", 0)  # no 1,024-latent pool for a 3-step run
    lines: list[str] = []
    out = run_tune_speed_bench(resolution=16, channel_base=256, device="cpu", steps=3,
                               today_steps=3, timed_steps=2, faces=4, recipe=True,
                               picture_path=tmp_path / "tune.png", log=lines.append)
    text = "\n".join(lines)
    assert "today:" in text and "new:" in text and "load average" in text
    assert "curvature penalty (weight 1000)" in text  # the recipe, forced at 16 px
    assert "x faster per photo, PSNR" in text and "locality" in text
    assert out["today"]["measured"] and "psnr_change_db" in out and out["speedup"] > 0
    assert "generator" not in out["today"]  # the JSON holds figures only
    sheet = Image.open(tmp_path / "tune.png")
    assert sheet.width > (3 + 3 * PICTURE_FACES) * 128 and sheet.height > 2 * 128


def test_bench_extrapolates_a_run_longer_than_its_budget(tiny, pivot):
    from latentreel.bench.tune_speed import measure

    lines: list[str] = []
    r = measure(tiny, pivot, replace(TINY, steps=1000), timed_steps=2, budget=0.0, faces=4,
                log=lines.append)
    assert not r["measured"] and "extrapolated" in lines[0] and "1000 steps" in lines[0]
    assert r["seconds"] == pytest.approx(r["estimated_seconds"])
    assert r["seconds"] > 500 * r["seconds_per_step"]
