"""What the music does to each frame's latent and camera. Pure tensor math on frame indices.

Every drive is precomputed per frame as small tensors (an envelope [T], a few target latents),
so any frame's reaction is known from its index alone: batches and segments cut anywhere,
and Ray workers, draw the frames of one whole render. An envelope of zeros changes nothing,
bit for bit (each drive skips its arithmetic where the envelope is 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch


def _at(x: torch.Tensor, frames: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-frame values ``x[frames]`` shaped to broadcast over latents ``like`` [N, *S]."""
    v = x[frames.cpu()].to(device=like.device, dtype=like.dtype)
    return v.reshape(len(frames), *([1] * (like.ndim - 1)))


@dataclass(frozen=True)
class Push:
    """pulse and direction: move each frame by ``envelope`` towards a target latent (toward)
    or along a direction (along).

    ``targets`` [B, *S]: for toward, the target of frames in event e is targets[e % B] (a
    fresh target per pulse); for along, targets[0] is the direction."""

    envelope: torch.Tensor  # [T] float64
    events: torch.Tensor  # [T] long: how many pulses started up to this frame
    targets: torch.Tensor  # [B, *S]
    toward: bool  # True: x + e * (target - x); False: x + e * direction
    keep_norm: bool = False  # toward, in a Gaussian z: keep the norm between the two ends'
    # (a straight line between two z cuts through the low-norm middle, where a generator
    # draws texture, not faces; the same reason slerp is the default interpolation)

    def latents(self, frames: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        live = self.envelope[frames.cpu()] != 0
        if not live.any():
            return x
        idx, f = live.nonzero().flatten().to(x.device), frames.cpu()[live]
        env = _at(self.envelope, f, x[idx])
        target = self.targets[self.events[f] % len(self.targets)].to(x)
        here = x[idx]
        moved = here + env * (target - here if self.toward else target)
        if self.keep_norm and self.toward:
            dims = tuple(range(1, here.ndim))
            norm = (1 - env) * here.norm(dim=dims, keepdim=True) + \
                env * target.norm(dim=dims, keepdim=True)
            moved = moved * norm / moved.norm(dim=dims, keepdim=True).clamp_min(1e-12)
        x = x.clone()
        x[idx] = moved
        return x

    def cameras(self, frames, cams):
        return cams

    def scaled(self, s: float) -> Push:
        """The drive at ``s`` times its amount (its hits and targets unchanged)."""
        return replace(self, envelope=self.envelope * s)


@dataclass(frozen=True)
class Truncation:
    """truncation: psi = 1 + envelope, around the average latent ``mean`` [*S]."""

    envelope: torch.Tensor  # [T] float64
    mean: torch.Tensor  # [*S]

    def latents(self, frames: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if not self.envelope[frames.cpu()].any():
            return x
        mean = self.mean.to(x)
        return mean + (x - mean) * (1 + _at(self.envelope, frames, x))

    def cameras(self, frames, cams):
        return cams

    def scaled(self, s: float) -> Truncation:
        return replace(self, envelope=self.envelope * s)


@dataclass(frozen=True)
class Blend:
    """chroma: the latent leans towards a mix of up to 12 keyframes, weighted per frame.

    ``weights`` [T, K] sum to the reaction's amount (0 where there is no sound)."""

    weights: torch.Tensor  # [T, K] float64
    targets: torch.Tensor  # [K, *S]

    def latents(self, frames: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        w = self.weights[frames.cpu()]
        if not w.any():
            return x
        w = w.to(device=x.device, dtype=x.dtype)
        mix = (w @ self.targets.to(x).flatten(1)).reshape(x.shape)
        return x + mix - w.sum(1).reshape(-1, *([1] * (x.ndim - 1))) * x

    def cameras(self, frames, cams):
        return cams

    def scaled(self, s: float) -> Blend:
        return replace(self, weights=self.weights * s)


@dataclass(frozen=True)
class CameraMove:
    """camera: (x, y, angle, log2 zoom) added per frame (a shake, a pan, a turn, a zoom)."""

    offsets: torch.Tensor  # [T, 4] float64

    def latents(self, frames, x):
        return x

    def cameras(self, frames: torch.Tensor, cams: torch.Tensor) -> torch.Tensor:
        return cams + self.offsets[frames.cpu()].to(cams)

    def scaled(self, s: float) -> CameraMove:
        return replace(self, offsets=self.offsets * s)


@dataclass(frozen=True)
class Reaction:
    """Every drive of a scene, applied in order to each frame's latent and camera."""

    drives: tuple = ()  # Push | Truncation | Blend | CameraMove
    frames: int = 0  # T: frames the envelopes cover
    moves_camera: bool = False  # a CameraMove is among the drives
    digest: str = field(default="", compare=False)  # what built it (for fingerprints)
    sources: tuple[int, ...] = ()  # each drive's `react:` index (a live amount scales it)

    def latents(self, frames: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x`` [N, *S] (the latents of ``frames`` [N] before reacting) after every drive."""
        for drive in self.drives:
            x = drive.latents(frames, x)
        return x

    def cameras(self, frames: torch.Tensor, cams: torch.Tensor) -> torch.Tensor:
        for drive in self.drives:
            cams = drive.cameras(frames, cams)
        return cams

    def cpu(self) -> Reaction:
        """The same reaction with every tensor on the CPU (for Ray workers)."""
        def moved(d):
            return replace(d, **{k: v.cpu() for k, v in vars(d).items()
                                 if isinstance(v, torch.Tensor)})
        return replace(self, drives=tuple(moved(d) for d in self.drives))


def warp_u(u: torch.Tensor, weights: torch.Tensor, closed: bool) -> torch.Tensor:
    """Progress ``u`` [n] of one transition re-spaced so each frame advances by its weight.

    ``weights`` [n] > 0: the walk's speed on each frame. The first frame stays at u[0] = 0;
    a transition that ends the video (not ``closed``) still reaches 1 on its last frame, and
    others reach 1 where the next keyframe's first frame would be, so pins keep their frames.
    """
    n = len(u)
    if n < 2:
        return u
    steps = weights.to(torch.float64)[:-1] if not closed else weights.to(torch.float64)
    c = torch.cat([torch.zeros(1, dtype=torch.float64), steps.cumsum(0)])
    return (c / c[-1])[:n]


def retime(t_old: torch.Tensor, u_old: torch.Tensor, u_new: torch.Tensor) -> torch.Tensor:
    """t at the warped progress ``u_new``, read off the curve (u_old, t_old) plus (1, 1)."""
    import numpy as np

    xs = np.append(u_old.numpy(), 1.0)
    ys = np.append(t_old.to(torch.float64).numpy(), 1.0)
    return torch.from_numpy(np.interp(u_new.numpy(), xs, ys))
