"""`latentreel bench stylegan --arch stylegan3-t`: the plumbing on tiny networks (its figures
come from the command itself)."""

from __future__ import annotations

import pytest

from latentreel.models.stylegan3.bench import random_stylegan3
from tests.stylegan3_nets import random_net as random_sg3


def test_random_networks_have_the_published_shapes():
    t, r = (random_stylegan3(64, arch, num_fp16_res=0) for arch in ("stylegan3-t",
                                                                     "stylegan3-r"))
    assert t.num_ws == r.num_ws == 16 and t.cfg.arch == "stylegan3-t"
    assert r.cfg.conv_kernel == 1 and r.synthesis.layers()[0].down_filter.ndim == 2
    assert r.synthesis.layers()[-2].down_filter.ndim == 1  # critically sampled: separable
    with pytest.raises(ValueError, match="arch must be one of"):
        random_stylegan3(64, "stylegan4")


def test_every_part_runs_on_a_stylegan3(monkeypatch):
    import latentreel.models.stylegan2.bench as sg2bench
    import latentreel.models.stylegan3.bench as sg3bench
    from latentreel.bench.stylegan import run_stylegan_bench

    monkeypatch.setattr(sg3bench, "random_stylegan3", lambda resolution, arch: random_sg3())
    monkeypatch.setattr(sg2bench, "_images_per_s",
                        lambda g, batch, s, u8: 5.0 * batch)
    r = run_stylegan_bench(arch="stylegan3-t", resolution=16, device="cpu", frames=4, size=16,
                           batches=(1, 2), invert_steps=2, log=lambda *a: None)
    assert r["arch"] == "stylegan3-t" and r["resolution"] == 16
    assert r["generator"]["images_per_s"]["fp32"] == {1: 5.0, 2: 10.0}
    assert r["render"]["E2E_fps"] > 0 and r["invert"]["pixel_s_per_1000"] > 0


def test_stylegan3_runs_beside_stylegan2_with_ratios(monkeypatch):
    import latentreel.bench.stylegan as bench

    def fake(*, resolution, arch, **kwargs):
        speed = {"stylegan3-r": 2.0, "stylegan2": 8.0}[arch] * 1024 / resolution
        return {"generator": {"best": {"images_per_s": speed}},
                "render": {"E2E_fps": speed / 2}, "invert": {"pixel_s_per_1000": 100 / speed}}

    monkeypatch.setattr(bench, "run_stylegan_bench", fake)
    r = bench.run_arch_bench("stylegan3-r", resolutions=(256, 1024), log=lambda *a: None)
    for res in (256, 1024):
        entry = r["resolutions"][res]
        assert set(entry["runs"]) == {"stylegan3-r", "stylegan2"}
        assert entry["ratios"] == pytest.approx({"G_best": 0.25, "E2E": 0.25, "invert_s": 4.0})
    with pytest.raises(ValueError, match="arch must be one of"):
        bench.run_arch_bench("stylegan4")
