"""How square pictures fill a frame of any shape (`output.size: [W, H]`, `output.fit`).

Frames are composed at the scale they are drawn at (the generator's, or the upscaler's
output), as a canvas with the frame's aspect; the encoder's lanczos resize then takes the
canvas to the frame's exact size, as it takes a square picture to a square frame. So a
padded frame holds the square render's very pixels, and the upscaler's detail is learned,
not stretched: it runs before the fit.

    pad     the picture centred at the frame's short side; a colour or its own blur around
    crop    the picture covers the frame; the overflow is cut
    extend  the network paints the whole canvas (models/extend.py); cut to the aspect
    grid    cols x rows cells, each a walk of its own, each picture covering its cell
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentreel.models.extend import Margin, margin_for

COLOURS = {"black": "#000000", "white": "#ffffff"}
BLUR_FACTOR = 24  # the blurred fill is drawn at 1/24 of the canvas and smoothed back up


@dataclass(frozen=True)
class Canvas:
    """The frame's shape and how pictures fill it."""

    frame: tuple[int, int]  # (width, height) of the video in pixels
    fit: str = "pad"  # pad | crop | extend | grid
    background: str | None = None  # pad: #rrggbb, #rgb, black, white or blur (None: black)
    grid: tuple[int, int] = (1, 1)  # (cols, rows): pictures per frame

    @property
    def cells(self) -> int:
        """Pictures drawn per frame."""
        return self.grid[0] * self.grid[1] if self.fit == "grid" else 1

    @property
    def square(self) -> bool:
        """Nothing to compose: one picture fills a square frame."""
        return self.frame[0] == self.frame[1] and self.cells == 1

    def picture_side(self) -> int:
        """Output pixels one picture's side spans (what an upscaler aims for)."""
        w, h = self.frame
        if self.fit == "grid":
            return max(w // self.grid[0], h // self.grid[1])
        return max(w, h) if self.fit == "crop" else min(w, h)

    def size(self, side: int) -> tuple[int, int]:
        """(width, height) of the canvas for pictures drawn ``side`` px square."""
        w, h = self.frame
        span = self.picture_side()
        return (max(1, round(side * w / span)), max(1, round(side * h / span)))

    def margin(self, step: int | None, side: int, factor: int = 1) -> Margin:
        """First-map cells each side the generator adds so its picture (``side`` px once
        upscaled ``factor`` times) covers the canvas (extend; (0, 0) otherwise)."""
        if self.fit != "extend" or step is None:
            return (0, 0)
        cw, ch = self.size(side)
        extra = (-(-(ch - side) // (2 * factor)), -(-(cw - side) // (2 * factor)))
        return margin_for(extra, step)

    def compose(self, images: torch.Tensor, side: int) -> torch.Tensor:
        """Pictures [N * cells, 3, h, w] (square ``side`` px; wider for extend) -> canvases
        [N, 3, ch, cw] in the same dtype and range: floats in [-1, 1] or uint8."""
        if self.square and self.fit != "extend":
            return images
        cw, ch = self.size(side)
        if self.fit == "grid":
            return self._tile(images, side)
        if self.fit in ("crop", "extend"):
            return _centre_crop(images, cw, ch)
        return self._pad(images, cw, ch)

    def _pad(self, images: torch.Tensor, cw: int, ch: int) -> torch.Tensor:
        n, c, h, w = images.shape
        top, left = (ch - h) // 2, (cw - w) // 2
        if self.background == "blur":
            out = _blurred_cover(images, cw, ch)
        else:
            fill = colour(self.background or "black")
            if images.dtype == torch.uint8:  # as to_uint8 rounds a picture's pixels
                fill = ((fill + 1) * 127.5).round()
            out = images.new_empty(n, c, ch, cw)
            out[:] = fill.to(images)[None, :, None, None]
        out[:, :, top:top + h, left:left + w] = images
        return out

    def _tile(self, images: torch.Tensor, side: int) -> torch.Tensor:
        cols, rows = self.grid
        cw, ch = self.size(side)
        n = images.shape[0] // (cols * rows)
        cells = images.reshape(n, rows * cols, *images.shape[1:])
        out = images.new_empty(n, images.shape[1], ch, cw)
        xs = [round(i * cw / cols) for i in range(cols + 1)]
        ys = [round(j * ch / rows) for j in range(rows + 1)]
        for j in range(rows):
            for i in range(cols):
                cell = _centre_crop(cells[:, j * cols + i], xs[i + 1] - xs[i], ys[j + 1] - ys[j])
                out[:, :, ys[j]:ys[j + 1], xs[i]:xs[i + 1]] = cell
        return out


def colour(text: str) -> torch.Tensor:
    """'#rrggbb', '#rgb', 'black' or 'white' -> [3] in [-1, 1] (images' range)."""
    text = COLOURS.get(text, text).lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    rgb = [int(text[i:i + 2], 16) for i in (0, 2, 4)]
    return torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1


def _centre_crop(images: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """The middle h x w of images [N, C, H, W] (H >= h, W >= w)."""
    top, left = (images.shape[2] - h) // 2, (images.shape[3] - w) // 2
    return images[:, :, top:top + h, left:left + w]


def _blurred_cover(images: torch.Tensor, cw: int, ch: int) -> torch.Tensor:
    """The pictures scaled to cover a cw x ch canvas, blurred and darkened a little so the
    picture in front stands out (the look of a phone video shown on a wide screen)."""
    small = (max(1, ch // BLUR_FACTOR), max(1, cw // BLUR_FACTOR))
    scale = max(small[0] / images.shape[2], small[1] / images.shape[3])
    cover = F.interpolate(images.float(), scale_factor=scale, mode="area",
                          recompute_scale_factor=False) if scale < 1 else images.float()
    cover = _centre_crop(cover, min(cover.shape[3], small[1]), min(cover.shape[2], small[0]))
    out = F.interpolate(cover, size=(ch, cw), mode="bicubic", align_corners=False)
    if images.dtype == torch.uint8:  # 0.7 x in [0, 255] is 0.7 x - 0.3 in [-1, 1]
        return (out * 0.7).round().clamp(0, 255).to(torch.uint8).contiguous()
    return (out * 0.7 - 0.3).to(images.dtype).contiguous()
