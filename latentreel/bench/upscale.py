"""`latentreel bench upscale`: learned upscalers side by side with the ncnn runtime, in one run.

(SR)      each upscaler's frames/s on the same generated 64 px frames: latentreel's PyTorch
          modules (fp32, and bf16 with its deviation), the ncnn CPU runtime with as many threads
(E2E)     a full `render --upscale` of a bench scene, against min(G+SR, ENC): G and SR share the
          device one after the other, the encoder runs beside them
(MEMORY)  peak RSS of a short and a long upscaled render, each in a fresh process
(FLICKER) mean absolute change between consecutive frames, upscaled / lanczos on the same
          frames; and the same for the second difference, which smooth motion keeps near zero
          and frame-to-frame invented detail does not; each without and with the temporal
          stabilisation renders use (upscale.temporal), beside the edge sharpness it keeps
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentreel.bench.common import child_peak_rss_mb, machine_info, timed
from latentreel.bench.render import bench_encoder, bench_path, bench_scene_yaml
from latentreel.models.base import to_uint8
from latentreel.models.registry import load_generator
from latentreel.device import pick_device
from latentreel.upscale.registry import UPSCALERS, UpscalerInfo, resolve_upscaler, weight_files
from latentreel.upscale.runtime import activation_bytes, load_upscaler, plan_upscale
from latentreel.upscale.temporal import stabilise

PICTURE_ROWS = ("realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3-x4")
E2E_UPSCALERS = ("realesr-animevideov3", "realesrgan-x4plus")


def generated_frames(g, path, n: int) -> torch.Tensor:
    """The first ``n`` frames of ``path`` as images [n, 3, H, W] in [-1, 1]."""
    with torch.inference_mode():
        return g.synthesize(path.latents(torch.arange(n)).to(g.device), "z").float()


def bench_sr(info: UpscalerInfo, images: torch.Tensor, device: torch.device,
             bf16: bool) -> dict:
    """Frames/s of PyTorch (fp32, bf16) and ncnn on the same frames, and how far apart they are."""
    up = load_upscaler(info, device)
    n = len(images)
    with torch.inference_mode():
        up(images[:1])  # warm-up: oneDNN builds its kernels on the first call of a shape
        out: dict = {}
        t = timed(lambda: out.__setitem__("fp32", up(images)))
        r = {"torch_fps": n / t}
        if bf16:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                up(images[:1])
                t = timed(lambda: out.__setitem__("bf16", up(images).float()))
            r["torch_bf16_fps"] = n / t
            r["bf16_max_abs_diff_01"] = _diff01(out["bf16"], out["fp32"])
    ncnn_out, t = ncnn_upscale(info, images)
    if ncnn_out is not None:
        r["ncnn_fps"] = n / t
        r["torch_time_over_ncnn"] = r["ncnn_fps"] / r["torch_fps"]
        r["max_abs_diff_01_vs_ncnn"] = _diff01(out["fp32"].cpu(), ncnn_out)
    return r


def bench_sr_batch(info: UpscalerInfo, images: torch.Tensor, device: torch.device) -> float:
    """Frames/s of the upscaler on ``images`` in one call (after a warm-up call)."""
    up = load_upscaler(info, device)
    with torch.inference_mode():
        up(images[:1])
        return len(images) / timed(lambda: up(images))


def _diff01(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference on the [0, 1] scale of two [-1, 1] image batches."""
    return float((a.float() - b.float()).abs().max() / 2)


def ncnn_upscale(info: UpscalerInfo, images: torch.Tensor) -> tuple[torch.Tensor | None, float]:
    """The ncnn CPU runtime on the same frames (None when ncnn is not installed), and its time."""
    try:
        import ncnn
    except ImportError:
        return None, float("nan")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = torch.get_num_threads()
    param, bin_ = weight_files(info)
    net.load_param(str(param))
    net.load_model(str(bin_))
    x = ((images.float().cpu() + 1) / 2).numpy()

    def run_one(img: np.ndarray) -> np.ndarray:
        arr = np.ascontiguousarray(img)  # ncnn.Mat borrows the buffer
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(arr))
        return np.array(ex.extract("output")[1])

    run_one(x[0])  # warm-up, as for PyTorch
    outs: list[np.ndarray] = []
    t = timed(lambda: outs.extend(run_one(img) for img in x))
    return torch.from_numpy(np.stack(outs)) * 2 - 1, t


def upscaled_uint8(info: UpscalerInfo | None, images: torch.Tensor, size: int) -> np.ndarray:
    """uint8 frames at ``size`` px: the upscaler's output (lanczos-resized when its factor
    falls short), or plain lanczos when ``info`` is None, as the encoder would resize."""
    if info is not None:
        with torch.inference_mode():
            images = load_upscaler(info, images.device)(images)
    return resized_uint8(images, size)


