"""The feedback chain z_{k+1} = map(FaceNet(G(z_k))), with fixed points and cycles found.

The maps produce z (the prior every generator shares); on StyleGAN models a chain may run in
w or w+ too: each mapped z goes through the mapping network and mixing happens there.

Generated faces need no detection or warping: the alignment template IS the generator's
own mean landmark layout, so G(z) is already aligned and only resized to FaceNet's 160 px.
`latentreel bench feedback` measures both sides of that choice: what MTCNN and warping would
cost per step, and how little they change the embedding of a generated face.

Faces are numbered 0 (the ``from`` keyframe) to M (the chain's last keyframe); every face is
generated and embedded once, so the last step is measured like the others. Distances are
FaceNet's 1 - cosine, as everywhere in latentreel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from latentreel.feedback.maps import (
    EMBED_DIM,
    direct_map,
    fit_regression,
    projection,
    regression_map,
)

LEAVE = 2.0  # a cycle must first move LEAVE x threshold away: slow drift is not a return


@dataclass(frozen=True)
class FeedbackSettings:
    steps: int = 200  # keyframes to generate after the start
    map: str = "direct"  # direct | regression | mix
    mix: float = 0.0  # weight of the previous latent (map "mix" defaults to 0.5)
    until: str | None = None  # "fixed-point": end the chain on the first fixed point
    threshold: float = 0.02  # FaceNet distance below which two faces count as the same
    seed: int = 0  # the direct map's projection


@dataclass
class FeedbackReport:
    latents: torch.Tensor  # [M, *S] faces 1..M (face 0, the start, is the `from` keyframe)
    # face k-1 -> face k for every step run (one more than M when `until` ends the chain)
    step_distances: list[float] = field(default_factory=list)
    fixed_point: int | None = None  # first face k that the map sends onto itself
    cycle: tuple[int, int] | None = None  # first (j, k): face k returns to face j after leaving
    seconds: dict[str, float] = field(default_factory=dict)  # generate / embed / map, in all


class _Faces:
    """Generates and embeds faces one at a time, timing each part."""

    def __init__(self, generator, facenet, space: str = "z"):
        self.generator, self.facenet, self.space = generator, facenet, space
        self.seconds = {"generate": 0.0, "embed": 0.0, "map": 0.0}

    def embed(self, latent: torch.Tensor) -> torch.Tensor:
        """[1, *S] latent -> [1, 512] unit embedding of its face."""
        t0 = time.perf_counter()
        with torch.no_grad():
            img = self.generator.synthesize(latent, self.space)
            t1 = time.perf_counter()
            emb = self.facenet.embed(img)
        self.seconds["generate"] += t1 - t0
        self.seconds["embed"] += time.perf_counter() - t1
        return emb


def latent_map(generator, facenet, settings: FeedbackSettings):
    """The settings' map from an embedding [N, 512] to latents [N, d], before mixing."""
    if settings.map == "regression":
        w, b = fit_regression(generator, facenet)
        return lambda e: regression_map(e, w, b)
    proj = projection(generator.z_dim, settings.seed)
    return lambda e: direct_map(e, proj)


def run_chain(generator, facenet, start: torch.Tensor, settings: FeedbackSettings, *,
              progress: bool = False, space: str = "z") -> FeedbackReport:
    """Iterate the map ``settings.steps`` times from ``start`` [*S], a ``space`` latent.

    Returns:
        faces 1..M as latents on the generator's device (M = steps, or fewer when ``until``
        ends the chain on a fixed point), with every step's distance, the first fixed point
        and cycle (if any) and the time spent generating, embedding and mapping.
    """
    mix = settings.mix if settings.mix > 0 else (0.5 if settings.map == "mix" else 0.0)
    to_z = latent_map(generator, facenet, settings)

    def to_latent(emb: torch.Tensor) -> torch.Tensor:
        return generator.to_space(to_z(emb), space)

    faces = _Faces(generator, facenet, space)
    z = start.reshape(1, *generator.latent_shape(space)).to(generator.device)
    embs = torch.empty(settings.steps + 1, EMBED_DIM)  # faces 0..M, filled as they come (CPU)
    embs[0] = faces.embed(z)[0].cpu()
    chain: list[torch.Tensor] = []
    report = FeedbackReport(latents=torch.empty(0))
    with torch.no_grad():
        for k in tqdm(range(1, settings.steps + 1), desc="feedback", disable=not progress,
                      unit="step"):
            t0 = time.perf_counter()
            target = to_latent(embs[k - 1:k].to(z.device))  # where the map sends face k-1
            z = (1 - mix) * target + mix * z
            faces.seconds["map"] += time.perf_counter() - t0
            embs[k] = faces.embed(z)[0].cpu()
            chain.append(z[0].clone())
            dist = 1 - embs[:k] @ embs[k]  # [k]: face k to faces 0..k-1
            report.step_distances.append(float(dist[-1]))
            if report.fixed_point is None and float(dist[-1]) < settings.threshold:
                # Mixing shortens every step: confirm with the face the map itself gives.
                exact = dist[-1] if mix == 0 else 1 - faces.embed(target)[0].cpu() @ embs[k - 1]
                if float(exact) < settings.threshold:
                    report.fixed_point = k - 1
            if report.cycle is None:
                report.cycle = _find_return(embs, dist, k, settings.threshold)
            if settings.until == "fixed-point" and report.fixed_point is not None:
                chain = chain[:max(report.fixed_point, 1)]  # end on the fixed point
                break
    report.latents = torch.stack(chain)
    report.seconds = faces.seconds
    return report


def _find_return(embs: torch.Tensor, dist: torch.Tensor, k: int,
                 threshold: float) -> tuple[int, int] | None:
    """(j, k) for the first earlier face j < k-1 that face k is within ``threshold`` of,
    provided the chain went at least LEAVE x threshold away from face j in between.

    Args:
        embs: [>k, 512] embeddings of faces 0.. (rows 0..k filled).
        dist: [k] distances from face k to faces 0..k-1.
    """
    for j in (dist[:-1] < threshold).nonzero().flatten().tolist():
        if float((1 - embs[j + 1:k] @ embs[j]).max()) >= LEAVE * threshold:
            return j, k
    return None
