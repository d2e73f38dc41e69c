"""Pure interpolation math: easing, lerp/slerp, splines, and the frame schedule."""

from __future__ import annotations

import pytest
import torch

from latentreel.latents import (
    EASINGS,
    LatentPath,
    ease,
    hermite_spline,
    lerp,
    shell_spline,
    slerp,
)

T = torch.linspace(0, 1, 101, dtype=torch.float64)


@pytest.mark.parametrize("name", EASINGS)
def test_easing_endpoints_and_monotone(name):
    y = ease(name, T)
    assert y[0] == 0 and abs(float(y[-1]) - 1) < 1e-12
    assert (y[1:] - y[:-1] >= -1e-12).all()


def test_ease_in_out_is_c1_with_zero_end_speed():
    h = 1e-6
    d = lambda t: (ease("ease-in-out", torch.tensor([t + h], dtype=torch.float64))  # noqa: E731
                   - ease("ease-in-out", torch.tensor([t - h], dtype=torch.float64))) / (2 * h)
    assert abs(float(d(0.5 - 1e-3)) - float(d(0.5 + 1e-3))) < 1e-2
    assert float(d(1e-3)) < 1e-3 and float(d(1 - 1e-3)) < 1e-3


def test_slerp_keeps_equal_norms_and_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, generator=g), torch.randn(100, generator=g)
    b = b / b.norm() * a.norm()
    x = slerp(a, b, T)
    assert torch.allclose(x.norm(dim=1), a.norm().expand(101), rtol=1e-5)
    assert torch.allclose(x[0], a, atol=1e-6) and torch.allclose(x[-1], b, atol=1e-5)
    # A straight line dips towards the origin; slerp does not.
    assert lerp(a, b, T)[50].norm() < 0.9 * a.norm()


def test_slerp_interpolates_norm_linearly():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    x = slerp(a, b, torch.tensor([0.5], dtype=torch.float64))
    assert abs(float(x.norm()) - 2.0) < 1e-5


@pytest.mark.parametrize("b_factor", [2.0, -1.0, 0.0], ids=["parallel", "anti-parallel", "zero"])
def test_slerp_falls_back_to_lerp(b_factor):
    a = torch.arange(1.0, 6.0)
    b = a * b_factor
    x = slerp(a, b, T)
    assert torch.isfinite(x).all()
    assert torch.allclose(x, lerp(a, b, T), atol=1e-6)
    if b_factor == -1.0:  # a face to its anti-face passes through the average face
        assert x[50].abs().max() < 1e-6


def test_slerp_same_point_no_nan():
    a = torch.randn(7)
    assert torch.allclose(slerp(a, a.clone(), T), a.expand(101, 7), atol=1e-6)


def test_slerp_works_on_wplus_shapes():
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    x = slerp(a, b, T[:3])
    assert x.shape == (3, 4, 8)


def _velocity(points, knots, t, closed=False, h=1e-4):
    ts = torch.tensor([t - h, t + h], dtype=torch.float64)
    y = hermite_spline(points, knots, ts, closed)
    return (y[1] - y[0]) / (2 * h)


def test_spline_passes_through_keyframes_and_is_c1():
    g = torch.Generator().manual_seed(1)
    p = torch.randn(4, 5, generator=g, dtype=torch.float64)
    knots = torch.tensor([0.0, 10.0, 40.0, 45.0], dtype=torch.float64)  # unequal durations
    y = hermite_spline(p, knots, knots)
    assert torch.allclose(y, p, atol=1e-9)
    for k in (10.0, 40.0):
        left = _velocity(p, knots, k - 1e-3)
        right = _velocity(p, knots, k + 1e-3)
        assert torch.allclose(left, right, atol=1e-3), (k, left, right)


def test_closed_spline_is_c1_at_the_seam():
    g = torch.Generator().manual_seed(2)
    p = torch.randn(3, 4, generator=g, dtype=torch.float64)
    knots = torch.tensor([0.0, 20.0, 30.0, 60.0], dtype=torch.float64)
    end = hermite_spline(p, knots, torch.tensor([60.0], dtype=torch.float64), closed=True)
    assert torch.allclose(end[0], p[0], atol=1e-9)
    v_end = _velocity(p, knots, 60.0 - 1e-3, closed=True)
    v_start = _velocity(p, knots, 0.0 + 1e-3, closed=True)
    assert torch.allclose(v_end, v_start, atol=1e-3)


