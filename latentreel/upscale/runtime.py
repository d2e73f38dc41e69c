"""Running an upscaler on the device: batched in memory-bounded chunks, tiled when one frame
is too big. render.frames.FrameSource puts it behind a generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentreel.upscale.registry import UpscalerInfo, weight_files

# Peak activation bytes per output pixel (fp32), from the shapes: RRDBNet's x4 tail holds
# three 64-channel maps at the output size (upsampled input, conv output, activation); SRVGG
# holds two 64-channel maps at the input size (1/16 of the output) and a few 3-channel ones at
# the output size. Chunks and tiles are sized from these.
BYTES_PER_OUT_PIXEL = {"rrdbnet": 3 * 64 * 4, "srvgg": 4 * 16}
BUDGET_BYTES = {"cpu": 1 << 30, "cuda": 4 << 30}  # activations per upscaler call
# Input pixels of context around each tile: SRVGG's whole 18-conv receptive field (tiles are
# exact); RRDBNet's reaches further, and 40 px keeps its seams within 7 of 255 levels at worst,
# 0.06 on average (20 px: 37 and 0.6), measured on a 144 px frame in 48 px tiles.
TILE_PAD = 40


@dataclass(frozen=True)
class UpscalePlan:
    frames_per_call: int  # frames per network call (1 when tiling)
    tile: int | None  # input tile side when a whole frame does not fit the budget


def plan_upscale(info: UpscalerInfo, size: int, device: torch.device) -> UpscalePlan:
    """How to split upscaling ``size`` px frames so each call stays within the budget."""
    budget = BUDGET_BYTES.get(device.type, BUDGET_BYTES["cuda"])
    frame = activation_bytes(info, size)
    if frame <= budget:
        return UpscalePlan(frames_per_call=max(1, min(64, budget // frame)), tile=None)
    tile = size
    while tile > 32 and activation_bytes(info, tile + 2 * TILE_PAD) > budget:
        tile //= 2
    return UpscalePlan(frames_per_call=1, tile=tile)


def activation_bytes(info: UpscalerInfo, size: int) -> int:
    """Peak activation memory of upscaling one ``size`` x ``size`` frame (fp32)."""
    out = (size * 4) ** 2  # both architectures run at x4 internally
    return BYTES_PER_OUT_PIXEL[info.arch] * out


class Upscaler:
    """images [N, 3, H, W] in [-1, 1] -> [N, 3, fH, fW] in [-1, 1] (not clamped)."""

    def __init__(self, info: UpscalerInfo, net: nn.Module, device: torch.device):
        self.info, self.net, self.device = info, net, device
        self.factor = info.factor
        self._plans: dict[int, UpscalePlan] = {}

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        size = images.shape[-1]
        plan = self._plans.setdefault(size, plan_upscale(self.info, size, self.device))
        x = (images.float() + 1) / 2
        if self.device.type == "cpu":  # oneDNN's convolutions are faster in NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        if plan.tile is not None:
            out = torch.cat([self._tiled(x[i:i + 1], plan.tile) for i in range(len(x))])
        else:
            out = torch.cat([self.net(x[s:s + plan.frames_per_call])
                             for s in range(0, len(x), plan.frames_per_call)])
        return out.contiguous() * 2 - 1

    def _tiled(self, x: torch.Tensor, tile: int) -> torch.Tensor:
        """One frame [1, 3, H, W] upscaled tile by tile, each with TILE_PAD of context."""
        _, _, h, w = x.shape
        f = self.factor
        out = x.new_empty(1, 3, h * f, w * f)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                t0, l0 = max(0, top - TILE_PAD), max(0, left - TILE_PAD)
                t1, l1 = min(h, top + tile + TILE_PAD), min(w, left + tile + TILE_PAD)
                y = self.net(x[:, :, t0:t1, l0:l1])
                bh, bw = min(tile, h - top), min(tile, w - left)
                oy, ox = (top - t0) * f, (left - l0) * f
                out[:, :, top * f:(top + bh) * f, left * f:(left + bw) * f] = \
                    y[:, :, oy:oy + bh * f, ox:ox + bw * f]
        return out


def load_upscaler(info: UpscalerInfo, device: torch.device) -> Upscaler:
    """Read the wheel's ncnn files and build the network on ``device``.

    Raises:
        ModelError: missing or malformed weight files.
    """
    from latentreel.upscale.convert import build_rrdbnet, build_srvgg
    from latentreel.upscale.ncnn import read_ncnn

    param, bin_ = weight_files(info)
    build = build_rrdbnet if info.arch == "rrdbnet" else build_srvgg
    net = build(read_ncnn(param, bin_), param).to(device)
    if device.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    net.requires_grad_(False)
    return Upscaler(info, net, device)


def load_upscaler_for(name: str | None, resolution: int, size: int,
                      device: torch.device) -> Upscaler | None:
    """The named upscaler for ``resolution`` px frames shown at ``size`` px, on ``device``
    (None for none / lanczos / None: frames are resized by the encoder).

    Raises:
        ModelError: unknown upscaler or weights not installed (with the install command).
    """
    from latentreel.upscale.registry import resolve_upscaler

    info = resolve_upscaler(name, resolution, size)
    return None if info is None else load_upscaler(info, device)
