"""Generator throughput: images/s by batch size and precision (a benchmark, not a test).

Wired to ``latentreel bench render --model``; also usable on its own:

    from latentreel.models.stylegan2.bench import bench_generator, random_generator
    print(bench_generator(random_generator(1024), [8, 32], ["fp32", "fp16"], "cuda"))
"""

from __future__ import annotations

import time

import torch

from latentreel.errors import BadInputError
from latentreel.models.stylegan2.backend import StyleGAN2Generator
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config


def random_generator(resolution: int = 1024, *, num_fp16_res: int = 4,
                     conv_clamp: float | None = 256.0, seed: int = 0,
                     channel_base: int = 32768) -> Generator:
    """A random-weight generator shaped like NVIDIA's FFHQ config-f (512-d z and w, 8 mapping
    layers, channel_base 32768) at ``resolution``, with ADA-style mixed precision by default.
    """
    torch.manual_seed(seed)
    cfg = StyleGAN2Config(img_resolution=resolution, num_fp16_res=num_fp16_res,
                          conv_clamp=conv_clamp, channel_base=channel_base)
    return Generator(cfg).eval().requires_grad_(False)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _images_per_s(g: StyleGAN2Generator, batch: int, min_seconds: float, to_uint8: bool
                  ) -> float:
    z = torch.randn(batch, g.z_dim, generator=torch.Generator().manual_seed(0)).to(g.device)

    def step() -> None:
        img = g.synthesize(z)
        if to_uint8:  # what rendering does: convert on the device, copy bytes to the host
            ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()

    with torch.inference_mode():
        step()  # warm-up: cuDNN autotuning, allocator
        _sync(g.device)
        n, t0 = 0, time.perf_counter()
        while True:
            step()
            n += batch
            _sync(g.device)
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                return n / elapsed


def bench_generator(G: Generator | StyleGAN2Generator, batch_sizes: list[int],
                    precisions: list[str], device: str | torch.device,
                    *, min_seconds: float = 2.0, to_uint8: bool = False) -> dict:
    """Images per second of z -> image, for every batch size and precision.

    Args:
        G: a network or a loaded backend (its network is reused, moved to ``device``).
        precisions: backend precisions ("fp32", "fp16", "bf16"); one the device or model
            cannot run is reported as an error string instead of a number.
        min_seconds: timing length per cell (after one warm-up batch).
        to_uint8: include the uint8 conversion and host copy, as rendering does.
    Returns:
        {"device", "resolution", "num_fp16_res", "images_per_s": {precision: {batch: ips}},
         "best": {"precision", "batch", "images_per_s"}}
    """
    net = G.net if isinstance(G, StyleGAN2Generator) else G
    # The same backend class (StyleGAN3's subclass included) at each precision.
    backend = type(G) if isinstance(G, StyleGAN2Generator) else StyleGAN2Generator
    device = torch.device(device)
    table: dict[str, dict[int, float] | str] = {}
    best = {"precision": None, "batch": None, "images_per_s": 0.0}
    for precision in precisions:
        try:
            g = backend(net, device, precision=precision)
        except (BadInputError, ValueError) as e:  # e.g. fp16 on a CPU: say so in the table
            table[precision] = f"unavailable: {e}"
            continue
        row = {}
        for batch in batch_sizes:
            row[batch] = _images_per_s(g, batch, min_seconds, to_uint8)
            if row[batch] > best["images_per_s"]:
                best = {"precision": precision, "batch": batch, "images_per_s": row[batch]}
        table[precision] = row
    return {"device": str(device), "resolution": net.img_resolution,
            "num_fp16_res": net.cfg.num_fp16_res, "images_per_s": table, "best": best}
