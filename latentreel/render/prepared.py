"""A scene prepared for drawing: everything its frames depend on, settled once.

`render` (plain, segmented, resumed), the Ray driver, `play`, `analyze` and the benches all
draw a scene through ``prepare_scene``, so none of them loads the model, tunes it for the
scene's photos or puts the upscaler behind it its own way, and the resume fingerprint is
taken from what decides the pixels rather than from a list of fields kept by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

import torch

from latentreel.device import autocast_dtype, default_batch_size, pick_device
from latentreel.edits.sweep import sweep_offsets
from latentreel.errors import SceneError
from latentreel.invert.delta import WeightDelta
from latentreel.invert.tuned import tuned_for_pivots
from latentreel.latents.path import LatentPath
from latentreel.models.base import Generator
from latentreel.models.fingerprint import weights_fingerprint
from latentreel.models.registry import load_generator
from latentreel.latents.cells import CellPaths
from latentreel.render.bends import bend_slots, bender_for, check_bend_layers, keyframe_values
from latentreel.render.frames import FrameSource, frame_source, output_canvas
from latentreel.render.keyframes import resolve_keyframes, scene_space
from latentreel.render.react import (
    SceneMusic, bend_offsets, music_timing, react_path, scene_music, with_bend_offsets,
)
from latentreel.render.schedule import build_path
from latentreel.render.timing import apply_perceptual_timing
from latentreel.scene.model import Keyframe, Output, Scene
from latentreel.spec.kind import SceneState

FINGERPRINT_BATCH = 1024  # frames whose latents are hashed at a time (memory stays flat)


# Output fields that came after resumable renders did, at their neutral values: left out of
# the fingerprint (as music, bends and classes are when a scene has none), so a scene that
# uses none of them keeps the fingerprint it had and its partial render still resumes.
NEUTRAL_OUTPUT = {"width": None, "fit": "pad", "background": None, "grid": None,
                  "grid_seed_step": 1}

@dataclass(frozen=True)
class PreparedScene:
    """Everything a scene needs to draw frames."""

    scene: Scene
    output: Output  # the scene's output settings after the caller's overrides
    base: Generator  # the model as loaded, on the chosen device
    generator: Generator  # ``base`` tuned for the scene's photos (``base`` when untuned)
    delta: WeightDelta | None  # what tuning added to the base weights (None: untuned)
    source: FrameSource  # ``generator`` behind the upscaler and its stabiliser, if any
    space: str  # the latent space the path moves in
    keyframes: list[Keyframe]  # expanded: a feedback chain contributes several
    latents: torch.Tensor  # [K, *S], one row per expanded keyframe
    plain_path: LatentPath  # the frame path before perceptual re-timing
    path: LatentPath | CellPaths  # the latent (and camera) of every frame (a grid: per cell)
    state: SceneState  # what the keyframe kinds left behind (FaceNet, reports)
    batch_size: int  # frames per generator call
    autocast: torch.dtype | None  # lower precision for the generator (None: fp32)
    music: SceneMusic | None = None  # the scene's analysed music (None: no `audio:`)
    # Named per-frame control values [total_frames, ...] that decide pixels beyond the latent
    # and camera (none yet): the fingerprint covers each one.
    tracks: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def tuning(self) -> str | None:
        """The delta's digest (None: untuned): what Ray workers check before drawing."""
        return None if self.delta is None else self.delta.digest()

    def batches(self, *, start: int = 0, stop: int | None = None):
        """uint8 frames [B, H, W, 3] on the host, in order (see FrameSource.batches)."""
        return self.source.batches(self.path, self.space, self.batch_size, self.autocast,
                                   start=start, stop=stop, bends=self.tracks.get("bend"))

    def fingerprint(self) -> str:
        """A digest of everything that decides the video's pixels: the model's weights and
        tuning, how frames are drawn and encoded, and every frame's latent, camera and
        tracks. Segments of a render resume only into a render with the same fingerprint."""
        h = hashlib.sha256()
        drawn = {k: v for k, v in asdict(self.output).items()
                 if k not in ("path", "audio", "fit_where")
                 and not (k in NEUTRAL_OUTPUT and v == NEUTRAL_OUTPUT[k])}
        header = {
            "weights": weights_fingerprint(self.base), "tuning": self.tuning,
            "output": drawn, "space": self.space, "autocast": str(self.autocast),
            "smooth_radius": self.source.smooth_radius, "frames": self.path.total_frames,
            "loop": self.path.loop, "tracks": sorted(self.tracks),
        }
        classes = [None if kf.label is None else kf.label.vector(self.base.c_dim)
                   for kf in self.keyframes]
        header.update({k: v for k, v in {
            "music": None if self.music is None else self.music.digest,
            "bends": None if self.source.bender is None else
            [asdict(s) for s in self.source.bender.slots],
            "classes": classes if any(c is not None for c in classes) else None,
        }.items() if v is not None})  # only what the scene uses: see NEUTRAL_OUTPUT
        h.update(json.dumps(header, sort_keys=True, default=str).encode())
        total = self.path.total_frames
        for first in range(0, total, FINGERPRINT_BATCH):
            idx = torch.arange(first, min(first + FINGERPRINT_BATCH, total))
            h.update(self.path.latents(idx).detach().float().cpu().numpy().tobytes())
            cameras = self.path.cameras(idx)
            if cameras is not None:
                # Zoom 1 throughout hashes the (x, y, angle) columns alone, as before zoom
                # existed: older partial renders still resume.
                zoomed = bool(cameras[..., 3].any())
                h.update((cameras if zoomed else cameras[..., :3]).contiguous().numpy().tobytes())
            for name in sorted(self.tracks):
                h.update(self.tracks[name][idx].detach().float().cpu().numpy().tobytes())
        return h.hexdigest()[:24]


