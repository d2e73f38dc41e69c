"""Camera moves between keyframes: (x, y, angle) rows eased like the latents. Pure math.

x and y are fractions of the image and move linearly; the angle (degrees) takes the short
way round, so 350 -> 10 turns 20 degrees, not 340, plus any whole ``turns`` a transition
asks for (a full spin on the way). Loops close because the transition back to the first
keyframe follows the same rule: it ends on the first keyframe's angle, modulo 360.
"""

from __future__ import annotations

import torch

CAMERA_FIELDS = ("x", "y", "angle")  # columns of a camera tensor [N, 3]
STILL = (0.0, 0.0, 0.0)  # no move, no turn


def angle_step(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The signed turn in degrees from angle ``a`` to ``b`` the short way, in [-180, 180)."""
    return torch.remainder(b - a + 180.0, 360.0) - 180.0


def interpolate_camera(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor,
                       turns: float = 0.0) -> torch.Tensor:
    """Cameras [T, 3] from ``a`` [3] to ``b`` [3] at eased times ``t`` [T] in [0, 1].

    ``turns``: extra whole turns on the way (positive: counter-clockwise)."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    tt = t.to(torch.float64)[:, None]
    delta = b - a
    delta[2] = angle_step(a[2], b[2]) + 360.0 * turns
    return a[None] + tt * delta[None]
