"""The render pipeline: scene -> latents -> batched synthesis on the device -> ffmpeg.

The generator runs on the calling thread in batches under inference mode; frames become
uint8 on the device and go through a bounded queue to the encoder's writer thread, so memory
stays flat however long the video is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from latentreel.invert.delta import WeightDelta
from latentreel.latents.path import LatentPath
from latentreel.models.base import Generator
from latentreel.models.registry import load_generator
from latentreel.render.device import autocast_dtype, default_batch_size, pick_device
from latentreel.render.frames import encoder_cpu_share, iter_frame_batches
from latentreel.render.keyframes import resolve_keyframes, scene_space, scene_tuning
from latentreel.render.outpath import settle_output_path
from latentreel.render.schedule import build_path
from latentreel.scene.model import Keyframe, Output, Scene
from latentreel.upscale.runtime import rewrap, with_upscaler


@dataclass(frozen=True)
class RenderOptions:
    out: Path | str | None = None  # override output.path; a folder (or 'dir/') keeps its name
    device: str = "auto"  # auto | cpu | cuda | mps
    batch_size: int | None = None  # frames per generator call (default: by device)
    fps: int | None = None  # override output.fps
    size: int | None = None  # override output.size
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


@dataclass(frozen=True)
class RenderPlan:
    """What a render settles before its first frame: everything the frame loop needs."""

    generator: Generator  # loaded once, on the chosen device; upscaled if output.upscale says
    path: LatentPath  # the latent of every frame (keyframes resolved, re-timed)
    output: Output  # the output settings after the options' overrides
    space: str  # the latent space the path moves in
    batch_size: int  # frames per generator call
    autocast: torch.dtype | None  # lower precision for the generator (None: fp32)
    delta: WeightDelta | None = None  # what pivotal tuning added to the base weights

    @property
    def tuning(self) -> str | None:
        """The delta's digest (None: untuned): what resumed segments and workers check."""
        return None if self.delta is None else self.delta.digest()


@dataclass(frozen=True)
class ResolvedScene:
    """A scene resolved against a generator: what render, play and analyze all draw from."""

    generator: Generator  # tuned for the scene's photos and tuned latent files, else the base
    delta: WeightDelta | None  # the tuning ``generator`` carries (None: untuned)
    keyframes: list[Keyframe]  # expanded: a feedback chain contributes several
    latents: torch.Tensor  # [K, *S], one row per expanded keyframe
    space: str  # the latent space the path moves in
    plain_path: LatentPath  # the frame path before perceptual re-timing
    path: LatentPath  # the frame path to draw
    shared: dict  # what the kinds left behind (FaceNet, feedback reports, tuning pivots)


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
    # 1-3. Settle the output, load the generator, resolve keyframes into a frame path.
    plan = plan_render(scene, options, generator=generator)
    setup = time.perf_counter() - t0
    rendered = None
    # 4. Synthesize in batches and stream to the encoder (in segments for long renders).
    if options.segment_seconds or options.resume:
        from latentreel.render.segments import write_segmented

        frames, rendered = write_segmented(
            plan.generator, plan.path, plan.output, plan.space, batch_size=plan.batch_size,
            segment_seconds=options.segment_seconds, resume=options.resume,
            progress=options.progress, autocast=plan.autocast, tuning=plan.tuning)
    else:
        frames = write_path_video(plan.generator, plan.path, plan.output, plan.space,
                                  batch_size=plan.batch_size, progress=options.progress,
                                  autocast=plan.autocast)
    # 5. Mux the soundtrack, if any.
    mux_soundtrack(plan.output)
    return RenderResult(path=plan.output.path, frames=frames, seconds=time.perf_counter() - t0,
                        setup_seconds=setup, rendered=rendered)


def plan_render(scene: Scene, options: RenderOptions, *,
                generator: Generator | None = None) -> RenderPlan:
    """Steps 1-3 of a render: output settings, the generator, the resolved frame path.

    Shared by the plain render and the distributed one (whose driver resolves keyframes
    once and ships the path to its workers).
    """
    # 1. Settle the output settings.
    output = _output_settings(scene, options)
    # 2. Choose the device once and load the generator there.
    device = generator.device if generator is not None else pick_device(options.device)
    autocast = autocast_dtype(options.precision, device)
    if generator is None:
        generator = load_generator(scene.model, device, base=scene.base)
    batch = options.batch_size or default_batch_size(device, generator.resolution)
    # Checked here, so missing upscaler weights stop the render before any frame.
    frames_from = with_upscaler(generator, output.upscale, output.size,
                                smooth=output.upscale_smooth)
    # 3. Resolve keyframes (tuning the generator for photos) and lay out the frame schedule.
    resolved = resolve_scene(scene, generator, fps=output.fps, loop=scene.loop,
                             progress=options.progress)
    frames_from = rewrap(frames_from, resolved.generator)  # the upscaler wraps the tuned one
    return RenderPlan(generator=frames_from, path=resolved.path, output=output,
                      space=resolved.space, batch_size=batch, autocast=autocast,
                      delta=resolved.delta)


