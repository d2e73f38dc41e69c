"""Tuned generators for photos and scenes, cached by content.

One photo's tuning and a scene's joint tuning of several pivots are the same computation: the
key is (base weights, pivot latents, target crops, settings), so `latentreel invert` and a
scene with the same photo share one cache entry, and re-rendering never re-tunes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np

from latentreel.cache import atomic_write, cache_dir
from latentreel.invert.delta import WeightDelta, apply_delta
from latentreel.invert.tune import (Pivot, TuneSettings, Tuning, default_settings,
                                   tune_generator)
from latentreel.models.base import Generator
from latentreel.models.fingerprint import weights_fingerprint

FORMAT = 1  # bump when cached deltas change shape


def tuning_key(generator: Generator, pivots: list[Pivot], settings: TuneSettings) -> str:
    h = hashlib.sha256(json.dumps({"weights": weights_fingerprint(generator), "format": FORMAT,
                                   "settings": asdict(settings)}, sort_keys=True).encode())
    for p in pivots:
        h.update(p.space.encode())
        h.update(p.latent.detach().cpu().float().numpy().tobytes())
        h.update(np.round((p.target.detach().cpu().numpy() + 1) * 127.5).astype(np.uint8)
                 .tobytes())
    return h.hexdigest()[:32]


def tuned_delta(generator: Generator, pivots: list[Pivot], settings: TuneSettings | None = None,
                *, progress: bool = False, use_cache: bool = True) -> tuple[WeightDelta, dict]:
    """The delta that makes every pivot redraw its target (all tuned jointly), and metrics
    (psnr before/after per pivot, seconds, cached). ``settings``: default_settings(generator),
    which depend on its device and resolution."""
    settings = settings or default_settings(generator)
    path = cache_dir("tuned") / f"{tuning_key(generator, pivots, settings)}.npz"
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        delta = WeightDelta.from_arrays(arrays)
        return delta, dict(json.loads(str(arrays["metrics"])), cached=True)
    result: Tuning = tune_generator(generator, pivots, settings, progress=progress)
    metrics = {"psnr_before": result.psnr_before, "psnr_after": result.psnr_after,
               "seconds": result.seconds, "steps": settings.steps}
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, metrics=np.array(json.dumps(metrics)), **result.delta.to_arrays())
    return result.delta, metrics


def tuned_for_pivots(generator: Generator, pivots: list[Pivot],
                     settings: TuneSettings | None = None, *,
                     progress: bool = False) -> tuple[Generator, WeightDelta | None]:
    """(the generator to draw with, the delta it carries): ``(generator, None)`` when nothing
    is tuned; a pivot's own delta when there is one tuned pivot that carries it (a tuned
    latent file); else one delta tuned jointly on every pivot (multi-ID tuning, cached)."""
    if not pivots:
        return generator, None
    if len(pivots) == 1 and pivots[0].delta is not None:
        delta = pivots[0].delta
    else:
        delta = tuned_delta(generator, pivots, settings, progress=progress)[0]
    source = pivots[0].source if len(pivots) == 1 else "the scene's tuning"
    return apply_delta(generator, delta, source), delta
