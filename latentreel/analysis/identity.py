"""`latentreel analyze`: FaceNet distances between keyframes and along the video (seed 003).

Writes PNG plots and a JSON summary: the keyframe distance matrix (a heatmap), the distance
to the first and last keyframe along every transition, the per-frame change (pixels and
FaceNet) over the whole video, feedback chains' step distances with fixed points and cycles,
and the timing evenness figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from latentreel.analysis.timing import change_profile, timing_stats

MAX_FRAMES = 3000  # FaceNet over every frame of longer videos is subsampled to this


def _embed_frames(generator, facenet, path, space, frames: np.ndarray, batch: int = 64):
    out = []
    with torch.no_grad():
        for s in range(0, len(frames), batch):
            lat = path.latents(torch.from_numpy(frames[s:s + batch])).to(generator.device)
            out.append(facenet.embed(generator.synthesize(lat, space)).cpu())
    return torch.cat(out)


def analyze_scene(scene, out_dir: Path, *, device: str = "auto", progress: bool = True) -> dict:
    """Run every analysis on ``scene``; returns the summary written to analysis.json."""
    import matplotlib

    matplotlib.use("Agg")
    from latentreel.faces.facenet import load_facenet
    from latentreel.models.registry import load_generator
    from latentreel.render.device import pick_device
    from latentreel.render.pipeline import apply_timing, transition_offsets
    from latentreel.render.keyframes import resolve_keyframes, scene_space
    from latentreel.render.schedule import build_path

    # 1. Resolve the scene exactly as `render` would.
    g = load_generator(scene.model, pick_device(device), base=scene.base)
    space = scene_space(scene, g)
    shared: dict = {}
    keyframes, latents = resolve_keyframes(scene, g, progress=progress, shared=shared)
    path = build_path(keyframes, latents, scene.output.fps, scene.loop,
                      offsets=transition_offsets(keyframes, g, space))
    path = apply_timing(path, keyframes, g, space)
    facenet = shared.get("facenet") or load_facenet(device=g.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    # 2. Keyframe distance matrix.
    with torch.no_grad():
        kf_emb = facenet.embed(g.synthesize(latents.to(g.device), space)).cpu()
    dist = (1 - kf_emb @ kf_emb.T).clamp_min(0).numpy()
    # 3. Along the video: per-frame change and distances to transition ends.
    step = max(1, path.total_frames // MAX_FRAMES)
    frames = np.arange(0, path.total_frames, step)
    emb = _embed_frames(g, facenet, path, space, frames)
    pixel_change = change_profile(g, path, space)
    facenet_change = (1 - (emb[1:] * emb[:-1]).sum(1)).numpy()
    ends = _transition_ends(path, frames, emb, kf_emb)
    summary = {
        "scene": str(scene.file), "keyframes": len(keyframes), "frames": path.total_frames,
        "frame_stride": step, "keyframe_distance_matrix": dist.round(4).tolist(),
        "timing": timing_stats(path, pixel_change),
        "feedback": [_feedback_summary(where, r) for where, r in shared.get("feedback_reports", [])],
    }
    # 4. Pictures.
    _plot_matrix(dist, out_dir / "keyframe-distances.png")
    _plot_changes(pixel_change, facenet_change, step, out_dir / "per-frame-change.png")
    _plot_ends(ends, out_dir / "transition-distances.png")
    if summary["feedback"]:
        _plot_feedback(summary["feedback"], out_dir / "feedback-steps.png")
    (out_dir / "analysis.json").write_text(json.dumps(summary, indent=1))
    return summary


def _transition_ends(path, frames, emb, kf_emb) -> list[dict]:
    out = []
    k = len(kf_emb)
    for seg in path.segments:
        if seg.kind != "transition":
            continue
        sel = (frames >= seg.start) & (frames < seg.start + seg.length)
        e = emb[torch.from_numpy(sel)]
        a, b = kf_emb[seg.index], kf_emb[(seg.index + 1) % k]
        out.append({"transition": seg.index, "to_start": (1 - e @ a).numpy().tolist(),
                    "to_end": (1 - e @ b).numpy().tolist()})
    return out


def _feedback_summary(where: str, report) -> dict:
    return {"keyframe": where, "steps": len(report.latents),
            "step_distances": [round(d, 5) for d in report.step_distances],
            "fixed_point": report.fixed_point, "cycle": report.cycle,
            "seconds": report.seconds}


def _plot_matrix(dist: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(dist, cmap="viridis")
    ax.set_title("FaceNet distance between keyframes")
    ax.set_xlabel("keyframe")
    ax.set_ylabel("keyframe")
    fig.colorbar(im, ax=ax, label="1 - cosine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_changes(pixel: np.ndarray, facenet: np.ndarray, stride: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
    a.plot(pixel, lw=0.8)
    a.set_ylabel("pixel RMS change")
    a.set_title("Change from each frame to the next")
    b.plot(np.arange(len(facenet)) * stride, facenet, lw=0.8, color="C1")
    b.set_ylabel("FaceNet distance")
    b.set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_ends(ends: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    offset = 0
    for i, t in enumerate(ends):
        x = np.arange(len(t["to_start"])) + offset
        ax.plot(x, t["to_start"], color="C0", lw=1, label="to start" if i == 0 else None)
        ax.plot(x, t["to_end"], color="C3", lw=1, label="to end" if i == 0 else None)
        offset += len(t["to_start"]) + 2
    ax.set_title("FaceNet distance to each transition's start and end keyframe")
    ax.set_xlabel("transition frames (sampled)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_feedback(chains: list[dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    for c in chains:
        ax.plot(c["step_distances"], lw=1, label=c["keyframe"].rsplit("/", 1)[-1])
        if c["fixed_point"] is not None:
            ax.axvline(c["fixed_point"] - 1, ls="--", color="k", lw=0.8)
    ax.set_title("Feedback chains: FaceNet distance from each face to the next")
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
