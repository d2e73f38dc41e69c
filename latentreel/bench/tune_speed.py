"""`latentreel bench tune`: what pivotal tuning one photo costs on a StyleGAN2, today's settings
(``TuneSettings()``) beside this device's defaults (``default_settings``: from 256 px up, the
curvature recipe) in one run: seconds per photo, the photo's PSNR, and locality.

Locality as PTI measures it: random faces (seeds, far from the pivot) drawn by the tuned and
the untuned generator; their mean squared change, as a PSNR (higher: they changed less).

The "photo" is the image of a latent half-way to another random face, with its colours
shifted: no latent near the pivot draws it, so only the weights can close the gap (as a real
photo's detail after inversion). A setting whose full run would take longer than ``budget``
seconds is timed over a few steps and extrapolated; the output says so, and its PSNR and
locality are then not measured.
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from latentreel.invert.tune import (Pivot, TuneSettings, _has_bf16, default_settings,
                                   recipe_settings, tune_generator)


def bench_generator(model: Path | None, resolution: int, device: torch.device,
                    channel_base: int = 32768):
    """The model file's generator, or a random FFHQ-shaped StyleGAN2 built here (never
    written anywhere). A smaller ``channel_base`` gives a narrower network of the same shape:
    a quick stand-in where the full one's 300-step runs would take hours (a CPU)."""
    if model is not None:
        from latentreel.models.registry import load_generator

        return load_generator(str(model), device)
    from latentreel.models.stylegan2.backend import StyleGAN2Generator
    from latentreel.models.stylegan2.bench import random_generator

    net = random_generator(resolution, num_fp16_res=0, channel_base=channel_base)
    width = "" if channel_base == 32768 else f"-base{channel_base}"
    return StyleGAN2Generator(net, device, name=f"random-stylegan2-{resolution}{width}")


def bench_pivot(g, seed: int = 1) -> Pivot:
    """A W+ pivot and a target it cannot reach by itself (see the module's docstring)."""
    space = "w+" if "w+" in g.latent_spaces else "z"
    z = torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(seed)).to(g.device)
    with torch.no_grad():
        latents = g.to_space(z, space)
        half = torch.lerp(latents[0], latents[1], 0.5)
        target = (g.synthesize(half[None], space)[0] * 0.8 + 0.1).clamp(-1, 1)
    return Pivot(latent=latents[0], space=space, target=target.cpu())


def locality_psnr(g, tuned, faces: int = 16, seed: int = 10_000) -> float:
    """PSNR (dB, images in [-1, 1]) of the mean squared change of ``faces`` random faces."""
    z = torch.randn(faces, g.z_dim, generator=torch.Generator().manual_seed(seed))
    mse = []
    with torch.no_grad():
        for i in range(0, faces, 4):
            batch = z[i:i + 4].to(g.device)
            mse.append(float((g.synthesize(batch) - tuned.synthesize(batch)).square().mean()))
    return float(10 * np.log10(4 / max(float(np.mean(mse)), 1e-12)))


def measure(g, pivot: Pivot, settings: TuneSettings, *, timed_steps: int, budget: float,
            faces: int, log) -> dict:
    """Seconds per photo (measured, or extrapolated from ``timed_steps`` steps when the full
    run would pass ``budget``), PSNR before/after and locality."""
    probe = tune_generator(g, [pivot], replace(settings, steps=timed_steps))
    # The first step warms caches up: the rest give the step's cost; setup is the remainder.
    steps = probe.step_seconds[1:] or probe.step_seconds
    per_step = float(np.mean(steps))
    setup = probe.seconds - sum(probe.step_seconds)
    estimate = setup + per_step * settings.steps
    out = {"settings": asdict(settings), "seconds_per_step": per_step,
           "estimated_seconds": estimate, "timed_steps": timed_steps}
    if estimate > budget:
        log(f"  {settings.steps} steps would take about {estimate / 60:.0f} min: timed over "
            f"{timed_steps} steps and extrapolated (fidelity not measured; raise --budget)")
        return dict(out, measured=False, seconds=estimate)
    res = tune_generator(g, [pivot], settings)
    return dict(out, measured=True, seconds=res.seconds, psnr_before=res.psnr_before[0],
                psnr_after=res.psnr_after[0], locality_psnr=locality_psnr(g, res.generator, faces),
                generator=res.generator)


PICTURE_FACES = 3  # random faces per row of the picture


