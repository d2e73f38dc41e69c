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
from latentreel.invert.delta import WeightDelta
from latentreel.invert.tuned import tuned_for_pivots
from latentreel.latents.path import LatentPath
from latentreel.models.base import Generator
from latentreel.models.fingerprint import weights_fingerprint
from latentreel.models.registry import load_generator
from latentreel.render.frames import FrameSource, frame_source
from latentreel.render.keyframes import resolve_keyframes, scene_space
from latentreel.render.schedule import build_path
from latentreel.render.timing import apply_perceptual_timing
from latentreel.scene.model import Keyframe, Output, Scene
from latentreel.spec.kind import SceneState

FINGERPRINT_BATCH = 1024  # frames whose latents are hashed at a time (memory stays flat)


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
    path: LatentPath  # the latent (and camera) of every frame
    state: SceneState  # what the keyframe kinds left behind (FaceNet, reports)
    batch_size: int  # frames per generator call
    autocast: torch.dtype | None  # lower precision for the generator (None: fp32)
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
                                   start=start, stop=stop)

    def fingerprint(self) -> str:
        """A digest of everything that decides the video's pixels: the model's weights and
        tuning, how frames are drawn and encoded, and every frame's latent, camera and
        tracks. Segments of a render resume only into a render with the same fingerprint."""
        h = hashlib.sha256()
        drawn = {k: v for k, v in asdict(self.output).items() if k not in ("path", "audio")}
        header = {
            "weights": weights_fingerprint(self.base), "tuning": self.tuning,
            "output": drawn, "space": self.space, "autocast": str(self.autocast),
            "smooth_radius": self.source.smooth_radius, "frames": self.path.total_frames,
            "loop": self.path.loop, "tracks": sorted(self.tracks),
        }
        classes = [None if kf.label is None else kf.label.vector(self.base.c_dim)
                   for kf in self.keyframes]
        if any(c is not None for c in classes):  # only then: older fingerprints stay valid
            header["classes"] = classes
        h.update(json.dumps(header, sort_keys=True, default=str).encode())
        total = self.path.total_frames
        for first in range(0, total, FINGERPRINT_BATCH):
            idx = torch.arange(first, min(first + FINGERPRINT_BATCH, total))
            h.update(self.path.latents(idx).detach().float().cpu().numpy().tobytes())
            cameras = self.path.cameras(idx)
            if cameras is not None:
                h.update(cameras.numpy().tobytes())
            for name in sorted(self.tracks):
                h.update(self.tracks[name][idx].detach().float().cpu().numpy().tobytes())
        return h.hexdigest()[:24]


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
    # 2. The upscaler first: missing weights stop the render before any inversion or tuning.
    source = frame_source(generator, upscale=output.upscale, size=output.size,
                          smooth=output.upscale_smooth)
    # 3. Resolve keyframes (inverting photos) and tune the generator for the scene's pivots.
    space = scene_space(scene, generator)
    resolved = resolve_keyframes(scene, generator, progress=progress)
    tuned, delta = tuned_for_pivots(generator, resolved.state.pivots, progress=progress)
    # 4. Lay out the frames: holds and transitions, sweeps, perceptual re-timing.
    keyframes = resolved.keyframes
    plain = build_path(keyframes, resolved.latents, output.fps,
                       scene.loop if loop is None else loop,
                       offsets=sweep_offsets(keyframes, tuned, space))
    path = apply_perceptual_timing(tuned, plain, [kf.transition.timing for kf in keyframes],
                                   space, progress=progress)
    return PreparedScene(scene=scene, output=output, base=generator, generator=tuned,
                         delta=delta, source=replace(source, generator=tuned), space=space,
                         keyframes=keyframes, latents=resolved.latents, plain_path=plain,
                         path=path, state=resolved.state, batch_size=batch, autocast=autocast)

