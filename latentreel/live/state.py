"""The control state of a performance, and the control messages that change it.

Every way of steering a performance (OSC, MIDI, live audio) becomes the same `Control`
message, applied on the frame thread between two frames: one order of changes, recorded as
applied, so a recording replays into the same frames (live.replay). A message that does not
fit (unknown address, wrong arguments, a parameter the scene cannot take) is refused with
a reason and changes nothing; it is never fatal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from latentreel.scene.controls import (
    DIRECTION_PREFIX, PARAMS, param_problem, param_range, react_index,
)

PREFIX = "/latentreel/"
ADDRESSES = ("goto", "set", "pulse", "pause", "resume")


@dataclass(frozen=True)
class Control:
    """One control message: an OSC-style address and its arguments."""

    address: str  # e.g. /latentreel/set
    args: tuple = ()  # e.g. ("truncation", 0.7)
    received: float = 0.0  # time.perf_counter() when it arrived (latency measurement)

    def as_json(self) -> list:
        return [self.address, *self.args]


@dataclass(frozen=True)
class Goto:
    """A request to glide to a keyframe (resolved against the scene by the walker)."""

    target: str | int  # a keyframe's name or index
    seconds: float | None  # None: over the transition that leads into it


@dataclass
class ControlState:
    """The live parameters, as the frame about to be drawn sees them."""

    truncation: float = PARAMS["truncation"][2]
    speed: float = PARAMS["speed"][2]
    pulse_decay: float = PARAMS["pulse_decay"][2]
    # x, y, angle, log2 zoom offsets (added to the scene's camera: latents.camera)
    camera: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    paused: bool = False
    pulse: float = 0.0  # the current kick, decaying towards 0
    directions: dict[str, float] = field(default_factory=dict)  # name -> amount
    react: dict[int, float] = field(default_factory=dict)  # `react:` index -> live amount
    goto: Goto | None = None  # a glide asked for, not yet taken up by the walker


class BadControl(ValueError):
    """A control message that does not fit; the message says why (for the log)."""


def apply_control(state: ControlState, control: Control, *, directions: tuple[str, ...],
                  has_camera: bool, reactions: dict[str, int] | None = None) -> None:
    """Change ``state`` as ``control`` asks.

    Args:
        directions: the directions this performance loaded (controls.directions).
        has_camera: the model moves a camera (camera.* parameters exist).
        reactions: react.KEY.amount keys -> `react:` index (scene.controls.react_keys).

    Raises:
        BadControl: the message does not fit; ``state`` is unchanged.
    """
    if not control.address.startswith(PREFIX) or \
            control.address[len(PREFIX):] not in ADDRESSES:
        raise BadControl(f"unknown address; use {PREFIX}{{{','.join(ADDRESSES)}}}")
    verb, args = control.address[len(PREFIX):], control.args
    if verb == "pause" or verb == "resume":
        state.paused = verb == "pause"
    elif verb == "pulse":
        amount = _number(args[0], "amount") if args else 1.0
        state.pulse = _clamped("pulse", max(state.pulse, amount))
    elif verb == "goto":
        state.goto = _goto(args)
    else:
        if len(args) != 2 or not isinstance(args[0], str):
            raise BadControl("expects PARAM VALUE, e.g. truncation 0.7")
        set_param(state, args[0], _number(args[1], "value"), directions=directions,
                  has_camera=has_camera, reactions=reactions)


def set_param(state: ControlState, name: str, value: float, *, directions: tuple[str, ...],
              has_camera: bool, reactions: dict[str, int] | None = None) -> None:
    """Set one live parameter, clamped to its range (a knob past its end stays at the end).

    Raises:
        BadControl: no such parameter for this scene and model.
    """
    problem = param_problem(name, directions, reactions)
    if problem:
        raise BadControl(problem)
    value = _clamped(name, value)
    if (index := react_index(name, reactions or {})) is not None:
        state.react[index] = value
    elif name.startswith(DIRECTION_PREFIX):
        state.directions[name[len(DIRECTION_PREFIX):]] = value
    elif name.startswith("camera."):
        if not has_camera:
            raise BadControl(f"{name}: this model has no camera to move (StyleGAN3 has one)")
        column = ("camera.x", "camera.y", "camera.angle", "camera.zoom").index(name)
        # camera.zoom is a factor on the scene's zoom: a sum in the log2 column.
        state.camera[column] = math.log2(value) if name == "camera.zoom" else value
    elif name == "paused":
        state.paused = value > 0.5
    elif name == "pulse":
        state.pulse = value
    else:
        setattr(state, name, value)


def _goto(args: tuple) -> Goto:
    if not args or len(args) > 2:
        raise BadControl("expects NAME_OR_INDEX [SECONDS]")
    target = args[0]
    if isinstance(target, float) and target.is_integer():
        target = int(target)
    if not isinstance(target, (str, int)) or isinstance(target, bool):
        raise BadControl("the keyframe is a name or an index")
    seconds = _number(args[1], "seconds") if len(args) == 2 else None
    if seconds is not None and not 0 <= seconds <= 3600:
        raise BadControl(f"seconds {seconds} is out of range; use 0 to 3600")
    return Goto(target, seconds)


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise BadControl(f"{what} must be a number, got {type(value).__name__}")
    return float(value)


def _clamped(name: str, value: float) -> float:
    low, high = param_range(name)
    return min(max(value, low), high)
