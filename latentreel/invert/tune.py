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

from latentreel.invert.delta import WeightDelta, apply_delta, attach, detach
from latentreel.invert.objective import psnr
from latentreel.invert.schedule import warmup_cosine
from latentreel.models.base import Generator, refuse_conditional
from latentreel.models.fingerprint import weights_fingerprint


@dataclass(frozen=True)
class TuneSettings:
    # Defaults chosen with `latentreel bench tune` on the embedded DCGAN: PSNR >= 30 dB on the
    # aligned crop with seeds kept at >= 35 dB median; a larger lr or rank (or a smaller
    # locality weight) buys the photo a dB or two and costs the worst seeds 5-10 dB.
    steps: int = 300  # Adam steps on the weight deltas
    lr: float = 4e-3  # peak learning rate (warm-up, then cosine decay)
    rank: int = 8  # rank of each big weight's delta (the DCGAN's delta: about 4 % of its bytes)
    locality: float = 2.0  # weight of the locality regulariser (per pivot)
    locality_batch: int = 4  # latents per step and pivot that must keep their untuned images
    # Locality latents per pivot, drawn and drawn by the untuned generator once (in batches,
    # cheaper than a forward pass per step); each step samples locality_batch of them. A pool
    # whose images would not fit in POOL_BYTES is not kept: fresh latents are drawn per step.
    locality_pool: int = 1024
    # Share of the locality latents that are random faces themselves; the rest lie on the
    # lines from the pivot to random faces. Random faces are what a scene's seeds are: a pool
    # of mostly lines kept the seeds at 32-33 dB median, mostly faces at 36-37.
    random_share: float = 0.9
    seed: int = 0  # locality latents are drawn from this seed on the CPU


POOL_BYTES = 256 << 20  # the most a locality pool's images may take (per pivot)


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
    refuse_conditional(generator, "pivotal tuning")
    t0 = time.perf_counter()
    # 1. A copy of the generator with a zero delta on every tunable weight.
    fingerprint = weights_fingerprint(generator)
    work = copy.deepcopy(generator)
    factors = attach(work.tunable_module(), settings.rank, settings.seed)
    targets = [p.target[None].to(generator.device) for p in pivots]
    before = _pivot_psnr(generator, pivots, targets)
    # 2. Adam on the factors: pivots redraw their photos, locality latents stay put.
    opt = torch.optim.Adam(factors, lr=settings.lr)
    draw = torch.Generator().manual_seed(settings.seed)
    regions = [_Locality(generator, p, settings, draw) for p in pivots]
    for step in tqdm(range(settings.steps), desc="tuning", unit="step", disable=not progress,
                     dynamic_ncols=True):
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, settings.steps, settings.lr)
        loss = 0.0
        for p, t, region in zip(pivots, targets, regions):
            pivot = p.latent[None].to(work.device)
            if settings.locality <= 0:
                loss = loss + _mse(work.synthesize(pivot, p.space), t)
                continue
            # One batch for the pivot and its locality latents (each pivot keeps its own
            # surroundings): a single forward pass is cheaper than two on a CPU.
            near, keep = region.sample()
            drawn = work.synthesize(torch.cat([pivot, near]), p.space)
            loss = loss + _mse(drawn[:1], t) + settings.locality * _mse(drawn[1:], keep)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    # 3. Read the delta off the copy; the tuned generator is the base plus that delta.
    delta = detach(work.tunable_module(), fingerprint)
    tuned = apply_delta(generator, delta)
    return Tuning(delta=delta, generator=tuned, psnr_before=before,
                  psnr_after=_pivot_psnr(tuned, pivots, targets),
                  seconds=time.perf_counter() - t0)


def locality_latents(generator: Generator, pivot: Pivot, n: int, draw: torch.Generator,
                     random_share: float = 0.9) -> torch.Tensor:
    """[n, *S]: random faces (the first ``random_share`` of them) and points uniformly along
    the lines from the pivot to random faces (as PTI's regulariser samples around the pivot)."""
    z = torch.randn(n, generator.z_dim, generator=draw).to(generator.device)
    with torch.no_grad():
        far = generator.to_space(z, pivot.space)
    t = torch.rand(n, generator=draw).to(generator.device)
    t[:round(random_share * n)] = 1.0
    t = t.view(-1, *([1] * (far.ndim - 1)))
    base = pivot.latent[None].to(generator.device)
    return base + t * (far - base)


class _Locality:
    """Where a pivot's locality latents come from: a pool drawn once when its images fit in
    POOL_BYTES (the DCGAN), else fresh latents each step with the untuned images drawn then
    (StyleGAN at 1024 px: 12 MB an image)."""

    def __init__(self, base: Generator, pivot: Pivot, settings: TuneSettings,
                 draw: torch.Generator):
        self.base, self.pivot, self.settings, self.draw = base, pivot, settings, draw
        image_bytes = 3 * base.resolution ** 2 * 4
        self.pool = None
        if settings.locality_pool * image_bytes <= POOL_BYTES:
            near = self._latents(settings.locality_pool)
            self.pool = near, self._untuned(near)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents [B, *S], the untuned generator's images of them)."""
        n = self.settings.locality_batch
        if self.pool is None:
            near = self._latents(n)
            return near, self._untuned(near)
        near, keep = self.pool
        idx = torch.randint(len(near), (n,), generator=self.draw).to(near.device)
        return near[idx], keep[idx]

    def _latents(self, n: int) -> torch.Tensor:
        return locality_latents(self.base, self.pivot, n, self.draw,
                                self.settings.random_share)

    def _untuned(self, near: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self.base.synthesize(near[i:i + 32], self.pivot.space)
                              for i in range(0, len(near), 32)])


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().mean()


def _pivot_psnr(generator: Generator, pivots: list[Pivot], targets) -> list[float]:
    with torch.no_grad():
        return [float(psnr(generator.synthesize(p.latent[None].to(generator.device), p.space),
                           t)[0]) for p, t in zip(pivots, targets)]
