"""Random-weight StyleGAN3 networks shaped like NVIDIA's FFHQ configs, for benchmarks.

    from latentreel.models.stylegan3.bench import random_stylegan3
    from latentreel.models.stylegan2.bench import bench_generator
    print(bench_generator(StyleGAN3Generator(random_stylegan3(1024, "stylegan3-r")), [8], ...))
"""

from __future__ import annotations

import torch

from latentreel.models.stylegan3.network import Generator, StyleGAN3Config

# stylegan3's train.py: T keeps the base capacity; R uses 1x1 convolutions, doubles the
# feature maps and filters radially.
SHAPES = {
    "stylegan3-t": dict(channel_base=32768, channel_max=512),
    "stylegan3-r": dict(channel_base=65536, channel_max=1024, conv_kernel=1,
                        use_radial_filters=True),
}


def random_stylegan3(resolution: int = 1024, arch: str = "stylegan3-t", *,
                     num_fp16_res: int = 4, conv_clamp: float | None = 256.0,
                     seed: int = 0) -> Generator:
    """A random generator of config T or R at ``resolution`` (512-d z and w, 2 mapping layers,
    14 synthesis layers, float16-capable top layers as trained)."""
    if arch not in SHAPES:
        raise ValueError(f"arch must be one of {', '.join(SHAPES)}, not {arch!r}")
    torch.manual_seed(seed)
    cfg = StyleGAN3Config(img_resolution=resolution, num_fp16_res=num_fp16_res,
                          conv_clamp=conv_clamp, **SHAPES[arch])
    return Generator(cfg).eval().requires_grad_(False)
