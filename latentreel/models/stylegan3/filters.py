"""StyleGAN3's signal processing in plain PyTorch: low-pass filter design and the filtered
leaky ReLU (upsample, nonlinearity, low-pass, downsample), plus its modulated convolution.

The paper treats feature maps as samples of continuous signals: a pointwise nonlinearity
creates frequencies above the band limit, so it runs at a higher sampling rate (upsampled
by an ideal-ish low-pass) and the result is low-passed again before returning to the
layer's own rate. Filters are Kaiser-windowed sincs (separable) or, for the R config's
non-critically-sampled layers, Kaiser-windowed jincs (radially symmetric, 2-D).

Filters use the symmetric convention of the paper's appendix: a filter of K taps is
centred between samples when K is even. Shapes: x [N, C, H, W], filters [K] or [K, K].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser's empirical window shape for the stopband attenuation that ``numtaps`` taps
    reach over a transition band ``width`` (as a fraction of Nyquist)."""
    atten = 2.285 * (numtaps - 1) * math.pi * width + 7.95  # dB
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def _tap_positions(numtaps: int, fs: float) -> np.ndarray:
    """Tap times in units of the sampling rate, centred on zero."""
    return (np.arange(numtaps) - (numtaps - 1) / 2) / fs


def kaiser_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> torch.Tensor | None:
    """A separable low-pass [numtaps]: sinc at ``cutoff`` times a Kaiser window whose
    transition band is ``width`` wide, unit gain at DC. None for a single tap (identity)."""
    if numtaps == 1:
        return None
    t = _tap_positions(numtaps, fs)
    taps = 2 * cutoff / fs * np.sinc(2 * cutoff * t)
    taps *= np.kaiser(numtaps, _kaiser_beta(numtaps, width / (fs / 2)))
    return torch.as_tensor(taps / taps.sum(), dtype=torch.float32)


def jinc_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> torch.Tensor | None:
    """A radially symmetric low-pass [numtaps, numtaps]: the 2-D ideal disc filter (a jinc)
    times a separable Kaiser window, unit gain at DC. ``numtaps`` must be even (no r = 0)."""
    if numtaps == 1:
        return None
    t = _tap_positions(numtaps, fs)
    r = torch.as_tensor(np.hypot(*np.meshgrid(t, t)), dtype=torch.float64)
    taps = torch.special.bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r)
    window = torch.as_tensor(np.kaiser(numtaps, _kaiser_beta(numtaps, width / (fs / 2))))
    taps = taps * torch.outer(window, window)
    return (taps / taps.sum()).to(torch.float32)


def _upsample_axis(x: torch.Tensor, f: torch.Tensor, up: int, pad: tuple[int, int],
                   dim: int) -> torch.Tensor:
    """Zero-insert ``up``-fold along ``dim`` (2 = H, 3 = W), pad by ``pad`` (negative crops)
    and convolve with taps ``f`` [K] times ``up``, keeping only fully covered outputs.

    A strided transposed convolution gives the full convolution of the zero-inserted signal
    without materialising the zeros; the wanted window of it starts K - 1 - pad_before in.
    """
    c, k = x.shape[1], f.numel()
    shape = (1, 1, k, 1) if dim == 2 else (1, 1, 1, k)
    stride = (up, 1) if dim == 2 else (1, up)
    weight = (f * up).to(x.dtype).reshape(shape).expand(c, -1, -1, -1)
    full = F.conv_transpose2d(x, weight, stride=stride, groups=c)
    n_out = x.shape[dim] * up + pad[0] + pad[1] - k + 1
    start = k - 1 - pad[0]
    end_pad = start + n_out - full.shape[dim]
    if start >= 0 and end_pad <= 0:  # a window inside: a view, no copy
        return full.narrow(dim, start, n_out)
    pads = [0, 0, -start, end_pad] if dim == 2 else [-start, end_pad]
    return F.pad(full, pads)


def _lowpass_down(x: torch.Tensor, f: torch.Tensor | None, down: int) -> torch.Tensor:
    """Convolve with ``f`` ([K] separable or [K, K]), keeping fully covered outputs, and keep
    every ``down``-th sample: a strided convolution computes only the kept ones."""
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    c = x.shape[1]
    f = f.to(x.dtype).flip(list(range(f.ndim)))  # conv2d correlates; flipping convolves
    if f.ndim == 2:
        return F.conv2d(x, f[None, None].expand(c, 1, -1, -1), stride=down, groups=c)
    k = f.numel()
    x = F.conv2d(x, f.reshape(1, 1, k, 1).expand(c, 1, k, 1), stride=(down, 1), groups=c)
    return F.conv2d(x, f.reshape(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, down), groups=c)


def filtered_lrelu(x: torch.Tensor, bias: torch.Tensor, up_filter: torch.Tensor | None,
                   down_filter: torch.Tensor | None, up: int, down: int,
                   padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """bias -> upsample ``up``x (zero insertion, ``padding`` = (left, right, top, bottom),
    ``up_filter`` [K] times up per axis) -> leaky ReLU times ``gain`` -> clamp ->
    ``down_filter`` -> keep every ``down``-th sample. slope 1, gain 1: no nonlinearity."""
    x = x + bias.to(x.dtype).reshape(1, -1, 1, 1)
    left, right, top, bottom = padding
    if up_filter is None:
        if up != 1:
            raise ValueError("upsampling needs an up_filter")
        x = F.pad(x, [left, right, top, bottom])
    else:
        if up_filter.ndim != 1:
            raise ValueError("up_filter must be separable (1-D taps)")
        x = _upsample_axis(x, up_filter, up, (top, bottom), dim=2)
        x = _upsample_axis(x, up_filter, up, (left, right), dim=3)
    # The gain commutes with a leaky ReLU (gain > 0). Without autograd the rest runs in place
    # on the one new tensor: at 1024 px these maps are the biggest tensors in the network.
    x = x * gain if gain != 1 else x  # x + bias above made x a new tensor
    inplace = not torch.is_grad_enabled()
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return _lowpass_down(x, down_filter, down)


def modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                   input_gain: torch.Tensor, *, demodulate: bool, padding: int) -> torch.Tensor:
    """Style-modulated convolution with 'full' padding (k - 1: the output grows by k - 1).

    The effective per-sample weight is W[o, i] * s[n, i] * gain, rescaled per output channel
    to unit norm when ``demodulate``. As in the StyleGAN2 backend, modulation and
    demodulation act on the activations around one shared-weight convolution. Weights and
    styles are first brought to unit RMS (demodulation cancels those scales) so that x * s
    stays in float16's range.

    Args: x [N, I, H, W]; weight [O, I, k, k]; styles [N, I]; input_gain [] (scales x).
    Returns: [N, O, H + 2 * padding - k + 1, ...] in x's dtype.
    """
    dcoefs = None
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
        w2 = weight.square().sum(dim=[2, 3])  # [O, I]
        dcoefs = (styles.square() @ w2.t() + 1e-8).rsqrt()  # [N, O]
    x = x * (styles * input_gain).to(x.dtype)[:, :, None, None]
    x = F.conv2d(x, weight.to(x.dtype), padding=padding)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
    return x
