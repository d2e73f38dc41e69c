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
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from latentreel.invert.curvature import Curvature
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
    # The regulariser runs on every k-th step only, weighted k times (the same pull on
    # average): the steps between draw the pivot alone, a fifth of a full step's work.
    locality_every: int = 1
    # StyleGAN: synthesis blocks below this resolution keep their weights (0: all tuned).
    # No delta there means no backward pass below the lowest tuned block.
    tune_from: int = 0
    precision: str = "fp32"  # "bf16": steps under bfloat16 autocast (CPUs with AMX, GPUs)
    # Weight of the curvature penalty (invert/curvature.py; 0: none): how each weight's
    # change moves random faces' pixels, measured once and charged to the deltas every step,
    # with no locality images drawn. The two regularisers add up where both are on; the
    # recipe from 256 px up (below) sets ``locality`` to 0: the penalty alone.
    curvature: float = 0.0

    def __post_init__(self) -> None:
        if self.locality_every < 1:
            raise ValueError(f"locality_every must be >= 1, got {self.locality_every}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, got {self.precision!r}")
        if self.curvature < 0 or self.locality < 0 or self.locality_batch < 0:
            raise ValueError("curvature, locality and locality_batch must be >= 0, got "
                             f"{self.curvature}, {self.locality}, {self.locality_batch}")


POOL_BYTES = 256 << 20  # the most a locality pool's images may take (per pivot)
ESTIMATE_STEPS = 4  # steps timed before the time of the whole tuning is estimated
LONG_SECONDS = 60.0  # a tuning estimated to take longer says so before it goes on
HOW_TO_SHORTEN = ("fewer steps: `latentreel invert --tune-steps N`; none: --no-tune, or "
                  "`tune: false` on a scene's photo keyframe")


# The recipe from 256 px up (README, "Pivotal tuning in minutes"), measured against today's
# settings on random StyleGAN2s at 256 px: locality as a curvature penalty instead of
# locality images (a step draws the photo alone), fewer steps at twice the lr, bf16 where the
# CPU computes it fast. The penalty has none of the images' sampling noise, so it takes a
# larger lr without losing locality; weight and lr rose together (200 at 4e-3 kept one
# pivot's random faces 5 dB worse than today's; 1,000 at 4e-3 cost its photo 2 dB).
RECIPE = dict(steps=180, lr=8e-3, curvature=1000.0, locality=0.0)


def default_settings(generator: Generator) -> TuneSettings:
    """The settings a photo is tuned with on ``generator`` and its device (chosen once, at the
    entry point): the recipe from 256 px up on CPUs and mps; today's for networks up to 128 px
    (the DCGAN tunes in seconds), for StyleGAN3 (the penalty would see its rescaled
    convolution weights only through their diagonal: not measured) and on CUDA (where a
    pickle's fp16 layers rescale their weights likewise, and no GPU has measured the recipe
    yet: tools/bench_tune_gpu.sh)."""
    if generator.resolution <= 128 or not generator.raw_conv_weights \
            or generator.device.type == "cuda":
        return TuneSettings()
    return recipe_settings(bf16=_has_bf16(generator.device))


def recipe_settings(*, bf16: bool) -> TuneSettings:
    """The curvature recipe, in bf16 when ``bf16``."""
    return TuneSettings(**RECIPE, precision="bf16" if bf16 else "fp32")


