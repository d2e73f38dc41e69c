"""The StyleGAN3 generator (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"):
a mapping network z -> w, then Fourier features that the first w rotates and translates,
num_layers modulated convolutions each followed by a filtered leaky ReLU, and a final
unfiltered toRGB. No noise inputs, no skip connections.

Every layer's cutoff, stopband, sampling rate and size follow from a handful of numbers
(the paper's section 3.2 and appendix F): cutoffs rise geometrically from ``first_cutoff``
to half the image resolution over the non-critical layers, the last ``num_critical`` layers
sample exactly at twice their cutoff, and every layer but the last two carries a margin of
``margin_size`` pixels that the last layers crop away.

Module, parameter and buffer names follow NVIDIA's release so that its pickles load by
name: ``synthesis.input.{freqs,phases,transform,weight,affine.*}``,
``synthesis.L{i}_{size}_{channels}.{weight,bias,magnitude_ema,up_filter,down_filter,affine.*}``.

Shapes: z [N, z_dim], w [N, w_dim], ws [N, num_ws, w_dim] (num_ws = num_layers + 2),
camera transforms [N, 3, 3], images [N, C, R, R].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latentreel.models.extend import Margin
from latentreel.models.stylegan2.network import FullyConnectedLayer
from latentreel.models.stylegan2.ops import normalize_2nd_moment
from latentreel.models.stylegan3.filters import (
    filtered_lrelu,
    jinc_lowpass,
    kaiser_lowpass,
    modulated_conv,
)


@dataclass(frozen=True)
class StyleGAN3Config:
    """Everything that fixes the generator's architecture (NVIDIA's keyword names)."""

    img_resolution: int = 1024  # output size (a power of two)
    z_dim: int = 512
    w_dim: int = 512
    img_channels: int = 3
    mapping_layers: int = 2  # [mapping_kwargs.num_layers]
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.998  # decay of the tracked W average during training
    channel_base: int = 32768  # channels at cutoff f: min(channel_base / 2 / f, channel_max)
    channel_max: int = 512  # T uses 32768/512; R doubles both
    num_layers: int = 14  # synthesis layers, not counting the input and toRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2.0  # f_c of the input layer
    first_stopband: float = 2 ** 2.1  # f_t of the input layer
    last_stopband_rel: float = 2 ** 0.3  # f_t of the last layer / its cutoff
    margin_size: int = 10  # extra pixels on each side of the intermediate feature maps
    output_scale: float = 0.25  # scales the toRGB output
    num_fp16_res: int = 4  # layers sampled above img_resolution / 2**N may run in float16
    conv_clamp: float | None = 256.0  # clamp pre-activations to +-X (None: no clamp)
    conv_kernel: int = 3  # 3 (T) or 1 (R); toRGB is always 1x1
    filter_size: int = 6  # low-pass taps per unit of the lower sampling rate
    lrelu_upsampling: int = 2  # the nonlinearity runs at this multiple of the sampling rate
    use_radial_filters: bool = False  # R: radially symmetric downsampling filters

    def __post_init__(self) -> None:
        r = self.img_resolution
        if r < 4 or r & (r - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {r}")
        if self.num_layers <= self.num_critical or self.num_critical < 0:
            raise ValueError(f"num_layers ({self.num_layers}) must exceed num_critical "
                             f"({self.num_critical})")
        if min(self.z_dim, self.w_dim, self.img_channels, self.mapping_layers,
               self.channel_base, self.channel_max, self.filter_size, self.lrelu_upsampling,
               self.conv_kernel) < 1 or self.margin_size < 0:
            raise ValueError("sizes, channels, filter_size, lrelu_upsampling and conv_kernel "
                             "must be positive")

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2  # the input layer, num_layers layers and toRGB

    @property
    def arch(self) -> str:
        return "stylegan3-r" if self.use_radial_filters else "stylegan3-t"


@dataclass(frozen=True)
class LayerPlan:
    """One synthesis layer's signal: for index i, input = plan i-1 (or 0), output = plan i."""

    cutoff: float  # f_c: the highest frequency the signal keeps
    half_width: float  # f_h: half the transition band above the cutoff
    sampling_rate: int  # s: samples per unit length
    size: int  # pixels per side, margin included
    channels: int


