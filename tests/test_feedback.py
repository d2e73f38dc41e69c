"""Feedback chains (maps, fixed points, cycles) and identity search."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.feedback import chain as chain_module
from latentreel.feedback.chain import FeedbackSettings, run_chain
from latentreel.feedback.maps import direct_map, fit_regression, projection, regression_map
from latentreel.models.base import seed_latent

runner = CliRunner()
# dcgan-digiface's landmark template in [0, 1] (median MTCNN landmarks of generated faces).
TEMPLATE = [[0.35105, 0.46891], [0.66075, 0.46389], [0.50664, 0.66205], [0.3724, 0.82478],
            [0.64223, 0.82182]]


@pytest.fixture(scope="module")
def facenet():
    from latentreel.faces.facenet import load_facenet

    return load_facenet()


@pytest.fixture(scope="module")
def start():
    return torch.from_numpy(seed_latent(3, 100))


def test_projection_is_orthonormal_and_direct_map_has_typical_norm():
    p = projection(100, seed=3)
    assert torch.allclose(p.T @ p, torch.eye(100), atol=1e-5)
    assert torch.equal(projection(100, seed=3), p)  # seeded: the same every time
    assert not torch.allclose(projection(100, seed=4), p)
    emb = torch.nn.functional.normalize(torch.randn(4, 512), dim=1)
    assert torch.allclose(direct_map(emb, p).norm(dim=1), torch.full((4,), 10.0), atol=1e-4)
    assert torch.equal(projection(512, seed=3), torch.eye(512))


def test_chain_is_deterministic_and_measures_every_step(dcgan, facenet, start):
    a = run_chain(dcgan, facenet, start, FeedbackSettings(steps=4))
    b = run_chain(dcgan, facenet, start, FeedbackSettings(steps=4))
    assert a.latents.shape == (4, 100) and torch.equal(a.latents, b.latents)
    # Faces 0..4: four steps, the last one included; direct-map steps are big jumps.
    assert len(a.step_distances) == 4 and min(a.step_distances) > 0.1
    assert a.fixed_point is None and a.cycle is None
    assert set(a.seconds) == {"generate", "embed", "map"} and a.seconds["embed"] > 0
    # Face 1 is the map's image of face 0: check the distance against a direct computation.
    with torch.no_grad():
        e = facenet.embed(dcgan.synthesize(torch.cat([start[None], a.latents[:1]])))
    assert float(1 - e[0] @ e[1]) == pytest.approx(a.step_distances[0], abs=1e-4)
    assert torch.allclose(a.latents[0], direct_map(e[:1], projection(100, 0))[0], atol=1e-4)


def test_until_fixed_point_ends_the_chain_on_it(dcgan, facenet, start):
    # A generous threshold: face 0 already "equals" its image, so the chain ends at once.
    stop = run_chain(dcgan, facenet, start, FeedbackSettings(steps=10, until="fixed-point",
                                                             threshold=2.0))
    assert stop.fixed_point == 0 and len(stop.latents) == 1 and len(stop.step_distances) == 1
    go_on = run_chain(dcgan, facenet, start, FeedbackSettings(steps=3, threshold=2.0))
    assert go_on.fixed_point == 0 and len(go_on.latents) == 3  # reported, chain kept


def test_mixing_does_not_fake_a_fixed_point(dcgan, facenet, start):
    # Mixing 95 % of the last latent makes every step short; the map itself still moves
    # the face far, so a short step must not count as a fixed point.
    s = FeedbackSettings(steps=3, map="mix", mix=0.95, threshold=0.15)
    r = run_chain(dcgan, facenet, start, s)
    assert max(r.step_distances) < 0.15 and r.fixed_point is None
    plain = run_chain(dcgan, facenet, start, FeedbackSettings(steps=1))
    assert not torch.equal(r.latents[0], plain.latents[0])
    assert torch.allclose(r.latents[0], 0.05 * plain.latents[0] + 0.95 * start, atol=1e-5)


def _unit(*rows):
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


@pytest.mark.parametrize("rows, expected", [
    pytest.param([[1, 0], [0, 1], [1, 0.01]], (0, 2), id="returns-after-leaving"),
    pytest.param([[1, 0], [1, 0.05], [1, 0.1]], None, id="slow-drift-is-no-cycle"),
    pytest.param([[1, 0], [0, 1], [-1, 0], [0.01, 1]], (1, 3), id="later-return"),
])
def test_cycles_need_a_return(rows, expected):
    embs = torch.nn.functional.pad(_unit(*rows), (0, 510))  # [k+1, 512]
    k = len(rows) - 1
    dist = 1 - embs[:k] @ embs[k]
    assert chain_module._find_return(embs, dist, k, threshold=0.02) == expected


def test_regression_map_is_fitted_once_and_cached(dcgan, facenet, monkeypatch):
    calls = {"n": 0}
    real = dcgan.synthesize

    def counting(z, space="z"):
        calls["n"] += len(z)
        return real(z, space)

    monkeypatch.setattr(dcgan, "synthesize", counting)
    w, b = fit_regression(dcgan, facenet, samples=40, seed=5, batch=16)
    assert w.shape == (512, 100) and b.shape == (100,) and calls["n"] == 41  # probe + fit
    z = torch.randn(40, 100, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        e = facenet.embed(real(z))
    # Fewer samples than unknowns: least squares reproduces every training latent.
    assert torch.allclose(regression_map(e, w, b), z, atol=1e-2)
    w2, b2 = fit_regression(dcgan, facenet, samples=40, seed=5, batch=16)
    assert calls["n"] == 42 and torch.equal(w, w2) and torch.equal(b, b2)  # only the probe


def test_regression_chain_drifts_slowly(dcgan, facenet, start, monkeypatch):
    monkeypatch.setattr(chain_module, "fit_regression",
                        functools.partial(fit_regression, samples=40, seed=5))
    r = run_chain(dcgan, facenet, start, FeedbackSettings(steps=2, map="regression"))
    assert r.latents.shape == (2, 100) and len(r.step_distances) == 2


def test_feedback_scene_renders_its_chain(write_scene, tmp_path):
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


def test_bad_feedback_reference_is_exit_2(write_scene):
    scene = write_scene("keyframes:\n  - {seed: 1, name: a}\n  - feedback: {from: b, steps: 2}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2 and "no keyframe is named 'b'" in r.output


class PixelEmbedder:
    """A cheap stand-in for FaceNet with the same interface: centred, pooled pixels."""

    def __init__(self, generator):
        with torch.no_grad():
            self.mean = self._pool(generator.synthesize(torch.randn(64, 100))).mean(0)

    @staticmethod
    def _pool(images):
        return torch.nn.functional.avg_pool2d(images, 8).flatten(1)

    def embed(self, images):
        return torch.nn.functional.normalize(self._pool(images) - self.mean, dim=1)


@pytest.mark.parametrize("method", ["dual-annealing", "random"])
def test_identity_search_gets_closer(dcgan, method):
    from latentreel.feedback.search import search_basis, search_identity

    embedder = PixelEmbedder(dcgan)
    target_z = search_basis(100, 3, seed=7) @ torch.tensor([2.0, -1.5, 1.0])  # reachable
    with torch.no_grad():
        target = embedder.embed(dcgan.synthesize(target_z[None]))
    res = search_identity(dcgan, embedder, target, dims=3, method=method, until=0.9999,
                          seconds=600, seed=7, progress=False, max_evaluations=30)
    assert res.evaluations == len(res.trace) <= 30 and res.latent.shape == (100,)
    assert all(b <= a for a, b in zip(res.trace, res.trace[1:])) and res.trace[-1] == res.distance
    assert res.distance < res.trace[0]  # got closer than its first guess
    with torch.no_grad():  # the distance reported is the returned latent's
        got = embedder.embed(dcgan.synthesize(res.latent[None]))
    assert float(1 - got[0] @ target[0]) == pytest.approx(res.distance, abs=1e-5)
    again = search_identity(dcgan, embedder, target, dims=3, method=method, until=0.9999,
                            seconds=600, seed=7, progress=False, max_evaluations=30)
    assert torch.equal(again.latent, res.latent)  # seeded


def test_identity_search_stops_at_its_time_limit(dcgan):
    import time

    from latentreel.feedback.search import search_identity

    embedder = PixelEmbedder(dcgan)
    target = torch.nn.functional.normalize(torch.randn(1, 192), dim=1)  # unreachable
    t0 = time.perf_counter()
    res = search_identity(dcgan, embedder, target, dims=4, until=0.99, seconds=0.5,
                          progress=False)
    # Stops at the first evaluation past the limit (under 0.1 s each, when not loaded).
    assert res.evaluations >= 1 and res.seconds >= 0.5
    assert time.perf_counter() - t0 < 0.5 + 5.0


def test_search_keyframe_finds_a_face_for_a_photo(write_scene, tmp_path):
    from PIL import Image
    from skimage import data

    from latentreel.faces.template import TEMPLATE_VERSION, template_path

    # The DCGAN's measured template, stored so this private cache skips a minute of MTCNN.
    template_path("dcgan-digiface").write_text(json.dumps({"version": TEMPLATE_VERSION,
                                                           "landmarks": TEMPLATE}))
    Image.fromarray(data.astronaut()).save(tmp_path / "target.png")
    scene = write_scene("""
        output: {fps: 4, size: 64}
        defaults: {hold: 0, transition: 0.5}
        keyframes:
          - seed: 1
          - search: {target: target.png, dims: 3, method: random, seconds: 1}
    """)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "s.mp4")])
    assert r.exit_code == 0, r.output
    from latentreel.video.probe import read_frames

    frames = read_frames(tmp_path / "s.mp4")
    assert frames.shape == (2, 64, 64, 3) and np.abs(frames[0].astype(int) - frames[1]).mean() > 1


def test_search_keyframe_validates_its_target(write_scene):
    scene = write_scene("keyframes:\n  - search: {target: missing.jpg, dims: 4}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2
    assert "keyframes[0].search.target: file 'missing.jpg' not found" in r.output


def test_search_progress_label_reads_cleanly(dcgan, capsys):
    from latentreel.feedback.search import search_identity

    class Embedder:  # a stand-in FaceNet: every face embeds the same
        def embed(self, images):
            return torch.nn.functional.normalize(torch.ones(len(images), 512), dim=1)

    target = torch.nn.functional.normalize(-torch.ones(1, 512), dim=1)
    search_identity(dcgan, Embedder(), target, method="random", max_evaluations=3,
                    progress=True)
    err = capsys.readouterr().err
    assert "search stopped: 3 faces" in err and ": :" not in err
