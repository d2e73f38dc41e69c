"""Camera moves between keyframes: (x, y, angle, zoom) rows eased like the latents. Pure math.

x and y are fractions of the image and move linearly; the zoom column holds log2 of the zoom
factor (0: zoom 1), so it moves geometrically (1 -> 4 passes 2 halfway, as the eye expects)
and every offset on top of a camera (music, live controls) stays a plain sum; the angle
(degrees) takes the short way round, so 350 -> 10 turns 20 degrees, not 340, plus any whole
``turns`` a transition asks for (a full spin on the way). Loops close because the transition
back to the first keyframe follows the same rule: it ends on the first keyframe's angle,
modulo 360.
"""

from __future__ import annotations

import torch

CAMERA_FIELDS = ("x", "y", "angle", "zoom")  # columns of a camera tensor [N, 4]
ZOOM = 3  # the zoom column: log2 of the zoom factor
STILL = (0.0, 0.0, 0.0, 0.0)  # no move, no turn, zoom 1


def full_camera(camera: torch.Tensor) -> torch.Tensor:
    """Cameras [..., 3] (x, y, angle: before zoom existed) or [..., 4] -> [..., 4] (zoom 1)."""
    if camera.shape[-1] == 3:
        return torch.cat([camera, torch.zeros_like(camera[..., :1])], dim=-1)
    if camera.shape[-1] != 4:
        raise ValueError(f"expected cameras [..., 4] (x, y, angle, log2 zoom), "
                         f"got {list(camera.shape)}")
    return camera


def angle_step(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The signed turn in degrees from angle ``a`` to ``b`` the short way, in [-180, 180)."""
    return torch.remainder(b - a + 180.0, 360.0) - 180.0


def interpolate_camera(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor,
                       turns: float = 0.0) -> torch.Tensor:
    """Cameras [T, 4] from ``a`` [4] to ``b`` [4] at eased times ``t`` [T] in [0, 1] ([3]
    rows, from before zoom, give [T, 3]).

    ``turns``: extra whole turns on the way (positive: counter-clockwise)."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    tt = t.to(torch.float64)[:, None]
    delta = b - a
    delta[2] = angle_step(a[2], b[2]) + 360.0 * turns
    return a[None] + tt * delta[None]
