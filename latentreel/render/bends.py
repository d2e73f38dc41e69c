"""A scene's `bend:` entries -> the bend slots, their per-frame numbers, and the hooks.

Every distinct (layer, op, seed, channels) any keyframe names is a slot; a keyframe that
does not name a slot holds it neutral, so a bend eases in from nothing and back out.
"""

from __future__ import annotations

import torch

from latentreel.errors import SceneError
from latentreel.models.base import Generator
from latentreel.models.bend import Bender, BendSlot, neutral_row
from latentreel.scene.model import Keyframe
from latentreel.spec.fields import closest


def bend_slots(keyframes: list[Keyframe]) -> tuple[BendSlot, ...]:
    """Every slot the keyframes bend, in order of first mention."""
    return tuple(dict.fromkeys(b.slot for kf in keyframes for b in kf.bend))


def check_bend_layers(keyframes: list[Keyframe], generator: Generator) -> None:
    """Every bent layer is one ``generator`` has (layers are known once it is loaded).

    Raises:
        SceneError: one line per unknown layer, at the bend that names it.
    """
    layers = generator.bend_layers()
    problems = dict.fromkeys(
        f"{b.where}: {generator.name} has no layer {b.slot.layer!r}{closest(b.slot.layer, layers)}"
        f" (`latentreel models --layers` lists them)"
        for kf in keyframes for b in kf.bend if b.slot.layer not in layers)
    if problems:
        raise SceneError(list(problems))


def keyframe_values(keyframes: list[Keyframe], slots: tuple[BendSlot, ...]) -> torch.Tensor:
    """[K, D]: each keyframe's numbers for every slot (neutral where it names none)."""
    rows = neutral_row(slots)[None].repeat(len(keyframes), 1)
    starts, at = {}, 0
    for s in slots:
        starts[s], at = at, at + len(s.fields)
    for k, kf in enumerate(keyframes):
        for b in kf.bend:
            rows[k, starts[b.slot]:starts[b.slot] + len(b.values)] = torch.tensor(b.values)
    return rows


def bender_for(generator: Generator, slots: tuple[BendSlot, ...]) -> Bender | None:
    """Hooks on ``generator``'s bent layers (None: the scene bends nothing)."""
    return Bender(generator.bend_layers(), slots) if slots else None
