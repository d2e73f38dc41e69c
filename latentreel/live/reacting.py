"""The scene's `react:` entries in a performance: amounts steered live, features heard live.

Both act frame by frame on the walker's thread and depend only on the control messages and
the heard values recorded with each frame, so a recording replays them exactly:

- `react.KEY.amount` scales a reaction. A drive the song file feeds is precomputed per path
  frame (render.react); a new amount scales it as a whole (live / scene amount) and the
  walker swaps the scaled drives into its path.
- With `--listen`, a reaction whose feature the live input measures (onsets, loudness, bass,
  mid, high, of the mix) follows the sound instead of the song file: each frame takes the
  input's latest values (onsets: 1 if one fired since the frame before), shapes them with the
  reaction's own shaping (threshold, compress, gain, then attack/release at the frame rate,
  as audio.shaping does for a file) and drives a one-frame copy of the reaction's drive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from latentreel.audio.shaping import compress, gate
from latentreel.latents.react import CameraMove, Push, Truncation
from latentreel.scene.controls import FEATURES, react_keys
from latentreel.scene.model import Reaction

CAMERA_CYCLE = 1024  # frames of seeded camera shake a heard camera reaction cycles through
ONE = torch.zeros(1, dtype=torch.long)  # the frame index of a one-frame drive


def heard_live(r: Reaction) -> bool:
    """Whether `play --listen` feeds ``r`` (its feature is one the live input measures)."""
    return r.feature in FEATURES and r.stem is None and r.drive not in ("chroma", "bend")


@dataclass
class _Heard:
    """One reaction fed by the live input, and its shaping's state."""

    reaction: Reaction
    drive: object | None  # its drive with a unit envelope (None: speed, which the walk takes)
    level: float = 0.0  # the attack/release follower's output
    prev: float = 0.0  # the two frames before (a pulse starts where the level starts rising)
    prev2: float = 0.0
    hits: int = 0  # pulses started (a fresh random target for each)
    frame: int = 0  # frames heard (camera shake's place in its cycle)

    def step(self, raw: float, steps: int, fps: int) -> None:
        sh = self.reaction.shaping
        y = float(compress(gate(np.array([raw], dtype=np.float64), sh.threshold),
                           sh.compress)[0]) * sh.gain
        up = 1.0 - math.exp(-1.0 / (sh.attack * fps)) if sh.attack > 0 else 1.0
        down = 1.0 - math.exp(-1.0 / (sh.release * fps)) if sh.release > 0 else 1.0
        for _ in range(max(1, steps)):  # dropped slots pass in time for the follower too
            self.level += (up if y > self.level else down) * (y - self.level)
        if self.level > self.prev and self.prev <= self.prev2:
            self.hits += 1
        self.prev2, self.prev = self.prev, self.level
        self.frame += 1

    def one_frame(self, amount: float):
        """Its drive for this frame alone (frame index 0)."""
        e = torch.tensor([amount * self.level], dtype=torch.float64)
        d = self.drive
        if isinstance(d, Push):
            return replace(d, envelope=e, events=torch.tensor([self.hits]))
        if isinstance(d, Truncation):
            return replace(d, envelope=e)
        row = (self.frame - 1) % len(d.offsets)
        return replace(d, offsets=d.offsets[row:row + 1] * e[0])


class LiveReactions:
    """The reactions of one performance: amounts (react.KEY.amount) and heard features.

    Args:
        reactions: the scene's whole `react:` list.
        react: the file-driven drives in the prepared path (latents.react.Reaction or None).
        heard: index -> unit drive (None for speed) of each reaction the live input feeds.
        fps: the performance's frame rate (the follower's time step).
    """

    def __init__(self, reactions: tuple[Reaction, ...], react, heard: dict[int, object],
                 fps: int):
        self.scene_amounts = {r.index: r.amount for r in reactions}
        self.keys = react_keys([(r.index, r.feature, r.drive) for r in reactions])
        self.react, self.fps = react, fps
        self.heard = [_Heard(r, heard[r.index]) for r in reactions if r.index in heard]
        self.sources = set(react.sources) if react is not None else set()
        self.reactions = {r.index: r for r in reactions}

    def steer_problem(self, index: int) -> str | None:
        """Why react[index]'s amount cannot change live (None: it can)."""
        if index in self.sources or any(h.reaction.index == index for h in self.heard):
            return None
        r = self.reactions[index]
        if r.drive == "speed":
            return (f"react[{index}] (speed) re-times the scene before the first frame; "
                    "steer `speed` instead")
        if r.drive == "bend" and r.amount != 0:
            return (f"react[{index}] (bend) is part of the bend track drawn from the song "
                    "before the first frame; it cannot be steered live")
        return (f"react[{index}] has amount 0 in the scene, so it was left out; give it an "
                "amount there to steer it live")

    def scaled(self, amounts: dict[int, float]):
        """The file-driven drives at the live ``amounts`` (index -> amount)."""
        if self.react is None:
            return None
        drives = tuple(
            d.scaled(amounts[i] / self.scene_amounts[i])
            if i in amounts and amounts[i] != self.scene_amounts[i] else d
            for d, i in zip(self.react.drives, self.react.sources))
        return replace(self.react, drives=drives)

    def hear(self, values: dict[str, float], steps: int) -> None:
        """Take one frame's live feature values (missing ones are silence)."""
        for h in self.heard:
            h.step(float(values.get(h.reaction.feature, 0.0)), steps, self.fps)

    def speed(self, amounts: dict[int, float]) -> float:
        """The heard speed reactions' factor on the walk's speed (1: none)."""
        factor = 1.0
        for h in self.heard:
            if h.drive is None:
                amount = amounts.get(h.reaction.index, h.reaction.amount)
                factor *= max(1.0 + amount * h.level, 0.05)
        return factor

    def apply(self, latent: torch.Tensor, camera: torch.Tensor | None,
              amounts: dict[int, float]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``latent`` [1, *S] and ``camera`` [1, 4] after this frame's heard drives."""
        for h in self.heard:
            if h.drive is None or not h.level:
                continue
            d = h.one_frame(amounts.get(h.reaction.index, h.reaction.amount))
            latent = d.latents(ONE, latent)
            if isinstance(d, CameraMove):
                camera = d.cameras(ONE, torch.zeros(1, 4) if camera is None else camera)
        return latent, camera