def resized_uint8(images: torch.Tensor, size: int) -> np.ndarray:
    """Images [N, 3, H, W] in [-1, 1] as uint8 frames at ``size`` px, resized as the encoder
    would (lanczos)."""
    frames = to_uint8(images).cpu().numpy()
    if frames.shape[1] == size:
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.LANCZOS))
                     for f in frames])


def flicker(frames: np.ndarray) -> dict:
    """Mean absolute first and second differences between consecutive frames (0-255 scale)."""
    f = frames.astype(np.float32)
    return {"d1": float(np.abs(np.diff(f, axis=0)).mean()),
            "d2": float(np.abs(np.diff(f, n=2, axis=0)).mean())}


def edge_strength(frames: np.ndarray) -> float:
    """Sharpness: the 99th percentile of horizontal luma steps (0-255 scale)."""
    return float(np.percentile(np.abs(np.diff(frames.astype(np.float32).mean(-1), axis=2)), 99))


def bench_flicker(images: torch.Tensor, size: int, log) -> dict:
    """Flicker and sharpness of every upscaler, raw and stabilised, as ratios to lanczos."""
    lanczos = upscaled_uint8(None, images, size)
    base = {**flicker(lanczos), "edge": edge_strength(lanczos)}
    res = {"lanczos": base}
    for name, info in UPSCALERS.items():
        r = res[name] = {}
        with torch.inference_mode():
            sr = load_upscaler(info, images.device)(images)
        # The whole sequence at once: the frames a render gives, however it is cut.
        for key, out in (("raw", sr), ("smooth", stabilise(images, sr, 0, len(images)))):
            frames = resized_uint8(out, size)
            f = {**flicker(frames), "edge": edge_strength(frames)}
            r[key] = {**f, **{f"{k}_ratio": f[k] / base[k] for k in ("d1", "d2", "edge")}}
        raw, st = r["raw"], r["smooth"]
        log(f"flicker {name:25s} change/frame ratio {raw['d1_ratio']:.2f} -> "
            f"{st['d1_ratio']:.2f}; 2nd difference ratio {raw['d2_ratio']:.2f} -> "
            f"{st['d2_ratio']:.2f}; edge sharpness ratio {raw['edge_ratio']:.2f} -> "
            f"{st['edge_ratio']:.2f} (lanczos: change {base['d1']:.2f}, 2nd "
            f"{base['d2']:.2f}, edge {base['edge']:.1f})")
    return res