def _path(loop, holds=(2, 0, 3), trans=(4, 5), interp="slerp", easing="linear", **kw):
    g = torch.Generator().manual_seed(3)
    keys = torch.randn(len(holds), 6, generator=g)
    n = len(trans)
    return keys, LatentPath(keys, list(holds), list(trans), [interp] * n, [easing] * n, loop, **kw)


@pytest.mark.parametrize("loop,holds,trans,total", [
    (False, (2, 0, 3), (4, 5), 14),
    (True, (2, 0, 3), (4, 5, 6), 20),
    (False, (0, 0), (7,), 7),
    (True, (1, 1), (0, 3), 5),
], ids=["open", "loop", "zero-holds", "zero-length-transition"])
def test_exact_frame_counts(loop, holds, trans, total):
    _, path = _path(loop, holds, trans)
    assert path.total_frames == total
    assert len(path.latents(torch.arange(total))) == total
    with pytest.raises(IndexError):
        path.latents(torch.tensor([total]))


def test_holds_show_the_keyframe_and_open_path_ends_on_last():
    keys, path = _path(False)
    frames = path.latents(torch.arange(path.total_frames))
    assert torch.equal(frames[0], keys[0]) and torch.equal(frames[1], keys[0])
    assert torch.allclose(frames[-1], keys[2], atol=1e-6)
    assert path.locate(0) == ("hold", 0, 0.0)
    assert path.locate(2)[:2] == ("transition", 0)


@pytest.mark.parametrize("interp", ["linear", "slerp", "spline"])
def test_loop_seam_repeats_no_frame_and_steps_evenly(interp):
    keys, path = _path(True, holds=(0, 0, 0), trans=(10, 10, 10), interp=interp)
    frames = path.latents(torch.arange(path.total_frames))
    assert torch.allclose(frames[0], keys[0])
    assert not torch.allclose(frames[-1], frames[0])
    steps = (frames[1:] - frames[:-1]).norm(dim=1)
    seam = (frames[0] - frames[-1]).norm()
    assert seam < 2.0 * steps.median() and seam > 0.3 * steps.median()


def test_t_override_replaces_easing():
    keys, path = _path(False, holds=(0, 0, 0), trans=(4, 5), interp="linear",
                       t_override={0: torch.tensor([0.0, 0.1, 0.2, 0.9])})
    frames = path.latents(torch.arange(4))
    expected = lerp(keys[0], keys[1], torch.tensor([0.0, 0.1, 0.2, 0.9], dtype=torch.float64))
    assert torch.allclose(frames, expected, atol=1e-6)


def test_offsets_are_added_to_their_transition():
    offset = lambda t: torch.ones(len(t), 6) * t[:, None]  # noqa: E731
    keys, plain = _path(False, holds=(0, 0, 0), interp="linear")
    _, shifted = _path(False, holds=(0, 0, 0), interp="linear", offsets={1: offset})
    f = torch.arange(plain.total_frames)
    diff = shifted.latents(f) - plain.latents(f)
    assert diff[:4].abs().max() == 0 and diff[4:].abs().max() > 0


@pytest.mark.parametrize("interp", ["linear", "slerp", "spline"])
def test_batched_equals_one_by_one(interp):
    _, path = _path(True, trans=(4, 5, 6), interp=interp, easing="ease-in-out")
    idx = torch.arange(path.total_frames)
    batch = path.latents(idx)
    single = torch.cat([path.latents(torch.tensor([i])) for i in idx])
    assert torch.allclose(batch, single)
    shuffled = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(0))]
    assert torch.allclose(path.latents(shuffled), batch[shuffled])


# Splines on the shell (issue 24.3): a loop through a face, another and the first's anti-face.
def _anti_loop():
    from latentreel.latents.truncation import sphere_truncate
    from latentreel.models.base import seed_latent

    a, b, mean = (torch.from_numpy(seed_latent(s, 100)).double() for s in (1, 2, 3))
    points = torch.stack([a, b, sphere_truncate(a, mean, -1.0)])
    return points, torch.tensor([0.0, 15.0, 30.0, 45.0], dtype=torch.float64)


