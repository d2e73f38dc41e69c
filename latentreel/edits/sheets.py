"""Exploration sheets (seed 003): psi rows, direction rows, planes, the mean and axis latents.

Each sheet is one batched generator call: the latents are laid out first, then synthesized
together, then labelled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.errors import BadInputError
from latentreel.models.base import refuse_conditional, style_space, truncate
from latentreel.models.base import seed_latents, synthesize_uint8


def psi_space(g) -> str:
    """Truncation happens in w where there is one (StyleGAN's w_avg), else in z."""
    return style_space(g)


def psi_grid(g, seeds: list[int], psis: list[float]) -> tuple[torch.Tensor, list[str], list[str]]:
    """Rows of seeds, columns of truncation psi (1: the face, 0: average, -1: anti-face);
    latents in ``psi_space(g)``."""
    refuse_conditional(g, "a contact sheet")
    space = psi_space(g)
    with torch.no_grad():
        base = g.to_space(seed_latents(g, seeds).to(g.device), space)
    mean = g.mean_latent(space)
    rows = [truncate(base[i], mean, p, space) for i in range(len(seeds)) for p in psis]
    labels = [f"psi {p:g}" for _ in seeds for p in psis]
    return torch.stack(rows), labels, [f"seed {s}" for s in seeds]


def direction_grid(g, seeds: list[int], vector: torch.Tensor, amounts: list[float], name: str,
                   space: str = "z"):
    """Rows of seeds moved by ``amounts`` x ``vector`` (an offset for ``space`` latents)."""
    refuse_conditional(g, "a contact sheet")
    with torch.no_grad():
        base = g.to_space(seed_latents(g, seeds).to(g.device), space)
    rows = [base[i] + a * vector for i in range(len(seeds)) for a in amounts]
    labels = [f"{name} {a:+g}" for _ in seeds for a in amounts]
    return torch.stack(rows), labels, [f"seed {s}" for s in seeds]


PLANE_COORDS = (-0.5, 0.0, 0.5, 1.0, 1.5)  # includes 0 and 1: the three seeds appear as cells


def plane_grid(g, seeds: list[int], coords=PLANE_COORDS):
    """A grid on the plane through three seeds (seed 003's glasses map): the first is the
    origin, the other two end the axes, so cell (u, v) is o + u (a - o) + v (b - o)."""
    refuse_conditional(g, "a contact sheet")
    o, a, b = seed_latents(g, seeds[:3]).to(g.device)
    rows = [o + u * (a - o) + v * (b - o) for v in coords for u in coords]
    named = {(0.0, 0.0): seeds[0], (1.0, 0.0): seeds[1], (0.0, 1.0): seeds[2]}
    labels = [f"seed {named[(u, v)]}" if (u, v) in named else f"({u:g}, {v:g})"
              for v in coords for u in coords]
    return torch.stack(rows), labels, None


def axis_grid(g, axes: list[int], magnitude: float | None = None):
    """The mean latent, then one-hot latents along single axes (seed 003's experiment).

    The default magnitude sqrt(z_dim) is the typical length of a z, so axis faces are as far
    from the mean as sampled faces are (a length of 1 would stay close to the average face).
    """
    refuse_conditional(g, "a contact sheet")
    bad = [a for a in axes if not 0 <= a < g.z_dim]
    if bad:
        raise BadInputError(f"--axes: {g.name} has axes 0-{g.z_dim - 1}, not {bad[0]}")
    mag = magnitude if magnitude is not None else float(np.sqrt(g.z_dim))
    rows = [g.mean_latent("z")]
    for ax in axes:
        e = torch.zeros(g.z_dim, device=g.device)
        e[ax] = mag
        rows.append(e)
    return torch.stack(rows), ["mean"] + [f"axis {a}" for a in axes], None


# A bend sweep's default amounts of each op's first number (none to a lot).
BEND_SWEEPS = {"translate": (0, 0.1, 0.2, 0.3, 0.4, 0.5), "rotate": (0, 30, 60, 90, 135, 180),
               "zoom": (1, 1.25, 1.5, 2, 2.5, 3), "scale": (1, 1.5, 2, 3, 4, 6),
               "drop": (0, 0.1, 0.25, 0.5, 0.75, 0.9)}


def bend_grid(g, seeds: list[int], slot, amounts: list[float]):
    """A row per seed, a column per amount of ``slot``'s first number (its others neutral):
    (z latents, bend rows [N, D], labels, row labels)."""
    from latentreel.models.base import seed_latents

    z = seed_latents(g, seeds).to(g.device).repeat_interleave(len(amounts), 0)
    rows = torch.tensor([[a, *slot.neutral[1:]] for a in amounts] * len(seeds))
    field = slot.fields[0]
    labels = [f"{field} {a:g}" for _ in seeds for a in amounts]
    return z, rows, labels, [f"seed {s}" for s in seeds]


def write_sheet(g, latents: torch.Tensor, labels, row_labels, out: Path, *, title: str,
                cols: int, cell: int = 96, space: str = "z", bend=None,
                bends: torch.Tensor | None = None) -> Path:
    """``bend``: a BendSlot drawn with ``bends`` [N, D] rows (one per picture)."""
    from latentreel.video.sheet import contact_sheet, save_png

    if bend is None:
        images = synthesize_uint8(g, latents, space)  # one batched call for the whole sheet
    else:
        from latentreel.models.bend import Bender

        bender = Bender(g.bend_layers(), (bend,))
        try:
            with bender.bending(bends):
                images = synthesize_uint8(g, latents, space)
        finally:
            bender.remove()
    return save_png(contact_sheet(images, labels, cols=cols, cell=cell, title=title,
                                  row_labels=row_labels), out)
