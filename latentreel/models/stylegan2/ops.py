"""StyleGAN2's low-level operations in plain PyTorch (no compiled extensions).

FIR resampling ("upfirdn": upsample by inserting zeros, pad, filter, downsample), bias plus
activation with an optional clamp, and the modulated/demodulated convolution that is the core
of the StyleGAN2 synthesis network. Shapes use N batch, I/O input/output channels, k kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
# The gain that keeps a leaky ReLU's output variance near its input's (He et al.); StyleGAN2
# multiplies every lrelu output by it.
LRELU_GAIN = math.sqrt(2.0)
ACTIVATIONS = ("linear", "lrelu")
# What NVIDIA's bias_act offers (torch_utils/ops/bias_act.py), as (function, default gain):
# mapping networks may use any of them; synthesis layers are always lrelu.
_MAPPING_FUNCS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, LRELU_GAIN),
    "lrelu": (lambda x: F.leaky_relu(x, LRELU_SLOPE), LRELU_GAIN),
    "tanh": (torch.tanh, 1.0),
    "sigmoid": (torch.sigmoid, 1.0),
    "elu": (F.elu, 1.0),
    "selu": (F.selu, 1.0),
    "softplus": (F.softplus, 1.0),
    "swish": (lambda x: torch.sigmoid(x) * x, LRELU_GAIN),
}
MAPPING_ACTIVATIONS = tuple(_MAPPING_FUNCS)


def fir_filter(taps: list[float] | tuple[float, ...]) -> torch.Tensor:
    """A separable 2-D low-pass filter [k, k] from 1-D ``taps``, normalised to sum to 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim != 1 or f.numel() < 1:
        raise ValueError(f"filter taps must be a non-empty list of numbers, got {taps!r}")
    f2 = torch.outer(f, f)
    return f2 / f2.sum()


