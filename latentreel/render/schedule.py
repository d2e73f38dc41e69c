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
               offsets: dict | None = None, pins: dict[int, int] | None = None,
               total: int | None = None) -> LatentPath:
    """The frame schedule for resolved keyframes (one row of ``latents`` per keyframe), with
    their cameras when any keyframe has one.

    ``pins``: keyframe index (Keyframe.index) -> the frame its hold starts on; ``total``:
    the video's length in frames (the song's). Holds and transitions between two fixed
    points stretch in proportion to their own lengths so every pin lands on its frame."""
    n_trans = len(keyframes) if loop and len(keyframes) > 1 else len(keyframes) - 1
    transitions = [kf.transition for kf in keyframes[:n_trans]]
    holds = [frames_for(kf.hold, fps) for kf in keyframes]
    moves = [frames_for(t.duration, fps) for t in transitions]
    if pins or total is not None:
        holds, moves = fit_to_pins(keyframes, transitions, pins or {}, total, fps)
    cameras = [kf.camera for kf in keyframes]
    camera = None if all(c is None for c in cameras) else \
        torch.tensor([c or STILL for c in cameras], dtype=torch.float64)
    return LatentPath(
        keyframes=latents,
        hold_frames=holds,
        transition_frames=moves,
        interpolation=[t.interpolation for t in transitions],
        easing=[t.easing for t in transitions],
        loop=loop and len(keyframes) > 1,
        offsets={i: f for i, f in (offsets or {}).items() if i < n_trans},
        camera=camera,
        turns=[t.turns for t in transitions],
    )


def fit_to_pins(keyframes: list[Keyframe], transitions: list, pins: dict[int, int],
                total: int | None, fps: int) -> tuple[list[int], list[int]]:
    """Hold and transition frame counts that put every pinned keyframe on its frame and end
    the video on ``total`` (None: the last stretch keeps its own length)."""
    lengths: list[float] = []  # seconds of hold 0, transition 0, hold 1, ...
    anchors = {0: 0}  # position in ``lengths`` -> the frame it starts on
    seen: set[int] = set()
    for i, kf in enumerate(keyframes):
        if kf.index in pins and kf.index not in seen:  # a chain's first entry carries the pin
            anchors[len(lengths)] = pins[kf.index]
        seen.add(kf.index)
        lengths.append(kf.hold)
        if i < len(transitions):
            lengths.append(transitions[i].duration)
    if total is not None:
        anchors[len(lengths)] = total
    counts = [frames_for(x, fps) for x in lengths]
    marks = sorted(anchors.items())
    for (a, fa), (b, fb) in zip(marks, marks[1:]):
        counts[a:b] = spread(lengths[a:b], fb - fa)
    return counts[0::2], counts[1::2]


def spread(weights: list[float], frames: int) -> list[int]:
    """``frames`` split in proportion to ``weights`` with cumulative rounding (exact sum);
    all zero weights give everything to the last item (a transition: the move happens)."""
    if not weights:
        return []
    total = sum(weights)
    if total <= 0:
        return [0] * (len(weights) - 1) + [frames]
    edges, acc = [0], 0.0
    for w in weights:
        acc += w
        edges.append(int(math.floor(acc / total * frames + 0.5)))
    return [b - a for a, b in zip(edges, edges[1:])]
