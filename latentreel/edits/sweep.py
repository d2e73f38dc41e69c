"""Direction sweeps on transitions: ``transition: {sweep: {direction, from, to}}``.

While the transition moves from one keyframe to the next, the latent is also pushed along
the direction: the push eases in from 0 to ``from`` over the first quarter, sweeps from
``from`` to ``to`` over the middle half, and eases back to 0 over the last quarter. Both
ends are therefore unpushed, so the video never jumps into or out of a sweep.
"""

from __future__ import annotations

import torch

from latentreel.latents.easing import smoothstep


def sweep_amount(t: torch.Tensor, start: float, end: float) -> torch.Tensor:
    """Push along the direction at transition time t in [0, 1]."""
    t = t.to(torch.float64)
    ramp_in = start * smoothstep((t / 0.25).clamp(0, 1))
    middle = start + (end - start) * smoothstep(((t - 0.25) / 0.5).clamp(0, 1))
    ramp_out = end * (1 - smoothstep(((t - 0.75) / 0.25).clamp(0, 1)))
    return torch.where(t < 0.25, ramp_in, torch.where(t <= 0.75, middle, ramp_out))


def sweep_offsets(keyframes, generator, space: str) -> dict:
    """Offset functions per transition index for the transitions that sweep."""
    from latentreel.edits.keyframes import edit_vector
    from latentreel.spec.kind import ResolveContext

    ctx = ResolveContext(generator=generator, space=space, scene_seed=0, scene_file=None)
    offsets = {}
    for i, kf in enumerate(keyframes):
        sweep = kf.transition.sweep
        if not sweep:
            continue
        vec = edit_vector(ctx, sweep["direction"], sweep.get("keep") or [], kf.where)

        def offset(t, vec=vec, a=sweep["from"], b=sweep["to"]):
            return sweep_amount(t, a, b)[:, None].to(vec.dtype).to(vec.device) * vec.flatten()[None]

        offsets[i] = lambda t, f=offset, shape=vec.shape: f(t).reshape(len(t), *shape)
    return offsets
