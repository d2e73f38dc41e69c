"""`latentreel bench projector`: which parts of NVIDIA's projector help W/W+ inversion here.

Inverts the same generated faces with three schedules, side by side in one run:

    cosine     warm-up, then cosine decay from the start (latentreel's z default)
    hold       warm-up, lr held, cosine ramp-down over the last quarter (NVIDIA's shape)
    hold+ramp  the same with NVIDIA's latent noise ramp (0.05 x w_std, gone by 75 %)

and reports the median PSNR of each. The faces are generated, so a perfect inversion
exists. Random weights (no model file is available offline): ``--small`` is a 32 px
network that runs in seconds per face on a CPU; without it, the FFHQ-shaped network at
``--resolution``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

VARIANTS = {"cosine": (0.0, 0.0), "hold": (0.75, 0.0), "hold+ramp": (0.75, 0.05)}


def small_generator(seed: int = 3):
    """A 32 px StyleGAN2 (32-d z and w, 3 mapping layers) with a realistic w_avg."""
    from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

    torch.manual_seed(seed)
    net = Generator(StyleGAN2Config(img_resolution=32, z_dim=32, w_dim=32, mapping_layers=3,
                                    channel_base=256, channel_max=32))
    return net.eval().requires_grad_(False)


def run_projector_bench(*, faces: int = 8, steps: int = 1000, space: str = "w+",
                        small: bool = True, resolution: int = 256, device: str = "auto",
                        log=print) -> dict:
    from latentreel.bench.common import machine_info
    from latentreel.invert.objective import LossWeights
    from latentreel.invert.optimize import OptimizeSettings, optimize_latents
    from latentreel.models.stylegan2.backend import StyleGAN2Generator
    from latentreel.models.stylegan2.bench import random_generator
    from latentreel.device import pick_device

    dev = pick_device(device)
    net = small_generator() if small else random_generator(resolution)
    with torch.no_grad():  # the tracked average a trained network would have
        zs = torch.randn(4096, net.z_dim, generator=torch.Generator().manual_seed(0))
        net.mapping.w_avg.copy_(net.mapping(zs).mean(0))
    g = StyleGAN2Generator(net, dev)
    results: dict = {"machine": machine_info(), "device": str(dev), "space": space,
                     "steps": steps, "faces": faces, "resolution": g.resolution, "variants": {}}
    targets = []
    with torch.no_grad():
        for i in range(faces):
            z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(100 + i))
            targets.append(g.synthesize(z.to(dev)))
    for name, (hold, ramp) in VARIANTS.items():
        settings = OptimizeSettings(steps=steps, restarts=1, lr=0.1, lr_hold=hold, w_noise=ramp,
                                    weights=LossWeights(pixel=1.0, prior=0.0))
        t0 = time.perf_counter()
        psnr = [float(optimize_latents(g, x, settings, space=space).psnr[0]) for x in targets]
        seconds = time.perf_counter() - t0
        results["variants"][name] = {"median_psnr": float(np.median(psnr)), "psnr": psnr,
                                     "seconds_per_face": seconds / faces}
        log(f"{name:10s} median PSNR {np.median(psnr):6.1f} dB  (faces: "
            + " ".join(f"{p:.1f}" for p in psnr) + f")  {seconds / faces:.1f} s/face")
    base = results["variants"]["cosine"]["median_psnr"]
    for name in ("hold", "hold+ramp"):
        gain = results["variants"][name]["median_psnr"] - base
        results["variants"][name]["gain_over_cosine_db"] = gain
        log(f"{name} vs cosine: {gain:+.1f} dB")
    return results
