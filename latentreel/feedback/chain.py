"""The feedback chain z_{k+1} = map(FaceNet(G(z_k))), with fixed points and cycles found.

Generated faces need no detection or warping: the alignment template IS the generator's
own mean landmark layout, so G(z) is already aligned and only resized to FaceNet's 160 px
(measured: MTCNN would cost ~3x the rest of a step on the CPU, for nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from latentreel.feedback.maps import direct_map, fit_regression, projection, regression_map


@dataclass(frozen=True)
class FeedbackSettings:
    steps: int = 200  # keyframes to generate after the start
    map: str = "direct"  # direct | regression | mix
    mix: float = 0.0  # weight of the previous latent (map "mix" defaults to 0.5)
    until: str | None = None  # "fixed-point": stop the chain at the first fixed point
    threshold: float = 0.05  # FaceNet distance below which two faces count as the same
    seed: int = 0  # the direct map's projection


@dataclass
class FeedbackReport:
    latents: torch.Tensor  # [M, *S] the chain (the start excluded)
    step_distances: list[float] = field(default_factory=list)  # FaceNet distance k -> k+1
    fixed_point: int | None = None  # first step whose face equals the previous one
    cycle: tuple[int, int] | None = None  # (earlier step, step) that meet again
    seconds: dict[str, float] = field(default_factory=dict)  # time per part


def run_chain(generator, facenet, start: torch.Tensor, settings: FeedbackSettings, *,
              progress: bool = False) -> FeedbackReport:
    """Iterate the map from ``start`` [*S] (z space)."""
    d = generator.z_dim
    mix = settings.mix if settings.mix > 0 else (0.5 if settings.map == "mix" else 0.0)
    if settings.map == "regression":
        w, b = fit_regression(generator, facenet)
        to_latent = lambda e: regression_map(e, w, b)  # noqa: E731
    else:
        proj = projection(d, settings.seed)
        to_latent = lambda e: direct_map(e, proj)  # noqa: E731
    z = start.reshape(1, d).to(generator.device)
    times = {"generate": 0.0, "embed": 0.0, "map": 0.0}
    chain, embs, dists = [], [], []
    report = FeedbackReport(latents=torch.empty(0))
    with torch.no_grad():
        for step in tqdm(range(settings.steps), desc="feedback", disable=not progress, unit="step"):
            t0 = time.perf_counter()
            img = generator.synthesize(z)
            t1 = time.perf_counter()
            emb = facenet.embed(img)
            t2 = time.perf_counter()
            z = (1 - mix) * to_latent(emb) + mix * z
            times["generate"] += t1 - t0
            times["embed"] += t2 - t1
            times["map"] += time.perf_counter() - t2
            if embs:
                dists.append(float(1 - (emb * embs[-1]).sum()))
                _detect(report, emb, embs, step, settings.threshold)
            embs.append(emb)
            chain.append(z[0].clone())
            if settings.until == "fixed-point" and report.fixed_point is not None:
                break
    report.latents = torch.stack(chain)
    report.step_distances = dists
    report.seconds = times
    return report


def _detect(report: FeedbackReport, emb, embs, step: int, threshold: float) -> None:
    """Fixed point: this face equals the previous one. Cycle: it returns to an older one."""
    if report.fixed_point is None and float(1 - (emb * embs[-1]).sum()) < threshold:
        report.fixed_point = step
    if report.cycle is None and len(embs) >= 2:
        older = torch.cat(embs[:-1])
        d = 1 - (older @ emb.T).squeeze(1)
        hit = (d < threshold).nonzero()
        if len(hit):
            report.cycle = (int(hit[0]), step)
