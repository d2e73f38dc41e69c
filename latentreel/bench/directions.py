"""`latentreel bench directions`: do fitted directions do what their names say?

For each attribute: fit its direction on generated faces, sweep -3..+3 over 32 faces from
several base seeds, and check the measured attribute moves monotonically (Spearman). Then a
conditional edit: move along one direction while keeping another, and compare how much the
kept attribute changes against the unconditioned edit.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from latentreel.edits.attributes import LANDMARK_ATTRIBUTES, measure
from latentreel.edits.directions import DirectionStore, conditional
from latentreel.edits.fit import fit_measured
from latentreel.models.base import seed_latents

FITTED = ("yaw", "roll", "zoom", "brightness", "skin_tone", "background")
MIN_COSINE = 0.2  # conditioning removes the shared linear part; pairs sharing less are noise
# The example ("turning the head does not also zoom"), reported whatever its cosine.
EXAMPLE_PAIRS = (("yaw", "zoom"),)


def _bases(g, seeds, space: str) -> torch.Tensor:
    with torch.no_grad():
        return g.to_space(seed_latents(g, list(seeds)).to(g.device), space)


def sweep_spearman(g, vector: np.ndarray, name: str, seeds, steps: int = 32,
                   space: str = "z") -> float:
    """Mean Spearman correlation of the attribute with the amount along -3..+3 x ``vector``
    (an offset for ``space`` latents), over the seeds' faces."""
    amounts = np.linspace(-3, 3, steps)
    vec = torch.from_numpy(vector).to(g.device)
    rhos = []
    for base in _bases(g, seeds, space):
        lat = base[None] + torch.from_numpy(amounts).float().to(g.device)[:, None] * vec[None]
        with torch.no_grad():
            y = measure(g.synthesize(lat, space), (name,))[name]
        ok = np.isfinite(y)
        if ok.sum() >= steps // 2:
            rhos.append(spearmanr(amounts[ok], y[ok]).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def kept_change(g, edit: np.ndarray, kept_name: str, seeds, amount: float = 2.0,
                space: str = "z") -> float:
    """The systematic change of the kept attribute between -amount and +amount along
    ``edit``: |mean over faces of the signed change|. (The mean of |change| would also count
    the detector's jitter, which no edit direction can remove.)"""
    vec = torch.from_numpy(edit).to(g.device)
    base = _bases(g, seeds, space)
    with torch.no_grad():
        lo = measure(g.synthesize(base - amount * vec, space), (kept_name,))[kept_name]
        hi = measure(g.synthesize(base + amount * vec, space), (kept_name,))[kept_name]
    return float(abs(np.nanmean(hi - lo)))


def correlated_pairs(store, names) -> list[tuple[str, str, float]]:
    """(edit, keep, cosine) for every ordered pair of directions sharing |cos| >= MIN_COSINE."""
    pairs = []
    for a in names:
        for b in names:
            if a != b:
                cos = float(store.get(a).vector @ store.get(b).vector)
                if abs(cos) >= MIN_COSINE:
                    pairs.append((a, b, cos))
    return pairs


def conditional_results(g, store, names, seeds, log=print) -> dict:
    """Kept-attribute change, plain vs conditional, for the correlated pairs (scored) and the
    issue's example pairs (reported even when nearly orthogonal, flagged ``scored: False``)."""
    scored = correlated_pairs(store, names)
    seen = {(e, k) for e, k, _ in scored}
    extra = [(e, k, float(store.get(e).vector @ store.get(k).vector)) for e, k in EXAMPLE_PAIRS
             if e in names and k in names and (e, k) not in seen]
    out = {}
    for edit, keep, cos in scored + extra:
        d = store.get(edit)
        e, k, sigma = d.vector, store.get(keep).vector, d.stats.get("sigma", 1.0)
        plain = kept_change(g, e * sigma, keep, seeds, space=d.space)
        cond = kept_change(g, conditional(e, [k]) * sigma, keep, seeds, space=d.space)
        reduction = 1 - cond / plain if plain > 0 else float("nan")
        is_scored = (edit, keep) in seen
        out[f"{edit} keep {keep}"] = {
            "cosine": cos, "kept_change_plain": plain, "kept_change_conditional": cond,
            "reduction": reduction, "scored": is_scored}
        log(f"edit {edit} keep {keep} (cos {cos:+.2f}): {keep} changes {plain:.4f} -> "
            f"{cond:.4f} ({reduction:.0%} less{'' if is_scored else '; reported, not scored'})")
    return out


def run_directions_bench(g, *, samples: int = 2000, seeds=range(100, 132),
                         sheets: Path | None = None, log=print) -> dict:
    from latentreel.edits.run import direction_sheet

    # 1. Fit every measured attribute on `samples` generated faces, timed.
    t0 = time.perf_counter()
    found = fit_measured(g, FITTED, samples=samples, progress=True, skip_unmeasured=True)
    skipped = [n for n in FITTED if n not in {d.name for d in found}]
    if skipped:
        log(f"skipped {', '.join(skipped)}: MTCNN found too few faces on {g.name}")
    fit_seconds = time.perf_counter() - t0
    store = DirectionStore(g.name)
    for d in found:
        store.add(d)
    store.save()
    log(f"fitted {len(found)} directions on {samples} faces in {fit_seconds:.0f} s")
    results: dict = {"samples": samples, "fit_seconds": fit_seconds, "directions": {}}
    # 2. Sweep each direction -3..+3 over the bench faces; a picture of each.
    for d in found:
        rho = sweep_spearman(g, d.vector * d.stats.get("sigma", 1.0), d.name, seeds,
                             space=d.space)
        results["directions"][d.name] = {"spearman": rho, **d.stats}
        log(f"{d.name:11s} held-out R^2 {d.stats['r2']:.3f}  sweep Spearman {rho:+.3f}")
        if sheets is not None:
            direction_sheet(g, d, Path(sheets) / f"{d.name}.png")
    rhos = {k: v["spearman"] for k, v in results["directions"].items()}
    results["mean_spearman"] = float(np.nanmean(list(rhos.values())))
    # The landmark attributes are the hard ones; their mean is reported on its own too.
    landmark = [r for k, r in rhos.items() if k in LANDMARK_ATTRIBUTES and np.isfinite(r)]
    results["mean_spearman_landmarks"] = float(np.mean(landmark)) if landmark else float("nan")
    log(f"mean Spearman {results['mean_spearman']:.3f} (target >= 0.9); landmark attributes "
        f"only {results['mean_spearman_landmarks']:.3f}")
    # 3. Conditional edits.
    results["conditional"] = conditional_results(g, store, [d.name for d in found], seeds, log)
    reductions = [v["reduction"] for v in results["conditional"].values() if v["scored"]]
    if reductions:
        results["mean_reduction"] = float(np.nanmean(reductions))
        log(f"mean reduction over {len(reductions)} correlated pairs "
            f"{results['mean_reduction']:.0%} (target >= 50 %)")
    return results
