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
    autocast: torch.dtype | None = None,
) -> Iterator[torch.Tensor]:
    """uint8 frames [B, H, W, 3] on the CPU, in order, ``batch_size`` at a time.

    ``autocast``: run the generator in this lower precision (see render.device)."""
    with torch.inference_mode(), torch.autocast(generator.device.type, enabled=autocast is not None,
                                                dtype=autocast or torch.bfloat16):
        for start in range(0, path.total_frames, batch_size):
            idx = torch.arange(start, min(start + batch_size, path.total_frames))
            latents = path.latents(idx).to(generator.device)
            images = _synthesize_unique(generator, latents, space, path.cameras(idx)).float()
            yield to_uint8(images).cpu()  # converted on the device: 4x less to copy


def _synthesize_unique(generator: Generator, latents: torch.Tensor, space: str,
                       cameras: torch.Tensor | None = None) -> torch.Tensor:
    """Synthesize each distinct (latent, camera) once: hold frames repeat their keyframe's.

    ``cameras`` [N, 3]: per-frame (x, y, angle) for models with a camera, else None."""
    flat = latents.flatten(1)
    if cameras is not None:
        flat = torch.cat([flat, cameras.to(flat)], dim=1)
    uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
    if len(uniq) == len(flat):
        uniq, inverse = flat, None
    n = latents[0].numel()
    lat = uniq[:, :n].reshape(-1, *latents.shape[1:])
    if cameras is None:
        images = generator.synthesize(lat, space)
    else:
        images = generator.synthesize(lat, space, camera=uniq[:, n:].float())
    return images if inverse is None else images[inverse]


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
