"""Pictures of an inversion: the side-by-side PNG and the "encoder in action" video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.models.base import Generator, to_uint8


def comparison_png(photo: np.ndarray | None, target: np.ndarray, recon: np.ndarray, path: Path,
                   metrics: dict | None = None) -> Path:
    """Photo | aligned crop | reconstruction, labelled."""
    from latentreel.video.sheet import contact_sheet, save_png

    cell = 192
    images, labels = [], []
    if photo is not None:
        images.append(_square(photo, target.shape[0]))
        labels.append("photo")
    images += [target, recon]
    labels += ["aligned target", "reconstruction"]
    title = None
    if metrics:
        title = f"{metrics.get('method', '')}  PSNR {metrics.get('psnr', 0):.1f} dB" + (
            f"  FaceNet distance {metrics['identity_distance']:.3f}"
            if "identity_distance" in metrics else "")
    save_png(contact_sheet(np.stack(images), labels, cell=cell, title=title), path)
    return path


def _square(photo: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    h, w = photo.shape[:2]
    s = max(h, w)
    canvas = np.full((s, s, 3), 255, np.uint8)
    canvas[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = photo
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.LANCZOS))


class ProgressVideo:
    """Collects target | current reconstruction frames during optimisation, then encodes.

    Frames are drawn every ``every`` steps and encoded once at the end; at 64 px a
    thousand-step run is a few MB of frames, which is cheaper than a live encoder."""

    def __init__(self, generator: Generator, target: np.ndarray, path: Path, *, every: int = 2,
                 space: str = "z", fps: int = 30, size: int = 256):
        self.g, self.target, self.path = generator, target, Path(path)
        self.every, self.space, self.fps, self.size = every, space, fps, size
        self.frames: list[np.ndarray] = []

    def __call__(self, step: int, latents: torch.Tensor) -> None:
        if step % self.every:
            return
        with torch.no_grad():
            recon = to_uint8(self.g.synthesize(latents[:1], self.space))[0].cpu().numpy()
        frame = np.concatenate([self.target, recon], axis=1)
        self.frames.append(_label(frame, f"step {step}"))

    def write(self) -> Path:
        from latentreel.video.writer import FrameWriter

        h, w = self.frames[0].shape[:2]
        with FrameWriter(self.path, fps=self.fps, size=self.size, crf=18,
                         out_width=self.size * w // h) as writer:
            writer.write(np.stack(self.frames))
        return self.path


def _label(frame: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    ImageDraw.Draw(img).text((2, 1), text, fill=(255, 255, 0))
    return np.asarray(img)
