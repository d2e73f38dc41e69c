"""A real average face for models without a W space (the DCGAN).

The origin of a Gaussian z is nowhere near where its samples live (|z| is about sqrt(d)), so
G(0) is a texture the generator never learned to draw. The average face here is instead the
mean of the faces nearest the centre of the face distribution in FaceNet embedding space,
put back on the sphere where samples live: a plausible face that most faces are further from.

``find_average_latent`` is deterministic (seeded faces, CPU draws); its result for the
embedded DCGAN ships in ``latentreel/models/dcgan_average.py`` (regenerate with
``python -m latentreel.edits.average``), and ``latentreel bench tune`` recomputes and checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latentreel.models.base import Generator, seed_latent

FIRST_SEED = 100_000  # the faces that define the average; benches measure on seeds 0...


@dataclass
class AverageFace:
    latent: torch.Tensor  # [z_dim] on the sphere of radius sqrt(z_dim)
    centrality: float  # share of the defining faces further from the mean embedding


def face_embeddings(g: Generator, facenet, z: torch.Tensor, batch: int = 100) -> torch.Tensor:
    """FaceNet embeddings [N, 512] of G(z) for z [N, z_dim], batched."""
    with torch.no_grad():
        return torch.cat([facenet.embed(g.synthesize(z[i:i + batch].to(g.device)))
                          for i in range(0, len(z), batch)])


def seeded_latents(z_dim: int, n: int, first: int = FIRST_SEED) -> torch.Tensor:
    return torch.from_numpy(np.stack([seed_latent(first + i, z_dim) for i in range(n)]))


def find_average_latent(g: Generator, facenet, *, n: int = 1000, k: int = 32) -> AverageFace:
    """The mean of the ``k`` of ``n`` seeded faces closest to their mean FaceNet embedding,
    rescaled to the radius where Gaussian samples live."""
    z = seeded_latents(g.z_dim, n)
    emb = face_embeddings(g, facenet, z)
    dist = (emb - emb.mean(0)).norm(dim=1)
    mean = z[torch.argsort(dist)[:k]].mean(0)
    mean = mean / mean.norm() * g.z_dim ** 0.5
    own = (face_embeddings(g, facenet, mean[None]) - emb.mean(0)).norm(dim=1)
    return AverageFace(latent=mean, centrality=float((dist > own).float().mean()))


def _write_dcgan_average() -> None:
    """Recompute the embedded DCGAN's average latent and rewrite the shipped module."""
    from pathlib import Path

    from latentreel.faces.facenet import load_facenet
    from latentreel.models.dcgan import load_dcgan
    from latentreel.models.fingerprint import weights_fingerprint

    g = load_dcgan()
    found = find_average_latent(g, load_facenet())
    values = ",\n    ".join(", ".join(f"{v:.6f}" for v in row)
                            for row in found.latent.numpy().reshape(-1, 5))
    path = Path(__file__).resolve().parent.parent / "models" / "dcgan_average.py"
    path.write_text(
        '"""The embedded DCGAN\'s average face latent: written by '
        '`python -m latentreel.edits.average`\n(see latentreel/edits/average.py). Numbers, '
        'not code to edit."""\n\n'
        f'WEIGHTS = "{weights_fingerprint(g)}"  # models.fingerprint of the weights it is for\n'
        f"CENTRALITY = {found.centrality:.4f}  # share of the defining faces further from "
        "the centre\nAVERAGE_Z = (\n    " + values + ",\n)\n")
    print(f"wrote {path} (centrality {found.centrality:.3f})")


if __name__ == "__main__":
    _write_dcgan_average()
