"""Latent optimisation: find latents whose images match targets.

Restarts of every target run as ONE batch on the device ([B * R, *S] latents) and the best
restart per target is kept. Adam (warm-up + cosine decay, optional clipping to the prior) is
the default; L-BFGS can polish Adam's result or run alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from latentreel.invert.clipping import clip_latents
from latentreel.invert.objective import LossWeights, Objective, psnr
from latentreel.invert.schedule import w_noise_scale, warmup_cosine
from latentreel.models.base import Generator


@dataclass(frozen=True)
class OptimizeSettings:
    steps: int = 400  # Adam steps
    lr: float = 0.05  # peak learning rate
    restarts: int = 4  # random starts per target, optimised together
    clipping: str = "stochastic"  # none | standard | stochastic (z space only)
    clip_bound: float = 3.0  # |z_i| beyond this is out of the prior's range
    polish_steps: int = 0  # L-BFGS iterations after Adam (0: none)
    init_noise: float = 1.0  # std of the random starts around the initial guess
    seed: int = 0  # restarts are drawn from this seed on the CPU
    weights: LossWeights = field(default_factory=LossWeights)
    noise_regularize: float = 1e5  # weight of the fitted noise maps' autocorrelation penalty
    w_noise: float = 0.0  # W/W+ only: initial noise on the latent, in units of w_std, ramped
    lr_hold: float = 0.0  # the lr stays at its peak until this fraction, then decays


@dataclass
class Inversion:
    latents: torch.Tensor  # [B, *S] best restart per target
    loss: torch.Tensor  # [B] final objective
    psnr: torch.Tensor  # [B] dB against the target
    history: list[float] = field(default_factory=list)  # mean best loss per step


def initial_latents(generator: Generator, n: int, space: str, settings: OptimizeSettings,
                    init: torch.Tensor | None) -> torch.Tensor:
    """Starting points [n, *S]: random draws from the prior (z), or around the mean latent
    (w, w+, as NVIDIA's projector), or around ``init`` (e.g. an encoder's guess)."""
    shape = generator.latent_shape(space)
    g = torch.Generator().manual_seed(settings.seed)
    noise = torch.randn((n, *shape), generator=g).to(generator.device)
    if init is not None:
        base = init.to(generator.device)
        noise[:: max(1, n // len(base))] = 0  # keep one exact copy of each guess
        return base + settings.init_noise * 0.1 * noise
    if space == "z":
        return noise * settings.init_noise
    return generator.mean_latent(space)[None] + 0.05 * noise


def optimize_latents(
    generator: Generator,
    target: torch.Tensor,
    settings: OptimizeSettings = OptimizeSettings(),
    *,
    space: str = "z",
    init: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    facenet=None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    progress: bool = False,
    noise_maps: dict[str, torch.Tensor] | None = None,
    lpips_model=None,
) -> Inversion:
    """Invert ``target`` [B, 3, H, W] in [-1, 1] into latents [B, *S].

    Args:
        init: optional guesses [B, *S]; restarts start around them.
        mask: optional [B, 1, H, W] in [0, 1]; only masked pixels count.
        callback: called as ``callback(step, best_latents [B, *S])`` every step.
        noise_maps: StyleGAN noise buffers to fit in place alongside the latents (shared by
            every sample, so use one target and one restart), kept white by a penalty.
    """
    b, r = target.shape[0], settings.restarts
    dev = generator.device
    target = target.to(dev)
    # 1. One objective over all restarts: target i is repeated for its r restarts.
    rep = lambda t: t.repeat_interleave(r, 0) if t is not None else None  # noqa: E731
    objective = Objective(rep(target), settings.weights, mask=rep(mask), facenet=facenet,
                          space=space, lpips_model=lpips_model)
    x = initial_latents(generator, b * r, space, settings,
                        None if init is None else init.repeat_interleave(r, 0)
                        if init.shape[0] == b else init)
    x = x.detach().requires_grad_(True)
    history: list[float] = []
    # 2. Adam with warm-up and cosine decay, clipping to the prior after each step.
    noises = list((noise_maps or {}).values())
    for n in noises:
        n.requires_grad_(True)
    opt = torch.optim.Adam([x, *noises], lr=settings.lr, betas=(0.9, 0.999))
    clip_gen = torch.Generator().manual_seed(settings.seed + 1)
    w_std = w_spread(generator) if settings.w_noise > 0 and space != "z" else 0.0
    ramp_gen = torch.Generator().manual_seed(settings.seed + 2)
    bar = tqdm(range(settings.steps), desc="inverting", unit="step", disable=not progress,
               dynamic_ncols=True)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = warmup_cosine(step, settings.steps, settings.lr, hold=settings.lr_hold)
        scale = w_noise_scale(step, settings.steps, w_std, settings.w_noise) if w_std else 0.0
        x_in = x
        if scale > 0:  # drawn on the CPU: the same run on every device
            x_in = x + scale * torch.randn(x.shape, generator=ramp_gen).to(x.device)
        loss = objective(generator.synthesize(x_in, space), x)
        opt.zero_grad(set_to_none=True)
        total = loss.sum()
        if noises:
            total = total + settings.noise_regularize * noise_penalty(noises)
        total.backward()
        opt.step()
        _renormalise(noises)
        if space == "z":
            clip_latents(x.data, settings.clipping, settings.clip_bound, clip_gen)
        best = loss.detach().view(b, r).min(1).values
        history.append(float(best.mean()))
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{history[-1]:.4g}")
        if callback is not None:
            callback(step, _best(x.detach(), loss.detach(), b, r))
    for n in noises:
        n.requires_grad_(False)
    # 3. Optional L-BFGS polish (no clipping: it must stay a smooth problem).
    if settings.polish_steps > 0:
        lbfgs_polish(generator, objective, x, space, settings.polish_steps, progress=progress)
    # 4. Keep the best restart of each target.
    with torch.no_grad():
        images = generator.synthesize(x, space)
        final = objective(images, x)
        best_idx = final.view(b, r).argmin(1) + torch.arange(b, device=dev) * r
        return Inversion(latents=x.detach()[best_idx], loss=final[best_idx],
                         psnr=psnr(images[best_idx], target), history=history)


def w_spread(generator: Generator, samples: int = 4096) -> float:
    """w_std: the root mean squared distance of mapped w from w_avg (NVIDIA's projector's
    scale for its latent noise), from seeded samples."""
    z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        w = generator.to_space(z.to(generator.device), "w")
    return float((w - generator.mean_latent("w")).square().sum(1).mean().sqrt())


def noise_penalty(noises: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation of each noise map at one-pixel shifts, over a pyramid of
    scales: fitted noise may not smuggle image structure in (NVIDIA's projector does this)."""
    total = noises[0].new_zeros(())
    for n in noises:
        m = n[None, None]
        while True:
            total = (total + (m * m.roll(1, -1)).mean().square()
                     + (m * m.roll(1, -2)).mean().square())
            if m.shape[-1] <= 8:
                break
            m = torch.nn.functional.avg_pool2d(m, 2)
    return total


