"""`latentreel bench feedback`: feedback loop speed, and perceptual timing evenness."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from latentreel.bench.common import machine_info

SCENES = Path(__file__).resolve().parents[2] / "scenes"


def time_feedback(g, facenet, steps: int, log) -> dict:
    """Feedback iterations/s at batch 1 and the split, plus what MTCNN alignment would add."""
    from latentreel.feedback.chain import FeedbackSettings, run_chain
    from latentreel.models.base import seed_latent

    start = torch.from_numpy(seed_latent(1, g.z_dim))
    run_chain(g, facenet, start, FeedbackSettings(steps=3))  # warm-up
    t0 = time.perf_counter()
    report = run_chain(g, facenet, start, FeedbackSettings(steps=steps))
    total = time.perf_counter() - t0
    split = {k: v / (steps + 1) for k, v in report.seconds.items()}  # faces 0..steps
    align = alignment_effect(g, facenet, report.latents[:20])
    out = {"iterations_per_second": steps / total, "seconds_per_step": split,
           "share_of_step": {k: v / sum(split.values()) for k, v in split.items()},
           "mtcnn_alignment_if_used": align}
    log(f"feedback: {out['iterations_per_second']:.1f} iterations/s at batch 1 "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in split.items())
        + f"; MTCNN alignment would add {align['seconds_per_face'] * 1000:.0f} ms per step "
        f"and move the embedding by {align['median_distance'] or 0:.3f} (median 1 - cosine; "
        f"median step {np.median(report.step_distances):.3f}; "
        f"{align['faces_not_found']} of {align['faces']} faces not found)")
    return out


def alignment_effect(g, facenet, latents: torch.Tensor) -> dict:
    """Embeddings of generated faces as the chain takes them (resized) against MTCNN-aligned
    crops: the time alignment costs and how far it moves the embedding."""
    from latentreel.errors import PhotoError
    from latentreel.faces.align import align_face
    from latentreel.faces.template import generator_template
    from latentreel.models.base import to_uint8

    template = generator_template(g)
    with torch.no_grad():
        images = g.synthesize(latents.to(g.device))
        plain = facenet.embed(images).cpu()
        big = to_uint8(torch.nn.functional.interpolate(images, size=160, mode="bilinear"))
    dists, seconds, missed = [], 0.0, 0
    for img, emb in zip(big.cpu().numpy(), plain):
        t0 = time.perf_counter()
        try:
            crop = align_face(img, template, 160).crop
        except PhotoError:
            missed += 1
            continue
        finally:
            seconds += time.perf_counter() - t0
        with torch.no_grad():
            aligned = facenet.embed(torch.from_numpy(crop[None].copy())).cpu()[0]
        dists.append(float(1 - aligned @ emb))
    return {"faces": len(latents), "faces_not_found": missed,
            "seconds_per_face": seconds / max(len(latents), 1),
            "median_distance": float(np.median(dists)) if dists else None,
            "max_distance": float(np.max(dists)) if dists else None}


def timing_evenness(g, scene_files: list[Path], log) -> dict:
    """Max/median per-frame change within transitions, before and after perceptual timing."""
    from latentreel.render.keyframes import resolve_keyframes
    from latentreel.render.timing import apply_perceptual_timing, change_profile, timing_stats
    from latentreel.render.schedule import build_path
    from latentreel.scene import load_scene

    out = {}
    for f in scene_files:
        scene = load_scene(f)
        resolved = resolve_keyframes(scene, g, progress=False)
        kf, lat = resolved.keyframes, resolved.latents
        # Measure motion, not easing: the same transitions with linear easing.
        kf = [dataclasses.replace(k, transition=dataclasses.replace(k.transition, easing="linear"))
              for k in kf]
        path = build_path(kf, lat, scene.output.fps, scene.loop)
        before = timing_stats(path, change_profile(g, path, "z"))
        retimed = apply_perceptual_timing(g, path, ["perceptual"] * len(kf), "z")
        after = timing_stats(retimed, change_profile(g, retimed, "z"))
        out[f.name] = {"before": before, "after": after}
        log(f"{f.name}: worst max/median change within a transition "
            f"{before['worst_max_over_median']:.2f} -> {after['worst_max_over_median']:.2f}"
            + (f"; loop seam {before['seam_over_median']:.2f} -> {after['seam_over_median']:.2f} "
               f"x the median step ({after['seam_over_last_transition_median']:.2f} x its own "
               "transition's)" if "seam_over_median" in after else ""))
    return out


def run_feedback_bench(*, model: str, steps: int, log=print) -> dict:
    from latentreel.faces.facenet import load_facenet
    from latentreel.models.registry import load_generator

    g = load_generator(model, "cpu")
    facenet = load_facenet()
    results = {"machine": machine_info(), "feedback": time_feedback(g, facenet, steps, log)}
    scenes = [SCENES / n for n in ("demo.yaml", "feedback-loop.yaml") if (SCENES / n).is_file()]
    results["timing"] = timing_evenness(g, scenes, log)
    return results
