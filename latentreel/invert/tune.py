"""Pivotal tuning (Roich et al., "Pivotal Tuning for Latent-based Editing of Real Images",
2021): after a photo is inverted to a pivot latent, tune the generator's weights briefly so the
pivot redraws the photo, while latents around the pivot and random faces keep the images the
untuned generator gives them (the locality regulariser), so seeds, interpolations and
anti-faces stay what they were.

Several pivots (several photos in one scene) are tuned jointly into one generator, as the
paper's multi-ID tuning. The result is a compact WeightDelta (see ``invert/delta.py``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from latentreel.invert.delta import WeightDelta, apply_delta, attach, detach, tunable_module
from latentreel.invert.objective import psnr
from latentreel.invert.schedule import warmup_cosine
from latentreel.models.base import Generator
from latentreel.models.fingerprint import weights_fingerprint


@dataclass(frozen=True)
class TuneSettings:
    steps: int = 200  # Adam steps on the weight deltas
    lr: float = 3e-3  # peak learning rate (warm-up, then cosine decay)
    rank: int = 8  # rank of each big weight's delta (the DCGAN's delta: about 4 % of its bytes)
    locality: float = 1.0  # weight of the locality regulariser
    locality_batch: int = 2  # latents per step that must keep their untuned images
    # Locality latents per pivot, drawn and drawn by the untuned generator once (in one
    # batch, cheaper than a forward pass per step); each step samples locality_batch of them.
    locality_pool: int = 128
    seed: int = 0  # locality latents are drawn from this seed on the CPU


@dataclass
class Pivot:
    latent: torch.Tensor  # [*S] in ``space``
    space: str
    target: torch.Tensor  # [3, R, R] in [-1, 1], what the pivot must redraw
    delta: WeightDelta | None = None  # its own tuning, when it came from a tuned latent file
    source: str = "the latent file"  # where it came from, for messages


@dataclass
class Tuning:
    delta: WeightDelta
    generator: Generator  # a tuned copy; the base generator is left as it was
    psnr_before: list[float] = field(default_factory=list)  # per pivot, dB
    psnr_after: list[float] = field(default_factory=list)
    seconds: float = 0.0


def tune_generator(generator: Generator, pivots: list[Pivot],
                   settings: TuneSettings = TuneSettings(), *, progress: bool = False) -> Tuning:
    """Tune a copy of ``generator`` so each pivot redraws its target; the base is unchanged."""
    t0 = time.perf_counter()
    # 1. A copy of the generator with a zero delta on every tunable weight.
    fingerprint = weights_fingerprint(generator)
    work = copy.deepcopy(generator)
    factors = attach(tunable_module(work), settings.rank, settings.seed)
    targets = [p.target[None].to(generator.device) for p in pivots]
    before = _pivot_psnr(generator, pivots, targets)
    # 2. Adam on the factors: pivots redraw their photos, locality latents stay put.
    opt = torch.optim.Adam(factors, lr=settings.lr)
    draw = torch.Generator().manual_seed(settings.seed)
    pools = [_locality_pool(generator, p, settings, draw) for p in pivots]
    for step in tqdm(range(settings.steps), desc="tuning", unit="step", disable=not progress,
                     dynamic_ncols=True):
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, settings.steps, settings.lr)
        loss = sum(_mse(work.synthesize(p.latent[None].to(work.device), p.space), t)
                   for p, t in zip(pivots, targets))
        if settings.locality > 0:
            loss = loss + settings.locality * _locality_loss(work, pivots, pools, settings,
                                                             draw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    # 3. Read the delta off the copy; the tuned generator is the base plus that delta.
    delta = detach(tunable_module(work), fingerprint)
    tuned = apply_delta(generator, delta)
    return Tuning(delta=delta, generator=tuned, psnr_before=before,
                  psnr_after=_pivot_psnr(tuned, pivots, targets),
                  seconds=time.perf_counter() - t0)


def locality_latents(generator: Generator, pivot: Pivot, n: int,
                     draw: torch.Generator) -> torch.Tensor:
    """[n, *S]: points on the lines from the pivot to random faces (uniformly along them, as
    PTI's regulariser samples around the pivot), the last one a random face itself."""
    z = torch.randn(n, generator.z_dim, generator=draw).to(generator.device)
    with torch.no_grad():
        far = generator.to_space(z, pivot.space)
    t = torch.rand(n, generator=draw).to(generator.device)
    t[-1] = 1.0
    t = t.view(-1, *([1] * (far.ndim - 1)))
    base = pivot.latent[None].to(generator.device)
    return base + t * (far - base)


def _locality_pool(base: Generator, pivot: Pivot, settings: TuneSettings,
                   draw: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(latents [P, *S], the untuned generator's images of them [P, 3, R, R])."""
    near = locality_latents(base, pivot, settings.locality_pool, draw)
    with torch.no_grad():
        images = torch.cat([base.synthesize(near[i:i + 32], pivot.space)
                            for i in range(0, len(near), 32)])
    return near, images


def _locality_loss(work: Generator, pivots: list[Pivot], pools, settings: TuneSettings,
                   draw: torch.Generator) -> torch.Tensor:
    total = 0.0
    per = max(1, settings.locality_batch // len(pivots))
    for p, (near, keep) in zip(pivots, pools):
        idx = torch.randint(len(near), (per,), generator=draw)
        total = total + _mse(work.synthesize(near[idx], p.space), keep[idx])
    return total / len(pivots)


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().mean()


def _pivot_psnr(generator: Generator, pivots: list[Pivot], targets) -> list[float]:
    with torch.no_grad():
        return [float(psnr(generator.synthesize(p.latent[None].to(generator.device), p.space),
                           t)[0]) for p, t in zip(pivots, targets)]
