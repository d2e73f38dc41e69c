"""`latentreel analyze`: FaceNet distances between keyframes and along the video (seed 003).

Writes PNG plots and a JSON summary: the keyframe distance matrix (a heatmap), the distance
to the first and last keyframe along every transition, the per-frame change (pixels and
FaceNet) over the whole video, feedback chains' step distances with fixed points and cycles,
and the timing evenness figures.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from latentreel.render.timing import change_profile, timing_stats

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
    from latentreel.feedback.chain import FeedbackReport
    from latentreel.feedback.search import SearchResult
    from latentreel.latents.cells import CellPaths
    from latentreel.render.prepared import prepare_scene

    # 1. Resolve the scene exactly as `render` would (photos through the tuned generator);
    #    the analysis looks at the generator's own frames, not upscaled ones.
    prepared = prepare_scene(scene, output=replace(scene.output, upscale="none"),
                             device=device, progress=progress)
    g, space, state = prepared.generator, prepared.space, prepared.state
    keyframes, latents = prepared.keyframes, prepared.latents
    plain, path = prepared.plain_path, prepared.path
    if isinstance(path, CellPaths):  # a grid: the scene's own walk is its first cell's
        path = path.paths[0]
    facenet = state.facenet or load_facenet(device=g.device)
    # 2. Keyframe distance matrix.
    with torch.no_grad():
        kf_emb = facenet.embed(g.synthesize(latents.to(g.device), space)).cpu()
    dist = (1 - kf_emb @ kf_emb.T).clamp_min(0).numpy()
    # 3. Along the video: per-frame change, distances to transition ends, timing evenness.
    summary = {"scene": str(scene.file), "keyframes": len(keyframes),
               "frames": path.total_frames, "keyframe_distance_matrix": dist.round(4).tolist(),
               **_along_video(g, facenet, path, space, kf_emb)}
    summary["off_shell"] = _off_shell(path)
    if path is not plain:  # what perceptual timing changed
        summary["timing_without_perceptual"] = timing_stats(plain, change_profile(g, plain, space))
    reports = [(r.where, r.value) for r in state.reports]
    summary["feedback"] = [_feedback_summary(where, r) for where, r in reports
                           if isinstance(r, FeedbackReport)]
    summary["searches"] = [{"keyframe": where, "distance": round(r.distance, 5),
                            "evaluations": r.evaluations, "seconds": round(r.seconds, 2)}
                           for where, r in reports if isinstance(r, SearchResult)]
    # 4. Pictures and the summary.
    _write(summary, out_dir)
    return summary


def _off_shell(path) -> dict:
    """Frames whose latent leaves the keyframes' shell (they draw texture, not a face)."""
    from latentreel.latents.shell import TOLERANCE, frame_ranges, off_shell_frames

    frames = off_shell_frames(path)
    return {"frames": len(frames), "tolerance": TOLERANCE,
            "ranges": [list(r) for r in frame_ranges(frames)]}


def _along_video(g, facenet, path, space: str, kf_emb: torch.Tensor) -> dict:
    """Per-frame pixel and FaceNet change, distances to each transition's ends, timing."""
    stride = max(1, path.total_frames // MAX_FRAMES)
    frames = np.arange(0, path.total_frames, stride)
    emb = _embed_frames(g, facenet, path, space, frames)
    pixel = change_profile(g, path, space)
    facenet_change = (1 - (emb[1:] * emb[:-1]).sum(1)).numpy()
    return {
        "frame_stride": stride,
        # pixel[i]: RMS change frame i -> i + 1 (a loop's last entry is the seam); facenet:
        # the same between every ``frame_stride``-th frame.
        "per_frame_change": {"pixel": pixel.round(5).tolist(),
                             "facenet": facenet_change.round(5).tolist()},
        "transitions": _transition_ends(path, frames, emb, kf_emb),
        "timing": timing_stats(path, pixel),
    }


def _write(summary: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    change = summary["per_frame_change"]
    _plot_matrix(np.array(summary["keyframe_distance_matrix"]), out_dir / "keyframe-distances.png")
    _plot_changes(np.array(change["pixel"]), np.array(change["facenet"]), summary["frame_stride"],
                  out_dir / "per-frame-change.png")
    _plot_ends(summary["transitions"], out_dir / "transition-distances.png")
    if summary["feedback"]:
        _plot_feedback(summary["feedback"], out_dir / "feedback-steps.png")
    (out_dir / "analysis.json").write_text(json.dumps(summary, indent=1))


def _transition_ends(path, frames, emb, kf_emb) -> list[dict]:
    out = []
    k = len(kf_emb)
    for seg in path.segments:
        if seg.kind != "transition":
            continue
        sel = (frames >= seg.start) & (frames < seg.start + seg.length)
        e = emb[torch.from_numpy(sel)]
        a, b = kf_emb[seg.index], kf_emb[(seg.index + 1) % k]
        out.append({"transition": seg.index, "first_frame": seg.start,
                    "to_start": (1 - e @ a).numpy().round(5).tolist(),
                    "to_end": (1 - e @ b).numpy().round(5).tolist()})
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
        steps = np.arange(1, len(c["step_distances"]) + 1)  # step k: face k-1 -> face k
        ax.plot(steps, c["step_distances"], lw=1, label=c["keyframe"].rsplit("/", 1)[-1])
        if c["fixed_point"] is not None:
            ax.axvline(c["fixed_point"], ls="--", color="k", lw=0.8)
        if c["cycle"] is not None:
            ax.axvspan(*c["cycle"], color="C3", alpha=0.15)
    ax.set_title("Feedback chains: FaceNet distance from each face to the next "
                 "(dashed: fixed point, shaded: cycle)", fontsize=9)
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