def check_extend(output: Output, generator: Generator) -> None:
    """`fit: extend` only where the backend can paint a wider canvas (a model file's kind is
    known once it is loaded)."""
    if output.fit == "extend" and generator.extend_step is None and not output.square:
        where = output.fit_where or str(output.path)
        raise SceneError([f"{where}: output.fit: {generator.name} cannot paint a wider "
                          "canvas; use fit pad or crop"])


def _walk(scene: Scene, resolved, generator: Generator, space: str, fps: int,
          loop: bool | None, music, progress: bool) -> tuple[LatentPath, LatentPath]:
    """(the plain path, the path drawn): holds and transitions (pinned to the music, as long
    as the song), sweeps, perceptual re-timing, then the music's drives on every frame."""
    keyframes = resolved.keyframes
    pins, total = music_timing(scene, music, fps)
    plain = build_path(keyframes, resolved.latents, fps, scene.loop if loop is None else loop,
                       offsets=sweep_offsets(keyframes, generator, space), pins=pins,
                       total=total)
    timed = apply_perceptual_timing(generator, plain,
                                    [kf.transition.timing for kf in keyframes], space,
                                    progress=progress)
    return plain, react_path(timed, scene, music, keyframes, resolved.latents, generator,
                             space)


def _cell_paths(scene: Scene, output: Output, generator: Generator, first,
                loop: bool | None, progress: bool, music=None) -> CellPaths:
    """Cell 0 walks the scene's path; cell i the same scene with every seed keyframe's seed
    moved on by i * grid_seed_step (other kinds, photos say, are shared by every cell)."""
    cols, rows = output.grid
    paths = [first]
    for i in range(1, cols * rows):
        step = i * output.grid_seed_step
        moved = replace(scene, keyframes=[
            replace(kf, params=(kf.params + step) % 2**32) if kf.kind == "seed" else kf
            for kf in scene.keyframes])
        resolved = resolve_keyframes(moved, generator, progress=False)
        # every cell keeps the scene's timing and hears its music (pulses toward its own
        # keyframes)
        paths.append(_walk(moved, resolved, generator, scene_space(moved, generator),
                           output.fps, loop, music, progress)[1])
    return CellPaths(paths)


def prepare_scene(scene: Scene, *, output: Output | None = None, device: str = "auto",
                  generator: Generator | None = None, loop: bool | None = None,
                  precision: str = "fp32", batch_size: int | None = None,
                  progress: bool = True) -> PreparedScene:
    """Load, resolve, tune and lay out ``scene`` for drawing.

    Args:
        output: the output settings to draw for (default: the scene's own).
        device: where to load the model (auto | cpu | cuda | mps), unless ``generator``.
        generator: an already loaded model (a notebook's, a benchmark's), used instead of
            loading ``scene.model``; it stays on its own device.
        loop: override the scene's `loop:` (`play` loops forever).
        precision: fp32 | bf16 | fp16 (autocast on the generator).
        batch_size: frames per generator call (default: by device and resolution).

    Raises:
        BadInputError: bad keyframe files, model, upscaler or options.
    """
    output = output or scene.output
    # 1. Choose the device once and load the generator there.
    if generator is None:
        generator = load_generator(scene.model, pick_device(device), base=scene.base)
    autocast = autocast_dtype(precision, generator.device)
    batch = batch_size or default_batch_size(generator.device, generator.resolution)
    # 2. The upscaler first: missing weights stop the render before any inversion or tuning;
    # the canvas after it, so pictures are upscaled before they are fitted to the frame.
    check_extend(output, generator)
    check_bend_layers(scene.keyframes, generator, scene.react)
    source = frame_source(generator, upscale=output.upscale, size=output.size,
                          smooth=output.upscale_smooth, canvas=output_canvas(output))
    # 3. Resolve keyframes (inverting photos) and tune the generator for the scene's pivots.
    space = scene_space(scene, generator)
    resolved = resolve_keyframes(scene, generator, progress=progress)
    tuned, delta = tuned_for_pivots(generator, resolved.state.pivots, progress=progress)
    # 4. Lay out the frames and the music's drives on every frame.
    keyframes = resolved.keyframes
    music = scene_music(scene, output.fps)
    plain, path = _walk(scene, resolved, tuned, space, output.fps, loop, music, progress)
    # 5. A grid walks once per cell, each cell's seeds moved on by its own step.
    if output.fit == "grid" and output.grid:
        path = _cell_paths(scene, output, tuned, path, loop, progress, music)
    # 6. Bends: their numbers for every frame (eased between keyframes, moved by the bend
    #    reactions), and hooks on the drawing generator.
    slots = bend_slots(keyframes, scene.react)
    tracks = {}
    if slots:
        walk = path.paths[0] if isinstance(path, CellPaths) else path
        frames = walk.total_frames
        tracks["bend"] = with_bend_offsets(
            walk.track(keyframe_values(keyframes, slots), torch.arange(frames)),
            bend_offsets(scene, music, slots, frames), slots)
    return PreparedScene(scene=scene, output=output, base=generator, generator=tuned,
                         delta=delta, source=replace(source, generator=tuned,
                                                     bender=bender_for(tuned, slots)),
                         space=space, keyframes=keyframes, latents=resolved.latents,
                         plain_path=plain, path=path, state=resolved.state, batch_size=batch,
                         autocast=autocast, music=music, tracks=tracks)

