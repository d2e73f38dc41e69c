"""Camera paths: the short way round, closed loops, whole turns, the same easing as the
latents, and the input transform each camera row stands for."""

from __future__ import annotations

import pytest
import torch

from latentreel.latents.camera import angle_step, interpolate_camera
from latentreel.latents.path import LatentPath
from latentreel.models.stylegan3.backend import camera_transforms


@pytest.mark.parametrize("a,b,step", [(350, 10, 20), (10, 350, -20), (0, 180, -180),
                                      (720, 30, 30), (-90, 90, -180), (0, 0, 0)],
                         ids=["across-zero", "back", "half", "wrapped", "opposite", "still"])
def test_angles_take_the_short_way(a, b, step):
    assert float(angle_step(torch.tensor(float(a)), torch.tensor(float(b)))) == step


def test_turns_add_whole_spins_and_xy_move_linearly():
    cams = interpolate_camera(torch.tensor([0.0, 0.0, 10.0]), torch.tensor([1.0, -1.0, 20.0]),
                              torch.tensor([0.0, 0.5, 1.0]), turns=1)
    assert cams.tolist() == [[0, 0, 10], [0.5, -0.5, 195], [1, -1, 380]]


def _path(loop: bool, easing: str = "ease-in-out") -> LatentPath:
    k = 3
    camera = torch.tensor([[0.0, 0.0, 350.0], [0.2, 0.0, 10.0], [0.0, 0.1, 90.0]])
    n_trans = k if loop else k - 1
    return LatentPath(torch.zeros(k, 2), [2] * k, [10] * n_trans, ["linear"] * n_trans,
                      [easing] * n_trans, loop, camera=camera, turns=[0.0] * n_trans)


def test_a_looping_camera_closes_and_eases_like_the_latents():
    path = _path(loop=True)
    cams = path.cameras(torch.arange(path.total_frames))
    assert cams.shape == (path.total_frames, 4)  # (x, y, angle) rows gain zoom 1 (log2: 0)
    assert torch.equal(cams[0], cams[1]) and cams[0].tolist() == [0, 0, 350, 0]  # the hold
    # First transition: 350 -> 10 through 0, eased (slow start).
    first = cams[2:12, 2]
    assert ((first - 350 + 180) % 360 - 180).abs().max() <= 20 + 1e-4
    steps = torch.diff(torch.remainder(first, 360) + 0.0).abs()
    assert steps[0] < steps[4]
    # The loop's last transition ends where the first frame starts (mod 360): no jump.
    last_frame = path.cameras(torch.tensor([path.total_frames - 1]))[0]
    assert float(angle_step(last_frame[2], cams[0, 2]).abs()) < 10
    assert last_frame[:2].abs().max() < 0.02


def test_retiming_keeps_the_camera():
    path = _path(loop=False, easing="linear")
    t = torch.linspace(0, 1, 10) ** 2
    retimed = path.with_t_override({0: t})
    assert retimed.camera is path.camera
    cams = retimed.cameras(torch.arange(2, 12))
    assert torch.allclose(cams[:, 0], 0.2 * t)


def test_camera_transforms_invert_the_pictures_move():
    m = camera_transforms(torch.tensor([[0.1, -0.2, 90.0], [0.0, 0.0, 0.0]]))
    assert torch.allclose(m[1], torch.eye(3))
    # The picture moved by (0.1, -0.2) and turned: the origin of the output maps back to ...
    forward = torch.linalg.inv(m[0].double())
    assert torch.allclose(forward[:2, 2], torch.tensor([0.1, -0.2], dtype=torch.float64))
    assert torch.allclose(forward[:2, :2], torch.tensor([[0.0, 1.0], [-1.0, 0.0]],
                                                        dtype=torch.float64), atol=1e-7)
