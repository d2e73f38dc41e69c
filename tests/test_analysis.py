"""Identity analysis (`latentreel analyze`) and perceptually even timing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.render.timing import (
    apply_perceptual_timing,
    change_profile,
    image_change,
    timing_stats,
)
from latentreel.cli import app
from latentreel.latents import LatentPath
from latentreel.models.base import seed_latent

runner = CliRunner()


def _path(seeds, frames, loop=True, hold=0):
    keys = torch.stack([torch.from_numpy(seed_latent(s, 100)) for s in seeds])
    n = len(seeds) if loop else len(seeds) - 1
    return LatentPath(keys, [hold] * len(seeds), [frames] * n, ["slerp"] * n, ["linear"] * n,
                      loop)


def test_analyze_writes_plots_and_a_summary(write_scene, tmp_path):
    scene = write_scene("""
        output: {fps: 5, size: 64}
        defaults: {hold: 0, transition: 1}
        loop: true
        keyframes:
          - {seed: 3, name: start}
          - feedback: {from: start, steps: 3}
    """)
    r = runner.invoke(app, ["analyze", str(scene), "-o", str(tmp_path / "a"), "-q"])
    assert r.exit_code == 0, r.output
    assert "loop seam" in r.output
    summary = json.loads((tmp_path / "a" / "analysis.json").read_text())
    m = np.array(summary["keyframe_distance_matrix"])
    assert m.shape == (4, 4) and np.allclose(m, m.T, atol=1e-3)
    assert np.allclose(np.diag(m), 0, atol=1e-3)
    assert summary["frames"] == 20 and len(summary["per_frame_change"]["pixel"]) == 20
    assert summary["off_shell"] == {"frames": 0, "tolerance": 0.2, "ranges": []}
    assert "leave the face shell" not in r.output
    assert len(summary["transitions"]) == 4 and len(summary["transitions"][0]["to_end"]) == 5
    chain = summary["feedback"][0]
    assert chain["steps"] == 3 and len(chain["step_distances"]) == 3
    # The chain's step distances are the matrix's off-diagonal neighbours.
    assert np.allclose(chain["step_distances"], np.diag(m, 1), atol=2e-3)
    assert {"fixed_point", "cycle"} <= set(chain)
    assert summary["timing"]["seam_over_median"] > 0
    for png in ("keyframe-distances", "per-frame-change", "transition-distances", "feedback-steps"):
        assert (tmp_path / "a" / f"{png}.png").stat().st_size > 5000


def test_change_profile_streams_in_batches(dcgan):
    path = _path((6, 42), 4, hold=1)  # 10 frames and the seam
    whole = change_profile(dcgan, path, "z", batch=1000)
    assert whole.shape == (10,)
    assert np.allclose(change_profile(dcgan, path, "z", batch=3), whole, atol=1e-6)
    with torch.no_grad():
        images = dcgan.synthesize(path.latents(torch.tensor([*range(10), 0])))
    assert np.allclose(image_change(images).numpy(), whole, atol=1e-6)
    assert whole[0] == 0  # the hold's frame -> the transition's first frame: the same face


def test_timing_stats_on_a_known_profile():
    path = _path((1, 2), 4)  # two transitions of 4 frames, looping: 8 frames
    change = np.array([1, 1, 2, 9, 1, 1, 1, 3], dtype=float)  # last: the seam
    stats = timing_stats(path, change)
    # Each transition's four steps, the last landing on the next keyframe: [1, 1, 2, 9] and
    # [1, 1, 1, 3], where the 3 is the seam (last frame -> first frame).
    assert stats["max_over_median_per_transition"] == [6.0, 3.0]
    assert stats["worst_max_over_median"] == 6.0
    assert stats["seam_over_median"] == pytest.approx(3.0)
    assert stats["seam_over_last_transition_median"] == pytest.approx(3.0)
    open_path = _path((1, 2, 3), 4, loop=False)  # 8 frames: the last transition ends on 3
    stats = timing_stats(open_path, np.array([1, 1, 1, 1, 1, 2, 1], dtype=float))
    assert stats["max_over_median_per_transition"] == [1.0, 2.0] and "seam_over_median" not in stats


def test_perceptual_timing_evens_out_change(dcgan):
    path = _path((6, 42, 7), 30)
    before = timing_stats(path, change_profile(dcgan, path, "z"))
    after_path = apply_perceptual_timing(dcgan, path, ["perceptual"] * 3, "z")
    after = timing_stats(after_path, change_profile(dcgan, after_path, "z"))
    assert after["worst_max_over_median"] <= 1.3 < before["worst_max_over_median"]
    assert after["seam_over_median"] <= 1.5
    assert after_path.total_frames == path.total_frames
    # Keyframes stay where they were: every transition still starts on its keyframe.
    for i in range(3):
        assert float(after_path.t_override[i][0]) == 0.0
        assert torch.all(after_path.t_override[i].diff() > 0)


def test_uniform_timing_leaves_the_path_alone(dcgan):
    path = _path((6, 42), 10)
    assert apply_perceptual_timing(dcgan, path, ["uniform", "uniform"], "z") is path
    retimed = apply_perceptual_timing(dcgan, path, ["uniform", "perceptual"], "z")
    assert set(retimed.t_override) == {1}


def test_analyze_warns_about_frames_off_the_shell(write_scene, tmp_path):
    # A straight line from a face to its exact negative crosses the origin: a texture.
    from latentreel.latentfile import LatentFile, save_latent

    z = seed_latent(5, 100)
    save_latent(tmp_path / "neg.npz", LatentFile(latent=-z, space="z", model="dcgan-digiface"))
    scene = write_scene("""
        output: {fps: 5, size: 32}
        defaults: {hold: 0, transition: 2, interpolation: linear}
        keyframes:
          - seed: 5
          - latent: neg.npz
    """)
    r = runner.invoke(app, ["analyze", str(scene), "-o", str(tmp_path / "a"), "-q"])
    assert r.exit_code == 0, r.output
    assert "warning: " in r.output and "frames leave the face shell" in r.output
    assert json.loads((tmp_path / "a" / "analysis.json").read_text())["off_shell"]["frames"] > 0


def test_perceptual_timing_shows_progress_when_asked(dcgan, capsys):
    path = _path((6, 42), 10)
    apply_perceptual_timing(dcgan, path, ["perceptual", "uniform"], "z", progress=True)
    assert "perceptual timing" in capsys.readouterr().err
    apply_perceptual_timing(dcgan, path, ["perceptual", "uniform"], "z")
    assert capsys.readouterr().err == ""
