"""Contact sheets and frame strips: labelled PNG montages of faces."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from latentreel.cache import atomic_write

BACKGROUND = (24, 24, 28)  # dark grey: faces stand out, labels stay readable
TEXT = (235, 235, 235)
_PAD = 4  # pixels between cells and around the grid


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _as_images(images) -> np.ndarray:
    """uint8 [N, H, W, 3] numpy from numpy or torch (any device); anything else is refused."""
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or not len(images):
        raise ValueError(f"expected uint8 images [N, H, W, 3] with N >= 1, got {images.dtype} "
                         f"{list(images.shape)}")
    return images


def _fit(text: str, font, width: int) -> str:
    """``text``, shortened with '...' so that it fits ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


@dataclass(frozen=True)
class _Layout:
    """Where things go on a sheet: the grid starts at (left, top)."""

    cols: int
    rows: int
    cell: int
    label_h: int  # text line under each cell (0 without labels)
    left: int  # row-label column
    top: int  # title line
    width: int
    height: int

    def origin(self, i: int) -> tuple[int, int]:
        r, c = divmod(i, self.cols)
        return (self.left + _PAD + c * (self.cell + _PAD),
                self.top + _PAD + r * (self.cell + self.label_h + _PAD))


def _layout(n: int, cols: int | None, cell: int, font, labels, title, row_labels) -> _Layout:
    cols = cols or min(n, 8)
    rows = math.ceil(n / cols)
    line = font.size + 8 if hasattr(font, "size") else 16
    left = int(max(font.getlength(str(t)) for t in row_labels)) + 12 if row_labels else 0
    top = line + 8 if title else 0
    width = left + cols * (cell + _PAD) + _PAD
    if title:  # a long title widens the sheet rather than being cut
        width = max(width, left + int(font.getlength(title)) + 2 * _PAD + 8)
    return _Layout(cols=cols, rows=rows, cell=cell, label_h=line if labels else 0, left=left,
                   top=top, width=width,
                   height=top + rows * (cell + (line if labels else 0) + _PAD) + _PAD)


def contact_sheet(images, labels: list[str] | None = None, *, cols: int | None = None,
                  cell: int = 128, title: str | None = None,
                  row_labels: list[str] | None = None) -> Image.Image:
    """A grid of images, each upscaled (LANCZOS) to ``cell`` px with a label below.

    Args:
        images: uint8 [N, H, W, 3], numpy or torch.
        labels: one line of text per image (too long ones end in '...').
        cols: images per row (default: up to 8).
        cell: side of each (square) cell in pixels.
        title: a line of text above the grid.
        row_labels: one line of text per row, on the left.

    Raises:
        ValueError: bad images, or as many labels (row labels) as images (rows) expected.
    """
    images = _as_images(images)
    font = _font(max(10, cell // 9))
    lay = _layout(len(images), cols, cell, font, labels, title, row_labels)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    if row_labels is not None and len(row_labels) != lay.rows:
        raise ValueError(f"{len(row_labels)} row labels for {lay.rows} rows")
    sheet = Image.new("RGB", (lay.width, lay.height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((lay.left + _PAD, 8), title, fill=TEXT, font=font)
    for i, img in enumerate(images):
        x, y = lay.origin(i)
        sheet.paste(Image.fromarray(img).resize((cell, cell), Image.LANCZOS), (x, y))
        if labels:
            draw.text((x + 2, y + cell + 3), _fit(str(labels[i]), font, cell - 4), fill=TEXT,
                      font=font)
    for r, text in enumerate(row_labels or []):
        _, y = lay.origin(r * lay.cols)
        draw.text((6, y + cell // 2), str(text), fill=TEXT, font=font, anchor="lm")
    return sheet


def frame_strip(frames, n: int = 8, cell: int = 96) -> Image.Image:
    """``n`` evenly spaced frames of [N, H, W, 3] uint8 side by side, ``cell`` px tall."""
    frames = _as_images(frames)
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    h, w = frames.shape[1:3]
    width = max(1, round(cell * w / h))
    strip = Image.new("RGB", (len(idx) * width, cell), BACKGROUND)
    for k, i in enumerate(idx):
        strip.paste(Image.fromarray(frames[i]).resize((width, cell), Image.LANCZOS), (k * width, 0))
    return strip


def save_png(image: Image.Image, path: Path) -> Path:
    """Write ``image`` as PNG atomically (a crash never leaves half a PNG at ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        image.save(tmp, format="PNG")
    return path