def picture(g, pivot: Pivot, rows: dict[str, object], seed: int = 10_000):
    """A contact sheet: per tuned generator, the photo, the untuned pivot, the tuned pivot,
    then random faces (the first of the locality faces) untuned, tuned and their difference
    (x4), so a person sees both what was learned and what was kept."""
    from latentreel.models.base import to_uint8
    from latentreel.video.sheet import contact_sheet

    z = torch.randn(PICTURE_FACES, g.z_dim, generator=torch.Generator().manual_seed(seed))
    lat = pivot.latent[None].to(g.device)
    with torch.no_grad():
        before_pivot = g.synthesize(lat, pivot.space)
        before = g.synthesize(z.to(g.device))
        cells, labels = [], []
        for name, tuned in rows.items():
            after = tuned.synthesize(z.to(g.device))
            row = [pivot.target[None].to(g.device), before_pivot,
                   tuned.synthesize(lat, pivot.space)]
            labels += ["photo", "pivot untuned", f"tuned: {name}"]
            for i in range(PICTURE_FACES):
                diff = ((after[i:i + 1] - before[i:i + 1]).abs() * 4 - 1).clamp(-1, 1)
                row += [before[i:i + 1], after[i:i + 1], diff]
                labels += [f"face {i + 1} untuned", "tuned", "|change| x4"]
            cells.append(torch.cat(row))
    images = to_uint8(torch.cat(cells)).cpu().numpy()
    return contact_sheet(images, labels, cols=3 + 3 * PICTURE_FACES, cell=128,
                         row_labels=list(rows),
                         title=f"pivotal tuning on {g.name}: what was learned, what was kept")


def _uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def run_tune_speed_bench(*, model: Path | None = None, resolution: int = 256,
                         device: str = "auto", channel_base: int = 32768,
                         steps: int | None = None, recipe: bool = False,
                         today_steps: int | None = None, timed_steps: int = 5,
                         budget: float = 1200.0, faces: int = 16, seed: int = 1,
                         picture_path: Path | None = None, log=print) -> dict:
    """Today's settings and this device's defaults (``recipe``: the 256-px-and-up recipe
    at any resolution) on one photo, side by side."""
    from latentreel.bench.common import machine_info
    from latentreel.device import pick_device

    # 1. The generator, the pivot and the two settings.
    g = bench_generator(model, resolution, pick_device(device), channel_base)
    pivot = bench_pivot(g, seed)
    today = TuneSettings() if today_steps is None else TuneSettings(steps=today_steps)
    # The device's defaults; or the recipe at any size (a small stand-in).
    new = recipe_settings(bf16=_has_bf16(g.device)) if recipe \
        else default_settings(g)
    new = new if steps is None else replace(new, steps=steps)
    results = {"machine": machine_info(), "device": str(g.device), "model": g.name,
               "resolution": g.resolution, "uptime_before": _uptime()}
    log(f"== pivotal tuning of one photo (pivot seed {seed}): {g.name} at {g.resolution} px "
        f"on {g.device}; "
        f"{_uptime()}")
    # 2. Each setting: time it, run it when it fits the budget.
    for name, settings in (("today", today), ("new", new)):
        log(f"{name}: {_describe(settings)}")
        results[name] = r = measure(g, pivot, settings, timed_steps=timed_steps,
                                    budget=budget, faces=faces, log=log)
        fidelity = (f"PSNR {r['psnr_before']:.2f} -> {r['psnr_after']:.2f} dB, locality "
                    f"{r['locality_psnr']:.2f} dB" if r["measured"] else "fidelity not measured")
        log(f"  {r['seconds']:.0f} s per photo{'' if r['measured'] else ' (extrapolated)'} "
            f"({r['seconds_per_step']:.2f} s a step); {fidelity}")
    # 3. Side by side.
    t, n = results["today"], results["new"]
    results["speedup"] = t["seconds"] / n["seconds"]
    line = f"new vs today: {results['speedup']:.1f}x faster per photo"
    if t["measured"] and n["measured"]:
        results["psnr_change_db"] = n["psnr_after"] - t["psnr_after"]
        results["locality_change_db"] = n["locality_psnr"] - t["locality_psnr"]
        line += (f", PSNR {results['psnr_change_db']:+.2f} dB, locality "
                 f"{results['locality_change_db']:+.2f} dB")
    results["uptime_after"] = _uptime()
    log(f"{line}; {results['uptime_after']}")
    tuned = {name: results[name].pop("generator") for name in ("today", "new")
             if "generator" in results[name]}
    if picture_path is not None and tuned:
        from latentreel.video.sheet import save_png

        log(f"picture: {save_png(picture(g, pivot, tuned), picture_path)}")
    return results


def _describe(s: TuneSettings) -> str:
    images = s.locality > 0 and s.locality_batch > 0
    if s.curvature > 0:
        check = f" and {s.locality_batch} locality latents weighted {s.locality:g} every " \
            f"{s.locality_every} step(s)" if images else ""
        return (f"{s.steps} steps, lr {s.lr:g}, locality as a curvature penalty (weight "
                f"{s.curvature:g}){check}, {s.precision}")
    frozen = f", blocks below {s.tune_from} px frozen" if s.tune_from else ""
    pool = "" if s.locality_pool == TuneSettings().locality_pool else \
        f" (pool of {s.locality_pool})"
    return (f"{s.steps} steps, lr {s.lr:g}, {s.locality_batch} locality latents{pool} every "
            f"{s.locality_every} step(s){frozen}, {s.precision}")
