"""Batched synthesis: a latent path -> uint8 frames on the host, in order.

Shared by the single-file writer (render.pipeline), the segmented writer (render.segments)
and the live player, so none of them reaches into another for it; so is the torch-thread
share that leaves the encoder its core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from latentreel.latents.path import LatentPath
from latentreel.models.base import Generator, to_uint8


def iter_frame_batches(
    generator: Generator, path: LatentPath, space: str, batch_size: int,
    autocast: torch.dtype | None = None, *, start: int = 0, stop: int | None = None,
) -> Iterator[torch.Tensor]:
    """uint8 frames [B, H, W, 3] on the CPU, in order, ``batch_size`` at a time.

    ``autocast``: run the generator in this lower precision (see render.device).
    ``start``, ``stop``: only frames [start, stop) of ``path`` (a segment). A frame depends
    only on its own latent and, under temporal smoothing, its neighbours' latents in
    ``path``, so segments and batches cut anywhere give the frames of one whole render."""
    stop = path.total_frames if stop is None else stop
    radius = getattr(generator, "smooth_radius", 0)
    with torch.inference_mode(), torch.autocast(generator.device.type, enabled=autocast is not None,
                                                dtype=autocast or torch.bfloat16):
        for first in range(start, stop, batch_size):
            last = min(first + batch_size, stop)
            if radius:
                images = _synthesize_smoothed(generator, path, space, first, last, radius)
            else:
                idx = torch.arange(first, last)
                latents = path.latents(idx).to(generator.device)
                images = _synthesize_unique(generator, latents, space, path.cameras(idx)).float()
            yield to_uint8(images).cpu()  # converted on the device: 4x less to copy


def _synthesize_smoothed(generator, path: LatentPath, space: str, first: int, last: int,
                         radius: int) -> torch.Tensor:
    """Frames [first, last) of an UpscaledGenerator, their learned detail stabilised over
    ``radius`` neighbours each side, rendered as context: clipped at the video's ends, or
    wrapped around for a looping scene, whose last frame leads into its first."""
    from latentreel.upscale.temporal import stabilise

    total = path.total_frames
    if path.loop:
        lo, hi = first - radius, last + radius
        idx = torch.arange(lo, hi) % total
    else:
        lo, hi = max(0, first - radius), min(total, last + radius)
        idx = torch.arange(lo, hi)
    lat, cams, inverse = _distinct(path.latents(idx).to(generator.device), path.cameras(idx))
    base = _synthesize(generator.base, lat, space, cams)
    sr = generator.upscaler(base)
    if inverse is not None:  # back in frame order: hold frames repeat their keyframe's images
        base, sr = base[inverse], sr[inverse]
    return stabilise(base.float(), sr.float(), first - lo, last - lo, radius)


def _synthesize_unique(generator: Generator, latents: torch.Tensor, space: str,
                       cameras: torch.Tensor | None = None) -> torch.Tensor:
    """Synthesize each distinct (latent, camera) once: hold frames repeat their keyframe's.

    ``cameras`` [N, 3]: per-frame (x, y, angle) for models with a camera, else None."""
    lat, cams, inverse = _distinct(latents, cameras)
    images = _synthesize(generator, lat, space, cams)
    return images if inverse is None else images[inverse]


def _distinct(latents: torch.Tensor, cameras: torch.Tensor | None):
    """(distinct latents, their cameras or None, inverse index or None when all differ)."""
    flat = latents.flatten(1)
    if cameras is not None:
        flat = torch.cat([flat, cameras.to(flat)], dim=1)
    uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
    if len(uniq) == len(flat):
        uniq, inverse = flat, None
    n = latents[0].numel()
    lat = uniq[:, :n].reshape(-1, *latents.shape[1:])
    return lat, (None if cameras is None else uniq[:, n:].float()), inverse


def _synthesize(generator: Generator, latents: torch.Tensor, space: str,
                cameras: torch.Tensor | None) -> torch.Tensor:
    if cameras is None:
        return generator.synthesize(latents, space)
    return generator.synthesize(latents, space, camera=cameras)


@contextmanager
def encoder_cpu_share(generator: Generator, output):
    """On the CPU, leave x264 a core when encoding dominates.

    Generator and encoder share the machine's cores. When frames are upscaled a lot, x264 is
    the bottleneck, and one torch thread plus x264's threads beats both fighting over every
    core (measured on 2 cores at 64 -> 512 px: 98 vs 86 frames/s); at small output sizes
    the generator is the bottleneck and keeps every thread.
    """
    if generator.device.type != "cpu" or output.size < 4 * generator.resolution:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // 2))
    try:
        yield
    finally:
        torch.set_num_threads(before)
