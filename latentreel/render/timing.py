"""Perceptually even motion: re-time transitions so the picture changes at an even pace.

Equal steps in latent space do not look equal (seed 003 saw one face "dominate" halfway).
A transition marked ``timing: perceptual`` is sampled densely, the image change between
samples (RMS over pixels at the generator's resolution: a cheap perceptual proxy) is summed
into an arc length, and each frame's t is chosen so that the arc length advances evenly
(following the transition's easing, so ease-in-out still eases).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from latentreel.latents.easing import ease
from latentreel.latents.path import LatentPath


def image_change(images: torch.Tensor) -> torch.Tensor:
    """RMS pixel change between consecutive images [N, 3, H, W] -> [N - 1]."""
    return (images[1:] - images[:-1]).flatten(1).square().mean(1).sqrt()


SAMPLES = 96  # dense samples per re-timed transition
CHUNK = 16  # images per generator call: memory stays small at any resolution


def perceptual_t(generator, path: LatentPath, index: int, space: str,
                 samples: int = SAMPLES, bar: tqdm | None = None) -> torch.Tensor:
    """t values for every frame of transition ``index`` giving even visual change.
    ``bar``: advanced by one for each image drawn."""
    dense = torch.linspace(0, 1, samples + 1, dtype=torch.float64)
    steps, last = [], None
    with torch.no_grad():
        for s in range(0, len(dense), CHUNK):
            lat = path.latents_at(index, dense[s:s + CHUNK]).to(generator.device)
            images = generator.synthesize(lat, space)
            if last is not None:
                images = torch.cat([last, images])
            steps.append(image_change(images).cpu().double())
            last = images[-1:]
            if bar is not None:
                bar.update(len(lat))
    arc = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cat(steps).cumsum(0)])
    if float(arc[-1]) <= 0:  # nothing changes: keep the plain timing
        return ease(path.easing[index], path.transition_u(index))
    arc = (arc / arc[-1]).numpy()
    target = ease(path.easing[index], path.transition_u(index)).numpy()
    return torch.from_numpy(np.interp(target, arc, dense.numpy()))


def apply_perceptual_timing(generator, path: LatentPath, timings: list[str],
                            space: str, *, progress: bool = False) -> LatentPath:
    """``path`` with every transition whose timing is "perceptual" re-timed; ``progress``
    shows a bar of the images drawn to measure them (minutes for large models on a CPU)."""
    chosen = [i for i, timing in enumerate(timings[:len(path.transition_frames)])
              if timing == "perceptual" and path.transition_frames[i] > 1]
    if not chosen:
        return path
    with tqdm(total=len(chosen) * (SAMPLES + 1), desc="perceptual timing", unit="image",
              disable=not progress, dynamic_ncols=True, leave=False) as bar:
        overrides = {i: perceptual_t(generator, path, i, space, bar=bar) for i in chosen}
    return path.with_t_override(overrides)


def change_profile(generator, path: LatentPath, space: str, batch: int = 64) -> np.ndarray:
    """Per-frame image change along the whole path (index i: frame i -> i + 1; for a
    looping path the last entry is the seam, last frame -> first frame).

    Images are compared batch by batch, keeping only the previous batch's last image, so
    memory stays flat however long the scene is."""
    n = path.total_frames
    idx = torch.tensor(list(range(n)) + ([0] if path.loop else []))
    out, last = [], None
    with torch.no_grad():
        for s in range(0, len(idx), batch):
            lat = path.latents(idx[s:s + batch]).to(generator.device)
            images = generator.synthesize(lat, space).cpu()
            if last is not None:
                images = torch.cat([last, images])
            out.append(image_change(images))
            last = images[-1:]
    return torch.cat(out).numpy()


def timing_stats(path: LatentPath, change: np.ndarray) -> dict:
    """Largest / median per-frame change within each transition, and the loop seam.

    A transition of n frames makes n steps: the last one lands on the next keyframe (for a
    looping path's last transition that step is the seam). Only a non-looping path's final
    transition makes n - 1, as it ends on its keyframe.

    Args:
        change: ``change_profile`` of ``path``.
    """
    steps = [change[s.start:s.start + s.length] for s in path.segments
             if s.kind == "transition" and s.length > 1]
    ratios = [float(c.max() / np.median(c)) for c in steps if len(c) > 1 and np.median(c) > 0]
    out = {"max_over_median_per_transition": ratios,
           "worst_max_over_median": max(ratios) if ratios else None,
           "mean_max_over_median": float(np.mean(ratios)) if ratios else None}
    moving = np.concatenate(steps) if steps else np.zeros(1)
    if path.loop and np.median(moving) > 0 and steps:
        # Against the whole video's median step, and against the steps of the transition
        # that ends at the seam: the second says whether the loop point itself jumps.
        out["seam_over_median"] = float(change[-1] / np.median(moving))
        out["seam_over_last_transition_median"] = float(change[-1] / np.median(steps[-1]))
    return out
