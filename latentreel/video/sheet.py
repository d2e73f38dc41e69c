"""Contact sheets and frame strips: labelled PNG montages of faces."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from latentreel.cache import atomic_write_path

_BG = (24, 24, 28)
_FG = (235, 235, 235)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _as_numpy(images) -> np.ndarray:
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    return np.asarray(images, dtype=np.uint8)


def contact_sheet(images, labels: list[str] | None = None, *, cols: int | None = None,
                  cell: int = 128, title: str | None = None,
                  row_labels: list[str] | None = None) -> Image.Image:
    """A grid of images [N, H, W, 3] uint8, each upscaled to ``cell`` px with a label below."""
    images = _as_numpy(images)
    n = len(images)
    cols = cols or min(n, 8)
    rows = math.ceil(n / cols)
    font_px = max(10, cell // 9)
    label_h = font_px + 8 if labels else 0
    left = (max(len(r) for r in row_labels) * font_px * 6 // 10 + 12) if row_labels else 0
    top = font_px + 16 if title else 0
    pad = 4
    sheet = Image.new("RGB", (left + cols * (cell + pad) + pad,
                              top + rows * (cell + label_h + pad) + pad), _BG)
    draw = ImageDraw.Draw(sheet)
    font = _font(font_px)
    if title:
        draw.text((pad + left, 6), title, fill=_FG, font=_font(font_px + 2))
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        x = left + pad + c * (cell + pad)
        y = top + pad + r * (cell + label_h + pad)
        sheet.paste(Image.fromarray(img).resize((cell, cell), Image.LANCZOS), (x, y))
        if labels and i < len(labels):
            draw.text((x + 2, y + cell + 3), str(labels[i]), fill=_FG, font=font)
    for r, text in enumerate(row_labels or []):
        y = top + pad + r * (cell + label_h + pad) + cell // 2 - font_px // 2
        draw.text((6, y), str(text), fill=_FG, font=font)
    return sheet


def frame_strip(frames, n: int = 8, cell: int = 96) -> Image.Image:
    """n evenly spaced frames side by side, ``cell`` px tall."""
    frames = _as_numpy(frames)
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    h, w = frames.shape[1:3]
    width = cell * w // h
    strip = Image.new("RGB", (len(idx) * width, cell), _BG)
    for k, i in enumerate(idx):
        strip.paste(Image.fromarray(frames[i]).resize((width, cell), Image.LANCZOS), (k * width, 0))
    return strip


def save_png(image: Image.Image, path: Path) -> Path:
    """Write ``image`` atomically (a crash never leaves half a PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_write_path(path)
    image.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