def _has_bf16(device: torch.device) -> bool:
    """bfloat16 that is faster than float32: CPUs with AVX-512 BF16 or AMX, CUDA GPUs that
    have it (Ampere and later); not Apple's mps."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check and check())


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
    step_seconds: list[float] = field(default_factory=list)  # each step's wall time


def tune_generator(generator: Generator, pivots: list[Pivot],
                   settings: TuneSettings = TuneSettings(), *, progress: bool = False,
                   log: Callable[[str], None] | None = None) -> Tuning:
    """Tune a copy of ``generator`` so each pivot redraws its target; the base is unchanged.

    A tuning estimated (from its first steps) to take over LONG_SECONDS says how long, and
    how to shorten or skip it, in one line to ``log`` (default: stderr when ``progress``).
    """
    refuse_conditional(generator, "pivotal tuning")
    t0 = time.perf_counter()
    # 1. A copy of the generator with a zero delta on every tuned weight.
    fingerprint = weights_fingerprint(generator)
    work = copy.deepcopy(generator)
    factors = attach(work.tunable_module(), settings.rank, settings.seed,
                     frozen=_frozen(settings.tune_from))
    targets = [p.target[None].to(generator.device) for p in pivots]
    before = _pivot_psnr(generator, pivots, targets)
    # 2. Adam on the factors: pivots redraw their photos, locality latents stay put.
    opt = torch.optim.Adam(factors, lr=settings.lr)
    draw = torch.Generator().manual_seed(settings.seed)
    curvature = Curvature(generator, seed=settings.seed) if settings.curvature > 0 else None
    if log is None and progress:
        log = lambda line: tqdm.write(line, file=sys.stderr)  # noqa: E731
    if curvature is not None and curvature.unseen and log is not None:
        log(f"tune: {len(curvature.unseen)} convolution weights of {generator.name} are seen "
            "only through their diagonal (it draws in reduced precision or rescales its "
            "weights); locality may suffer: load the model in fp32 to tune it")
    regions = [_Locality(generator, p, settings, draw) for p in pivots] \
        if _images(settings) else []
    seconds = []
    for step in tqdm(range(settings.steps), desc="tuning", unit="step", disable=not progress,
                     dynamic_ncols=True):
        s0 = time.perf_counter()
        _step(work, pivots, targets, regions, curvature, opt, settings, step)
        seconds.append(time.perf_counter() - s0)
        if log is not None and step + 1 == _estimate_after(settings):
            line = estimate_line(generator, settings, seconds, time.perf_counter() - t0)
            if line:
                log(line)
    # 3. Read the delta off the copy; the tuned generator is the base plus that delta.
    delta = detach(work.tunable_module(), fingerprint)
    tuned = apply_delta(generator, delta)
    return Tuning(delta=delta, generator=tuned, psnr_before=before,
                  psnr_after=_pivot_psnr(tuned, pivots, targets),
                  seconds=time.perf_counter() - t0, step_seconds=seconds)


def _images(settings: TuneSettings) -> bool:
    return settings.locality > 0 and settings.locality_batch > 0


def _step(work: Generator, pivots: list[Pivot], targets: list[torch.Tensor],
          regions: list[_Locality], curvature: Curvature | None,
          opt: torch.optim.Optimizer, settings: TuneSettings, step: int) -> None:
    """One Adam step on every pivot (and, on regulariser steps, its locality latents), plus
    the curvature penalty when there is one."""
    for group in opt.param_groups:
        group["lr"] = warmup_cosine(step, settings.steps, settings.lr)
    local = _images(settings) and step % settings.locality_every == 0
    loss = 0.0
    with _autocast(work, settings):
        for i, (p, t) in enumerate(zip(pivots, targets)):
            pivot = p.latent[None].to(work.device)
            if not local:
                loss = loss + _mse(work.synthesize(pivot, p.space), t)
                continue
            # One batch for the pivot and its locality latents (each pivot keeps its own
            # surroundings): a single forward pass is cheaper than two on a CPU.
            near, keep = regions[i].sample()
            drawn = work.synthesize(torch.cat([pivot, near]), p.space)
            weight = settings.locality * settings.locality_every
            loss = loss + _mse(drawn[:1], t) + weight * _mse(drawn[1:], keep)
    if curvature is not None:
        # In float32, outside autocast: the form is a sum of many small squares. Weighted
        # per pivot, as the image regulariser is.
        loss = loss + settings.curvature * len(pivots) * curvature.penalty(work.tunable_module())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _estimate_after(settings: TuneSettings) -> int:
    """Steps to time: a whole cycle of the regulariser, and at least ESTIMATE_STEPS."""
    k = settings.locality_every
    return min(settings.steps, k * -(-ESTIMATE_STEPS // k))


def estimate_line(generator: Generator, settings: TuneSettings, seconds: list[float],
                  elapsed: float) -> str | None:
    """The one line a long tuning prints up front (None when it will be short)."""
    per = sum(seconds) / len(seconds)
    total = elapsed + per * (settings.steps - len(seconds))
    if total < LONG_SECONDS:
        return None
    return (f"tune: about {_duration(total)} for {settings.steps} steps ({per:.1f} s a step, "
            f"{generator.resolution} px on {generator.device.type}); {HOW_TO_SHORTEN}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _frozen(tune_from: int) -> Callable[[str], bool] | None:
    """Which synthesis weights stay as they are: StyleGAN's blocks are named b{resolution};
    other networks (the DCGAN) have no such names and are tuned whole."""
    if tune_from <= 0:
        return None

    def frozen(name: str) -> bool:
        m = re.match(r"b(\d+)\.", name)
        return m is not None and int(m.group(1)) < tune_from

    return frozen


def _autocast(generator: Generator, settings: TuneSettings):
    return torch.autocast(generator.device.type, dtype=torch.bfloat16,
                          enabled=settings.precision == "bf16")


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
        # Under the step's autocast (bf16): the tuned images they are compared with carry
        # the same rounding, so it cancels instead of being fitted.
        with torch.no_grad(), _autocast(self.base, self.settings):
            return torch.cat([self.base.synthesize(near[i:i + 32], self.pivot.space)
                              for i in range(0, len(near), 32)])


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.float() - b.float()).square().mean()


def _pivot_psnr(generator: Generator, pivots: list[Pivot], targets) -> list[float]:
    with torch.no_grad():
        return [float(psnr(generator.synthesize(p.latent[None].to(generator.device), p.space),
                           t)[0]) for p, t in zip(pivots, targets)]
