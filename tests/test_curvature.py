"""Locality as a curvature penalty (invert/curvature.py): the recorded input moments give a
convolution's output energy exactly, the calibrated form predicts how much random faces
change, and tuning with it keeps random faces while the photo is learned."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from latentreel.bench.tune_speed import bench_generator, bench_pivot, locality_psnr
from latentreel.invert.curvature import Curvature, _Recorder, _shrunk
from latentreel.invert.delta import LowRankDelta, attach, parametrized
from latentreel.invert.tune import TuneSettings, tune_generator


@pytest.fixture(scope="module")
def tiny():
    """A random StyleGAN2 at 16 px with 16-64 channels: the real code, milliseconds a step."""
    return bench_generator(None, 16, torch.device("cpu"), channel_base=256)


def _recorded(params, run):
    rec = _Recorder({p.data_ptr(): (name, p) for name, p in params.items()}, 10**9,
                    torch.Generator().manual_seed(0))
    with torch.no_grad(), rec:
        run()
    return {n: rec.sums[n] / rec.counts[n] for n in rec.sums}, rec.layout


@pytest.mark.parametrize("kind", ["conv", "torch-up", "nvidia-up"])
def test_the_input_moment_gives_a_convolutions_output_energy(kind):
    """E over output positions of |conv(x, dW)|^2 == tr(dW A dW^T), dW as [out, in * k * k]:
    the patches, the zero insertion and the kernel flip of a transposed convolution, and the
    parameter layouts ([out, in] for NVIDIA's W^T, [in, out] for torch's ConvTranspose2d)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 6, 7, generator=g)
    if kind == "conv":
        w = torch.nn.Parameter(torch.randn(4, 5, 3, 3, generator=g))
        def op(x, w):
            return F.conv2d(x, w, padding=1)
    elif kind == "torch-up":  # the DCGAN's layers: weight [in, out, k, k], stride 2, pad 1
        w = torch.nn.Parameter(torch.randn(5, 4, 4, 4, generator=g))
        def op(x, w):
            return F.conv_transpose2d(x, w, stride=2, padding=1)
    else:  # StyleGAN2's up-convolution: a [out, in, 3, 3] parameter passed transposed
        w = torch.nn.Parameter(torch.randn(4, 5, 3, 3, generator=g))
        def op(x, w):
            return F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
    moments, layout = _recorded({"w": w}, lambda: op(x, w))
    dw = torch.randn(w.shape, generator=g)
    out = op(x, dw)
    energy = out.square().sum(1).mean()  # per position, summed over output channels
    rows = dw if layout["w"] else dw.transpose(0, 1)
    rows = rows.reshape(rows.shape[0], -1)
    assert layout["w"] == (kind != "torch-up")
    torch.testing.assert_close((rows @ moments["w"] * rows).sum(), energy, rtol=1e-4, atol=0)


def test_a_moment_with_few_samples_is_pulled_towards_isotropy():
    a = torch.diag(torch.tensor([4.0, 0.0]))  # one direction never seen
    few, many = _shrunk(a, 2), _shrunk(a, 10**6)
    assert few[1, 1] > 0.9 and few[0, 0] < 4  # the unseen direction costs about the mean
    torch.testing.assert_close(many, a, atol=1e-5, rtol=1e-5)


def test_the_penalty_predicts_how_much_random_faces_change(tiny):
    """Random low-rank deltas on every weight: the form within a factor of two of the mean
    squared change of 64 random faces (measured 0.55-0.96; cross-layer terms are left out)."""
    curv = Curvature(tiny)
    for scale in (1e-3, 1e-2):
        work = copy.deepcopy(tiny)
        attach(work.tunable_module(), 8, 0)
        g = torch.Generator().manual_seed(5)
        with torch.no_grad():
            for _, d in parametrized(work.tunable_module()):
                p = d.a if isinstance(d, LowRankDelta) else d.delta
                p.copy_(torch.randn(p.shape, generator=g) * scale)
            z = torch.randn(64, tiny.z_dim, generator=g)
            actual = float((tiny.synthesize(z) - work.synthesize(z)).square().mean())
            predicted = float(curv.penalty(work.tunable_module()))
        assert 0.45 < predicted / actual < 2.0, (scale, predicted, actual)


def test_tuning_with_the_penalty_learns_the_photo_and_keeps_random_faces(tiny):
    pivot = bench_pivot(tiny)
    base = TuneSettings(steps=40, lr=5e-3, curvature=200.0, locality=0.0)
    kept = tune_generator(tiny, [pivot], base)
    free = tune_generator(tiny, [pivot], replace(base, curvature=0.0))
    assert kept.psnr_after[0] > kept.psnr_before[0] + 3
    assert locality_psnr(tiny, kept.generator) > locality_psnr(tiny, free.generator) + 3


def test_negative_weights_are_refused():
    with pytest.raises(ValueError, match="curvature"):
        TuneSettings(curvature=-1.0)


def test_stylegan3_tunes_with_the_penalty_through_its_diagonal():
    """StyleGAN3 rescales each convolution weight before using it: no moments for those
    weights, the diagonal alone, which still keeps random faces better than no penalty."""
    from latentreel.models.stylegan3.backend import StyleGAN3Generator
    from latentreel.models.stylegan3.network import Generator as Generator3
    from tests.stylegan3_nets import TINY_T

    g = StyleGAN3Generator(Generator3(TINY_T), "cpu")
    assert not g.raw_conv_weights
    forms = Curvature(g).forms
    assert forms["L0_22_8.weight"].a is None and forms["L0_22_8.affine.weight"].a is not None
    pivot = bench_pivot(g)
    base = TuneSettings(steps=30, lr=8e-3, curvature=1000.0, locality=0.0)
    kept = tune_generator(g, [pivot], base)
    free = tune_generator(g, [pivot], replace(base, curvature=0.0))
    assert kept.psnr_after[0] > kept.psnr_before[0]
    assert locality_psnr(g, kept.generator) > locality_psnr(g, free.generator) + 6


def test_a_network_drawn_in_bf16_says_its_convolutions_are_seen_by_their_diagonal():
    """StyleGAN2 in reduced precision rescales each weight before its convolution: the form
    falls back to the diagonal there, and the tuning says so in one line."""
    from latentreel.models.stylegan2.backend import StyleGAN2Generator
    from latentreel.models.stylegan2.bench import random_generator

    net = random_generator(16, num_fp16_res=0, channel_base=256)
    assert Curvature(StyleGAN2Generator(net, "cpu", precision="fp32")).unseen == []
    g = StyleGAN2Generator(net, "cpu", precision="bf16")
    assert "b8.conv0.weight" in Curvature(g).unseen
    lines: list[str] = []
    tune_generator(g, [bench_pivot(g)], TuneSettings(steps=2, curvature=1.0, locality=0.0),
                   log=lines.append)
    assert len(lines) == 1 and "only through their diagonal" in lines[0], lines
