"""`latentreel bench feedback`: feedback loop speed, and perceptual timing evenness."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from latentreel.bench.common import machine_info

SCENES = Path(__file__).resolve().parents[2] / "scenes"


def time_feedback(g, facenet, steps: int, log) -> dict:
    from latentreel.faces.align import align_face, generator_template
    from latentreel.feedback.chain import FeedbackSettings, run_chain
    from latentreel.models.base import seed_latent, to_uint8

    start = torch.from_numpy(seed_latent(1, g.z_dim))
    run_chain(g, facenet, start, FeedbackSettings(steps=3))  # warm-up
    t0 = time.perf_counter()
    report = run_chain(g, facenet, start, FeedbackSettings(steps=steps))
    total = time.perf_counter() - t0
    # What MTCNN alignment would add per step, had we not skipped it for generated faces.
    template = generator_template(g)
    with torch.no_grad():
        img = to_uint8(torch.nn.functional.interpolate(g.synthesize(start[None]), size=160))[0]
    t1 = time.perf_counter()
    for _ in range(5):
        align_face(img.numpy(), template, 160)
    align = (time.perf_counter() - t1) / 5
    split = {k: v / steps for k, v in report.seconds.items()}
    out = {"iterations_per_second": steps / total, "seconds_per_step": split,
           "mtcnn_align_seconds_if_used": align}
    log(f"feedback: {out['iterations_per_second']:.1f} iterations/s at batch 1 "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in split.items())
        + f"; MTCNN alignment would add {align * 1000:.0f} ms per step")
    return out


def timing_evenness(g, scene_files: list[Path], log) -> dict:
    """Max/median per-frame change within transitions, before and after perceptual timing."""
    from latentreel.analysis.timing import apply_perceptual_timing, change_profile, timing_stats
    from latentreel.render.keyframes import resolve_keyframes
    from latentreel.render.schedule import build_path
    from latentreel.scene import load_scene

    out = {}
    for f in scene_files:
        scene = load_scene(f)
        kf, lat = resolve_keyframes(scene, g, progress=False)
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
