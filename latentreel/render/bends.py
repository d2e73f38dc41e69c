"""A scene's `bend:` entries -> the bend slots, their per-frame numbers, and the hooks.

Every distinct (layer, op, seed, channels) any keyframe names is a slot; a keyframe that
does not name a slot holds it neutral, so a bend eases in from nothing and back out.
"""

from __future__ import annotations

import torch

from latentreel.errors import SceneError
from latentreel.models.base import Generator
from latentreel.models.bend import Bender, BendSlot, neutral_row
from latentreel.scene.model import Keyframe, Reaction
from latentreel.spec.fields import closest


def bend_slots(keyframes: list[Keyframe], reactions: tuple[Reaction, ...] = ()
               ) -> tuple[BendSlot, ...]:
    """Every slot the keyframes bend, in order of first mention, then those only bend
    reactions move (amount 0 moves nothing: no slot)."""
    return tuple(dict.fromkeys([*(b.slot for kf in keyframes for b in kf.bend),
                                *(r.bend for r in bend_reactions(reactions))]))


def bend_reactions(reactions: tuple[Reaction, ...]) -> list[Reaction]:
    """The `react:` entries that move a bend's number (amount 0: left out, as elsewhere)."""
    return [r for r in reactions if r.drive == "bend" and r.bend is not None and r.amount != 0]


def check_bend_layers(keyframes: list[Keyframe], generator: Generator,
                      reactions: tuple[Reaction, ...] = ()) -> None:
    """Every bent layer is one ``generator`` has (layers are known once it is loaded).

    Raises:
        SceneError: one line per unknown layer, at the bend (or bend reaction) naming it.
    """
    layers = generator.bend_layers()
    named = [(b.where, b.slot.layer) for kf in keyframes for b in kf.bend]
    named += [(f"{r.where}: react[{r.index}].layer", r.bend.layer) for r in reactions
              if r.drive == "bend" and r.bend is not None]
    problems = dict.fromkeys(
        f"{where}: {generator.name} has no layer {layer!r}{closest(layer, layers)}"
        f" (`latentreel models --layers` lists them)"
        for where, layer in named if layer not in layers)
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
