"""Load rosinality/stylegan2-pytorch checkpoints (``.pt``) into our generator.

Those files are ``torch.save`` dicts with the EMA generator's state dict under ``g_ema`` (and
often ``latent_avg``, ``g``, ``d``, optimiser states and an argparse ``args``). They are read
with ``torch.load(weights_only=True)`` after a pre-scan (models/pickles/checkpoint.py), so they
cannot run code. Their generator computes the
same function as NVIDIA's with other names and a few extra singleton dimensions:

    style.{i+1}.weight/bias           -> mapping.fc{i}.weight/bias  (style.0 is the z norm)
    input.input [1, C, 4, 4]          -> synthesis.b4.const [C, 4, 4]
    conv1.* / to_rgb1.*               -> synthesis.b4.conv1.* / synthesis.b4.torgb.*
    convs.{2j}, convs.{2j+1}          -> synthesis.b{8*2^j}.conv0, .conv1
    to_rgbs.{j}                       -> synthesis.b{8*2^j}.torgb
    *.conv.weight [1, O, I, k, k]     -> *.weight [O, I, k, k]
    *.conv.modulation.weight/bias     -> *.affine.weight/bias
    *.noise.weight [1]                -> *.noise_strength []
    *.activate.bias                   -> *.bias ; to_rgb bias [1, 3, 1, 1] -> [3]
    noises.noise_{k} [1, 1, r, r]     -> the k-th synthesis layer's noise_const [r, r]
    latent_avg                        -> mapping.w_avg
Blur/upsample kernels are buffers derived from the [1, 3, 3, 1] taps; ours are built the same.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import torch

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.pickles.checkpoint import load_checkpoint
from latentreel.models.pickles.tensors import check_finite, check_storage_claims
from latentreel.models.stylegan2.limits import expected_shapes
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config
from latentreel.models.stylegan2.weights import (
    OPTIONAL,
    assign_tensors,
    check_fit,
    empty_generator,
    estimate_w_avg,
)


def _read_checkpoint(path: Path) -> dict:
    where = shown_path(path)
    ckpt = load_checkpoint(path, "rosinality StyleGAN2 checkpoint")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        keys = ", ".join(quote(k, 30) for k in list(ckpt)[:6]) if isinstance(ckpt, dict) \
            else f"a {type(ckpt).__name__}"
        raise ModelError(f"{where}: not a rosinality StyleGAN2 checkpoint: no 'g_ema' state "
                         f"dict in it (it holds {keys or 'nothing'})")
    return ckpt


def _infer_config(sd: dict[str, torch.Tensor], path: Path) -> StyleGAN2Config:
    """Architecture from tensor shapes: rosinality's files do not record it by name.

    Channels come from the toRGB layers, one per resolution. rosinality's table (512 up to
    32 px, then 256 * channel_multiplier at 64 px, halving) is NVIDIA's channel_base / r
    rule capped at 512 for multipliers 1 and 2; for 4 it is not, so it is kept as a table.
    """
    try:
        fcs = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"style\.(\d+)\.weight", k)))
        n_rgb = len({k.split(".")[1] for k in sd if k.startswith("to_rgbs.")})
        resolution = 2 ** (n_rgb + 2)
        table = tuple([int(sd["to_rgb1.conv.weight"].shape[2])] +
                      [int(sd[f"to_rgbs.{j}.conv.weight"].shape[2]) for j in range(n_rgb)])
        channel_max = int(sd["input.input"].shape[1])
        w_dim, z_dim = sd[f"style.{fcs[-1]}.weight"].shape[0], sd["style.1.weight"].shape[1]
        cfg = StyleGAN2Config(img_resolution=resolution, z_dim=z_dim, w_dim=w_dim,
                              img_channels=sd["to_rgb1.conv.weight"].shape[1],
                              mapping_layers=len(fcs), channel_base=table[-1] * resolution,
                              channel_max=channel_max)
        ruled = tuple(cfg.channels(r) for r in cfg.block_resolutions)
        return cfg if ruled == table else replace(cfg, channel_table=table)
    except (KeyError, IndexError) as e:
        raise ModelError(f"{shown_path(path)}: g_ema does not look like a rosinality StyleGAN2 "
                         f"generator (no {e})") from None
    except ValueError as e:
        raise ModelError(f"{shown_path(path)}: g_ema's tensors describe no supported "
                         f"StyleGAN2 generator ({e})") from None


def _layer_names(cfg: StyleGAN2Config) -> list[str]:
    """Synthesis conv layers in forward order: b4.conv1, b8.conv0, b8.conv1, ..."""
    return [f"synthesis.b{res}.{c}" for res in cfg.block_resolutions
            for c in (("conv1",) if res == 4 else ("conv0", "conv1"))]


class _Tracked(dict):
    """The checkpoint's tensors, remembering which were read (the rest must be accounted for)."""

    def __init__(self, sd: dict):
        super().__init__(sd)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> torch.Tensor:
        self.read.add(key)
        return super().__getitem__(key)


