"""The StyleGAN2 generator (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN"): mapping network z -> w, and a synthesis network of modulated convolutions with
per-layer noise and toRGB skip connections, from a learned 4x4 constant up to the image.

Attribute, parameter and buffer names follow NVIDIA's PyTorch release (stylegan2-ada-pytorch,
and stylegan3's StyleGAN2 networks), so the tensors in their network pickles load by name:
``mapping.fc{i}.weight``, ``mapping.w_avg``, ``synthesis.b{res}.conv0.affine.weight``,
``synthesis.b{res}.conv1.noise_const``, ``synthesis.b{res}.torgb.bias``, ...

Shapes: z [N, z_dim], w [N, w_dim], ws (W+) [N, num_ws, w_dim], images [N, C, R, R].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from latentreel.models.extend import Margin, periodic_widen, periodic_window, trim_to
from latentreel.models.stylegan2.ops import (
    MAPPING_ACTIVATIONS,
    bias_act,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2x,
)

NOISE_MODES = ("const", "random", "none")
ARCHITECTURES = ("skip", "orig", "resnet")
# resnet blocks add shortcut and convolutions each scaled by sqrt(1/2): unit variance kept.
_RESNET_GAIN = math.sqrt(0.5)


@dataclass(frozen=True)
class StyleGAN2Config:
    """Everything that fixes the generator's architecture (NVIDIA's names in brackets)."""

    img_resolution: int = 1024  # output size, a power of two >= 4
    z_dim: int = 512  # input latent size
    w_dim: int = 512  # intermediate latent size
    img_channels: int = 3  # 3 for RGB
    c_dim: int = 0  # class-label size of a conditional generator, 0 = unconditional
    embed_features: int | None = None  # label embedding width, None = w_dim [embed_features]
    mapping_layers: int = 8  # FC layers in the mapping network [mapping_kwargs.num_layers]
    mapping_features: int | None = None  # their width, None = w_dim [layer_features]
    mapping_lr_multiplier: float = 0.01  # equalised-lr multiplier of the mapping layers
    mapping_activation: str = "lrelu"  # one of ops.MAPPING_ACTIVATIONS [activation]
    w_avg_beta: float | None = 0.995  # decay of the tracked W average, None = not tracked
    channel_base: int = 32768  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    # Channels per block resolution 4, 8, ..., img_resolution, where they follow no
    # channel_base / r rule (rosinality's channel_multiplier 4); None = the rule.
    channel_table: tuple[int, ...] | None = None
    num_fp16_res: int = 0  # the N highest resolutions may run in float16
    conv_clamp: float | None = None  # clamp conv outputs to +-X (fp16 models use 256)
    # "skip": toRGB at every block (config-f); "orig": toRGB at the last block only;
    # "resnet": orig plus a 1x1 upsampling shortcut around each block's convolutions.
    architecture: str = "skip"
    resample_filter: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)  # 1-D taps of the low-pass filter
    use_noise: bool = True  # per-layer noise inputs

    def __post_init__(self) -> None:
        r = self.img_resolution
        if r < 4 or r & (r - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture {self.architecture!r} is not supported "
                             f"(only {', '.join(ARCHITECTURES)})")
        if self.mapping_activation not in MAPPING_ACTIVATIONS:
            raise ValueError(f"mapping activation {self.mapping_activation!r} is not supported "
                             f"(only {', '.join(MAPPING_ACTIVATIONS)})")
        if self.channel_table is not None and len(self.channel_table) != \
                len(self.block_resolutions):
            raise ValueError(f"channel_table has {len(self.channel_table)} entries for "
                             f"{len(self.block_resolutions)} block resolutions")
        sizes = (self.z_dim, self.w_dim, self.img_channels, self.mapping_layers,
                 self.channel_base, self.channel_max)
        if min(sizes) < 1:
            raise ValueError("z_dim, w_dim, img_channels, mapping_layers, channel_base and "
                             f"channel_max must be positive, got {sizes}")
        if len(self.resample_filter) % 2:
            raise ValueError(f"resample_filter needs an even number of taps, got "
                             f"{list(self.resample_filter)}")

    @property
    def block_resolutions(self) -> list[int]:
        return [2 ** i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        if self.channel_table is not None:
            return self.channel_table[int(math.log2(res)) - 2]
        return min(self.channel_base // res, self.channel_max)

    @property
    def label_features(self) -> int:
        """Width of the label embedding concatenated to normalised z (0 if unconditional)."""
        return (self.embed_features or self.w_dim) if self.c_dim else 0

    @property
    def fp16_resolution(self) -> int:
        """Blocks at this resolution and above are marked float16-capable."""
        return max(2 ** (int(math.log2(self.img_resolution)) + 1 - self.num_fp16_res), 8)


class FullyConnectedLayer(nn.Module):
    """Linear layer with equalised learning rate: weights stored as N(0, 1) / lr_multiplier and
    scaled by lr_multiplier / sqrt(fan_in) at run time."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, in] -> [N, out]
        x = x @ (self.weight.to(x.dtype) * self.weight_gain).t()
        return bias_act(x, self.bias.to(x.dtype) * self.bias_gain, act=self.activation)


