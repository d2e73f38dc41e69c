"""Load rosinality/stylegan2-pytorch checkpoints (``.pt``) into our generator.

Those files are ``torch.save`` dicts with the EMA generator's state dict under ``g_ema`` (and
often ``latent_avg``, ``g``, ``d``, optimiser states and an argparse ``args``). They are read
with ``torch.load(weights_only=True)``, so they cannot run code. Their generator computes the
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

import argparse
import re
from pathlib import Path

import torch

from latentreel.errors import ModelError
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config
from latentreel.models.stylegan2.weights import assign_tensors, estimate_w_avg


def _read_checkpoint(path: Path) -> dict:
    try:
        # argparse.Namespace is how rosinality's train.py stores its options: plain data.
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - refused globals, truncation, foreign file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"{path}: not a loadable rosinality StyleGAN2 checkpoint ({first})"
                         ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        keys = ", ".join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelError(f"{path}: not a rosinality StyleGAN2 checkpoint: no 'g_ema' state "
                         f"dict in it (it holds {keys or 'nothing'})")
    return ckpt


def _infer_config(sd: dict[str, torch.Tensor], path: Path) -> StyleGAN2Config:
    """Architecture from tensor shapes: rosinality's files do not record it by name."""
    try:
        fcs = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"style\.(\d+)\.weight", k)))
        n_rgb = len({k.split(".")[1] for k in sd if k.startswith("to_rgbs.")})
        resolution = 2 ** (n_rgb + 2)
        top = sd[f"to_rgbs.{n_rgb - 1}.conv.weight"] if n_rgb else sd["to_rgb1.conv.weight"]
        channel_max = sd["input.input"].shape[1]
        w_dim, z_dim = sd[f"style.{fcs[-1]}.weight"].shape[0], sd["style.1.weight"].shape[1]
    except (KeyError, IndexError) as e:
        raise ModelError(f"{path}: g_ema does not look like a rosinality StyleGAN2 generator "
                         f"(no {e})") from None
    return StyleGAN2Config(img_resolution=resolution, z_dim=z_dim, w_dim=w_dim,
                           img_channels=top.shape[1], mapping_layers=len(fcs),
                           channel_base=int(top.shape[2]) * resolution, channel_max=channel_max)


def _layer_names(net: Generator) -> list[str]:
    """Synthesis conv layers in forward order: b4.conv1, b8.conv0, b8.conv1, ..."""
    return [f"synthesis.b{b.resolution}.{c}" for b in net.synthesis.blocks()
            for c in (("conv1",) if b.in_channels == 0 else ("conv0", "conv1"))]


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


def translate(sd: _Tracked, net: Generator) -> dict[str, torch.Tensor]:
    """rosinality names -> ours (resampling kernels are checked separately, not copied)."""
    out: dict[str, torch.Tensor] = {}
    for i in range(net.mapping.num_layers):
        out[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]
    out["synthesis.b4.const"] = sd["input.input"].squeeze(0)
    layers = _layer_names(net)
    sources = ["conv1"] + [f"convs.{j}" for j in range(len(layers) - 1)]
    for k, (src, dst) in enumerate(zip(sources, layers)):
        _styled(src, dst, sd, out)
        out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        noise = sd[f"noises.noise_{k}"]
        out[f"{dst}.noise_const"] = noise.reshape(noise.shape[-2:])
    blocks = net.synthesis.blocks()
    rgb_sources = ["to_rgb1"] + [f"to_rgbs.{j}" for j in range(len(blocks) - 1)]
    for src, block in zip(rgb_sources, blocks):
        dst = f"synthesis.b{block.resolution}.torgb"
        _styled(src, dst, sd, out)
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)
    for name, buf in net.named_buffers():  # not in rosinality's files under these names
        if name.endswith("resample_filter"):
            out[name] = buf.clone()
    return out


_KERNELS = ("blur.kernel", "upsample.kernel")


def _check_kernels(sd: dict[str, torch.Tensor], net: Generator, path: Path) -> None:
    """rosinality's blur kernels must be ours times up^2, or the images would differ."""
    ours = net.synthesis.b4.resample_filter * 4
    for name, k in sd.items():
        if name.endswith(_KERNELS) and (
                k.shape != ours.shape or not torch.allclose(k, ours, atol=1e-5)):
            raise ModelError(f"{path}: {name} is not the [1, 3, 3, 1] filter this loader "
                             "supports")


def load_rosinality(path: Path) -> Generator:
    """Build our generator from a rosinality ``.pt`` checkpoint (``g_ema``, ``latent_avg``).

    Raises:
        ModelError: not a torch file, no g_ema, unexpected names or shapes.
    """
    ckpt = _read_checkpoint(path)
    sd = _Tracked({k: v for k, v in ckpt["g_ema"].items() if isinstance(v, torch.Tensor)})
    net = Generator(_infer_config(sd, path)).eval().requires_grad_(False)
    _check_kernels(sd, net, path)
    try:
        tensors = translate(sd, net)
    except KeyError as e:
        raise ModelError(f"{path}: g_ema lacks {e} for a {net.img_resolution}px rosinality "
                         "StyleGAN2 generator") from None
    leftover = [k for k in sd if k not in sd.read and not k.endswith(_KERNELS)]
    if leftover:
        raise ModelError(f"{path}: g_ema has tensors a {net.img_resolution}px StyleGAN2 "
                         f"generator does not: {', '.join(leftover[:4])}")
    latent_avg = ckpt.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == net.w_dim:
        tensors["mapping.w_avg"] = latent_avg.reshape(-1)
    if assign_tensors(net, tensors, str(path)):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net
