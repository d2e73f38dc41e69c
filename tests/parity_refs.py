"""Comparing latentreel's images with stored reference images (tests/data/ada_parity), shared
by the parity tests of the StyleGAN2 variants.

The references are subsampled every res/32 pixels (``sub_KEY``) with the full image's std
(``std_KEY``), so a 256 px reference costs as much as a 32 px one; make_reference.py beside
them says how each was drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).parent / "data" / "ada_parity"
TOLERANCE = 1e-4  # max |difference| / std of the reference image
KEYS = ("z", "none", "w", "trunc", "wplus")


def ratio(image: torch.Tensor, ref: np.lib.npyio.NpzFile, key: str) -> float:
    """max |image - reference| / std(reference), on the reference's pixel grid."""
    step = max(1, image.shape[-1] // 32)
    sub = image[..., ::step, ::step].detach().cpu()
    expected = torch.from_numpy(ref[f"sub_{key}"])
    assert sub.shape == expected.shape, (sub.shape, expected.shape)
    return float((sub - expected).abs().max() / float(ref[f"std_{key}"]))


def images(g, ref, *, cutoff: int | None = 3, labels: bool = True) -> dict[str, torch.Tensor]:
    """Our images for the reference's z, w, truncation, W+ and noise-free z, drawn through the
    backend's public API (StyleGAN2Generator)."""
    z = torch.from_numpy(ref["z"])
    c = torch.from_numpy(ref["c"]) if labels and "c" in ref.files and ref["c"].size else None
    c0, c1 = (None, None) if c is None else (c[:1], c[1:])
    with torch.no_grad():
        w0 = g.to_space(z[:1], "w", labels=c0)
        w1 = g.to_space(z[1:], "w", labels=c1)
        wp1 = w1[:, None].expand(-1, g.num_ws, -1)
        return {
            "z": g.synthesize(w0, "w"),
            "none": g.synthesize(w0, "w", noise_mode="none"),
            "w": g.synthesize(torch.from_numpy(ref["w"]), "w"),
            "trunc": g.synthesize(g.truncate(wp1, 0.6, "w+", cutoff=cutoff), "w+"),
            "wplus": g.synthesize(torch.from_numpy(ref["wplus"]), "w+"),
        }


def check(g, ref, name: str, **kw) -> dict[str, float]:
    ours = images(g, ref, **kw)
    ratios = {k: ratio(ours[k], ref, k) for k in KEYS}
    print(name, {k: f"{v:.2e}" for k, v in ratios.items()})
    assert max(ratios.values()) <= TOLERANCE, ratios
    return ratios
