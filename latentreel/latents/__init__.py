"""Pure interpolation math: easing, lerp/slerp, splines and the frame schedule."""

from latentreel.latents.easing import EASINGS, ease
from latentreel.latents.interpolate import INTERPOLATIONS, lerp, slerp
from latentreel.latents.path import LatentPath, Segment
from latentreel.latents.spline import hermite_spline, shell_spline

__all__ = ["EASINGS", "INTERPOLATIONS", "LatentPath", "Segment", "ease", "hermite_spline",
           "lerp", "shell_spline", "slerp"]
