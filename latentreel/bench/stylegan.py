"""`latentreel bench stylegan`: a random-weight FFHQ-shaped StyleGAN, measured end to end.

No model file is needed (and none can be downloaded offline): the network has NVIDIA's
shape at the chosen resolution (StyleGAN2 config-f: 512-d z and w, 8 mapping layers,
ADA-style fp16 in the top 4 resolutions, conv_clamp 256; StyleGAN3 T or R as its train.py
builds them), so its speed is the real model's speed. In one run, per network:

(G)      generator images/s by batch size and precision (latents -> uint8 on the host)
(ENC)    the encoder alone, fed frames rendered beforehand
(E2E)    `render_scene` of a scene with the same frames, on this generator
(INVERT) W+ inversion seconds per 1,000 steps: the pixel stage, and the stage with FaceNet
         identity loss and noise maps fitted (StyleGAN3 has no noise maps)

``--arch stylegan3-t|stylegan3-r`` measures that network and a StyleGAN2 at the same
resolutions in the same run, and reports StyleGAN3 / StyleGAN2 ratios.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from latentreel.bench.common import machine_info, timed
from latentreel.device import pick_device

ARCHS = ("stylegan2", "stylegan3-t", "stylegan3-r")


def random_backend(arch: str, resolution: int, device: torch.device):
    """A random FFHQ-shaped generator of ``arch`` behind the Generator protocol."""
    if arch == "stylegan2":
        from latentreel.models.stylegan2.backend import StyleGAN2Generator
        from latentreel.models.stylegan2.bench import random_generator

        return StyleGAN2Generator(random_generator(resolution), device)
    from latentreel.models.stylegan3.backend import StyleGAN3Generator
    from latentreel.models.stylegan3.bench import random_stylegan3

    return StyleGAN3Generator(random_stylegan3(resolution, arch), device)


def _frames(g, path, batch: int, space: str) -> np.ndarray:
    from latentreel.models.base import to_uint8

    lat = path.latents(torch.arange(path.total_frames)).to(g.device)
    with torch.inference_mode():
        return torch.cat([to_uint8(g.synthesize(lat[s:s + batch], space)).cpu()
                          for s in range(0, len(lat), batch)]).numpy()


def invert_seconds(g, steps: int, facenet=None) -> dict:
    """Seconds per 1,000 W+ inversion steps (one restart), pixel stage and FaceNet stage."""
    from latentreel.invert.photo import InvertSettings, invert_target
    from latentreel.models.base import to_uint8

    z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(7)).to(g.device)
    with torch.inference_mode():
        target = to_uint8(g.synthesize(z))[0].cpu().numpy()
    common = dict(restarts=1, polish_steps=0, align=False, space="w+", method="optimize")
    t0 = time.perf_counter()
    pixel = invert_target(g, target, InvertSettings(steps=steps, facenet_steps=0, **common),
                          progress=False)
    out = {"steps": steps, "pixel_s_per_1000": (time.perf_counter() - t0) / steps * 1000,
           "pixel_psnr": pixel.metrics["psnr"]}
    if facenet is not None:
        t0 = time.perf_counter()
        invert_target(g, target, InvertSettings(steps=1, facenet_steps=steps, **common),
                      facenet=facenet, progress=False)
        out["facenet_noise_s_per_1000"] = (time.perf_counter() - t0) / steps * 1000
    return out


PARTS = ("g", "e2e", "invert")


def run_stylegan_bench(*, resolution: int = 1024, device: str = "auto", frames: int = 240,
                       size: int | None = None, batches=(1, 4, 16, 32),
                       invert_steps: int = 50, arch: str = "stylegan2",
                       precisions: list[str] | None = None, parts=PARTS, log=print) -> dict:
    """One network of ``arch``: G table, then (``parts``) ENC and E2E, W+ inversion.

    ``precisions``: for the G table (default fp32 and fp16 on CUDA / bf16 elsewhere)."""
    from latentreel.faces.facenet import load_facenet
    from latentreel.models.stylegan2.bench import bench_generator

    dev = pick_device(device)
    size = size or resolution
    g = random_backend(arch, resolution, dev)  # precision auto: fp16 layers on CUDA
    results: dict = {"machine": machine_info(), "device": str(dev), "arch": arch,
                     "resolution": resolution, "precision": g.precision, "frames": frames,
                     "size": size}
    # 1. G by batch size and precision.
    precisions = precisions or ["fp32", "fp16" if dev.type == "cuda" else "bf16"]
    table = bench_generator(g, list(batches), precisions, dev, to_uint8=True)
    results["generator"] = table
    for prec, row in table["images_per_s"].items():
        log(f"G {prec}: " + (row if isinstance(row, str) else
                             ", ".join(f"batch {b}: {v:.3g}" for b, v in row.items())) +
            " images/s")
    # 2-3. ENC and E2E.
    if "e2e" in parts:
        results["render"] = _render_figures(g, dev, table, frames, size, log)
    # 4. W+ inversion speed.
    if "invert" in parts:
        inv = invert_seconds(g, invert_steps, load_facenet(device=dev))
        results["invert"] = inv
        log(f"W+ inversion: {inv['pixel_s_per_1000']:.0f} s per 1,000 pixel steps, "
            f"{inv['facenet_noise_s_per_1000']:.0f} s per 1,000 FaceNet + noise steps "
            f"(timed over {invert_steps})")
    return results


def _render_figures(g, dev: torch.device, table: dict, frames: int, size: int, log) -> dict:
    """ENC on frames rendered beforehand, and E2E (`render_scene`) of the same frames."""
    from latentreel.bench.render import bench_encoder, bench_path, bench_scene_yaml
    from latentreel.device import default_batch_size
    from latentreel.models.base import default_space
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    best = table["best"]
    with tempfile.TemporaryDirectory(prefix="latentreel-bench-") as tmp:
        work = Path(tmp)
        scene_file = work / "e2e.yaml"
        # Short runs (a 1024 px network on a CPU) keep two keyframes with a lower frame rate.
        fps = min(30, max(1, frames // 2))
        scene_file.write_text(bench_scene_yaml(frames, work / "e2e.mp4", size, fps=fps))
        path = bench_path(g, scene_file)
        batch = default_batch_size(dev, g.resolution)
        # ENC on frames rendered beforehand (the renderer's own precision and batch).
        enc = bench_encoder(_frames(g, path, batch, default_space(g)), work / "enc.mp4", size)
        # E2E: the whole render on this generator, in its default precision.
        e2e_result = {}

        def run():
            e2e_result["r"] = render_scene(load_scene(scene_file),
                                           RenderOptions(progress=False), generator=g)
        e2e = frames / timed(run, repeat=2 if frames >= 30 else 1)
        assert e2e_result["r"].frames == frames
    # The renderer runs the generator's default precision (fp16 layers on CUDA, else fp32):
    # E2E is compared with G at that precision, at its best batch size.
    prec = "fp16" if dev.type == "cuda" else "fp32"
    own = table["images_per_s"].get(prec)
    g_best = max(own.values()) if isinstance(own, dict) else best["images_per_s"]
    low = min(g_best, enc)
    ceiling = 1 / (1 / g_best + 1 / enc) if dev.type == "cpu" else low
    log(f"{size}px ENC {enc:.1f}  E2E {e2e:.2f} frames/s ({prec}, batch {batch})  "
        f"E2E/min(G,ENC) {e2e / low:.2f}" +
        (f" (shared-CPU ceiling {ceiling / low:.2f})" if dev.type == "cpu" else "") +
        f"  [G {prec} {g_best:.2f}; best of all {best['images_per_s']:.2f} "
        f"({best['precision']}, batch {best['batch']})]")
    return {"precision": prec, "batch": batch, "G_fps": g_best,
            "G_at_render_batch": own.get(batch) if isinstance(own, dict) else None,
            "ENC_fps": enc, "E2E_fps": e2e, "E2E_over_min_G_ENC": e2e / low,
            "shared_cpu_ceiling_fps": ceiling}


def run_arch_bench(arch: str, *, resolutions=(256, 1024), log=print, **kwargs) -> dict:
    """``arch`` and StyleGAN2 at each resolution in one run, with StyleGAN3 / StyleGAN2 ratios
    of the best images/s, the E2E render rate and the W+ inversion time."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {arch!r}")
    archs = [arch] if arch == "stylegan2" else [arch, "stylegan2"]
    out: dict = {"arch": arch, "resolutions": {}}
    for res in resolutions:
        runs = {}
        for a in archs:
            log(f"--- {a}, {res} px ---")
            runs[a] = run_stylegan_bench(resolution=res, arch=a, log=log, **kwargs)
        entry = {"runs": runs}
        if len(archs) == 2:
            entry["ratios"] = _ratios(runs[arch], runs["stylegan2"])
            log(f"{res} px {arch} / stylegan2: " + ", ".join(
                f"{k} {v:.3f}x" for k, v in entry["ratios"].items()))
        out["resolutions"][res] = entry
    return out


def _ratios(new: dict, old: dict) -> dict:
    """StyleGAN3 / StyleGAN2 for the figures both runs have: best images/s, E2E frames/s and
    W+ inversion seconds (above 1: StyleGAN3 takes longer)."""
    out = {"G_best": new["generator"]["best"]["images_per_s"]
           / old["generator"]["best"]["images_per_s"]}
    if "render" in new and "render" in old:
        out["E2E"] = new["render"]["E2E_fps"] / old["render"]["E2E_fps"]
    if "invert" in new and "invert" in old:
        out["invert_s"] = new["invert"]["pixel_s_per_1000"] / old["invert"]["pixel_s_per_1000"]
    return out
