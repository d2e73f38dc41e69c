"""`latentreel bench ray`: the same scene plain, on one Ray worker and on N, side by side.

(PLAIN) `render_scene`: one process, one encode
(RAY n) `render --ray local --workers n`: a private Ray instance started and stopped by the
        render, segments rendered by n actors and joined losslessly
All run in one process, interleaved and repeated (the fastest of each counts), on one
lossless (crf 0) scene, so the decoded frames of every run must equal the plain render's
exactly. Figures per run: frames/s over the whole wall time, time to first frame (cluster
start and model loading included), and the render phase's frames/s (first frame to the end:
what the engine costs once it runs). Optionally, the bytes one minute of video takes on the
wire at a given size (a worker sends each finished segment back to the driver).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np

from latentreel.bench.common import machine_info
from latentreel.bench.render import bench_scene_yaml


def run_ray_bench(*, frames: int = 600, size: int = 256, workers: tuple[int, ...] = (1, 2),
                  device: str = "auto", wire_size: int | None = 1024, repeat: int = 2,
                  log=print) -> dict:
    """Render one scene plain and with --ray local for each worker count; figures and ratios.

    Each run ``repeat`` times, interleaved; the fastest of each counts."""
    from latentreel.video.probe import read_frames

    results: dict = {"machine": machine_info(), "frames": frames, "size": size,
                     "repeat": repeat, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="latentreel-bench-ray-") as tmp:
        work = Path(tmp)
        scene = work / "scene.yaml"
        scene.write_text(bench_scene_yaml(frames, work / "plain.mp4", size, crf=0))
        runs: dict = {}
        for attempt in range(repeat):  # interleaved, so a busy spell hits all alike
            for name, run in [("plain", lambda: _plain(scene, work / "plain.mp4", device))] + [
                    (f"ray_{n}", lambda n=n: _ray(scene, work / f"ray-{n}.mp4", device, n))
                    for n in workers]:
                figures = run()
                _log_run(log, f"{name} #{attempt + 1}", figures)
                if name not in runs or figures["seconds"] < runs[name]["seconds"]:
                    runs[name] = figures  # the least disturbed run counts
        reference = read_frames(work / "plain.mp4")
        for name, run in runs.items():
            run["identical_to_plain"] = bool(np.array_equal(read_frames(run.pop("path")),
                                                            reference))
        if wire_size:
            results["wire"] = _wire_bytes(work, wire_size, device)
            w = results["wire"]
            log(f"wire: {w['mb_per_minute']:.1f} MB per minute of {wire_size}-px video "
                f"(crf 18, {w['seconds']:.0f} s measured)")
    base = runs["plain"]
    for name, run in runs.items():
        run["fps_over_plain"] = run["fps"] / base["fps"]
        run["render_fps_over_plain"] = run["render_fps"] / base["render_fps"]
    results["runs"] = runs
    log("ratios: " + ", ".join(
        f"{name} {r['fps_over_plain']:.2f}x overall, {r['render_fps_over_plain']:.2f}x rendering"
        f"{'' if r['identical_to_plain'] else ' (FRAMES DIFFER)'}"
        for name, r in runs.items() if name != "plain"))
    return results


def _figures(path: Path, frames: int, seconds: float, first: float | None, **extra) -> dict:
    first = first if first is not None else seconds
    return {"path": path, "seconds": seconds, "fps": frames / seconds,
            "first_frame_s": first, "render_fps": frames / max(seconds - first, 1e-9), **extra}


def _plain(scene: Path, out: Path, device: str) -> dict:
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    t0 = time.perf_counter()
    with _first_write() as first:
        result = render_scene(load_scene(scene), RenderOptions(out=out, device=device,
                                                               progress=False))
    return _figures(out, result.frames, time.perf_counter() - t0, first.get("t", t0) - t0)


def _ray(scene: Path, out: Path, device: str, workers: int) -> dict:
    from latentreel.distributed.cluster import RayOptions
    from latentreel.distributed.runner import render_scene_ray
    from latentreel.render.pipeline import RenderOptions
    from latentreel.scene import load_scene

    r = render_scene_ray(load_scene(scene), RenderOptions(out=out, device=device, progress=False),
                         RayOptions(address="local", workers=workers))
    return _figures(out, r.frames, r.seconds, r.first_frame_seconds, workers=r.workers,
                    retried=r.retried)


@contextlib.contextmanager
def _first_write():
    """Records when the plain render hands its first frames to the encoder."""
    from latentreel.video import writer

    real, seen = writer.FrameWriter.write, {}

    def write(self, frames):
        seen.setdefault("t", time.perf_counter())
        return real(self, frames)

    writer.FrameWriter.write = write
    try:
        yield seen
    finally:
        writer.FrameWriter.write = real


def _wire_bytes(work: Path, size: int, device: str, seconds: int = 4) -> dict:
    """MB per minute of video at ``size`` px and the default crf 18: what crosses the network."""
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    scene = work / "wire.yaml"
    scene.write_text(bench_scene_yaml(30 * seconds, work / "wire.mp4", size, crf=18))
    result = render_scene(load_scene(scene), RenderOptions(device=device, progress=False))
    mb = result.path.stat().st_size / 1e6
    return {"size": size, "crf": 18, "seconds": seconds, "mb": mb,
            "mb_per_minute": mb * 60 / seconds}


def _log_run(log, name: str, run: dict) -> None:
    log(f"{name:11s} {run['fps']:7.1f} frames/s overall, first frame after "
        f"{run['first_frame_s']:5.1f} s, rendering {run['render_fps']:7.1f} frames/s"
        + (f" ({run['retried']} retried)" if run.get("retried") else ""))
