"""The frame schedule of a whole scene: which latent every frame shows. Pure math.

Frame layout (the contract users rely on):
- keyframe k contributes ``hold_frames[k]`` frames showing exactly keyframe k, then transition
  k contributes ``transition_frames[k]`` frames moving to keyframe k+1 (to keyframe 0 when
  looping);
- transition frames sample u = j/n for j = 0..n-1: start-inclusive and end-exclusive, so the
  next keyframe appears once, at the start of its own hold or transition, and a loop's seam
  repeats no frame;
- the last transition of a non-looping scene samples u = j/(n-1) instead, so the video ends
  exactly on the last keyframe;
- t = easing(u) (or an explicit per-transition ``t_override``), and the frame's latent is the
  transition's interpolation at t, plus an optional per-transition offset (direction sweeps);
- total frames = sum(hold_frames) + sum(transition_frames), exactly.
Splines pass through every keyframe; their knots sit at cumulative transition frames, so the
curve is C1 in frame time across keyframes (holds are pauses on top); their norm follows the
keyframes' norms (spline.shell_spline), so they stay on the shell slerp keeps to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from latentreel.latents.camera import full_camera, interpolate_camera
from latentreel.latents.easing import ease
from latentreel.latents.interpolate import lerp, slerp
from latentreel.latents.spline import shell_spline

Offset = Callable[[torch.Tensor], torch.Tensor]  # t [T] -> offsets [T, *S]


@dataclass(frozen=True)
class Segment:
    kind: str  # "hold" or "transition"
    index: int  # the keyframe held, or the transition's index (from keyframe `index`)
    start: int  # first frame of the segment
    length: int  # frames


class LatentPath:
    """Latents for any frame of a scene, computed on demand (memory does not grow with length).

    Args:
        keyframes: [K, *S] resolved latents.
        hold_frames: K frame counts.
        transition_frames: K (loop) or K-1 frame counts.
        interpolation, easing: per transition names.
        loop: whether the last keyframe returns to the first.
        t_override: transition index -> explicit t values [n] replacing the eased t.
        offsets: transition index -> function of t adding an offset (e.g. a direction sweep).
        camera: [K, 4] (x, y, angle, log2 zoom; [K, 3]: zoom 1) per keyframe for models with
            a camera, or None; it moves with the same eased (or overridden) t as the latents.
        turns: whole camera turns added per transition (None: none).
        react: what the music does to each frame (latents.react.Reaction), or None.
    """

    def __init__(self, keyframes: torch.Tensor, hold_frames: list[int],
                 transition_frames: list[int], interpolation: list[str], easing: list[str],
                 loop: bool, t_override: dict[int, torch.Tensor] | None = None,
                 offsets: dict[int, Offset] | None = None,
                 camera: torch.Tensor | None = None, turns: list[float] | None = None,
                 react=None):
        k = len(keyframes)
        n_trans = k if loop else k - 1
        if len(hold_frames) != k or len(transition_frames) != n_trans:
            raise ValueError(f"{k} keyframes need {k} holds and {n_trans} transitions, got "
                             f"{len(hold_frames)} and {len(transition_frames)}")
        if len(interpolation) != n_trans or len(easing) != n_trans:
            raise ValueError("one interpolation and one easing per transition")
        self.keyframes = keyframes
        self.hold_frames = list(hold_frames)
        self.transition_frames = list(transition_frames)
        self.interpolation, self.easing = list(interpolation), list(easing)
        self.loop = loop
        self.t_override = dict(t_override or {})
        self.offsets = dict(offsets or {})
        if camera is not None and (camera.ndim != 2 or camera.shape[0] != k
                                   or camera.shape[1] not in (3, 4)):
            raise ValueError(f"camera must be [{k}, 4], got {list(camera.shape)}")
        self.camera = None if camera is None else full_camera(camera)
        self.turns = list(turns) if turns is not None else [0.0] * n_trans
        if len(self.turns) != n_trans:
            raise ValueError("one camera turn count per transition")
        for i, t in self.t_override.items():
            if len(t) != self.transition_frames[i]:
                raise ValueError(f"t_override[{i}] has {len(t)} values for "
                                 f"{self.transition_frames[i]} frames")
        self.react = react
        if react is not None and react.frames != self.total_frames_of(hold_frames,
                                                                      transition_frames):
            raise ValueError(f"the reaction covers {react.frames} frames, the path "
                             f"{self.total_frames_of(hold_frames, transition_frames)}")
        self.segments = self._layout()
        self._starts = torch.tensor([s.start for s in self.segments] or [0])
        knots = torch.tensor([0.0] + [float(max(n, 1)) for n in self.transition_frames])
        self._knots = knots.cumsum(0)  # keyframe i sits at knot i; loop: knot K closes it

    def _layout(self) -> list[Segment]:
        segs, start = [], 0
        for i, hold in enumerate(self.hold_frames):
            if hold > 0:
                segs.append(Segment("hold", i, start, hold))
                start += hold
            if i < len(self.transition_frames) and self.transition_frames[i] > 0:
                segs.append(Segment("transition", i, start, self.transition_frames[i]))
                start += self.transition_frames[i]
        return segs

    @staticmethod
    def total_frames_of(hold_frames: list[int], transition_frames: list[int]) -> int:
        return sum(hold_frames) + sum(transition_frames)

    @property
    def total_frames(self) -> int:
        return self.total_frames_of(self.hold_frames, self.transition_frames)

    def locate(self, frame: int) -> tuple[str, int, float]:
        """(kind, index, u) of ``frame``: which hold or transition, and how far along."""
        seg = self.segments[self._segment_index(torch.tensor([frame]))[0]]
        j = frame - seg.start
        return seg.kind, seg.index, float(self._u(seg, torch.tensor([j]))[0]) \
            if seg.kind == "transition" else 0.0

    def _segment_index(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.numel() and (frames.min() < 0 or frames.max() >= self.total_frames):
            raise IndexError(f"frames must be in [0, {self.total_frames})")
        return torch.searchsorted(self._starts, frames, right=True) - 1

    def _u(self, seg: Segment, j: torch.Tensor) -> torch.Tensor:
        n = seg.length
        last_open = not self.loop and seg.index == len(self.transition_frames) - 1
        if last_open:
            return j.double() / (n - 1) if n > 1 else torch.ones(len(j), dtype=torch.float64)
        return j.double() / n

    def transition_u(self, index: int) -> torch.Tensor:
        """Linear progress u of every frame of transition ``index`` (before easing)."""
        seg = next(s for s in self.segments if s.kind == "transition" and s.index == index)
        return self._u(seg, torch.arange(seg.length))

    def with_t_override(self, t_override: dict[int, torch.Tensor]) -> LatentPath:
        """The same path with explicit t values for some transitions (re-timing)."""
        return LatentPath(self.keyframes, self.hold_frames, self.transition_frames,
                          self.interpolation, self.easing, self.loop,
                          {**self.t_override, **t_override}, self.offsets, self.camera,
                          self.turns, self.react)

    def with_react(self, react) -> LatentPath:
        """The same path with ``react`` (a latents.react.Reaction, or None) on every frame."""
        return LatentPath(self.keyframes, self.hold_frames, self.transition_frames,
                          self.interpolation, self.easing, self.loop, self.t_override,
                          self.offsets, self.camera, self.turns, react)

    def transition_t(self, index: int, j: torch.Tensor) -> torch.Tensor:
        """Eased (or overridden) t for frames ``j`` of transition ``index``."""
        if index in self.t_override:
            return self.t_override[index].to(torch.float64)[j]
        seg = next(s for s in self.segments if s.kind == "transition" and s.index == index)
        return ease(self.easing[index], self._u(seg, j))

    def latents(self, frames: torch.Tensor) -> torch.Tensor:
        """Latents [N, *S] for frame indices [N] (any order)."""
        frames = torch.as_tensor(frames, dtype=torch.long).reshape(-1)
        out = torch.empty((len(frames), *self.keyframes.shape[1:]), dtype=self.keyframes.dtype,
                          device=self.keyframes.device)
        seg_idx = self._segment_index(frames)
        for s in seg_idx.unique().tolist():
            mask = seg_idx == s
            seg = self.segments[s]
            if seg.kind == "hold":
                out[mask] = self.keyframes[seg.index]
            else:
                out[mask] = self._transition(seg.index, frames[mask] - seg.start)
        return out if self.react is None else self.react.latents(frames, out)

    def cameras(self, frames: torch.Tensor) -> torch.Tensor | None:
        """Cameras [N, 4] (x, y, angle, log2 zoom) for frame indices [N]; None when the path
        has none."""
        frames = torch.as_tensor(frames, dtype=torch.long).reshape(-1)
        moved = self.react is not None and self.react.moves_camera
        if self.camera is None:
            return self.react.cameras(frames, torch.zeros(len(frames), 4)) if moved else None
        out = torch.empty((len(frames), 4), dtype=torch.float64)
        seg_idx = self._segment_index(frames)
        for s in seg_idx.unique().tolist():
            mask = seg_idx == s
            seg = self.segments[s]
            if seg.kind == "hold":
                out[mask] = self.camera[seg.index].to(torch.float64)
            else:
                i = seg.index
                t = self.transition_t(i, frames[mask] - seg.start)
                out[mask] = interpolate_camera(self.camera[i], self.camera[(i + 1) % len(
                    self.camera)], t, self.turns[i])
        if moved:
            out = self.react.cameras(frames, out)
        return out.to(torch.float32)

    def track(self, values: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Per-keyframe numbers ``values`` [K, D] at frames [N] -> [N, D]: held during holds,
        moved linearly with each transition's eased (or re-timed) t, like the camera."""
        frames = torch.as_tensor(frames, dtype=torch.long).reshape(-1)
        values = values.to(torch.float64)
        out = torch.empty((len(frames), values.shape[1]), dtype=torch.float64)
        seg_idx = self._segment_index(frames)
        for s in seg_idx.unique().tolist():
            mask = seg_idx == s
            seg = self.segments[s]
            if seg.kind == "hold":
                out[mask] = values[seg.index]
            else:
                i = seg.index
                t = self.transition_t(i, frames[mask] - seg.start)[:, None]
                a, b = values[i], values[(i + 1) % len(values)]
                out[mask] = a[None] + t * (b - a)[None]
        return out.to(torch.float32)

    def latents_at(self, index: int, t: torch.Tensor) -> torch.Tensor:
        """Latents [T, *S] of transition ``index`` at arbitrary t values (for re-timing)."""
        return self._at(index, t.to(torch.float64))

    def _transition(self, index: int, j: torch.Tensor) -> torch.Tensor:
        return self._at(index, self.transition_t(index, j))

    def _at(self, index: int, t: torch.Tensor) -> torch.Tensor:
        k = len(self.keyframes)
        a, b = self.keyframes[index], self.keyframes[(index + 1) % k]
        kind = self.interpolation[index]
        if kind == "linear":
            x = lerp(a, b, t)
        elif kind == "slerp":
            x = slerp(a, b, t)
        elif kind == "spline":
            knots = self._knots if self.loop else self._knots[:k]
            times = knots[index] + t * (knots[index + 1] - knots[index])
            x = shell_spline(self.keyframes, knots, times, closed=self.loop)
        else:
            raise ValueError(f"unknown interpolation {kind!r}")
        if index in self.offsets:
            x = x + self.offsets[index](t).to(x.dtype)
        return x
