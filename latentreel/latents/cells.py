"""Several latent walks drawn side by side (`fit: grid`): one path per cell, frame by frame."""

from __future__ import annotations

import torch

from latentreel.latents.path import LatentPath


class CellPaths:
    """The walks of a grid's cells, read like one LatentPath whose frames hold a latent per
    cell: ``latents(idx)`` is [B, cells, *S] and ``cameras(idx)`` [B, cells, 4] or None."""

    def __init__(self, paths: list[LatentPath]):
        if len({p.total_frames for p in paths}) != 1 or len({p.loop for p in paths}) != 1:
            raise ValueError("every cell's walk must have the same frames and looping")
        self.paths = list(paths)
        self.total_frames, self.loop = paths[0].total_frames, paths[0].loop

    @property
    def cells(self) -> int:
        return len(self.paths)

    def latents(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.stack([p.latents(idx) for p in self.paths], dim=1)

    def cameras(self, idx: torch.Tensor) -> torch.Tensor | None:
        cams = [p.cameras(idx) for p in self.paths]
        return None if cams[0] is None else torch.stack(cams, dim=1)