def bench_e2e_upscale(work: Path, name: str, frames: int, size: int, device: str) -> float:
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    scene = work / f"e2e-{name}.yaml"
    scene.write_text(bench_scene_yaml(frames, work / f"e2e-{name}.mp4", size,
                                      fps=min(30, frames // 2)))
    t = timed(lambda: render_scene(load_scene(scene), RenderOptions(
        device=device, progress=False, upscale=name)))
    return frames / t


def bench_memory(work: Path, name: str, size: int, short: int, long: int) -> dict:
    peaks = {}
    for n in (short, long):
        scene = work / f"mem-{n}.yaml"
        scene.write_text(bench_scene_yaml(n, work / f"mem-{n}.mp4", size))
        peaks[n] = child_peak_rss_mb(["-m", "latentreel", "render", str(scene), "-q",
                                      "--device", "cpu", "--upscale", name])
    return {"upscaler": name, "size": size, "short_frames": short, "long_frames": long,
            "peak_mb_short": peaks[short], "peak_mb_long": peaks[long],
            "growth_mb": peaks[long] - peaks[short]}


def memory_plans() -> dict:
    """How batches and tiles are cut, and what a 1024 px frame x4 needs without tiles."""
    plans = {}
    for name in ("realesrgan-x4plus", "realesr-animevideov3-x4"):
        info = UPSCALERS[name]
        for dev, size in (("cpu", 64), ("cuda", 256), ("cuda", 1024)):
            p = plan_upscale(info, size, torch.device(dev))
            plans[f"{name} {dev} {size}px"] = {
                "frames_per_call": p.frames_per_call, "tile": p.tile,
                "untiled_activation_gb_per_frame": activation_bytes(info, size) / 2**30}
    return plans


def bench_generator_fps(g, path, n: int) -> float:
    z = path.latents(torch.arange(n)).to(g.device)
    with torch.inference_mode():
        def run():
            for s in range(0, n, 32):
                to_uint8(g.synthesize(z[s:s + 32], "z")).cpu()
        run()
        return n / timed(run)


def comparison_picture(images: torch.Tensor, out: Path, size: int = 256) -> Path:
    """Rows: lanczos, then each upscaler, on the same frames; ``size`` px cells."""
    from latentreel.video.sheet import contact_sheet, save_png

    rows = [("lanczos", None)] + [(n, UPSCALERS[n]) for n in PICTURE_ROWS]
    cells = np.concatenate([upscaled_uint8(info, images, size) for _, info in rows])
    sheet = contact_sheet(cells, cols=len(images), cell=size, row_labels=[n for n, _ in rows],
                          title=f"the same {images.shape[-1]} px DCGAN frames, "
                                f"x{size // images.shape[-1]}")
    return save_png(sheet, out)


def run_upscale_bench(*, frames: int = 8, flicker_frames: int = 24, e2e_frames: int = 24,
                      memory: bool = True, bf16: bool = True, device: str = "auto",
                      picture: Path | None = None, flicker_only: bool = False,
                      log=print) -> dict:
    """Every measurement of the module docstring, in one process; returns figures and ratios.

    ``flicker_only``: step 3 alone (the RRDBNets take minutes per step on a CPU)."""
    dev = pick_device(device)
    g = load_generator("dcgan-digiface", dev)
    size = 4 * g.resolution
    res: dict = {"machine": machine_info(), "device": str(dev), "threads":
                 torch.get_num_threads(), "input_px": g.resolution, "size": size, "sr": {},
                 "flicker": {}, "e2e": {}}
    with tempfile.TemporaryDirectory(prefix="latentreel-bench-") as tmp:
        work = Path(tmp)
        # 1. The same generated frames for every upscaler (a smooth looping walk).
        scene = work / "frames.yaml"
        n_all = max(frames, flicker_frames, e2e_frames, 60)  # whole 1 s transitions
        scene.write_text(bench_scene_yaml(n_all, work / "frames.mp4", size))
        path = bench_path(g, scene)
        images = generated_frames(g, path, flicker_frames)
        if flicker_only:
            res["flicker"] = bench_flicker(images, size, log)
            return res
        # 2. Speed and parity against ncnn.
        for name, info in UPSCALERS.items():
            r = res["sr"][name] = bench_sr(info, images[:frames], dev, bf16 and dev.type == "cpu")
            log(f"SR {name:25s} torch {r['torch_fps']:6.2f} frames/s  ncnn "
                f"{r.get('ncnn_fps', float('nan')):6.2f}  torch/ncnn time "
                f"{r.get('torch_time_over_ncnn', float('nan')):.2f}  max|diff| "
                f"{r.get('max_abs_diff_01_vs_ncnn', float('nan')):.1e}"
                + (f"  | bf16 {r['torch_bf16_fps']:6.2f} frames/s, max|diff| vs fp32 "
                   f"{r['bf16_max_abs_diff_01']:.1e}" if "torch_bf16_fps" in r else ""))
        # 3. Flicker: consecutive-frame change, upscaled / lanczos, at the output size.
        res["flicker"] = bench_flicker(images, size, log)
        # 4. End to end, against what the stages allow.
        gen_fps = bench_generator_fps(g, path, e2e_frames)
        enc = bench_encoder(np.resize(upscaled_uint8(None, images, size),
                                      (e2e_frames, size, size, 3)), work / "enc.mp4", size)
        for name in E2E_UPSCALERS:
            info = resolve_upscaler(name, g.resolution, size)
            # RRDBNet is ~20x slower than the compact net: a quarter of the frames.
            n = e2e_frames if info.arch == "srvgg" else max(4, e2e_frames // 4)
            # SR timed again right before the render, on its frames in one batch as it does:
            # on a shared machine, figures taken minutes apart are not comparable.
            sr = bench_sr_batch(info, generated_frames(g, path, n), dev)
            e2e = bench_e2e_upscale(work, name, n, size, str(dev))
            ideal = min(1 / (1 / gen_fps + 1 / sr), enc)
            res["e2e"][name] = {"frames": n, "G_fps": gen_fps, "SR_fps": sr, "ENC_fps": enc,
                                "E2E_fps": e2e, "E2E_over_min_GSR_ENC": e2e / ideal}
            log(f"E2E {name:22s} {e2e:6.2f} frames/s ({n} frames)  G {gen_fps:.0f}  SR "
                f"{sr:.2f}  ENC {enc:.0f}  E2E/min(G+SR, ENC) {e2e / ideal:.2f}")
        # 5. Memory over a long render, and the plans that keep it flat.
        res["plans"] = memory_plans()
        if memory:
            m = res["memory"] = bench_memory(work, "realesr-animevideov3", size, 40, 160)
            log(f"memory ({m['upscaler']}, {size} px): {m['short_frames']} frames "
                f"{m['peak_mb_short']:.0f} MB, {m['long_frames']} frames {m['peak_mb_long']:.0f}"
                f" MB, growth {m['growth_mb']:+.1f} MB")
        for key, p in res["plans"].items():
            log(f"plan {key}: {p['frames_per_call']} frames/call, tile {p['tile']}, untiled "
                f"{p['untiled_activation_gb_per_frame']:.2f} GB/frame")
        if picture is not None:
            log(f"wrote {comparison_picture(images[:: max(1, len(images) // 4)][:4], picture)}")
    return res