def plan_layers(cfg: StyleGAN3Config) -> list[LayerPlan]:
    """The signal after the input layer (index 0) and after each of the num_layers + 1
    layers (the last is toRGB), from the configuration's geometric progressions."""
    n, last_cutoff = cfg.num_layers, cfg.img_resolution / 2
    # Progress along the progression: 0 at the input, 1 from the first critical layer on.
    p = np.minimum(np.arange(n + 1) / (n - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** p
    stopbands = cfg.first_stopband * (last_cutoff * cfg.last_stopband_rel
                                      / cfg.first_stopband) ** p
    # The smallest power of two that puts the stopband below Nyquist, up to the image size.
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, cfg.img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + 2 * cfg.margin_size
    sizes[-2:] = cfg.img_resolution  # the last layer and toRGB have no margin
    channels = np.rint(np.minimum(cfg.channel_base / 2 / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    return [LayerPlan(float(cutoffs[i]), float(half_widths[i]), int(rates[i]), int(sizes[i]),
                      int(channels[i])) for i in range(n + 1)]


class MappingNetwork(nn.Module):
    """z [N, z_dim] -> w [N, w_dim]: normalise z, then ``mapping_layers`` lrelu FC layers."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.num_layers = cfg.mapping_layers
        sizes = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        for idx in range(cfg.mapping_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(
                sizes[idx], sizes[idx + 1], activation="lrelu",
                lr_multiplier=cfg.mapping_lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class SynthesisInput(nn.Module):
    """Fourier features: ``channels`` sinusoids of random frequencies inside a disc of radius
    ``bandwidth``, sampled on a size x size grid, then mixed by a learned matrix.

    The first w predicts a rotation and translation of the features (the network's own
    "camera"); a user transform (``transform`` buffer, or per-sample transforms) is applied
    on top of it. Both are inverse transforms of the resulting image.
    """

    def __init__(self, cfg: StyleGAN3Config, plan: LayerPlan):
        super().__init__()
        self.size, self.sampling_rate = plan.size, plan.sampling_rate
        self.bandwidth, self.channels = plan.cutoff, plan.channels
        self.weight = nn.Parameter(torch.randn(plan.channels, plan.channels))
        # (cos, sin, tx, ty) before normalising; starts as the identity for every w.
        self.affine = FullyConnectedLayer(cfg.w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        # Frequencies uniform over the disc of radius ``bandwidth``; a trained file brings
        # its own.
        radius = plan.cutoff * torch.rand(plan.channels).sqrt()
        angle = 2 * math.pi * torch.rand(plan.channels)
        self.register_buffer("freqs", torch.stack([radius * angle.cos(),
                                                   radius * angle.sin()], dim=1))
        self.register_buffer("phases", torch.rand(plan.channels) - 0.5)

    def _grid(self, device: torch.device, margin: Margin = (0, 0)) -> torch.Tensor:
        """Pixel centres [h, w, 2] (x, y) in units where the image spans about 1: size x size,
        grown by ``margin`` samples each side (the grid enlarged about the same centre, so
        the network paints a larger canvas; `fit: extend`)."""
        def axis(n: int) -> torch.Tensor:
            return (torch.arange(n, device=device) + 0.5 - n / 2) / self.sampling_rate

        ys, xs = axis(self.size + 2 * margin[0]), axis(self.size + 2 * margin[1])
        return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)

    def forward(self, w: torch.Tensor, transforms: torch.Tensor | None = None,
                margin: Margin = (0, 0)) -> torch.Tensor:
        """w [N, w_dim], transforms [N, 3, 3] or None (the buffer) -> [N, C, size, size]
        (each side grown by 2 * margin)."""
        n = w.shape[0]
        user = self.transform[None] if transforms is None else transforms.to(torch.float32)
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        rotate = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], 1).view(n, 3, 3)
        shift = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], 1).view(n, 3, 3)
        m = rotate @ shift @ user  # [N, 3, 3]
        # A transform of the image moves each sinusoid's phase and turns its frequency.
        phases = self.phases + (self.freqs @ m[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = self.freqs @ m[:, :2, :2]  # [N, C, 2]
        # Fade out frequencies the transform pushed beyond what the grid can represent.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        grid = self._grid(w.device, margin)
        x = torch.einsum("hwx,ncx->nhwc", grid, freqs) + phases[:, None, None]
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv, then the filtered leaky ReLU from the input plan's signal to the
    output plan's (toRGB: a 1x1 conv without demodulation and no nonlinearity)."""

    def __init__(self, cfg: StyleGAN3Config, src: LayerPlan, dst: LayerPlan, *,
                 is_torgb: bool, is_critical: bool, use_fp16: bool):
        super().__init__()
        self.is_torgb, self.use_fp16, self.conv_clamp = is_torgb, use_fp16, cfg.conv_clamp
        self.in_channels, self.out_size = src.channels, dst.size
        self.kernel = 1 if is_torgb else cfg.conv_kernel
        self.affine = FullyConnectedLayer(cfg.w_dim, src.channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(dst.channels, src.channels, self.kernel,
                                               self.kernel))
        self.bias = nn.Parameter(torch.zeros(dst.channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        tmp_rate = max(src.sampling_rate, dst.sampling_rate) * (
            1 if is_torgb else cfg.lrelu_upsampling)
        self.up, self.down = tmp_rate // src.sampling_rate, tmp_rate // dst.sampling_rate
        up_taps = cfg.filter_size * self.up if self.up > 1 and not is_torgb else 1
        down_taps = cfg.filter_size * self.down if self.down > 1 and not is_torgb else 1
        self.register_buffer("up_filter", kaiser_lowpass(
            up_taps, src.cutoff, src.half_width * 2, tmp_rate))
        design = jinc_lowpass if cfg.use_radial_filters and not is_critical else kaiser_lowpass
        self.register_buffer("down_filter", design(
            down_taps, dst.cutoff, dst.half_width * 2, tmp_rate))
        self.padding = _padding(src.size, dst.size, self.kernel, self.up, self.down,
                                up_taps, down_taps)

    def forward(self, x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.in_channels * self.kernel ** 2)
        x = modulated_conv(x.to(dtype), self.weight, styles, self.magnitude_ema.rsqrt(),
                           demodulate=not self.is_torgb, padding=self.kernel - 1)
        gain, slope = (1.0, 1.0) if self.is_torgb else (math.sqrt(2), 0.2)
        return filtered_lrelu(x, self.bias, self.up_filter, self.down_filter, self.up,
                              self.down, self.padding, gain, slope, self.conv_clamp)


def _padding(in_size: int, out_size: int, kernel: int, up: int, down: int, up_taps: int,
             down_taps: int) -> tuple[int, int, int, int]:
    """Padding (left, right, top, bottom) of the upsampled signal so that the output has
    ``out_size`` samples, placed symmetrically (each sample at the centre of its pixel)."""
    needed = (out_size - 1) * down + 1  # samples before downsampling
    have = (in_size + kernel - 1) * up - (up_taps - 1) - (down_taps - 1)
    total = needed - have
    before = (total + up) // 2
    return (before, total - before, before, total - before)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] (+ optional camera transforms) -> images [N, C, R, R]."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.w_dim, self.num_ws, self.output_scale = cfg.w_dim, cfg.num_ws, cfg.output_scale
        plans = plan_layers(cfg)
        self.input = SynthesisInput(cfg, plans[0])
        self.layer_names = []
        for idx in range(cfg.num_layers + 1):
            src, dst = plans[max(idx - 1, 0)], plans[idx]
            layer = SynthesisLayer(
                cfg, src, dst, is_torgb=idx == cfg.num_layers,
                is_critical=idx >= cfg.num_layers - cfg.num_critical,
                use_fp16=dst.sampling_rate * 2 ** cfg.num_fp16_res > cfg.img_resolution)
            name = f"L{idx}_{dst.size}_{dst.channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def forward(self, ws: torch.Tensor, transforms: torch.Tensor | None = None,
                half: torch.dtype | None = None, half_all: bool = False,
                margin: Margin = (0, 0)) -> torch.Tensor:
        """Args:
            transforms: [N, 3, 3] inverse camera transforms per sample (None: the buffer).
            half: run float16-capable layers (or every layer, with ``half_all``) in it.
            margin: input-grid samples added each side (rows, cols): every layer's map
                grows with it (their padding is fixed), the image by R / (the input's
                sampling rate) pixels per sample each side.
        """
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"expected ws [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        if transforms is not None and tuple(transforms.shape) != (ws.shape[0], 3, 3):
            raise ValueError(f"expected transforms [{ws.shape[0]}, 3, 3], "
                             f"got {list(transforms.shape)}")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0], transforms, margin)
        for layer, w in zip(self.layers(), ws[1:]):
            reduced = half is not None and (half_all or layer.use_fp16)
            x = layer(x, w, half if reduced else torch.float32)
        return x.to(torch.float32) * self.output_scale


class Generator(nn.Module):
    """z -> image: ``mapping`` then ``synthesis``, with NVIDIA's module names."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim = cfg.z_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg)