def _styled(src: str, dst: str, sd: _Tracked, out: dict) -> None:
    out[f"{dst}.weight"] = sd[f"{src}.conv.weight"].squeeze(0)
    out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]


def translate(sd: _Tracked, cfg: StyleGAN2Config) -> dict[str, torch.Tensor]:
    """rosinality names -> ours (resampling kernels are checked separately, not copied)."""
    out: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        out[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]
    out["synthesis.b4.const"] = sd["input.input"].squeeze(0)
    layers = _layer_names(cfg)
    sources = ["conv1"] + [f"convs.{j}" for j in range(len(layers) - 1)]
    for k, (src, dst) in enumerate(zip(sources, layers)):
        _styled(src, dst, sd, out)
        out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        noise = sd[f"noises.noise_{k}"]
        out[f"{dst}.noise_const"] = noise.reshape(noise.shape[-2:])
    blocks = cfg.block_resolutions
    rgb_sources = ["to_rgb1"] + [f"to_rgbs.{j}" for j in range(len(blocks) - 1)]
    for src, res in zip(rgb_sources, blocks):
        dst = f"synthesis.b{res}.torgb"
        _styled(src, dst, sd, out)
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)
    return out


def _filters(net: Generator) -> dict[str, torch.Tensor]:
    """Resampling filters: not in rosinality's files under these names; ours are the same."""
    return {name: buf.clone() for name, buf in net.named_buffers()
            if name.endswith("resample_filter")}


_KERNELS = ("blur.kernel", "upsample.kernel")


def _check_kernels(sd: dict[str, torch.Tensor], net: Generator, path: Path) -> None:
    """rosinality's blur kernels must be ours times up^2, or the images would differ."""
    ours = net.synthesis.b4.resample_filter * 4
    for name, k in sd.items():
        if name.endswith(_KERNELS) and (k.shape != ours.shape or not k.is_floating_point()
                                        or not torch.allclose(k.float(), ours, atol=1e-5)):
            raise ModelError(f"{shown_path(path)}: {quote(name, 80)} is not the [1, 3, 3, 1] "
                             "filter this loader supports")


def load_rosinality(path: Path) -> Generator:
    """Build our generator from a rosinality ``.pt`` checkpoint (``g_ema``, ``latent_avg``).

    Raises:
        ModelError: not a torch file, no g_ema, unexpected names or shapes, a configuration
            out of bounds or not backed by the file's tensors, NaN/inf weights.
    """
    where = shown_path(path)
    # 1. Pre-scan and load as data only; keep g_ema's tensors.
    ckpt = _read_checkpoint(path)
    g_ema = ckpt["g_ema"]
    bad = next((k for k in g_ema if not isinstance(k, str)), None)
    if bad is not None:
        raise ModelError(f"{where}: g_ema has a tensor named by {quote(bad)}, not a string")
    sd = _Tracked({k: v for k, v in g_ema.items() if isinstance(v, torch.Tensor)})
    # 2. Before allocating: tensors backed by the file, the inferred configuration in bounds,
    #    and its shape-only network filled exactly by the file's tensors.
    try:
        check_storage_claims(sd)
    except ValueError as e:
        raise ModelError(f"{where}: g_ema's {e}") from None
    cfg = _infer_config(sd, path)
    try:
        expected = expected_shapes(cfg)
    except ValueError as e:
        raise ModelError(f"{where}: g_ema's tensors describe an unsupported StyleGAN2 "
                         f"generator ({e})") from None
    resolution = cfg.img_resolution
    try:
        tensors = translate(sd, cfg)
    except KeyError as e:
        raise ModelError(f"{where}: g_ema lacks {e} for a {resolution}px rosinality "
                         "StyleGAN2 generator") from None
    leftover = [k for k in sd if k not in sd.read and not k.endswith(_KERNELS)]
    if leftover:
        raise ModelError(f"{where}: g_ema has tensors a {resolution}px StyleGAN2 "
                         f"generator does not: {', '.join(quote(k, 60) for k in leftover[:4])}")
    latent_avg = ckpt.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == cfg.w_dim:
        tensors["mapping.w_avg"] = latent_avg.reshape(-1)
    filters = tuple(k for k in expected if k.endswith("resample_filter"))
    check_fit(expected, tensors, where, may_lack=OPTIONAL + filters)
    try:
        check_finite({**sd, "latent_avg": tensors.get("mapping.w_avg", torch.zeros(0))})
    except ValueError as e:
        raise ModelError(f"{where}: g_ema's {e}; the file is damaged") from None
    # 3. Build it, check the blur kernels against ours, copy the tensors in.
    net = empty_generator(cfg)
    _check_kernels(sd, net, path)
    tensors.update(_filters(net))
    if assign_tensors(net, tensors, where):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net
