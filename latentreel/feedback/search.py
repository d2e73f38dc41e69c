"""Identity search (seed 003): a gradient-free hunt for a face like a target photo.

The search runs over a seeded, low-dimensional subspace of z (``dims`` orthonormal
directions, coefficients in [-3, 3]), scoring each candidate by FaceNet distance to the
aligned target. SciPy's dual annealing explores, with Nelder-Mead as its local search (as
in the seed: gradient-free, where L-BFGS-B would spend dims + 1 faces on every numerical
gradient); ``random`` is plain seeded random search as a baseline. It stops at a similarity
of ``until`` or after ``seconds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

METHODS = ("dual-annealing", "random")


@dataclass
class SearchResult:
    latent: torch.Tensor  # [z_dim]
    distance: float  # FaceNet distance (1 - cosine) to the target
    evaluations: int
    seconds: float
    trace: list[float]  # the best distance so far after each evaluation


class _Stop(Exception):
    """Raised from the objective to end the search (target reached or time up)."""


def search_basis(z_dim: int, dims: int, seed: int) -> torch.Tensor:
    """The searched subspace: [z_dim, dims] orthonormal columns, fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(z_dim, dims, generator=g))[0]


def search_identity(generator, facenet, target_embedding: torch.Tensor, *, dims: int = 8,
                    method: str = "dual-annealing", until: float = 0.9, seconds: float = 60.0,
                    seed: int = 0, progress: bool = True,
                    max_evaluations: int | None = None) -> SearchResult:
    """Search for a z whose face has cosine similarity >= ``until`` to the target.

    Args:
        target_embedding: [1, 512] FaceNet embedding of the (aligned) target face.
        dims: size of the seeded orthonormal subspace of z searched (coefficients in [-3, 3]).
        seconds, max_evaluations: stop after this long, or after this many faces.

    Returns:
        the best latent [z_dim] found, its distance (1 - cosine), faces tried and the time.
    """
    basis = search_basis(generator.z_dim, dims, seed).to(generator.device)
    best = {"d": float("inf"), "c": np.zeros(dims), "n": 0}
    trace: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(desc="searching", unit=" faces", disable=not progress, dynamic_ncols=True)

    def score(c: np.ndarray) -> float:
        z = basis @ torch.from_numpy(c).float().to(generator.device)
        with torch.no_grad():
            emb = facenet.embed(generator.synthesize(z[None]))
        d = float(1 - (emb * target_embedding).sum())
        best["n"] += 1
        bar.update(1)
        if d < best["d"]:
            best.update(d=d, c=c.copy())
            bar.set_postfix(similarity=f"{1 - d:.3f}")
        trace.append(best["d"])
        out_of_budget = max_evaluations is not None and best["n"] >= max_evaluations
        if 1 - best["d"] >= until or out_of_budget or time.perf_counter() - t0 > seconds:
            raise _Stop
        return d

    try:
        if method == "dual-annealing":
            from scipy.optimize import dual_annealing

            dual_annealing(score, [(-3.0, 3.0)] * dims, seed=seed, maxfun=10**7,
                           minimizer_kwargs={"method": "Nelder-Mead"})
        else:
            rng = np.random.default_rng(seed)
            while True:
                score(rng.uniform(-3, 3, dims))
    except _Stop:
        bar.set_description_str("search stopped")  # set_description adds a second ": "
    finally:
        bar.close()
    z = basis @ torch.from_numpy(best["c"]).float().to(generator.device)
    return SearchResult(z, best["d"], best["n"], time.perf_counter() - t0, trace)
