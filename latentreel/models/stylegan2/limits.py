"""Bounds on what a StyleGAN2 model file may ask the loader to build, checked before building.

A file's recorded (``.pkl``) or inferred (``.pt``) configuration decides how much memory the
generator takes, so a 700-byte file could otherwise ask for a 16,384-px network. Three checks
run before any real tensor is allocated:

1. ``check_config``: every field within sane bounds (no published StyleGAN2 comes near them),
   so even the shape-only network below is cheap to make;
2. ``check_storage_claims`` (models/pickles/tensors.py): every tensor is backed by bytes the
   file holds (no stride-0 or overlapping views that claim more elements than their storage
   has);
3. ``check_fit`` (weights.py) with ``expected_shapes``: the network the configuration
   describes (names and shapes, computed, not built) has exactly the tensors the file
   supplies, so building the real one allocates no more than the file's own tensors justify.

``check_finite`` (models/pickles/tensors.py) then refuses NaN/inf weights by name.
"""

from __future__ import annotations

import math

from latentreel.errors import quote
from latentreel.models.stylegan2.network import StyleGAN2Config

MAX_RESOLUTION = 4096  # published StyleGAN2 networks stop at 1024
MAX_LATENT = 4096  # z_dim, w_dim and mapping width (published: 512)
MAX_MAPPING_LAYERS = 32  # published: 8 (2 in StyleGAN3's configs)
MAX_CHANNELS = 4096  # channel_max (published: 512, 1024)
MAX_CHANNEL_BASE = 2 ** 24  # published: 16384-65536
MAX_IMG_CHANNELS = 4  # grey, RGB or RGBA
MAX_FILTER_TAPS = 16  # published: 4
MAX_LABELS = 4096  # c_dim of a conditional generator (published: 10 for CIFAR-10)


def _bounded(problems: list[str], field: str, value, lo, hi) -> None:
    if not lo <= value <= hi:
        problems.append(f"{field}={quote(value)} (allowed {lo}..{hi})")


def check_config(cfg: StyleGAN2Config) -> None:
    """Raises ValueError naming every field outside its bounds (all of them at once)."""
    problems: list[str] = []
    _bounded(problems, "img_resolution", cfg.img_resolution, 4, MAX_RESOLUTION)
    _bounded(problems, "z_dim", cfg.z_dim, 1, MAX_LATENT)
    _bounded(problems, "w_dim", cfg.w_dim, 1, MAX_LATENT)
    _bounded(problems, "img_channels", cfg.img_channels, 1, MAX_IMG_CHANNELS)
    _bounded(problems, "c_dim", cfg.c_dim, 0, MAX_LABELS)
    if cfg.embed_features is not None:
        _bounded(problems, "mapping embed_features", cfg.embed_features, 1, MAX_LATENT)
    if cfg.channel_table is not None:
        for res, ch in zip(cfg.block_resolutions, cfg.channel_table):
            _bounded(problems, f"channels at {res} px", ch, 1, MAX_CHANNELS)
    _bounded(problems, "mapping num_layers", cfg.mapping_layers, 1, MAX_MAPPING_LAYERS)
    if cfg.mapping_features is not None:
        _bounded(problems, "mapping layer_features", cfg.mapping_features, 1, MAX_LATENT)
    _bounded(problems, "channel_base", cfg.channel_base, 1, MAX_CHANNEL_BASE)
    _bounded(problems, "channel_max", cfg.channel_max, 1, MAX_CHANNELS)
    _bounded(problems, "num_fp16_res", cfg.num_fp16_res, 0,
             int(math.log2(max(cfg.img_resolution, 4))))
    _bounded(problems, "resample_filter taps", len(cfg.resample_filter), 1, MAX_FILTER_TAPS)
    floats = {"mapping lr_multiplier": cfg.mapping_lr_multiplier, "conv_clamp": cfg.conv_clamp,
              "w_avg_beta": cfg.w_avg_beta, "resample_filter": sum(cfg.resample_filter)}
    for field, value in floats.items():
        if value is not None and not math.isfinite(value):
            problems.append(f"{field}={quote(value)} (must be finite)")
    if problems:
        raise ValueError(f"configuration out of bounds: {'; '.join(problems)}")


def expected_shapes(cfg: StyleGAN2Config) -> dict[str, tuple[int, ...]]:
    """Every parameter and buffer ``Generator(cfg)`` has, by name, computed without building
    it (a shape-only build on torch's meta device costs seconds of imports on first use).

    Mirrors network.py's layout; a test compares it with real generators' state dicts.
    """
    check_config(cfg)
    taps = len(cfg.resample_filter)
    shapes: dict[str, tuple[int, ...]] = {}

    def affine(prefix: str, out_features: int, in_features: int) -> None:
        shapes[f"{prefix}.weight"] = (out_features, in_features)
        shapes[f"{prefix}.bias"] = (out_features,)

    def layer(prefix: str, cin: int, cout: int, res: int) -> None:
        shapes[f"{prefix}.weight"] = (cout, cin, 3, 3)
        if cfg.use_noise:
            shapes[f"{prefix}.noise_strength"] = ()
        shapes[f"{prefix}.bias"] = (cout,)
        shapes[f"{prefix}.resample_filter"] = (taps, taps)
        if cfg.use_noise:
            shapes[f"{prefix}.noise_const"] = (res, res)
        affine(f"{prefix}.affine", cin, cfg.w_dim)

    for res in cfg.block_resolutions:
        block, cout = f"synthesis.b{res}", cfg.channels(res)
        if res == 4:
            shapes[f"{block}.const"] = (cout, 4, 4)
        shapes[f"{block}.resample_filter"] = (taps, taps)
        if res > 4:
            layer(f"{block}.conv0", cfg.channels(res // 2), cout, res)
        if res > 4 and cfg.architecture == "resnet":
            shapes[f"{block}.skip.weight"] = (cout, cfg.channels(res // 2), 1, 1)
            shapes[f"{block}.skip.resample_filter"] = (taps, taps)
        layer(f"{block}.conv1", cout, cout, res)
        if res == cfg.img_resolution or cfg.architecture == "skip":
            shapes[f"{block}.torgb.weight"] = (cfg.img_channels, cout, 1, 1)
            shapes[f"{block}.torgb.bias"] = (cfg.img_channels,)
            affine(f"{block}.torgb.affine", cout, cfg.w_dim)
    width = cfg.mapping_features or cfg.w_dim
    sizes = [cfg.z_dim + cfg.label_features] + [width] * (cfg.mapping_layers - 1) + [cfg.w_dim]
    shapes["mapping.w_avg"] = (cfg.w_dim,)
    if cfg.c_dim:
        affine("mapping.embed", cfg.label_features, cfg.c_dim)
    for i in range(cfg.mapping_layers):
        affine(f"mapping.fc{i}", sizes[i + 1], sizes[i])
    return shapes
