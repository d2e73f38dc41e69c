"""Scene timing -> a LatentPath: how many frames each hold and transition gets.

Frame counts are exact: keyframe k holds for round(hold * fps) frames and its transition
takes round(duration * fps) frames (halves round up); a non-looping scene has no transition
after its last keyframe.
"""

from __future__ import annotations

import math

import torch

from latentreel.latents.camera import STILL
from latentreel.latents.path import LatentPath
from latentreel.scene.model import Keyframe


def frames_for(seconds: float, fps: int) -> int:
    return int(math.floor(seconds * fps + 0.5))


def build_path(keyframes: list[Keyframe], latents: torch.Tensor, fps: int, loop: bool,
               offsets: dict | None = None) -> LatentPath:
    """The frame schedule for resolved keyframes (one row of ``latents`` per keyframe), with
    their cameras when any keyframe has one."""
    n_trans = len(keyframes) if loop and len(keyframes) > 1 else len(keyframes) - 1
    transitions = [kf.transition for kf in keyframes[:n_trans]]
    cameras = [kf.camera for kf in keyframes]
    camera = None if all(c is None for c in cameras) else \
        torch.tensor([c or STILL for c in cameras], dtype=torch.float64)
    return LatentPath(
        keyframes=latents,
        hold_frames=[frames_for(kf.hold, fps) for kf in keyframes],
        transition_frames=[frames_for(t.duration, fps) for t in transitions],
        interpolation=[t.interpolation for t in transitions],
        easing=[t.easing for t in transitions],
        loop=loop and len(keyframes) > 1,
        offsets={i: f for i, f in (offsets or {}).items() if i < n_trans},
        camera=camera,
        turns=[t.turns for t in transitions],
    )
