"""Contact sheets of generated faces (one batched generator call per sheet)."""

from __future__ import annotations

from pathlib import Path

import torch

from latentreel.device import pick_device
from latentreel.models.base import refuse_conditional, seed_latents, style_space, truncate
from latentreel.models.registry import load_generator


def seed_sheet(seeds: list[int], out: Path, *, model: str = "dcgan-digiface",
               truncation: float = 1.0, cell: int = 128, device: str = "auto",
               upscale: str | None = None) -> Path:
    """A labelled contact sheet of ``seeds``; returns the PNG path.

    ``upscale``: a learned upscaler (upscale.registry) run towards ``cell`` px before the
    sheet's resize."""
    from latentreel.render.frames import frame_source
    from latentreel.video.sheet import contact_sheet, save_png

    g = load_generator(model, pick_device(device))
    refuse_conditional(g, "a seed sheet")
    shown = frame_source(g, upscale=upscale, size=cell)
    space = style_space(g)  # StyleGAN truncates around w_avg
    with torch.inference_mode():
        latents = g.to_space(seed_latents(g, seeds).to(g.device), space)
    if truncation != 1.0:
        latents = truncate(latents, g.mean_latent(space), truncation, space)
    images = shown.uint8(latents, space)
    title = f"{shown.name} seeds" + (f", truncation {truncation:g}" if truncation != 1.0 else "")
    sheet = contact_sheet(images, [f"seed {s}" for s in seeds], cell=cell, title=title)
    save_png(sheet, Path(out))
    return Path(out)
