"""Maps from a FaceNet embedding (512-d, unit length) back to a latent.

- direct: the seed post's way. The embedding itself becomes the latent, rescaled to the
  prior's typical norm sqrt(d); for latents of another size it first goes through a fixed,
  seeded orthonormal projection.
- regression: a linear map from embeddings to latents fitted by least squares on generated
  samples (cached), so the next face resembles the last one.
Either can be blended with the previous latent (``mix``) for slower drift.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from latentreel.cache import atomic_write, cache_dir

MAPS = ("direct", "regression", "mix")
EMBED_DIM = 512


def projection(d: int, seed: int) -> torch.Tensor:
    """A fixed [512, d] matrix with orthonormal columns (identity when d == 512)."""
    if d == EMBED_DIM:
        return torch.eye(EMBED_DIM)
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(EMBED_DIM, max(d, 1), generator=g, dtype=torch.float64))
    return q[:, :d].float()


def direct_map(emb: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """[N, 512] -> [N, d] at norm sqrt(d), the typical norm of a N(0, I) latent."""
    z = emb @ proj.to(emb.device)
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12) * proj.shape[1] ** 0.5


def fit_regression(generator, facenet, samples: int = 2000, seed: int = 0,
                   batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares z ~ emb @ W + b over ``samples`` generated faces.

    Returns:
        (W [512, d], b [d]) on the CPU, cached under a fingerprint of what the generator
        and FaceNet compute, so new weights or preprocessing never reuse a stale fit.
    """
    z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        probe = facenet.embed(generator.synthesize(z[:1].to(generator.device))).cpu()
    key = hashlib.sha256(probe.numpy().round(4).tobytes()).hexdigest()[:16]
    path = cache_dir("feedback") / f"regression-{generator.name}-{key}-{samples}-{seed}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            return torch.from_numpy(f["w"]), torch.from_numpy(f["b"])
    embs = []
    with torch.no_grad():
        for s in range(0, samples, batch):
            faces = generator.synthesize(z[s:s + batch].to(generator.device))
            embs.append(facenet.embed(faces).cpu())
    e = torch.cat(embs).double()
    x = torch.cat([e, torch.ones(len(e), 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(x, z.double(), driver="gelsd").solution  # [513, d]
    w, b = sol[:-1].float(), sol[-1].float()
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, w=w.numpy(), b=b.numpy())
    return w, b


def regression_map(emb: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return emb @ w.to(emb.device) + b.to(emb.device)