def test_plain_hermite_leaves_the_shell_around_an_anti_face():
    # The failure shell_spline exists for: the move back from the anti-face cuts towards the
    # origin, where the DCGAN draws a texture.
    points, knots = _anti_loop()
    n = hermite_spline(points, knots, torch.linspace(0, 45, 451, dtype=torch.float64),
                       closed=True).norm(dim=1)
    assert float(n.min()) < 0.5 * float(points.norm(dim=1).min())


@pytest.mark.parametrize("closed", [False, True], ids=["open", "loop"])
def test_shell_spline_stays_on_the_shell(closed):
    points, knots = _anti_loop()
    knots = knots if closed else knots[:3]
    t = torch.linspace(0, float(knots[-1]), 451, dtype=torch.float64)
    n = shell_spline(points, knots, t, closed=closed).norm(dim=1)
    norms = points.norm(dim=1)
    assert float(n.min()) >= float(norms.min()) * 0.99  # 0.3 % shy where it nears the origin
    assert float(n.max()) <= float(norms.max()) * (1 + 1e-6)


def _shell_velocity(points, knots, t, closed=False, h=1e-7):
    ts = torch.tensor([t - h, t + h], dtype=torch.float64)
    y = shell_spline(points, knots, ts, closed)
    return (y[1] - y[0]) / (2 * h)


def test_shell_spline_passes_through_keyframes_and_is_c1():
    g = torch.Generator().manual_seed(1)
    p = torch.randn(4, 5, generator=g, dtype=torch.float64) * torch.tensor([[1.0], [2], [1], [3]])
    knots = torch.tensor([0.0, 10.0, 40.0, 45.0], dtype=torch.float64)  # unequal durations
    assert torch.allclose(shell_spline(p, knots, knots), p, atol=1e-9)
    for k in (10.0, 40.0):
        left = _shell_velocity(p, knots, k - 1e-5)
        right = _shell_velocity(p, knots, k + 1e-5)
        assert torch.allclose(left, right, atol=1e-3), (k, left, right)
    loop = torch.cat([knots, torch.tensor([60.0], dtype=torch.float64)])
    end = shell_spline(p, loop, loop[-1:], closed=True)
    assert torch.allclose(end[0], p[0], atol=1e-9)
    assert torch.allclose(_shell_velocity(p, loop, 60.0 - 1e-5, closed=True),
                          _shell_velocity(p, loop, 1e-5, closed=True), atol=1e-3)


def test_shell_spline_through_an_exact_negative_passes_where_slerp_does():
    a = torch.randn(6, dtype=torch.float64)
    knots = torch.tensor([0.0, 10.0], dtype=torch.float64)
    t = torch.tensor([0.0, 2.5, 5.0, 10.0], dtype=torch.float64)
    mid = shell_spline(torch.stack([a, -a]), knots, t)
    assert torch.allclose(mid[2], torch.zeros(6, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(mid[[0, 3]], slerp(a, -a, t / 10)[[0, 3]], atol=1e-9)


def test_analysis_flags_frames_that_leave_the_shell():
    from latentreel.latents.shell import frame_ranges, off_shell_frames

    a = torch.randn(8, dtype=torch.float64)
    b = torch.randn(8, dtype=torch.float64)
    keys = torch.stack([a, -a, b])
    straight = LatentPath(keys, [1, 1, 1], [10, 10], ["linear", "slerp"], ["linear"] * 2, False)
    flagged = off_shell_frames(straight)
    assert flagged and all(1 <= f < 11 for f in flagged) and 6 in flagged  # the origin
    assert frame_ranges(flagged) == [(flagged[0], flagged[-1])]
    on_shell = LatentPath(keys[[0, 2]], [1, 1], [10], ["spline"], ["linear"], False)
    assert off_shell_frames(on_shell) == []
    assert frame_ranges([9, 3, 4, 5]) == [(3, 5), (9, 9)]
