"""The render pipeline: scene -> latents -> batched synthesis on the device -> ffmpeg.

The generator runs on the calling thread in batches under inference mode; frames become
uint8 on the device and go through a bounded queue to the encoder's writer thread, so memory
stays flat however long the video is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from latentreel.models.base import Generator
from latentreel.render.frames import encoder_cpu_share
from latentreel.render.outpath import settle_output_path
from latentreel.render.prepared import PreparedScene, prepare_scene
from latentreel.scene.model import Output, Scene


@dataclass(frozen=True)
class RenderOptions:
    out: Path | str | None = None  # override output.path; a folder (or 'dir/') keeps its name
    device: str = "auto"  # auto | cpu | cuda | mps
    batch_size: int | None = None  # frames per generator call (default: by device)
    fps: int | None = None  # override output.fps
    size: int | None = None  # override output.size's height (a wide frame keeps its aspect)
    preview: bool = False  # fast, small and low-fps, for checking timing
    progress: bool = True  # show a progress bar
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; bf16 ~2x faster on recent CPUs)
    segment_seconds: float | None = None  # write complete segments, joined at the end
    resume: bool = False  # continue a segmented render from its last complete segment
    upscale: str | None = None  # override output.upscale (none | lanczos | an upscaler name)
    upscale_smooth: bool | None = None  # override output.upscale_smooth


@dataclass(frozen=True)
class RenderResult:
    path: Path
    frames: int  # frames in the video
    seconds: float  # wall time of the whole render
    setup_seconds: float = 0.0  # of which before the first frame: model, inversions, timing
    rendered: int | None = None  # frames rendered by this run (None: all; fewer on --resume)

    @property
    def fps(self) -> float:
        """Render speed: frames rendered per second of rendering (set-up not counted)."""
        frames = self.frames if self.rendered is None else self.rendered
        busy = self.seconds - self.setup_seconds
        return frames / busy if busy > 0 else float("inf")


def render_scene(scene: Scene, options: RenderOptions = RenderOptions(), *,
                 generator: Generator | None = None) -> RenderResult:
    """Render ``scene`` to an MP4 and return where it went.

    ``generator``: an already loaded model (a notebook's, a benchmark's) used instead of
    loading ``scene.model``; it stays on its own device.

    Raises:
        BadInputError: bad keyframe files, model or options.
        RenderError: ffmpeg failed; no partial file is left at the output path.
    """
    t0 = time.perf_counter()
    # 1. Settle the output, load the generator, resolve keyframes into a frame path.
    prepared = plan_render(scene, options, generator=generator)
    setup = time.perf_counter() - t0
    rendered = None
    # 2. Synthesize in batches and stream to the encoder (in segments for long renders).
    if options.segment_seconds or options.resume:
        from latentreel.render.segments import write_segmented

        frames, rendered = write_segmented(prepared, segment_seconds=options.segment_seconds,
                                           resume=options.resume, progress=options.progress)
    else:
        frames = write_path_video(prepared, progress=options.progress)
    # 3. Mux the soundtrack, if any.
    mux_soundtrack(prepared.output)
    return RenderResult(path=prepared.output.path, frames=frames,
                        seconds=time.perf_counter() - t0, setup_seconds=setup, rendered=rendered)


def plan_render(scene: Scene, options: RenderOptions, *,
                generator: Generator | None = None) -> PreparedScene:
    """The scene prepared for drawing with ``options``' output, device and precision.

    Shared by the plain render and the distributed one (whose driver resolves keyframes
    once and ships the path to its workers).
    """
    return prepare_scene(scene, output=_output_settings(scene, options), device=options.device,
                         generator=generator, precision=options.precision,
                         batch_size=options.batch_size, progress=options.progress)


def mux_soundtrack(output: Output) -> None:
    """Mux ``output.audio`` into the finished video at ``output.path`` (no-op without one)."""
    if output.audio is not None:
        from latentreel.video.audio import mux_audio

        mux_audio(output.path, output.audio, output.path)


def _output_settings(scene: Scene, options: RenderOptions):
    output = scene.output
    if options.preview:
        stem = output.path.with_suffix("")
        # A preview checks timing and framing: no learned upscaler (seconds a frame on a
        # CPU), unless --upscale asks for one below.
        output = replace(output.with_height(128),
                         path=stem.with_name(stem.name + ".preview.mp4"),
                         fps=min(output.fps, 12), preset="ultrafast", crf=28,
                         upscale="lanczos" if output.upscale != "none" else "none")
    if options.size:  # the frame's height; a wide frame keeps its aspect
        output = output.with_height(options.size)
    changes = {k: v for k, v in (("fps", options.fps), ("upscale", options.upscale)) if v}
    if options.upscale_smooth is not None:
        changes["upscale_smooth"] = options.upscale_smooth
    output = replace(output, **changes)
    # Checked now, before minutes of inversion: a folder, a bad place, one of the inputs.
    return replace(output, path=settle_output_path(options.out, output.path, scene))


def write_path_video(prepared: PreparedScene, *, progress: bool = True) -> int:
    """Encode every frame of ``prepared`` to its ``output.path``; returns the number of frames."""
    from latentreel.video.writer import FrameWriter

    output, total = prepared.output, prepared.path.total_frames
    output.path.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=total, unit="frame", desc=output.path.name, disable=not progress,
               dynamic_ncols=True)
    with bar, FrameWriter(output.path, fps=output.fps, size=output.size, crf=output.crf,
                          preset=output.preset, out_width=output.frame[0]) as writer, \
            encoder_cpu_share(prepared.source, output):
        for frames in prepared.batches():
            writer.write(frames.numpy())
            bar.update(len(frames))
    return total
