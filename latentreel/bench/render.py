"""`latentreel bench render`: generator, encoder, end-to-end and the naive way, side by side.

(G)     the generator alone at its best batch size (latents -> uint8 frames on the host)
(ENC)   the encoder alone, fed frames rendered beforehand
(E2E)   the full `render` of a scene with the same number of frames
(NAIVE) the seed blog posts' way: one generator call per frame, a PNG per frame, then
        ffmpeg over the PNG sequence with the same codec settings
All four run in one process, one after another, so their ratios are comparable even on a
noisy machine. Memory: the peak RSS of a 3,000-frame render against a 300-frame render.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentreel.bench.common import child_peak_rss_mb, machine_info, timed
from latentreel.models.base import default_space, to_uint8
from latentreel.models.registry import load_generator
from latentreel.device import pick_device

BATCHES = (1, 8, 32, 64, 128)


def bench_scene_yaml(frames: int, out: Path, size: int, fps: int = 30,
                     model: str = "dcgan-digiface", crf: int = 18) -> str:
    """A looping scene of exactly ``frames`` frames (hold 0, 1 s transitions)."""
    n_keys = max(2, frames // fps)
    last = frames - fps * (n_keys - 1)  # the final transition absorbs the remainder
    keys = "\n".join(f"  - {{seed: {i}, hold: 0, transition: 1.0}}" for i in range(n_keys - 1))
    keys += f"\n  - {{seed: {n_keys - 1}, hold: 0, transition: {last / fps!r}}}"
    return (f"model: {model}\noutput: {{path: {out}, fps: {fps}, size: {size}, crf: {crf}}}\n"
            f"loop: true\nkeyframes:\n{keys}\n")


def bench_path(g, scene_file: Path):
    """The latent path of a bench scene: E2E renders it, and G, ENC and NAIVE get its frames."""
    from latentreel.render.prepared import prepare_scene
    from latentreel.scene import load_scene

    return prepare_scene(load_scene(scene_file), generator=g, progress=False).path


def bench_generator(g, path, precision: str = "fp32", space: str = "z") -> dict:
    """Frames/s of latents -> uint8 host frames, by batch size (latents computed beforehand)."""
    from latentreel.device import autocast_dtype

    dtype = autocast_dtype(precision, g.device)
    n = path.total_frames
    z = path.latents(torch.arange(n)).to(g.device)
    by_batch = {}
    with torch.inference_mode(), torch.autocast(g.device.type, enabled=dtype is not None,
                                                dtype=dtype or torch.bfloat16):
        for b in BATCHES:
            def run():
                for s in range(0, n, b):
                    to_uint8(g.synthesize(z[s:s + b], space).float()).cpu()
            run()  # warm-up
            by_batch[b] = n / timed(run, repeat=2)
    best = max(by_batch, key=by_batch.get)
    return {"fps": by_batch[best], "best_batch": best, "by_batch": by_batch}


def render_frames(g, path, space: str = "z") -> np.ndarray:
    z = path.latents(torch.arange(path.total_frames)).to(g.device)
    with torch.inference_mode():
        return torch.cat([to_uint8(g.synthesize(z[s:s + 64], space)).cpu()
                          for s in range(0, len(z), 64)]).numpy()


def bench_encoder(frames_u8: np.ndarray, out: Path, size: int, fps: int = 30) -> float:
    from latentreel.video.writer import FrameWriter

    def run():
        with FrameWriter(out, fps=fps, size=size, crf=18) as w:
            for s in range(0, len(frames_u8), 64):
                w.write(frames_u8[s:s + 64])
    return len(frames_u8) / timed(run, repeat=2)


def bench_e2e(scene_file: Path, frames: int, device: str, precision: str = "fp32") -> float:
    """The whole `render`: scene loading, model loading, keyframes, synthesis, encoding."""
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    result = {}

    def run():
        result["r"] = render_scene(load_scene(scene_file), RenderOptions(
            device=device, progress=False, precision=precision))
    t = timed(run, repeat=2)
    assert result["r"].frames == frames, (result["r"].frames, frames)
    return frames / t


def bench_naive(g, path, work: Path, size: int, fps: int = 30, space: str = "z") -> float:
    """One generator call per frame, a PNG per frame, then ffmpeg over the PNGs."""
    from latentreel.video.writer import encode_png_sequence

    n = path.total_frames
    png_dir = work / f"naive-{size}"
    png_dir.mkdir(exist_ok=True)

    def run():
        with torch.inference_mode():
            for i in range(n):
                z = path.latents(torch.tensor([i])).to(g.device)
                img = to_uint8(g.synthesize(z, space))[0].cpu().numpy()
                Image.fromarray(img).save(png_dir / f"frame_{i:06d}.png")
        encode_png_sequence(png_dir, work / f"naive-{size}.mp4", fps=fps, size=size, crf=18)
    return n / timed(run, repeat=1)


def bench_memory(work: Path, size: int = 64, short: int = 300, long: int = 3000) -> dict:
    """Peak RSS of a long render against a short one, each in a fresh process."""
    peaks = {}
    for n in (short, long):
        scene = work / f"mem-{n}.yaml"
        scene.write_text(bench_scene_yaml(n, work / f"mem-{n}.mp4", size))
        peaks[n] = child_peak_rss_mb(["-m", "latentreel", "render", str(scene), "-q",
                                      "--device", "cpu"])
    return {"size": size, f"peak_mb_{short}": peaks[short], f"peak_mb_{long}": peaks[long],
            "growth_mb": peaks[long] - peaks[short]}


def run_render_bench(*, frames: int = 900, sizes=(512, 64), device: str = "auto",
                     model: str = "dcgan-digiface", memory: bool = True, log=print) -> dict:
    """Run every measurement and return the figures and ratios."""
    dev = pick_device(device)
    if Path(model).suffix.lower() in (".pkl", ".pt"):
        model = str(Path(model).resolve())  # the bench scenes live in a temporary folder
    g = load_generator(model, dev)
    results: dict = {"machine": machine_info(), "device": str(dev), "frames": frames, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="latentreel-bench-") as tmp:
        work = Path(tmp)
        scenes = {}
        for size in sizes:
            scenes[size] = work / f"e2e-{size}.yaml"
            scenes[size].write_text(bench_scene_yaml(frames, work / f"e2e-{size}.mp4", size,
                                                     model=model))
        path = bench_path(g, scenes[sizes[0]])
        space = default_space(g)  # the bench scenes set none: w+ on StyleGAN, z on the DCGAN
        gen = bench_generator(g, path, space=space)
        log(f"G    {gen['fps']:8.1f} frames/s (batch {gen['best_batch']}; by batch "
            + ", ".join(f"{b}: {v:.0f}" for b, v in gen["by_batch"].items()) + ")")
        low = "bf16" if dev.type == "cpu" else "fp16"
        gen_low = bench_generator(g, path, low, space)
        log(f"G {low} {gen_low['fps']:6.1f} frames/s (batch {gen_low['best_batch']})")
        frames_u8 = render_frames(g, path, space)
        for size in sizes:
            enc = bench_encoder(frames_u8, work / f"enc-{size}.mp4", size)
            e2e = bench_e2e(scenes[size], frames, str(dev))
            e2e_low = bench_e2e(scenes[size], frames, str(dev), low)
            naive = bench_naive(g, path, work, size, space=space)
            # Both stages share the CPU: at best E2E = 1 / (1/G + 1/ENC).
            ceiling = 1 / (1 / gen["fps"] + 1 / enc) if dev.type == "cpu" else min(gen["fps"], enc)
            r = {"G_fps": gen["fps"], "ENC_fps": enc, "E2E_fps": e2e, "NAIVE_fps": naive,
                 "E2E_over_min_G_ENC": e2e / min(gen["fps"], enc), "E2E_over_NAIVE": e2e / naive,
                 "shared_cpu_ceiling_fps": ceiling, "E2E_over_ceiling": e2e / ceiling,
                 f"E2E_{low}_fps": e2e_low, f"E2E_{low}_over_NAIVE": e2e_low / naive}
            results["sizes"][str(size)] = r
            log(f"{size:4d}px ENC {enc:7.1f}  E2E {e2e:7.1f}  NAIVE {naive:7.1f} frames/s  "
                f"E2E/min(G,ENC) {r['E2E_over_min_G_ENC']:.2f} (shared-CPU ceiling "
                f"{ceiling / min(gen['fps'], enc):.2f})  E2E/NAIVE {r['E2E_over_NAIVE']:.2f}  "
                f"| {low}: E2E {e2e_low:.1f}, E2E/NAIVE {r[f'E2E_{low}_over_NAIVE']:.2f}")
        results["generator"] = gen
        results[f"generator_{low}"] = gen_low
        from latentreel.models.stylegan2.backend import StyleGAN2Generator

        if isinstance(g, StyleGAN2Generator):  # images/s by batch size and precision too
            from latentreel.models.stylegan2.bench import bench_generator as sg_bench

            table = sg_bench(g, [1, 4, 16], ["fp32", "bf16", "fp16"], dev, min_seconds=2.0,
                             to_uint8=True)
            results["stylegan2_by_precision"] = table
            for prec, row in table["images_per_s"].items():
                log(f"G {prec}: " + (row if isinstance(row, str) else
                                     ", ".join(f"batch {b}: {v:.1f}" for b, v in row.items())))
        if memory:
            results["memory"] = bench_memory(work)
            m = results["memory"]
            log(f"memory: 300 frames {m['peak_mb_300']:.0f} MB, 3000 frames "
                f"{m['peak_mb_3000']:.0f} MB, growth {m['growth_mb']:+.1f} MB")
    return results
