"""Frames whose latent leaves the shell its keyframes sit on. Pure math.

Faces live near a shell: a Gaussian z of dimension d has norm close to sqrt(d), and a latent
far inside it (a chord through the origin) or far outside it (an overshooting curve) draws
texture, not a face. A frame is off the shell when its latent's norm is outside the band its
transition's two keyframes span, widened by ``tolerance`` on either side (slerp keeps inside
the band by construction; a sweep's offset moves it by a few percent).
"""

from __future__ import annotations

import torch

from latentreel.latents.path import LatentPath

TOLERANCE = 0.2  # a fifth of the keyframes' norm: well past any sweep, well short of texture


def off_shell_frames(path: LatentPath, tolerance: float = TOLERANCE,
                     batch: int = 1024) -> list[int]:
    """Indices of the frames of ``path`` whose latent norm leaves the band
    [(1 - tolerance) * min, (1 + tolerance) * max] of their transition's keyframe norms."""
    norms = path.keyframes.to(torch.float64).flatten(1).norm(dim=1)
    k = len(norms)
    found: list[int] = []
    for seg in path.segments:
        if seg.kind != "transition":
            continue  # a hold shows its keyframe itself
        ends = torch.stack([norms[seg.index], norms[(seg.index + 1) % k]])
        lo, hi = (1 - tolerance) * ends.min(), (1 + tolerance) * ends.max()
        for start in range(seg.start, seg.start + seg.length, batch):
            frames = torch.arange(start, min(start + batch, seg.start + seg.length))
            n = path.latents(frames).to(torch.float64).flatten(1).norm(dim=1)
            found += frames[(n < lo) | (n > hi)].tolist()
    return found


def frame_ranges(frames: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9] -> [(3, 5), (9, 9)]: sorted frame indices as inclusive runs."""
    runs: list[tuple[int, int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], f)
        else:
            runs.append((f, f))
    return runs
