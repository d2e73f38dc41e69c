"""A cubic Hermite spline through keyframe latents, C1 in time. Pure functions.

Tangents are Catmull-Rom style but use the real knot spacing, so the velocity is continuous
across a keyframe even when the transitions on either side last different times.

A cubic through latents is free to leave the shell the keyframes sit on: around a keyframe
and its anti-face the curve overshoots past the shell (a Gaussian latent that long draws no
face, only texture) or cuts inside it. ``shell_spline`` keeps the curve's direction and gives
it the norm a monotone spline of the keyframes' norms prescribes, as slerp keeps the norm
between two keyframes; where the curve itself passes the origin (a keyframe and its exact
anti-face), it passes the origin too, as slerp does there (the average face).
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
    out = _evaluate(p, _tangents(p, knots, closed), knots, times, closed)
    return out.reshape(len(times), *shape).to(points.dtype)


# Only where the curve comes this close to the origin (a fraction of the shell's radius) is it
# left inside the shell, scaled up by about 1 / SHELL_CORE: a keyframe and its exact negative
# pass the origin, as slerp's straight fallback does; everywhere else it is on the shell.
SHELL_CORE = 0.05


def shell_spline(points: torch.Tensor, knots: torch.Tensor, times: torch.Tensor,
                 closed: bool = False) -> torch.Tensor:
    """``hermite_spline`` with the norm of a monotone spline through the keyframes' norms.

    Each point s of the Hermite curve is scaled by g = ((1 + c^4) / (c^4 + (|s|/r)^4))^(1/4),
    r the prescribed norm and c = SHELL_CORE: g is 1 where |s| = r (so the curve still passes
    every keyframe), |g s| is r to within (1 + c^4)^(1/4) wherever |s| > 2c r, and g is
    smooth in s, so the curve stays C1 where the Hermite curve is (also through the origin).
    The norms follow a Fritsch-Butland (monotone) cubic: never past their neighbours' norms,
    never negative.

    Args and returns: as ``hermite_spline``.
    """
    shape = points.shape[1:]
    p = points.to(torch.float64).flatten(1)
    knots = knots.to(torch.float64)
    curve = _evaluate(p, _tangents(p, knots, closed), knots, times, closed)
    r = p.norm(dim=1, keepdim=True)
    radius = _evaluate(r, _monotone_tangents(r, knots, closed), knots, times, closed)
    ratio2 = (curve * curve).sum(1, keepdim=True) / (radius * radius).clamp_min(1e-24)
    c4 = SHELL_CORE ** 4
    g = ((1 + c4) / (c4 + ratio2 * ratio2)) ** 0.25
    return (curve * g).reshape(len(times), *shape).to(points.dtype)


def _monotone_tangents(r: torch.Tensor, knots: torch.Tensor, closed: bool) -> torch.Tensor:
    """Fritsch-Butland slopes [K, 1] for values ``r`` [K, 1]: zero at a local extremum, a
    weighted harmonic mean of the neighbouring secants elsewhere, so no segment overshoots."""
    k = len(r)
    if k == 1:
        return torch.zeros_like(r)
    if closed:
        period = knots[-1]
        t = knots[:-1]
        prev_r, next_r = r.roll(1, 0), r.roll(-1, 0)
        prev_t = torch.cat([t[-1:] - period, t[:-1]])
        next_t = torch.cat([t[1:], t[:1] + period])
    else:
        t = knots
        prev_r, next_r = torch.cat([r[:1], r[:-1]]), torch.cat([r[1:], r[-1:]])
        prev_t, next_t = torch.cat([knots[:1], knots[:-1]]), torch.cat([knots[1:], knots[-1:]])
    h0 = (t - prev_t).clamp_min(1e-12)[:, None]
    h1 = (next_t - t).clamp_min(1e-12)[:, None]
    d0, d1 = (r - prev_r) / h0, (next_r - r) / h1
    w0, w1 = 2 * h1 + h0, h1 + 2 * h0
    same_sign = d0 * d1 > 0
    m = torch.where(same_sign, (w0 + w1) * d0 * d1 / torch.where(
        same_sign, w0 * d1 + w1 * d0, torch.ones_like(d0)), torch.zeros_like(d0))
    if not closed:  # one-sided at the ends: the secant
        m[0], m[-1] = d1[0], d0[-1]
    return m


def _evaluate(p: torch.Tensor, m: torch.Tensor, knots: torch.Tensor, times: torch.Tensor,
              closed: bool) -> torch.Tensor:
    """The Hermite curve with values ``p`` [K, D] and slopes ``m`` [K, D] at ``times``: [T, D]."""
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
    return h00 * p_ext[seg] + h10 * h * m_ext[seg] + h01 * p_ext[seg + 1] + \
        h11 * h * m_ext[seg + 1]
