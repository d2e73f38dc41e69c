"""Network bending (Broad et al. 2021): transforms of the feature maps inside a generator.

A scene lists bends as ``{layer, op, ...}``; each becomes a BendSlot (which layer, which op,
which channels) with a few numbers per frame, eased between keyframes like the camera.
Forward hooks are registered once on the layers a scene bends and transform each sample of
a batch by its own numbers; where every number is neutral the hooks return at once, so an
unbent frame is exactly the network's own.

    translate  x, y     shift the map by fractions of its width and height (+x right, +y down)
    rotate     angle    turn the map by degrees (counter-clockwise)
    zoom       factor   scale the map about its centre (2: twice as large)
    scale      gain     multiply a seeded `channels` fraction of the channels by gain
    drop       fraction zero a seeded fraction of the channels (more as it grows)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# op -> (its eased numbers, their neutral values)
BEND_OPS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "translate": (("x", "y"), (0.0, 0.0)),
    "rotate": (("angle",), (0.0,)),
    "zoom": (("factor",), (1.0,)),
    "scale": (("gain",), (1.0,)),
    "drop": (("fraction",), (0.0,)),
}


@dataclass(frozen=True)
class BendSlot:
    """One bend a scene applies somewhere: its numbers are columns of the bend track."""

    layer: str  # a name from the generator's bend_layers()
    op: str  # a key of BEND_OPS
    seed: int = 0  # which channels scale and drop pick
    channels: float = 1.0  # scale: the fraction of channels scaled

    @property
    def fields(self) -> tuple[str, ...]:
        return BEND_OPS[self.op][0]

    @property
    def neutral(self) -> tuple[float, ...]:
        return BEND_OPS[self.op][1]


def neutral_row(slots: tuple[BendSlot, ...]) -> torch.Tensor:
    """The track row [D] that bends nothing."""
    return torch.tensor([v for s in slots for v in s.neutral], dtype=torch.float32)


class Bender:
    """Hooks on ``layers`` (name -> module whose output is a map [N, C, H, W]) applying
    ``slots``; inert except inside ``bending(values)``."""

    def __init__(self, layers: dict[str, nn.Module], slots: tuple[BendSlot, ...]):
        self.slots = slots
        self.neutral = neutral_row(slots)
        self._values: torch.Tensor | None = None  # [N, D] while bending
        self._columns, at = [], 0
        for s in slots:
            self._columns.append(slice(at, at + len(s.fields)))
            at += len(s.fields)
        self._handles = [layers[name].register_forward_hook(self._hook(name))
                         for name in dict.fromkeys(s.layer for s in slots)]

    @contextmanager
    def bending(self, values: torch.Tensor | None) -> Iterator[None]:
        """Bend the generator calls inside by ``values`` [N, D] (one row per sample); rows
        that are all neutral leave the network untouched (None: nothing bends)."""
        if values is not None and torch.equal(values.float().cpu(),
                                              self.neutral.expand_as(values.cpu())):
            values = None
        self._values = values
        try:
            yield
        finally:
            self._values = None

    def remove(self) -> None:
        for h in self._handles:
            h.remove()

    def _hook(self, name: str):
        mine = [(s, c) for s, c in zip(self.slots, self._columns) if s.layer == name]

        def hook(module, args, out):
            if self._values is None:
                return None  # the network's own output, untouched
            x = out.float()
            values = self._values.to(x.device, torch.float32)
            if len(values) != len(x):
                raise ValueError(f"{len(values)} bend rows for a batch of {len(x)}")
            for slot, cols in mine:
                x = _bend_rows(x, slot, values[:, cols])
            return x.to(out.dtype)
        return hook


def _bend_rows(x: torch.Tensor, slot: BendSlot, v: torch.Tensor) -> torch.Tensor:
    """``apply_bend`` on the samples whose numbers are not neutral only: a resampling by
    the identity is not bit-exact, and a frame must not depend on its batch mates (a
    segment's edge, a click in the same batch)."""
    bent = (v != torch.tensor(slot.neutral, dtype=v.dtype, device=v.device)).any(dim=1)
    if bool(bent.all()):
        return apply_bend(x, slot, v)
    if not bool(bent.any()):
        return x
    x = x.clone()
    x[bent] = apply_bend(x[bent], slot, v[bent])
    return x


def apply_bend(x: torch.Tensor, slot: BendSlot, v: torch.Tensor) -> torch.Tensor:
    """Bend maps x [N, C, H, W] by ``slot`` with numbers v [N, len(slot.fields)]."""
    if slot.op in ("scale", "drop"):
        return x * _channel_gains(x.shape[1], slot, v).to(x)[:, :, None, None]
    return _warp(x, _affine(slot.op, v, x.shape[-1] / x.shape[-2]))


def _channel_gains(channels: int, slot: BendSlot, v: torch.Tensor) -> torch.Tensor:
    """[N, C] gains: scale multiplies its channels by gain; drop zeroes the first
    round(fraction * C) channels of a seeded order, so a growing fraction drops more."""
    order = torch.randperm(channels, generator=torch.Generator().manual_seed(slot.seed))
    rank = torch.empty(channels, dtype=torch.long)
    rank[order] = torch.arange(channels)
    rank = rank.to(v.device)
    if slot.op == "scale":
        chosen = rank < round(slot.channels * channels)
        return torch.where(chosen[None], v[:, :1], torch.ones_like(v[:, :1]))
    kept = rank[None] >= (v[:, :1] * channels).round()
    return kept.to(v.dtype)


def _affine(op: str, v: torch.Tensor, aspect: float) -> torch.Tensor:
    """[N, 2, 3] sampling matrices (output -> input, affine_grid's normalised coordinates)."""
    n = len(v)
    theta = torch.zeros(n, 2, 3, dtype=torch.float32, device=v.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    if op == "translate":  # the content moves by (x, y): sample from (-x, -y)
        theta[:, 0, 2], theta[:, 1, 2] = -2 * v[:, 0], -2 * v[:, 1]
    elif op == "zoom":
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / v[:, 0]
    elif op == "rotate":  # counter-clockwise on screen (y points down), square pixels kept
        a = -v[:, 0] * math.pi / 180  # sampling turns the other way
        theta[:, 0, 0], theta[:, 0, 1] = a.cos(), a.sin() / aspect
        theta[:, 1, 0], theta[:, 1, 1] = -a.sin() * aspect, a.cos()
    return theta


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def layer_shapes(generator) -> dict[str, tuple[int, int, int]]:
    """Each bendable layer's map (channels, height, width) for one z, in running order
    (what `latentreel models --layers` shows: bends name these layers)."""
    layers, shapes = generator.bend_layers(), {}
    handles = [m.register_forward_hook(
        lambda mod, args, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
        for name, m in layers.items()]
    try:
        with torch.inference_mode():
            generator.synthesize(torch.zeros(1, generator.z_dim, device=generator.device), "z")
    finally:
        for h in handles:
            h.remove()
    return {name: shapes[name] for name in layers if name in shapes}