@torch.no_grad()
def _renormalise(noises: list[torch.Tensor]) -> None:
    for n in noises:
        n.sub_(n.mean()).div_(n.std().clamp_min(1e-8))


def _best(x: torch.Tensor, loss: torch.Tensor, b: int, r: int) -> torch.Tensor:
    idx = loss.view(b, r).argmin(1) + torch.arange(b, device=x.device) * r
    return x[idx]


def lbfgs_polish(generator: Generator, objective: Objective, x: torch.Tensor, space: str,
                 iterations: int, *, progress: bool = False) -> None:
    """Refine ``x`` in place with L-BFGS and a strong-Wolfe line search.

    The restarts are independent problems; summing them lets one L-BFGS run treat them
    jointly, which works because their Hessian is block diagonal. ``progress`` shows a bar
    of its loss evaluations (at most 1.25 per iteration, LBFGS's default budget): the
    polish can take most of a minute on a CPU."""
    max_eval = iterations * 5 // 4
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=iterations, max_eval=max_eval,
                            history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-15)
    bar = tqdm(total=max_eval, desc="polishing (L-BFGS)", unit="eval", disable=not progress,
               dynamic_ncols=True, leave=False)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = objective(generator.synthesize(x, space), x).sum()
        loss.backward()
        bar.update(1)
        return loss

    with bar:
        opt.step(closure)
