"""StyleGAN2's operations against direct NumPy/SciPy evaluations of their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d, correlate2d

from latentreel.models.stylegan2.ops import (
    bias_act,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upfirdn2d,
    upsample2x,
)

TAPS = [1, 3, 3, 1]


def _zero_insert(x: np.ndarray, up: int) -> np.ndarray:
    out = np.zeros((x.shape[0] * up, x.shape[1] * up), x.dtype)
    out[::up, ::up] = x
    return out


def ref_upfirdn(x: np.ndarray, f: np.ndarray, up: int, down: int, pad, gain: float):
    """One channel [H, W]: zero insertion, pad (negative = crop), true convolution, decimate."""
    x = _zero_insert(x, up)
    left, right, top, bottom = pad
    x = np.pad(x, ((max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))))
    x = x[max(-top, 0):x.shape[0] - max(-bottom, 0), max(-left, 0):x.shape[1] - max(-right, 0)]
    return convolve2d(x, f * gain, mode="valid")[::down, ::down]


@pytest.mark.parametrize("up,down,pad,gain", [
    (1, 1, (1, 1, 1, 1), 1.0),
    (2, 1, (2, 1, 2, 1), 4.0),
    (1, 2, (1, 1, 1, 1), 1.0),
    (2, 1, (1, -1, 0, 2), 4.0),
], ids=["blur", "up2", "down2", "asymmetric-crop"])
def test_upfirdn2d_matches_its_definition(up, down, pad, gain):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    # An asymmetric filter catches a missing flip (correlation instead of convolution).
    f = np.outer([1.0, 2.0, 4.0, 1.0], [1.0, 3.0, 2.0, 1.0]).astype(np.float32)
    got = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, pad=pad,
                    gain=gain).numpy()
    want = np.stack([np.stack([ref_upfirdn(c, f, up, down, pad, gain) for c in n]) for n in x])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_upsample2x_is_upfirdn_with_centred_padding():
    x = torch.randn(2, 3, 5, 7)
    skewed = torch.outer(torch.tensor([1.0, 2.0, 4.0, 1.0]), torch.tensor([1.0, 3.0, 2.0, 1.0]))
    for f in (fir_filter(TAPS), skewed / skewed.sum()):
        want = upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4.0)
        got = upsample2x(x, f)
        assert got.shape == (2, 3, 10, 14)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # The [1, 3, 3, 1] filter with gain 4 keeps a constant image constant away from the border.
    flat = upsample2x(torch.ones(1, 1, 6, 6), fir_filter(TAPS))
    torch.testing.assert_close(flat[..., 2:-2, 2:-2], torch.ones(1, 1, 8, 8))


def test_fir_filter_is_normalised_outer_product():
    f = fir_filter(TAPS)
    assert f.shape == (4, 4)
    assert f.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(f, torch.outer(torch.tensor([1., 3, 3, 1]),
                                              torch.tensor([1., 3, 3, 1])) / 64)


def _ref_modconv(x, weight, styles, demodulate, up, noise, bias, act, clamp):
    """Per sample: scale the weight, demodulate, convolve channel by channel with SciPy."""
    n, i = x.shape[:2]
    o = weight.shape[0]
    f = fir_filter(TAPS).numpy() * 4
    outs = []
    for s in range(n):
        wm = weight * styles[s][None, :, None, None]
        if demodulate:
            wm = wm / np.sqrt((wm ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
        rows = []
        for oc in range(o):
            if up == 1:
                acc = sum(correlate2d(x[s, c], wm[oc, c], mode="same") for c in range(i))
            else:
                # conv_transpose == zero insertion (no trailing zero) + full true convolution
                acc = sum(convolve2d(_zero_insert(x[s, c], 2)[:-1, :-1], wm[oc, c])
                          for c in range(i))
                acc = convolve2d(np.pad(acc, 1), f, mode="valid")
            rows.append(acc)
        outs.append(np.stack(rows))
    y = np.stack(outs)
    if noise is not None:
        y = y + noise
    if bias is not None:
        y = y + bias[None, :, None, None]
    if act == "lrelu":
        y = np.where(y >= 0, y, 0.2 * y) * math.sqrt(2)
    if clamp is not None:
        y = np.clip(y, -clamp, clamp)
    return y


@pytest.mark.parametrize("demodulate,up,k,use_noise,act,clamp", [
    (True, 1, 3, True, "lrelu", None),
    (True, 2, 3, True, "lrelu", None),
    (False, 1, 1, False, "linear", None),
    (True, 1, 3, False, "lrelu", 0.5),
], ids=["conv", "upconv", "torgb", "clamped"])
def test_modulated_conv2d_matches_per_sample_definition(demodulate, up, k, use_noise, act, clamp):
    rng = np.random.default_rng(1)
    n, i, o, h = 2, 3, 4, 5
    x = rng.standard_normal((n, i, h, h)).astype(np.float32)
    weight = rng.standard_normal((o, i, k, k)).astype(np.float32)
    styles = rng.standard_normal((n, i)).astype(np.float32) + 1
    noise = rng.standard_normal((1, 1, h * up, h * up)).astype(np.float32) if use_noise else None
    bias = rng.standard_normal(o).astype(np.float32)
    got = modulated_conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(styles),
        demodulate=demodulate, up=up, resample_filter=fir_filter(TAPS),
        noise=None if noise is None else torch.from_numpy(noise), bias=torch.from_numpy(bias),
        act=act, clamp=clamp).numpy()
    want = _ref_modconv(x, weight, styles, demodulate, up, noise, bias, act, clamp)
    assert got.shape == (n, o, h * up, h * up)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_demodulation_ignores_the_scale_of_weights_and_styles():
    x, w, s = torch.randn(2, 3, 6, 6), torch.randn(4, 3, 3, 3), torch.randn(2, 3)
    a = modulated_conv2d(x, w, s)
    b = modulated_conv2d(x, w * 1000, s * 0.001)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_float16_prenormalisation_keeps_huge_styles_finite():
    x, w = torch.randn(2, 8, 6, 6), torch.randn(8, 8, 3, 3)
    s = torch.randn(2, 8) * 1e6  # x * s alone would overflow float16
    want = modulated_conv2d(x, w, s)
    got = modulated_conv2d(x.half(), w, s).float()
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)


def test_bias_act_and_normalisation():
    x = torch.tensor([[-1.0, 2.0]])
    torch.testing.assert_close(bias_act(x, torch.tensor([0.5, 0.5]), act="lrelu"),
                               torch.tensor([[-0.1, 2.5]]) * math.sqrt(2))
    torch.testing.assert_close(bias_act(x * 10, clamp=3.0), torch.tensor([[-3.0, 3.0]]))
    with pytest.raises(ValueError, match="unsupported activation"):
        bias_act(x, act="gelu")  # NVIDIA offers no gelu
    z = normalize_2nd_moment(torch.randn(4, 16) * 7)
    torch.testing.assert_close(z.square().mean(1), torch.ones(4), rtol=1e-4, atol=1e-4)
