"""The Python API without YAML: a looping walk through six seeds, rendered to out/walk.mp4."""

from pathlib import Path

import torch

from latentreel.latents import LatentPath
from latentreel.models.base import seed_latent
from latentreel.models.registry import load_generator
from latentreel.device import pick_device
from latentreel.render.pipeline import write_path_video
from latentreel.scene.model import Output

device = pick_device("auto")
generator = load_generator("dcgan-digiface", device)
seeds = [6, 42, 7, 12, 28, 3]
keyframes = torch.stack([torch.from_numpy(seed_latent(s, generator.z_dim)) for s in seeds])
n = len(seeds)
path = LatentPath(keyframes, hold_frames=[10] * n, transition_frames=[45] * n,
                  interpolation=["slerp"] * n, easing=["ease-in-out"] * n, loop=True)
out = Output(path=Path("out/walk.mp4"), fps=30, size=256)
frames = write_path_video(generator, path, out, "z", batch_size=32)
print(f"wrote {out.path} ({frames} frames)")
