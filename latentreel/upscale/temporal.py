"""Temporal stabilisation of learned detail: upscalers invent texture frame by frame, and on
video it shimmers. Pure tensor math, batched on the device; the render runs it in frame order.

Each upscaled frame splits into the bicubic stretch of its input (what the generator drew) and
the detail the network added. The detail of frame t is replaced by a weighted mean of the
detail of frames t-RADIUS .. t+RADIUS, each weighted by its distance in time and, per pixel,
by how little the generator's picture changed there: where the face moves, neighbours weigh
almost nothing and nothing ghosts; where it holds still, the invented texture holds still.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

RADIUS = 2  # neighbours each side; a segment or batch needs this many frames of context
TIME_SIGMA = 1.0  # frames: weights 1, 0.61, 0.14 for offsets 0, 1, 2
# Change of the stretched input (grey, on the [-1, 1] scale) at which a neighbour's weight
# falls to 1/e: 0.06 is ~8 of 255 levels, above the 1-3 levels a smooth 30 fps walk moves
# most pixels per frame and below what a moving edge moves.
MOTION_SIGMA = 0.06


def time_weight(offset: int) -> float:
    return math.exp(-offset * offset / (2 * TIME_SIGMA ** 2))


def stabilise(base: torch.Tensor, sr: torch.Tensor, lo: int, hi: int,
              radius: int = RADIUS) -> torch.Tensor:
    """Frames ``lo .. hi-1`` of ``sr`` with their learned detail averaged over neighbours.

    Args:
        base: generator frames [N, 3, h, w] in frame order (the window, with context).
        sr: the upscaler's frames of ``base`` [N, 3, H, W].
        lo, hi: the frames to return; the others are context (clipped at the video's ends).
    Returns:
        [hi - lo, 3, H, W], same dtype as ``sr``.
    """
    assert base.shape[0] == sr.shape[0] and base.shape[1] == sr.shape[1] == 3, (base.shape,
                                                                                sr.shape)
    n, size = len(sr), sr.shape[-2:]
    stretch = F.interpolate(base.float(), size=size, mode="bicubic", align_corners=False)
    detail = sr.float() - stretch
    grey = stretch.mean(1, keepdim=True)
    acc, weight = detail[lo:hi].clone(), torch.ones_like(grey[lo:hi])
    for off in (o for k in range(1, radius + 1) for o in (-k, k)):
        a, b = max(lo, -off), min(hi, n - off)  # frames i whose neighbour i + off exists
        if a >= b:
            continue
        w = torch.exp(-((grey[a:b] - grey[a + off:b + off]) / MOTION_SIGMA) ** 2)
        w = w * time_weight(abs(off))
        acc[a - lo:b - lo] += w * detail[a + off:b + off]
        weight[a - lo:b - lo] += w
    return (stretch[lo:hi] + acc / weight).to(sr.dtype)