def _separate(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a rank-1 2-D filter [kh, kw] into its column [kh] and row [kw] factors.

    Filters here are always outer products (checked when a model is loaded), and two 1-D
    passes cost kh + kw multiply-adds per pixel instead of kh * kw. Works on the device
    without a host sync, so it can run on every call.
    """
    col = f.sum(dim=1)
    row = f.sum(dim=0) / f.sum()
    return col, row


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``f`` (true convolution), downsample.

    Args:
        x: [N, C, H, W].
        f: [kh, kw] separable (outer-product) filter.
        up, down: integer factors.
        pad: (left, right, top, bottom) after upsampling; negative values crop.
        gain: multiplies the filter (``up ** 2`` keeps the mean after zero insertion).
    Returns:
        [N, C, (H * up + top + bottom - kh + 1) // down, ...] in x's dtype.
    """
    n, c, h, w = x.shape
    if up > 1:
        # Each sample is followed by up - 1 zeros along both axes.
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    left, right, top, bottom = pad
    symmetric = left == right >= 0 and top == bottom >= 0
    if not symmetric:
        x = F.pad(x, list(pad))
    col, row = _separate(f.to(torch.float32) * gain)
    # conv2d correlates; flipping the taps makes it a convolution.
    kh, kw = col.numel(), row.numel()
    wy = col.flip(0).to(x.dtype).reshape(1, 1, kh, 1).expand(c, 1, kh, 1)
    wx = row.flip(0).to(x.dtype).reshape(1, 1, 1, kw).expand(c, 1, 1, kw)
    py, px = (top, left) if symmetric else (0, 0)  # let the convolutions pad: no copy
    x = F.conv2d(F.conv2d(x, wy, padding=(py, 0), groups=c), wx, padding=(0, px), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2x(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W] with the low-pass filter ``f`` [k, k] (k even).

    Equals ``upfirdn2d(x, f, up=2, pad=(k/2, k/2 - 1, ...), gain=4)``: zero insertion puts the
    samples on even positions and that padding centres an even-length filter between them.
    Done as two depthwise stride-2 transposed convolutions, which insert the zeros implicitly
    instead of materialising a 4x larger zero-filled tensor.
    """
    _, c, h, w = x.shape
    col, row = _separate(f.to(torch.float32) * 4.0)
    k = col.numel()
    wy = col.to(x.dtype).reshape(1, 1, k, 1).expand(c, 1, k, 1)
    wx = row.to(x.dtype).reshape(1, 1, 1, k).expand(c, 1, 1, k)
    x = F.conv_transpose2d(x, wy, stride=(2, 1), groups=c)  # full convolution: 2H + k - 2 rows
    x = F.conv_transpose2d(x, wx, stride=(1, 2), groups=c)
    # The full convolution starts k - 1 - pad_before = k/2 - 1 samples early.
    start = k // 2 - 1
    return x[:, :, start:start + 2 * h, start:start + 2 * w]


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear",
             gain: float | None = None, clamp: float | None = None) -> torch.Tensor:
    """x + b (b broadcast along dim 1), then the activation, times ``gain``, clamped to +-clamp.

    ``gain`` None means the activation's own gain (sqrt(2) for lrelu, 1 for linear).
    """
    if b is not None:
        x = x + b.reshape((1, -1) + (1,) * (x.ndim - 2))
    if act not in _MAPPING_FUNCS:
        raise ValueError(f"unsupported activation {act!r}; expected one of "
                         f"{MAPPING_ACTIVATIONS}")
    func, default_gain = _MAPPING_FUNCS[act]
    x = func(x)
    gain = default_gain if gain is None else gain
    if gain is not None and gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row of [N, C] to unit root-mean-square (StyleGAN's "pixel norm" of z)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def _reduced_precision(x: torch.Tensor) -> bool:
    return x.dtype != torch.float32 or torch.is_autocast_enabled(x.device.type)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *,
                     demodulate: bool = True, up: int = 1,
                     resample_filter: torch.Tensor | None = None,
                     noise: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                     act: str = "linear", clamp: float | None = None) -> torch.Tensor:
    """StyleGAN2's style-modulated convolution (stride 1, or upsampling by 2), followed by
    noise, bias, activation and clamp: ``clamp(act(demod * conv(x, W * s) + noise + bias))``.

    Modulation scales the weight's input channels per sample by ``styles``; demodulation then
    rescales each output channel so that its modulated weights have unit L2 norm. Both are
    applied to the activations around ONE shared-weight convolution, since
    conv(x * s, W) == conv(x, W * s): the batch shares a single cuDNN/oneDNN convolution
    instead of a grouped one with a weight per sample.

    Args:
        x: [N, I, H, W].
        weight: [O, I, k, k] (k odd; 3 for synthesis layers, 1 for toRGB).
        styles: [N, I].
        demodulate: normalise each output channel's modulated weights.
        up: 1, or 2 for a transposed convolution followed by the low-pass ``resample_filter``.
        noise: optional, broadcastable to the output ([1 or N, 1, H', W']).
        bias: optional [O]. act: "linear" or "lrelu" (which includes its sqrt(2) gain).
        clamp: clamp the result to +-clamp (models trained in float16 use 256).
    Returns:
        [N, O, H * up, W * up] in x's dtype.
    """
    n, i = styles.shape
    kh, kw = weight.shape[2:]
    if x.shape[1] != i or weight.shape[1] != i:
        raise ValueError(f"channels: x {list(x.shape)}, weight {list(weight.shape)}, "
                         f"styles {list(styles.shape)}")
    dcoefs = None
    if demodulate:
        if _reduced_precision(x):
            # Demodulation cancels any scale of w and s, so shrink both to at most 1 first:
            # x * s must not overflow float16's 65504.
            weight = weight / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
            weight = weight / math.sqrt(i * kh * kw)
            styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
        # sum over (i, k, k) of (W[o, i] * s[n, i])^2, without building [N, O, I, k, k].
        w2 = weight.to(torch.float32).square().sum(dim=[2, 3])  # [O, I]
        dcoefs = (styles.to(torch.float32).square() @ w2.t() + 1e-8).rsqrt()  # [N, O]
    x = x * styles.to(x.dtype).reshape(n, i, 1, 1)
    w = weight.to(x.dtype)
    if up == 1:
        x = F.conv2d(x, w, padding=kh // 2)
    elif up == 2:
        if resample_filter is None:
            raise ValueError("upsampling needs a resample_filter")
        # A stride-2 transposed convolution is zero insertion followed by a true convolution
        # with the kernel; the low-pass filter after it removes the insertion's aliasing.
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        p = (resample_filter.shape[-1] + 1 - kh) // 2
        x = upfirdn2d(x, resample_filter, pad=(p, p, p, p), gain=4.0)
    else:
        raise ValueError(f"up must be 1 or 2, got {up}")
    return _epilogue(x, dcoefs, noise, bias, act, clamp)


def _epilogue(x: torch.Tensor, scale: torch.Tensor | None, noise: torch.Tensor | None,
              bias: torch.Tensor | None, act: str, clamp: float | None) -> torch.Tensor:
    """clamp(act(x * scale + noise + bias) * gain) in as few passes over x as possible.

    lrelu and its gain commute (lrelu(a) * g == lrelu(a * g) for g > 0), so the gain folds
    into scale, noise and bias: one addcmul, one in-place add, one in-place lrelu. On a GPU
    these passes over the activations cost as much as the convolutions.
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {act!r}; expected one of {ACTIVATIONS}")
    n, o = x.shape[:2]
    g = LRELU_GAIN if act == "lrelu" else 1.0
    s = torch.full((1, 1, 1, 1), g, dtype=x.dtype, device=x.device) if scale is None \
        else (scale * g).to(x.dtype).reshape(n, o, 1, 1)
    b = torch.zeros((), dtype=x.dtype, device=x.device) if bias is None \
        else (bias.to(torch.float32) * g).to(x.dtype).reshape(1, o, 1, 1)
    x = torch.addcmul(b, x, s)  # a new tensor: the in-place steps below are autograd-safe
    if noise is not None:
        x = x.add_(noise.to(x.dtype), alpha=g)
    if act == "lrelu":
        x = F.leaky_relu_(x, LRELU_SLOPE)
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x
