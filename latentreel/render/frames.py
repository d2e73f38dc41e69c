"""Batched synthesis: a latent path -> uint8 frames on the host, in order.

A FrameSource is what draws: the generator, and the learned upscaler with its temporal
stabiliser when the output asks for one. The single-file writer (render.pipeline), the
segmented writer (render.segments), Ray workers, sheets and the live player all draw through
it; so is the torch-thread share that leaves the encoder its core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from latentreel.latents.cells import CellPaths
from latentreel.latents.path import LatentPath
from latentreel.models.base import Generator, to_uint8
from latentreel.models.bend import Bender
from latentreel.render.canvas import Canvas
from latentreel.upscale.runtime import Upscaler, load_upscaler_for


@dataclass(frozen=True)
class FrameSource:
    """What draws a render's frames: a generator (tuned or not), optionally behind a learned
    upscaler whose detail is stabilised over ``smooth_radius`` neighbouring frames."""

    generator: Generator
    upscaler: Upscaler | None = None
    smooth_radius: int = 0  # neighbours each side (upscale.temporal; 0: none)
    canvas: Canvas | None = None  # how pictures fill a non-square frame (None: as drawn)
    bender: Bender | None = None  # hooks bending the generator's feature maps (None: none)

    @property
    def name(self) -> str:
        """The model's name, and the upscaler's after a '+' when there is one."""
        up = self.upscaler
        return self.generator.name if up is None else f"{self.generator.name}+{up.info.name}"

    @property
    def device(self) -> torch.device:
        return self.generator.device

    @property
    def resolution(self) -> int:
        """Side of the frames drawn, in pixels (the upscaler's output when there is one)."""
        factor = self.upscaler.factor if self.upscaler is not None else 1
        return self.generator.resolution * factor

    @property
    def margin(self) -> tuple[int, int]:
        """First-map cells the generator adds each side to paint an extended canvas."""
        if self.canvas is None:
            return (0, 0)
        factor = self.upscaler.factor if self.upscaler is not None else 1
        return self.canvas.margin(self.generator.extend_step, self.resolution, factor)

    def images(self, latents: torch.Tensor, space: str,
               cameras: torch.Tensor | None = None,
               bends: torch.Tensor | None = None) -> torch.Tensor:
        """Frames [N, 3, h, w] in [-1, 1] (upscaled: not clamped) for latents [N, *S] (a grid:
        [N * cells, *S], cell after cell), each on its own (no smoothing: these latents have
        no order): R x R pictures, composed on the canvas when there is one. ``bends``
        [N, D]: each picture's bend numbers (needs ``bender``)."""
        return self._fit(self._pictures(latents, space, cameras, bends))

    def _pictures(self, latents: torch.Tensor, space: str,
                  cameras: torch.Tensor | None = None,
                  bends: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's pictures (bent, wider where the canvas extends them), upscaled."""
        return self._upscaled(self._drawn(latents, space, cameras, bends))

    def _upscaled(self, images: torch.Tensor) -> torch.Tensor:
        return images if self.upscaler is None else self.upscaler(images)

    def _drawn(self, latents: torch.Tensor, space: str, cameras: torch.Tensor | None,
               bends: torch.Tensor | None) -> torch.Tensor:
        """The generator's own pictures, bent by ``bends`` rows, over the canvas's margin."""
        margin = self.margin
        # Only an extended canvas passes a margin: every other call reads as it always did.
        extra = {"margin": margin} if margin != (0, 0) else {}
        if extra and self.upscaler is None:  # the canvas keeps the middle: trim the rest
            cw, ch = self.canvas.size(self.resolution)
            extra["keep"] = (ch, cw)
        if self.bender is None or bends is None:
            return self.generator.synthesize(latents, space, camera=cameras, **extra)
        with self.bender.bending(bends):
            return self.generator.synthesize(latents, space, camera=cameras, **extra)

    def _frames_uint8(self, pictures: torch.Tensor) -> torch.Tensor:
        """Pictures [N (x cells), 3, h, w] in [-1, 1] -> frames [N, H, W, 3] uint8, converted
        on the device (4x less to copy). A fit that only cuts (crop, extend) cuts first; one
        that adds pixels (pad, grid) converts the pictures first and places bytes, so the
        frame's new pixels cost a copy, not a conversion."""
        if self.canvas is None or self.canvas.fit in ("crop", "extend"):
            return to_uint8(self._fit(pictures))
        return self._fit(to_uint8(pictures).permute(0, 3, 1, 2)).permute(0, 2, 3, 1) \
            .contiguous()

    def _fit(self, pictures: torch.Tensor) -> torch.Tensor:
        return pictures if self.canvas is None else self.canvas.compose(pictures,
                                                                        self.resolution)

    def uint8(self, latents: torch.Tensor, space: str) -> np.ndarray:
        """Images [N, R, R, 3] uint8 on the host for latents [N, *S], in one batched call."""
        with torch.inference_mode():
            return to_uint8(self.images(latents.to(self.device), space)).cpu().numpy()

    def batches(self, path: LatentPath | CellPaths, space: str, batch_size: int,
                autocast: torch.dtype | None = None, *, start: int = 0,
                stop: int | None = None,
                bends: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        """uint8 frames [B, H, W, 3] on the CPU, in order, ``batch_size`` at a time.

        ``autocast``: run the generator in this lower precision (see latentreel.device).
        ``start``, ``stop``: only frames [start, stop) of ``path`` (a segment). A frame
        depends only on its own latent and, under temporal smoothing, its neighbours' latents
        in ``path``, so segments and batches cut anywhere give the frames of one whole render.
        ``bends``: the bend track [total_frames, D] (every cell of a grid bends alike).
        """
        stop = path.total_frames if stop is None else stop
        cells = path.paths if isinstance(path, CellPaths) else [path]  # a grid: walk per cell
        with torch.inference_mode(), torch.autocast(self.device.type,
                                                    enabled=autocast is not None,
                                                    dtype=autocast or torch.bfloat16):
            for first in range(start, stop, batch_size):
                last = min(first + batch_size, stop)
                if self.smooth_radius and self.upscaler is not None:
                    # Each cell's detail steadied along its own walk; cells interleaved
                    # frame by frame, as the canvas tiles them.
                    pictures = torch.stack([self._smoothed(p, space, first, last, bends)
                                            for p in cells], dim=1).flatten(0, 1)
                else:
                    idx = torch.arange(first, last)
                    latents, cameras = path.latents(idx), path.cameras(idx)
                    rows = None if bends is None else bends[idx]
                    if len(cells) > 1:  # [B, cells, *S] -> [B * cells, *S]
                        latents = latents.flatten(0, 1)
                        cameras = None if cameras is None else cameras.flatten(0, 1)
                        rows = None if rows is None else rows.repeat_interleave(len(cells), 0)
                    pictures = self._unique(latents.to(self.device), space, cameras,
                                            rows).float()
                yield self._frames_uint8(pictures.float()).cpu()

    def _smoothed(self, path: LatentPath, space: str, first: int, last: int,
                  bends: torch.Tensor | None = None) -> torch.Tensor:
        """Frames [first, last), their learned detail stabilised over ``smooth_radius``
        neighbours each side, rendered as context: clipped at the video's ends, or wrapped
        around for a looping scene, whose last frame leads into its first."""
        from latentreel.upscale.temporal import stabilise

        radius, total = self.smooth_radius, path.total_frames
        if path.loop:
            lo, hi = first - radius, last + radius
            idx = torch.arange(lo, hi) % total
        else:
            lo, hi = max(0, first - radius), min(total, last + radius)
            idx = torch.arange(lo, hi)
        lat, cams, rows, inverse = _distinct(path.latents(idx).to(self.device),
                                             path.cameras(idx),
                                             None if bends is None else bends[idx])
        base = self._drawn(lat, space, cams, rows)
        sr = self.upscaler(base)
        if inverse is not None:  # back in frame order: hold frames repeat their keyframe's
            base, sr = base[inverse], sr[inverse]
        return stabilise(base.float(), sr.float(), first - lo, last - lo, radius)

    def _unique(self, latents: torch.Tensor, space: str,
                cameras: torch.Tensor | None = None,
                bends: torch.Tensor | None = None) -> torch.Tensor:
        """Draw each distinct (latent, camera, bend) once: hold frames repeat their
        keyframe's.

        ``cameras`` [N, 4]: per-frame (x, y, angle, log2 zoom) for models with a camera, else None.
        ``bends`` [N, D]: per-frame bend numbers, else None.
        Returns the pictures, before the canvas's fit."""
        lat, cams, rows, inverse = _distinct(latents, cameras, bends)
        images = self._pictures(lat, space, cams, rows)
        return images if inverse is None else images[inverse]


def _distinct(latents: torch.Tensor, cameras: torch.Tensor | None,
              bends: torch.Tensor | None = None):
    """(distinct latents, their cameras or None, their bends or None, inverse index or None
    when all differ)."""
    flat = latents.flatten(1)
    extras = [t for t in (cameras, bends) if t is not None]
    if extras:
        flat = torch.cat([flat, *[t.to(flat) for t in extras]], dim=1)
    uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
    if len(uniq) == len(flat):
        uniq, inverse = flat, None
    n = latents[0].numel()
    lat = uniq[:, :n].reshape(-1, *latents.shape[1:])
    at = n
    cams = rows = None
    if cameras is not None:
        width = cameras.shape[1]  # (x, y, angle, log2 zoom)
        cams, at = uniq[:, at:at + width].float(), at + width
    if bends is not None:
        rows = uniq[:, at:at + bends.shape[1]].float()
    return lat, cams, rows, inverse


def frame_source(generator: Generator, *, upscale: str | None, size: int,
                 smooth: bool = False, canvas: Canvas | None = None) -> FrameSource:
    """``generator``'s frames, upscaled by the named upscaler towards ``size`` px (none,
    lanczos or None: as drawn), then fitted to ``canvas`` (None: square frames, as drawn).
    ``smooth``: video frames get their learned detail stabilised over neighbouring frames
    (output.upscale_smooth). With a canvas the upscaler aims at the side one picture spans
    in the frame, not at ``size``.

    Raises:
        ModelError: unknown upscaler or weights not installed (with the install command).
    """
    target = size if canvas is None else canvas.picture_side()
    canvas = None if canvas is None or canvas.square else canvas
    upscaler = load_upscaler_for(upscale, generator.resolution, target, generator.device)
    if upscaler is None:
        return FrameSource(generator, canvas=canvas)
    from latentreel.upscale.temporal import RADIUS

    return FrameSource(generator, upscaler, RADIUS if smooth else 0, canvas=canvas)


def output_canvas(output) -> Canvas | None:
    """The canvas an Output's frames are composed on (None: a square frame)."""
    canvas = Canvas(frame=output.frame, fit=output.fit, background=output.background,
                    grid=output.grid or (1, 1))
    return None if canvas.square else canvas


@contextmanager
def encoder_cpu_share(source: FrameSource, output):
    """On the CPU, leave x264 a core when encoding dominates.

    Generator and encoder share the machine's cores. When frames are upscaled a lot, x264 is
    the bottleneck, and one torch thread plus x264's threads beats both fighting over every
    core (measured on 2 cores at 64 -> 512 px: 98 vs 86 frames/s); at small output sizes
    the generator is the bottleneck and keeps every thread.
    """
    if source.device.type != "cpu" or min(output.frame) < 4 * source.resolution:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // 2))
    try:
        yield
    finally:
        torch.set_num_threads(before)
