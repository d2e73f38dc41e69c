"""The walk through a prepared scene under live control: which latent each shown frame gets.

The scene's own frame path (holds, transitions, re-timing, sweeps) is the score; the control
state plays it: at a speed (fractional positions blend the two nearest path frames), paused,
gliding to a keyframe on request, with directions, truncation and a decaying pulse added on
top. The walker is deterministic: the same messages after the same numbers of clock slots
give the same latents, which is what lets a recording replay as a render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from latentreel.latents.easing import ease
from latentreel.latents.interpolate import lerp, slerp
from latentreel.live.reacting import LiveReactions
from latentreel.live.state import BadControl, Control, ControlState, apply_control
from latentreel.models.base import average_space_problem, truncate
from latentreel.render.prepared import PreparedScene
from latentreel.scene.controls import react_index

PULSE_PSI = 0.3  # truncation added per unit of pulse: a kick towards a more extreme face
# (1: psi 1.3, the same face pushed further from the average; 0.6 changed who it was)


@dataclass(frozen=True)
class Shot:
    """What one frame shows, and what happened on the way to it."""

    latent: torch.Tensor  # [1, *S] in the scene's space
    camera: torch.Tensor | None  # [1, 4] (x, y, angle, log2 zoom), or None for models without one
    position: float  # where in the scene's frame path (frames from its start)
    events: tuple[tuple[str, ...], ...]  # ("loop",) and ("keyframe", NAME), in order


@dataclass
class _Glide:
    start: torch.Tensor  # [*S] latent the glide leaves from
    start_camera: torch.Tensor | None  # [4]
    row: int  # the expanded keyframe it arrives at
    frames: int  # its length in shown-frame slots
    done: int = 0


class Walker:
    """Plays ``prepared``'s path under a ControlState.

    Args:
        prepared: the scene prepared with ``loop=True`` (a performance never ends by itself).
        directions: name -> offset for one unit of amount [*S], for controls.directions.
        reactions: the scene's reactions as steered and heard live (default: the prepared
            scene's own, steerable, none heard).
    """

    def __init__(self, prepared: PreparedScene, directions: dict[str, torch.Tensor],
                 reactions: LiveReactions | None = None):
        self.path = self.scene_path = prepared.path
        self.reactions = reactions or LiveReactions(prepared.scene.react, prepared.path.react,
                                                    {}, prepared.output.fps)
        self._amounts: dict[int, float] = {}  # the live amounts the path's drives are at
        self.fps = prepared.output.fps
        self.space = prepared.space
        self.keyframes = prepared.keyframes
        self.directions = directions
        self.names = tuple(directions)
        generator = prepared.generator
        self.has_camera = bool(generator.has_camera)
        self.mean = generator.mean_latent(self.space).to(self.path.keyframes)
        self.truncation_problem = average_space_problem(generator, self.space, "truncation")
        self.state = ControlState()
        self.position = 0.0
        self.glide: _Glide | None = None
        self._arrived: list[tuple[str, ...]] = []  # a goto taken at once, told next advance
        # The first frame of each expanded keyframe, where it is "reached".
        self.starts = [min(s.start for s in self.path.segments if s.index == row)
                       for row in range(len(self.keyframes))]

    # ------------------------------------------------------------ control

    def apply(self, control: Control) -> None:
        """Apply one control message (see live.state).

        Raises:
            BadControl: the message does not fit this scene; nothing changed.
        """
        verb = control.address.rsplit("/", 1)[-1]
        touches_psi = verb == "pulse" or verb == "set" and control.args[:1] in (
            ("truncation",), ("pulse",))
        if touches_psi and self.truncation_problem:
            raise BadControl(self.truncation_problem)
        if verb == "set" and len(control.args) == 2 and isinstance(control.args[0], str):
            index = react_index(control.args[0], self.reactions.keys)
            problem = None if index is None else self.reactions.steer_problem(index)
            if problem:
                raise BadControl(problem)
        apply_control(self.state, control, directions=self.names, has_camera=self.has_camera,
                      reactions=self.reactions.keys)
        if self.state.react != self._amounts:  # a reaction's amount moved: rescale its drive
            self._amounts = dict(self.state.react)
            self.path = self.scene_path.with_react(self.reactions.scaled(self._amounts))
        if self.state.goto is not None:
            goto, self.state.goto = self.state.goto, None
            self._start_glide(self.keyframe_row(goto.target), goto.seconds)

    def keyframe_row(self, target: str | int) -> int:
        """The expanded row of the keyframe named (or indexed) ``target``.

        Raises:
            BadControl: no such keyframe.
        """
        for row, kf in enumerate(self.keyframes):
            if kf.name == target or kf.index == target:
                return row
        names = [kf.name for kf in self.keyframes if kf.name]
        known = f"names: {', '.join(names)}; " if names else ""
        raise BadControl(f"no keyframe {target!r} ({known}indexes 0-{self.keyframes[-1].index})")

    def _start_glide(self, row: int, seconds: float | None) -> None:
        if seconds is None:  # over the transition that leads into it
            before = self.keyframes[row - 1] if row > 0 else self.keyframes[-1]
            seconds = before.transition.duration
        frames = round(seconds * self.fps)
        latent, camera = self._base()
        if frames <= 0:
            self.position, self.glide = float(self.starts[row]), None
            self._arrived.append(("keyframe", self._name(row)))
            return
        self.glide = _Glide(latent[0], None if camera is None else camera[0], row, frames)

    def hear(self, values: dict[str, float], slots: int) -> None:
        """One frame's live feature values (`--listen`) for the reactions heard live."""
        self.reactions.hear(values, slots)

    # ------------------------------------------------------------ time

    def advance(self, slots: int) -> list[tuple[str, ...]]:
        """Move on by ``slots`` clock slots (more than 1 after dropped frames); the events
        passed on the way."""
        state, events = self.state, self._arrived
        self._arrived = []
        state.pulse *= 0.5 ** (slots / (self.fps * state.pulse_decay))
        if state.pulse < 1e-4:
            state.pulse = 0.0
        if state.paused or slots <= 0:
            return events
        if self.glide is not None:
            self.glide.done += slots
            if self.glide.done >= self.glide.frames:
                self.position = float(self.starts[self.glide.row])
                events.append(("keyframe", self._name(self.glide.row)))
                self.glide = None
            return events
        speed = state.speed * self.reactions.speed(state.react)
        old, new = self.position, self.position + speed * slots
        events.extend(self._crossed(old, new, self.path.total_frames))
        self.position = new % self.path.total_frames
        return events

    def _crossed(self, old: float, new: float, total: int) -> list[tuple[str, ...]]:
        """Loop ends and keyframe starts passed moving from ``old`` to ``new``, in the order
        passed: (old, new] going forward, [new, old) going back. A cycle ends where the
        next one's first keyframe starts, so the loop comes first."""
        forward = new >= old
        lo, hi = (old, new) if forward else (new, old)
        found = []
        for wrap in range(math.floor(lo / total), math.floor(hi / total) + 1):
            edge = wrap * total
            if edge != 0 or wrap != 0:
                if (lo < edge <= hi) if forward else (lo <= edge < hi):
                    found.append((edge, 0, ("loop",)))
            for row, start in enumerate(self.starts):
                s = start + edge
                if (lo < s <= hi) if forward else (lo <= s < hi):
                    found.append((s, 1, ("keyframe", self._name(row))))
        found.sort(key=lambda f: (f[0], f[1]) if forward else (-f[0], -f[1]))
        return [event for _, _, event in found]

    def _name(self, row: int) -> str:
        kf = self.keyframes[row]
        return kf.name or str(kf.index)

    # ------------------------------------------------------------ the frame

    def shot(self, events=()) -> Shot:
        """The latent and camera of the frame to draw now."""
        latent, camera = self._base()
        latent, camera = self.reactions.apply(latent, camera, self.state.react)
        for name, amount in self.state.directions.items():
            if amount:
                latent = latent + amount * self.directions[name].to(latent)
        psi = self.state.truncation + PULSE_PSI * self.state.pulse
        if psi != 1.0:
            latent = truncate(latent, self.mean, psi, self.space)
        if self.has_camera and any(self.state.camera):  # camera.* is refused elsewhere
            still = torch.zeros(1, 4) if camera is None else camera
            camera = still + torch.tensor([self.state.camera], dtype=still.dtype)
        return Shot(latent, camera, self.position, tuple(events))

    def _base(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The path's latent [1, *S] and camera [1, 4] at the current position (or glide)."""
        if self.glide is not None:
            g = self.glide
            t = ease("ease-in-out", torch.tensor([g.done / g.frames], dtype=torch.float64))
            target = torch.tensor([self.starts[g.row]])
            end = self.path.latents(target)[0]
            mix = slerp if self.space == "z" else lerp
            latent = mix(g.start, end, t)
            camera = self.path.cameras(target)
            if camera is not None and g.start_camera is not None:
                camera = lerp(g.start_camera, camera[0], t)
            return latent, camera
        total = self.path.total_frames
        first = math.floor(self.position)
        frac = self.position - first
        idx = torch.tensor([first % total, (first + 1) % total])
        latents, cameras = self.path.latents(idx), self.path.cameras(idx)
        if frac == 0.0:
            return latents[:1], None if cameras is None else cameras[:1]
        t = torch.tensor([frac], dtype=torch.float64)
        latent = lerp(latents[0], latents[1], t)
        camera = None if cameras is None else lerp(cameras[0], cameras[1], t)
        return latent, camera
