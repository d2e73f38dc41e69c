"""A cubic Hermite spline through keyframe latents, C1 in time. Pure functions.

Tangents are Catmull-Rom style but use the real knot spacing, so the velocity is continuous
across a keyframe even when the transitions on either side last different times.
"""

from __future__ import annotations

import torch


def _tangents(p: torch.Tensor, knots: torch.Tensor, closed: bool) -> torch.Tensor:
    """Velocity at each knot [K, D] (D flattened latent size)."""
    k = len(p)
    if closed:
        period = knots[-1]  # the time at which the loop returns to the first keyframe
        prev_p, next_p = p.roll(1, 0), p.roll(-1, 0)
        t = knots[:-1]
        prev_t = torch.cat([t[-1:] - period, t[:-1]])
        next_t = torch.cat([t[1:], t[:1] + period])
    else:
        if k == 1:
            return torch.zeros_like(p)
        prev_p = torch.cat([p[:1], p[:-1]])
        next_p = torch.cat([p[1:], p[-1:]])
        prev_t = torch.cat([knots[:1], knots[:-1]])
        next_t = torch.cat([knots[1:], knots[-1:]])
        t = knots
    # Non-uniform finite difference: weight each side's slope by the other side's length.
    h0 = (t - prev_t).clamp_min(1e-12)[:, None]
    h1 = (next_t - t).clamp_min(1e-12)[:, None]
    s0 = (p - prev_p) / h0
    s1 = (next_p - p) / h1
    m = (h1 * s0 + h0 * s1) / (h0 + h1)
    if not closed:  # one-sided at the ends
        m[0], m[-1] = s1[0], s0[-1]
    return m


def hermite_spline(points: torch.Tensor, knots: torch.Tensor, times: torch.Tensor,
                   closed: bool = False) -> torch.Tensor:
    """Evaluate the spline at ``times``.

    Args:
        points: keyframe latents [K, *S].
        knots: increasing times [K] at which the curve passes each keyframe; when ``closed``,
            [K + 1] with the last entry the time at which it returns to the first keyframe.
        times: [T] times to evaluate (clamped to the knot range).
    Returns:
        [T, *S] in ``points``' dtype.
    """
    shape = points.shape[1:]
    p = points.to(torch.float64).flatten(1)
    knots = knots.to(torch.float64)
    m = _tangents(p, knots, closed)
    if closed:
        p_ext, m_ext = torch.cat([p, p[:1]]), torch.cat([m, m[:1]])
    else:
        p_ext, m_ext = p, m
    tq = times.to(torch.float64).clamp(knots[0], knots[-1])
    seg = (torch.searchsorted(knots, tq, right=True) - 1).clamp(0, len(knots) - 2)
    t0, t1 = knots[seg], knots[seg + 1]
    h = (t1 - t0).clamp_min(1e-12)
    u = ((tq - t0) / h)[:, None]
    h = h[:, None]
    h00 = 2 * u**3 - 3 * u**2 + 1
    h10 = u**3 - 2 * u**2 + u
    h01 = -2 * u**3 + 3 * u**2
    h11 = u**3 - u**2
    out = h00 * p_ext[seg] + h10 * h * m_ext[seg] + h01 * p_ext[seg + 1] + h11 * h * m_ext[seg + 1]
    return out.reshape(len(times), *shape).to(points.dtype)
