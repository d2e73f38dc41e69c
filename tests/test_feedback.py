"""Feedback chains, perceptual timing and identity analysis."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.feedback.chain import FeedbackSettings, run_chain
from latentreel.feedback.maps import direct_map, projection
from latentreel.models.base import seed_latent

runner = CliRunner()


@pytest.fixture(scope="module")
def facenet():
    from latentreel.faces.facenet import load_facenet

    return load_facenet()


def test_projection_is_orthonormal_and_direct_map_has_typical_norm():
    p = projection(100, seed=3)
    assert torch.allclose(p.T @ p, torch.eye(100), atol=1e-5)
    assert torch.equal(projection(100, seed=3), p)  # seeded: the same every time
    emb = torch.nn.functional.normalize(torch.randn(4, 512), dim=1)
    assert torch.allclose(direct_map(emb, p).norm(dim=1), torch.full((4,), 10.0), atol=1e-4)


def test_chain_is_deterministic_and_detects_fixed_points(dcgan, facenet):
    start = torch.from_numpy(seed_latent(3, 100))
    a = run_chain(dcgan, facenet, start, FeedbackSettings(steps=4))
    b = run_chain(dcgan, facenet, start, FeedbackSettings(steps=4))
    assert a.latents.shape == (4, 100) and torch.equal(a.latents, b.latents)
    assert len(a.step_distances) == 3 and all(d > 0 for d in a.step_distances)
    mixed = run_chain(dcgan, facenet, start, FeedbackSettings(steps=4, map="mix"))
    assert not torch.equal(mixed.latents, a.latents)
    # A generous threshold: every face "equals" the last, so the chain stops at once.
    stop = run_chain(dcgan, facenet, start, FeedbackSettings(steps=10, until="fixed-point",
                                                             threshold=2.0))
    assert stop.fixed_point == 1 and len(stop.latents) == 2


def test_feedback_scene_expands_and_analyze_writes_plots(write_scene, tmp_path):
    scene = write_scene("""
        output: {fps: 5, size: 64}
        defaults: {hold: 0, transition: 1}
        loop: true
        keyframes:
          - {seed: 3, name: start}
          - feedback: {from: start, steps: 3}
    """)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "f.mp4")])
    assert r.exit_code == 0, r.output
    from latentreel.video.probe import probe_video

    assert probe_video(tmp_path / "f.mp4").frames == 4 * 5  # 1 + 3 keyframes, 1 s each
    r = runner.invoke(app, ["analyze", str(scene), "-o", str(tmp_path / "a"), "-q"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert len(summary["keyframe_distance_matrix"]) == 4
    assert summary["feedback"][0]["steps"] == 3
    for png in ("keyframe-distances", "per-frame-change", "transition-distances", "feedback-steps"):
        assert (tmp_path / "a" / f"{png}.png").stat().st_size > 5000


def test_perceptual_timing_evens_out_change(dcgan):
    from latentreel.analysis.timing import apply_perceptual_timing, change_profile, timing_stats
    from latentreel.latents import LatentPath

    keys = torch.stack([torch.from_numpy(seed_latent(s, 100)) for s in (6, 42, 7)])
    path = LatentPath(keys, [0, 0, 0], [30, 30, 30], ["slerp"] * 3, ["linear"] * 3, True)
    before = timing_stats(path, change_profile(dcgan, path, "z"))
    after_path = apply_perceptual_timing(dcgan, path, ["perceptual"] * 3, "z")
    after = timing_stats(after_path, change_profile(dcgan, after_path, "z"))
    assert after["worst_max_over_median"] <= 1.3 < before["worst_max_over_median"]
    assert after["seam_over_median"] <= 1.5
    assert after_path.total_frames == path.total_frames


def test_bad_feedback_reference_is_exit_2(write_scene):
    scene = write_scene("keyframes:\n  - {seed: 1, name: a}\n  - feedback: {from: b, steps: 2}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2 and "no keyframe is named 'b'" in r.output


@pytest.mark.parametrize("method", ["dual-annealing", "random"])
def test_identity_search_gets_closer_and_stops_in_time(dcgan, facenet, method):
    import time

    from latentreel.feedback.search import search_identity

    target_z = torch.from_numpy(seed_latent(11, 100))
    with torch.no_grad():  # also warms FaceNet up for batch-1 inputs, so timing is fair
        target = facenet.embed(dcgan.synthesize(target_z[None]))
        start = float(1 - (facenet.embed(dcgan.synthesize(torch.zeros(1, 100))) * target).sum())
    t0 = time.perf_counter()
    res = search_identity(dcgan, facenet, target, dims=4, method=method, until=0.99,
                          seconds=4.0, progress=False)
    assert time.perf_counter() - t0 < 4.0 + 3.0  # stops at the limit (plus one evaluation)
    assert res.evaluations >= 3 and res.distance < start


def test_search_keyframe_validates_its_target(write_scene):
    scene = write_scene("keyframes:\n  - search: {target: missing.jpg, dims: 4}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2 and "keyframes[0].search.target: file 'missing.jpg' not found" in r.output
