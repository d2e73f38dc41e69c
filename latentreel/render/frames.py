"""Batched synthesis: a latent path -> uint8 frames on the host, in order.

Shared by the single-file writer (render.pipeline), the segmented writer (render.segments)
and the live player, so none of them reaches into another for it.
"""

from __future__ import annotations

from collections.abc import Iterator

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
