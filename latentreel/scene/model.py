"""The typed scene: what a validated YAML scene file means."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from latentreel.scene.controls import Controls
from latentreel.audio.shaping import Shaping
from latentreel.models.bend import BendSlot


@dataclass(frozen=True)
class Transition:
    """The move from one keyframe to the next."""

    duration: float  # seconds; round(duration * fps) frames
    interpolation: str  # linear | slerp | spline
    easing: str  # linear | ease-in | ease-out | ease-in-out | smoothstep
    timing: str = "uniform"  # uniform | perceptual (re-timed for even visual change)
    sweep: dict[str, Any] | None = None  # {direction, from, to}: sweep a direction on the way
    turns: float = 0.0  # whole camera turns on the way (StyleGAN3 models)


@dataclass(frozen=True)
class Pin:
    """A keyframe pinned to the music: its hold starts on this moment."""

    unit: str  # seconds | beat | bar
    value: float  # seconds, or the beat's or bar's number (from 0)
    where: str  # "file:line:col" of the `at:`


@dataclass(frozen=True)
class Bend:
    """One `bend:` entry: where and how (the slot), its numbers, and where the scene says so."""

    slot: BendSlot  # layer, op, seed, channels
    values: tuple[float, ...]  # the op's numbers (BEND_OPS order), neutral where not given
    where: str  # "file:line:col: field" of the entry, for problems found once loaded


@dataclass(frozen=True)
class ClassLabel:
    """The class a conditional generator draws a keyframe's seed in: exactly one of an
    index or a label vector."""

    index: int | None = None  # class number
    labels: tuple[float, ...] | None = None  # one weight per class
    where: str = ""  # "file:line:col: field" that set it, for errors found once loaded

    def vector(self, c_dim: int) -> list[float]:
        """The label vector for a model with ``c_dim`` classes (checked against it first)."""
        if self.labels is not None:
            return list(self.labels)
        return [1.0 if i == self.index else 0.0 for i in range(c_dim)]

    def problem(self, c_dim: int, model: str) -> str | None:
        if not c_dim:
            return f"{model} is not a conditional generator; remove `class:`"
        if self.index is not None and self.index >= c_dim:
            return (f"class {self.index} is out of range: {model} has classes 0 to "
                    f"{c_dim - 1}")
        if self.labels is not None and len(self.labels) != c_dim:
            return (f"labels has {len(self.labels)} weights but {model} has {c_dim} "
                    "classes; give one weight per class")
        return None


@dataclass(frozen=True)
class Keyframe:
    """One keyframe: a kind (seed, latent, anti, ...) and how long it holds."""

    index: int  # position in the scene's keyframe list
    kind: str  # key into scene.kinds.KINDS
    params: Any  # the kind's validated value (int, Path, dict, ...)
    name: str | None  # label other keyframes refer to with `of:` / `from:`
    hold: float  # seconds shown still before its transition
    transition: Transition  # the move to the next keyframe
    truncation: float  # psi towards the mean latent: 1 keeps, 0 gives the average face
    where: str  # "file:line:col" of this keyframe, for errors found while resolving it
    # (x, y, angle, log2 zoom) for models with a camera (latents.camera.CAMERA_FIELDS)
    camera: tuple[float, float, float, float] | None = None
    camera_where: str | None = None  # "file:line:col: field" that set the camera, for errors
    at: Pin | None = None  # pinned to the music (holds and transitions stretch to fit)
    bend: tuple[Bend, ...] = ()  # feature-map bends (its own, else the defaults'; () none)
    label: ClassLabel | None = None  # the class of a conditional model (own or defaults')


@dataclass(frozen=True)
class Output:
    path: Path  # resolved relative to the scene file
    fps: int = 30
    size: int = 512  # frame height in pixels (and width, unless `width` is set)
    crf: int = 18  # x264 quality: lower is better and bigger
    audio: Path | None = None  # optional soundtrack, trimmed or looped to the video
    preset: str = "medium"  # x264 speed/size trade-off
    upscale: str = "none"  # none | lanczos | a learned upscaler from upscale.registry
    upscale_smooth: bool = True  # stabilise learned detail over neighbouring frames (video)
    width: int | None = None  # frame width when it is not `size` (a [W, H] size)
    fit: str = "pad"  # pad | crop | extend | grid: how the square picture fills the frame
    background: str | None = None  # fit pad: #rrggbb, #rgb, black, white or blur (None: black)
    grid: tuple[int, int] | None = None  # fit grid: (cols, rows)
    grid_seed_step: int = 1  # fit grid: cell i adds i * this to every seed keyframe
    fit_where: str | None = None  # "file:line:col" of `fit:`, for problems found at load

    @property
    def frame(self) -> tuple[int, int]:
        """(width, height) of the video's frames in pixels."""
        return (self.width or self.size, self.size)

    @property
    def square(self) -> bool:
        """A square frame with the picture filling it (nothing to fit)."""
        w, h = self.frame
        return w == h and self.fit != "grid"

    def with_height(self, height: int) -> Output:
        """These settings at another frame height, the width scaled to keep the aspect
        (rounded to an even number, as the encoder needs)."""
        w, h = self.frame
        width = None if self.width is None else max(2, round(w * height / h / 2) * 2)
        return replace(self, size=height, width=width)


@dataclass(frozen=True)
class Music:
    """The song a scene reacts to (`audio:`)."""

    path: Path  # the mix: heard, and listened to
    stems: dict[str, Path] = field(default_factory=dict)  # named parts, listened to only
    length: str = "song"  # song: the video lasts as long as the mix; keyframes: as they say


@dataclass(frozen=True)
class Reaction:
    """One `react:` entry: a feature of the mix (or a stem) bound to a drive."""

    feature: str  # key of audio.features.FEATURES
    drive: str  # key of audio.drives.DRIVES
    amount: float  # 0: no reaction at all
    shaping: Shaping  # the drive's defaults with the entry's own fields over them
    stem: str | None = None  # a key of Music.stems (None: the mix)
    target: str | None = None  # see audio.drives.DRIVES[drive].target
    bend: BendSlot | None = None  # a bend drive's slot: whose first number it moves
    index: int = 0  # position in the react list (seeds its random targets)
    where: str = ""  # "file:line:col" of the entry


@dataclass(frozen=True)
class Scene:
    file: Path  # the scene file (files it names resolve relative to its folder)
    model: str  # registry name or model file path
    space: str | None  # latent space to interpolate in (None: the model's first)
    seed: int  # seeds everything random in the scene (feedback, search)
    output: Output
    loop: bool  # transition from the last keyframe back to the first, seamlessly
    keyframes: list[Keyframe] = field(default_factory=list)
    controls: Controls | None = None  # what `play` may steer live, and from which knobs
    audio: Music | None = None  # the music it reacts to (`audio:`)
    react: tuple[Reaction, ...] = ()  # features bound to drives

    @property
    def camera_where(self) -> str | None:
        """Where the scene first asks for a camera (None: it never does)."""
        return next((kf.camera_where for kf in self.keyframes if kf.camera_where), None)

    @property
    def base(self) -> Path:
        return self.file.parent