class MappingNetwork(nn.Module):
    """z [N, z_dim] (and labels c [N, c_dim] if conditional) -> w [N, w_dim]: normalise z,
    concatenate the normalised label embedding, then ``mapping_layers`` FC layers."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        width = cfg.mapping_features or cfg.w_dim
        sizes = [cfg.z_dim + cfg.label_features] + [width] * (cfg.mapping_layers - 1) + \
            [cfg.w_dim]
        self.num_layers = cfg.mapping_layers
        self.c_dim = cfg.c_dim
        if cfg.c_dim:
            self.embed = FullyConnectedLayer(cfg.c_dim, cfg.label_features)
        for idx in range(cfg.mapping_layers):
            layer = FullyConnectedLayer(sizes[idx], sizes[idx + 1],
                                        activation=cfg.mapping_activation,
                                        lr_multiplier=cfg.mapping_lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.w_avg_beta = cfg.w_avg_beta
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                update_w_avg: bool = False) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim:
            if c is None or c.ndim != 2 or c.shape != (z.shape[0], self.c_dim):
                raise ValueError(f"this conditional generator needs labels c [{z.shape[0]}, "
                                 f"{self.c_dim}], got {None if c is None else list(c.shape)}")
            y = normalize_2nd_moment(self.embed(c.to(x.device, torch.float32)))
            x = torch.cat([x, y], dim=1)
        elif c is not None and c.numel():
            raise ValueError("this generator is unconditional; it takes no labels")
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_w_avg and self.w_avg_beta is not None:
            # Training keeps a running mean of W: the truncation centre and projection start.
            with torch.no_grad():
                self.w_avg.copy_(torch.lerp(x.detach().mean(0), self.w_avg, self.w_avg_beta))
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling 2x), noise, bias, lrelu, clamp."""

    def __init__(self, cfg: StyleGAN2Config, in_channels: int, out_channels: int,
                 resolution: int, up: int = 1):
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.use_noise = cfg.use_noise
        self.conv_clamp = cfg.conv_clamp
        self.register_buffer("resample_filter", fir_filter(cfg.resample_filter))
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        if cfg.use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """x [N, I, h/up, w/up], w [N, w_dim] -> [N, O, h, w]: h = w = r unless the constant
        was widened; ``origin``: where the output's first pixel sits in the square picture's
        pixels at this resolution (negative: in the widened margin)."""
        styles = self.affine(w)
        noise = None
        size = (x.shape[2] * self.up, x.shape[3] * self.up)
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *size, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            # The constant noise repeats with the constant, so the middle keeps its own.
            noise = periodic_window(self.noise_const, origin, size) * self.noise_strength
        return modulated_conv2d(x, self.weight, styles, up=self.up,
                                resample_filter=self.resample_filter, noise=noise,
                                bias=self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self, cfg: StyleGAN2Config, in_channels: int):
        super().__init__()
        self.conv_clamp = cfg.conv_clamp
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cfg.img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(cfg.img_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False, bias=self.bias,
                                clamp=self.conv_clamp)