def resolve_scene(scene: Scene, generator: Generator, *, fps: int, loop: bool,
                  progress: bool = True) -> ResolvedScene:
    """Resolve ``scene``'s keyframes on ``generator``, tune it for the scene's photos and
    tuned latent files (one joint tuning, cached by content), and lay out the frame path at
    ``fps``. Every command that draws a scene's frames goes through here, so none of them
    shows the untuned generator where `render` shows the tuned one.

    Raises:
        BadInputError: bad keyframe files (a tuned latent file made on other weights, say).
    """
    space = scene_space(scene, generator)
    shared: dict = {}
    keyframes, latents = resolve_keyframes(scene, generator, progress=progress, shared=shared)
    generator, delta = scene_tuning(generator, shared, progress=progress)
    plain = build_path(keyframes, latents, fps, loop,
                       offsets=transition_offsets(keyframes, generator, space))
    path = apply_timing(plain, keyframes, generator, space, progress=progress)
    return ResolvedScene(generator=generator, delta=delta, keyframes=keyframes,
                         latents=latents, space=space, plain_path=plain, path=path,
                         shared=shared)


def mux_soundtrack(output: Output) -> None:
    """Mux ``output.audio`` into the finished video at ``output.path`` (no-op without one)."""
    if output.audio is not None:
        from latentreel.video.audio import mux_audio

        mux_audio(output.path, output.audio, output.path)


def apply_timing(path: LatentPath, keyframes, generator: Generator, space: str, *,
                 progress: bool = False) -> LatentPath:
    """``path`` with its `timing: perceptual` transitions re-timed (unchanged otherwise)."""
    timings = [kf.transition.timing for kf in keyframes]
    if "perceptual" not in timings:
        return path
    from latentreel.analysis.timing import apply_perceptual_timing

    return apply_perceptual_timing(generator, path, timings, space, progress=progress)


def transition_offsets(keyframes, generator: Generator, space: str) -> dict:
    """Per-transition offset functions for direction sweeps (empty when none sweeps)."""
    if not any(kf.transition.sweep for kf in keyframes):
        return {}
    from latentreel.edits.sweep import sweep_offsets

    return sweep_offsets(keyframes, generator, space)


def _output_settings(scene: Scene, options: RenderOptions):
    output = scene.output
    if options.preview:
        stem = output.path.with_suffix("")
        # A preview checks timing and framing: no learned upscaler (seconds a frame on a
        # CPU), unless --upscale asks for one below.
        output = replace(output, path=stem.with_name(stem.name + ".preview.mp4"), size=128,
                         fps=min(output.fps, 12), preset="ultrafast", crf=28,
                         upscale="lanczos" if output.upscale != "none" else "none")
    changes = {k: v for k, v in (("fps", options.fps), ("size", options.size),
                                 ("upscale", options.upscale)) if v}
    if options.upscale_smooth is not None:
        changes["upscale_smooth"] = options.upscale_smooth
    output = replace(output, **changes)
    # Checked now, before minutes of inversion: a folder, a bad place, one of the inputs.
    return replace(output, path=settle_output_path(options.out, output.path, scene))


def write_path_video(generator, path: LatentPath, output, space: str, *, batch_size: int,
                     progress: bool = True, autocast: torch.dtype | None = None) -> int:
    """Encode every frame of ``path`` to ``output.path``; returns the number of frames."""
    from latentreel.video.writer import FrameWriter

    output.path.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=path.total_frames, unit="frame", desc=output.path.name,
               disable=not progress, dynamic_ncols=True)
    with bar, FrameWriter(output.path, fps=output.fps, size=output.size, crf=output.crf,
                          preset=output.preset) as writer, encoder_cpu_share(generator, output):
        for frames in iter_frame_batches(generator, path, space, batch_size, autocast):
            writer.write(frames.numpy())
            bar.update(len(frames))
    return path.total_frames
