"""Contact sheets of generated faces (one batched generator call per sheet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.models.base import Generator, seed_latent, style_space, to_uint8, truncate
from latentreel.models.registry import load_generator
from latentreel.render.device import pick_device


def synthesize_uint8(generator: Generator, latents: torch.Tensor, space: str = "z") -> np.ndarray:
    """Images [N, H, W, 3] uint8 for latents [N, *S], in one batched call."""
    with torch.inference_mode():
        return to_uint8(generator.synthesize(latents.to(generator.device), space)).cpu().numpy()


def seed_latents(generator: Generator, seeds: list[int]) -> torch.Tensor:
    """z for each seed [N, z_dim], drawn on the CPU (same faces on every device)."""
    return torch.from_numpy(np.stack([seed_latent(s, generator.z_dim) for s in seeds]))


def seed_sheet(seeds: list[int], out: Path, *, model: str = "dcgan-digiface",
               truncation: float = 1.0, cell: int = 128, device: str = "auto",
               upscale: str | None = None) -> Path:
    """A labelled contact sheet of ``seeds``; returns the PNG path.

    ``upscale``: a learned upscaler (upscale.registry) run towards ``cell`` px before the
    sheet's resize."""
    from latentreel.upscale.runtime import with_upscaler
    from latentreel.video.sheet import contact_sheet, save_png

    g = load_generator(model, pick_device(device))
    shown = with_upscaler(g, upscale, cell)
    space = style_space(g)  # StyleGAN truncates around w_avg
    with torch.inference_mode():
        latents = g.to_space(seed_latents(g, seeds).to(g.device), space)
    if truncation != 1.0:
        latents = truncate(latents, g.mean_latent(space), truncation, space)
    images = synthesize_uint8(shown, latents, space)
    title = f"{shown.name} seeds" + (f", truncation {truncation:g}" if truncation != 1.0 else "")
    sheet = contact_sheet(images, [f"seed {s}" for s in seeds], cell=cell, title=title)
    save_png(sheet, Path(out))
    return Path(out)