class UpsampleSkip(nn.Module):
    """resnet's shortcut: a 1x1 convolution (no bias) and 2x upsampling, times sqrt(1/2)."""

    def __init__(self, cfg: StyleGAN2Config, in_channels: int, out_channels: int):
        super().__init__()
        self.register_buffer("resample_filter", fir_filter(cfg.resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.weight_gain = _RESNET_GAIN / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, I, r, r] -> [N, O, 2r, 2r]
        # Both steps are linear and act per pixel / per channel, so they commute: convolving
        # first upsamples min(I, O) channels.
        x = torch.nn.functional.conv2d(x, (self.weight * self.weight_gain).to(x.dtype))
        return upsample2x(x, self.resample_filter)


class SynthesisBlock(nn.Module):
    """One resolution: (const | upsampling conv0), conv1, and toRGB added to the upsampled
    image so far. Uses num_conv + num_torgb consecutive ws; its toRGB shares its w with the
    next block's first conv."""

    def __init__(self, cfg: StyleGAN2Config, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.in_channels = cfg.channels(resolution // 2) if resolution > 4 else 0
        out_channels = cfg.channels(resolution)
        self.is_last = resolution == cfg.img_resolution
        self.use_fp16 = resolution >= cfg.fp16_resolution
        self.register_buffer("resample_filter", fir_filter(cfg.resample_filter))
        if self.in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(cfg, self.in_channels, out_channels, resolution, up=2)
        self.conv1 = SynthesisLayer(cfg, out_channels, out_channels, resolution)
        self.resnet = cfg.architecture == "resnet" and self.in_channels > 0
        if self.resnet:
            self.skip = UpsampleSkip(cfg, self.in_channels, out_channels)
        self.num_conv = 1 if self.in_channels == 0 else 2
        self.num_torgb = 0
        if self.is_last or cfg.architecture == "skip":
            self.torgb = ToRGBLayer(cfg, out_channels)
            self.num_torgb = 1

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "const", dtype: torch.dtype = torch.float32,
                channels_last: bool = False, origin: tuple[int, int] = (0, 0)
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``origin``: where this block's first output pixel sits in the square picture's
        pixels at its resolution (the 4x4 block: minus the constant's margin)."""
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            const = periodic_widen(self.const.to(dtype), (-origin[0], -origin[1]))
            x = const[None].expand(ws.shape[0], -1, -1, -1)
            x = x.contiguous(memory_format=fmt)
            x = self.conv1(x, next(w_iter), noise_mode, origin)
        else:
            x = x.to(dtype=dtype, memory_format=fmt)
            y = self.skip(x) if self.resnet else None
            x = self.conv1(self.conv0(x, next(w_iter), noise_mode, origin), next(w_iter),
                           noise_mode, origin)
            if y is not None:  # conv1's lrelu and clamp commute with the positive gain
                x = y.add_(x, alpha=_RESNET_GAIN)
        if img is not None:
            img = upsample2x(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter)).to(torch.float32, memory_format=torch.contiguous_format)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, img_channels, R, R] (float32, about [-1, 1])."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.block_resolutions = cfg.block_resolutions
        self.w_dim = cfg.w_dim
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(cfg, res)
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const",
                half: torch.dtype | None = None, half_all: bool = False,
                channels_last: bool = False, margin: Margin = (0, 0),
                keep: tuple[int, int] | None = None) -> torch.Tensor:
        """Args:
            half: run float16-capable blocks (or every block, with ``half_all``) in this dtype.
            channels_last: NHWC activations (faster with oneDNN on CPUs and tensor cores on
                GPUs; the same images to float rounding).
            margin: (rows, cols) of the 4x4 constant repeated around it on each side: the
                image grows by R/4 pixels per cell each side (models/extend.py).
            keep: (h, w) of the image's middle the caller keeps: the maps of the highest
                resolutions (most of the work) are trimmed to it, plus TRIM_SLACK pixels
                each side for the receptive field, so that middle is exactly as untrimmed.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"expected ws [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        origin = (-margin[0], -margin[1])  # at 4 px: one pixel per cell of the constant
        resolution = self.block_resolutions[-1]
        for block in self.blocks():
            cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            reduced = half is not None and (half_all or block.use_fp16)
            if x is not None:
                if keep is not None and block.resolution >= TRIM_FROM * resolution:
                    x, img, origin = _trim(x, img, origin, keep, block.resolution // 2,
                                           resolution)
                origin = (2 * origin[0], 2 * origin[1])
            x, img = block(x, img, cur, noise_mode, dtype=half if reduced else torch.float32,
                           channels_last=channels_last, origin=origin)
        return img


TRIM_FROM = 1 / 4  # trim the maps entering the blocks from a quarter of the resolution up
TRIM_SLACK = 8  # pixels kept beyond what is needed, at the trimmed map's resolution: more
# than the receptive field a block adds (3x3 convolutions and the 4-tap up-sampling filter)


def _trim(x: torch.Tensor, img: torch.Tensor | None, origin: tuple[int, int],
          keep: tuple[int, int], at: int, resolution: int):
    """x (and img) at resolution ``at`` trimmed to what the final ``keep`` needs."""
    need = tuple(-(-k * at // resolution) + 2 * TRIM_SLACK for k in keep)
    x, (top, left) = trim_to(x, need)
    if img is not None:
        img = img[..., top:top + x.shape[2], left:left + x.shape[3]]
    return x, img, (origin[0] + top, origin[1] + left)


class Generator(nn.Module):
    """z -> image: ``mapping`` then ``synthesis``, with NVIDIA's module names."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim = cfg.z_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg)
        self.c_dim = cfg.c_dim

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const") -> torch.Tensor:
        w = self.mapping(z, c)
        ws = truncate_ws(w[:, None].expand(-1, self.num_ws, -1), self.mapping.w_avg,
                         truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)


def truncate_ws(ws: torch.Tensor, w_avg: torch.Tensor, psi: float,
                cutoff: int | None = None) -> torch.Tensor:
    """``w_avg + psi * (w - w_avg)``; with ``cutoff``, only the first ``cutoff`` of the
    num_ws layers of ws [N, num_ws, w_dim] move (coarse layers: pose and face shape).

    Works on w [N, w_dim] too (cutoff must then be None). Returns a new tensor.
    """
    if psi == 1:
        return ws.clone()
    if cutoff is None:
        return w_avg + psi * (ws - w_avg)
    if ws.ndim != 3:
        raise ValueError(f"a truncation cutoff needs ws [N, num_ws, w_dim], got {list(ws.shape)}")
    out = ws.clone()
    out[:, :cutoff] = w_avg + psi * (ws[:, :cutoff] - w_avg)
    return out
