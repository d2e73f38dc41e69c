"""Directions on StyleGAN2 models live in W: fitted, PCA and SeFa directions are w vectors with
their measured spread, edits and sweeps work in w and w+ scenes, psi sheets truncate through
w_avg, and a direction from another space is refused with the fix (a tiny random network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import spearmanr
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.edits.attributes import pixel_attributes
from latentreel.edits.directions import DirectionStore, step_in_space
from latentreel.edits.fit import mapped_samples, pca_directions, sefa_directions
from latentreel.edits.sheets import direction_grid, psi_grid
from latentreel.models.registry import load_generator
from latentreel.video.probe import probe_video
from tests.test_stylegan2_rosinality import as_rosinality, random_net

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sgdir")
    net = random_net(seed=3)
    with torch.no_grad():  # a realistic w_avg (the tracked mean of mapped z), not noise
        net.mapping.w_avg.copy_(net.mapping(torch.randn(4096, net.z_dim)).mean(0))
    torch.save({"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg.clone()},
               folder / "tinyd.pt")
    r = runner.invoke(app, ["directions", "fit", "brightness", "background", "--model",
                            str(folder / "tinyd.pt"), "--samples", "300"])
    assert r.exit_code == 0, r.output
    assert "brightness (w)" in r.output
    return folder


@pytest.fixture(scope="module")
def g(tiny):
    return load_generator(str(tiny / "tinyd.pt"))


def test_fitted_directions_are_w_vectors_with_their_spread(tiny, g):
    d = DirectionStore("tinyd").get("brightness")
    assert d.space == "w" and d.vector.shape == (g.w_dim,) and d.stats["r2"] > 0.3
    z = torch.randn(2000, g.z_dim, generator=torch.Generator().manual_seed(9))
    spread = float((mapped_samples(g, z, "w") @ d.vector).std())
    assert d.stats["sigma"] == pytest.approx(spread, rel=0.1)
    r = runner.invoke(app, ["directions", "list", "--model", str(tiny / "tinyd.pt")])
    assert r.exit_code == 0 and "space w" in r.output and "brightness" in r.output


def test_a_w_sweep_moves_brightness_monotonically(g):
    d = DirectionStore("tinyd").get("brightness")
    step = torch.from_numpy(step_in_space(d, "w", g.latent_shape("w")))
    amounts = np.linspace(-3, 3, 9)
    lat, _, _ = direction_grid(g, [11, 12, 13], step, list(amounts), "brightness", "w")
    with torch.no_grad():
        bright = pixel_attributes(g.synthesize(lat, "w"))["brightness"].reshape(3, len(amounts))
    for row in bright:
        assert spearmanr(amounts, row)[0] > 0.9, row


def test_w_directions_carry_into_wplus_and_are_refused_in_z(g):
    d = DirectionStore("tinyd").get("brightness")
    w_step = step_in_space(d, "w", g.latent_shape("w"))
    wplus = step_in_space(d, "w+", g.latent_shape("w+"))
    assert wplus.shape == (g.num_ws, g.w_dim) and np.allclose(wplus, w_step[None])
    from latentreel.errors import BadInputError

    with pytest.raises(BadInputError, match="lives in w, but this scene moves in z"):
        step_in_space(d, "z", g.latent_shape("z"))


@pytest.mark.parametrize("space", ["w", "w+"])
def test_edit_and_sweep_render_in_w_scenes(tiny, space):
    scene = tiny / f"edit-{space.replace('+', 'p')}.yaml"
    scene.write_text(
        f"model: tinyd.pt\nspace: {space}\noutput: {{fps: 5, size: 64}}\n"
        "defaults: {hold: 0.2, transition: 1}\n"
        "keyframes:\n  - {seed: 1, name: a}\n"
        "  - edit: {of: a, direction: brightness, amount: 2, keep: [background]}\n"
        "    transition: {sweep: {direction: brightness, from: -2, to: 2}}\n"
        "  - {anti: a}\n")
    out = tiny / f"edit-{space.replace('+', 'p')}.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == 3 + 2 * 5


def test_a_z_direction_in_a_w_scene_names_the_fix(tiny):
    vec = tiny / "z.npy"
    np.save(vec, np.random.default_rng(0).standard_normal(32).astype(np.float32))
    r = runner.invoke(app, ["directions", "import", "zdir", str(vec), "--model",
                            str(tiny / "tinyd.pt"), "--space", "z"])
    assert r.exit_code == 0, r.output
    scene = tiny / "zedit.yaml"
    scene.write_text("model: tinyd.pt\nspace: w\noutput: {fps: 5, size: 64}\n"
                     "keyframes: [{seed: 1, name: a}, {edit: {of: a, direction: zdir}}]\n")
    out = tiny / "zedit.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 2 and "zedit.yaml:4" in r.output
    assert "'zdir' lives in z, but this scene moves in w" in r.output
    assert "space: z" in r.output and "--space w" in r.output and not out.exists()


def test_pca_in_w_orders_components_by_their_variance(g):
    dirs = pca_directions(g, k=4, samples=2000)
    assert all(d.space == "w" and d.vector.shape == (g.w_dim,) for d in dirs)
    sigmas = [d.stats["sigma"] for d in dirs]
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] > 0
    z = torch.randn(2000, g.z_dim, generator=torch.Generator().manual_seed(1))
    w = mapped_samples(g, z, "w")
    assert float((w @ dirs[0].vector).std()) == pytest.approx(sigmas[0], rel=0.1)
    random = np.random.default_rng(0).standard_normal(g.w_dim)
    assert sigmas[0] > 1.5 * float((w @ (random / np.linalg.norm(random))).std())


def test_sefa_in_w_moves_the_styles_most(g):
    dirs = sefa_directions(g, k=2)
    assert all(d.space == "w" and d.stats["sigma"] > 0 for d in dirs)
    from latentreel.edits.fit import _style_weights

    m = _style_weights(g).float()  # every style vector is m @ w + bias
    random = torch.from_numpy(np.random.default_rng(0).standard_normal((500, g.w_dim))).float()
    random /= random.norm(dim=1, keepdim=True)
    top, second = (torch.from_numpy(d.vector) for d in dirs)
    # The top factor changes the styles more than any other unit w direction, the second next.
    assert (m @ top).norm() > (m @ second).norm() > 0
    assert (m @ top).norm() >= (random @ m.T).norm(dim=1).max()
    assert (m @ top).norm() ** 2 == pytest.approx(float(torch.linalg.matrix_norm(m, 2)) ** 2,
                                                   rel=1e-4)


def test_psi_sheets_truncate_through_w_avg(tiny, g):
    lat, labels, _ = psi_grid(g, [5], [1, 0, -1])
    assert lat.shape == (3, g.w_dim)
    w_avg = g.mean_latent("w")
    assert torch.allclose(lat[1], w_avg) and torch.allclose(lat[2] - w_avg, -(lat[0] - w_avg))
    out = tiny / "psi.png"
    r = runner.invoke(app, ["sheet", "--psi", "1,0,-1", "--seeds", "5,6", "--model",
                            str(tiny / "tinyd.pt"), "-o", str(out), "--cell", "48"])
    assert r.exit_code == 0, r.output
    assert Image.open(out).size[0] >= 3 * 48


def test_photo_directions_live_where_the_photos_were_inverted(tiny, g):
    from skimage import data

    from latentreel.edits.run import direction_from_photos
    from latentreel.invert.photo import InvertSettings

    Image.fromarray(data.astronaut()).save(tiny / "pos.png")
    Image.fromarray(data.astronaut()[:, ::-1].copy()).save(tiny / "neg.png")
    d = direction_from_photos(g, "flip", [tiny / "pos.png"], [tiny / "neg.png"],
                              settings=InvertSettings(steps=5, restarts=1, align=False,
                                                      facenet_steps=0), progress=False)
    assert d.space == "w+" and d.vector.shape == (g.num_ws, g.w_dim) and d.stats["sigma"] > 0
    stored = DirectionStore("tinyd").get("flip")
    assert stored.space == "w+" and np.allclose(stored.vector, d.vector)
    with pytest.raises(Exception, match="lives in w\\+, but this scene moves in w"):
        step_in_space(stored, "w", g.latent_shape("w"))


def test_landmark_attributes_on_a_model_without_faces_say_so(tiny):
    r = runner.invoke(app, ["directions", "fit", "yaw", "--model", str(tiny / "tinyd.pt"),
                            "--samples", "60"])
    assert r.exit_code == 2 and "yaw: measured on only" in r.output and "brightness" in r.output


@pytest.mark.parametrize("space", ["w", "w+"])
def test_feedback_chains_run_in_w_through_the_mapping(g, space):
    from latentreel.faces.facenet import load_facenet
    from latentreel.feedback.chain import FeedbackSettings, latent_map, run_chain

    facenet = load_facenet()
    settings = FeedbackSettings(steps=3)
    with torch.no_grad():
        start = g.to_space(torch.from_numpy(np.random.default_rng(1).standard_normal(
            (1, g.z_dim)).astype(np.float32)), space)[0]
        r = run_chain(g, facenet, start, settings, space=space)
        assert r.latents.shape == (3, *g.latent_shape(space))
        # Face 1 is the mapped z the direct map gives for face 0's embedding.
        emb = facenet.embed(g.synthesize(start[None], space))
        expected = g.to_space(latent_map(g, facenet, settings)(emb), space)
    assert torch.allclose(r.latents[0], expected[0], atol=1e-5)
    assert len(r.step_distances) == 3 and all(0 <= d <= 2 for d in r.step_distances)


def test_a_feedback_scene_renders_and_analyzes_in_w(tiny):
    scene = tiny / "loop-w.yaml"
    scene.write_text("model: tinyd.pt\nspace: w\noutput: {fps: 5, size: 64}\nloop: true\n"
                     "defaults: {hold: 0, transition: 0.4}\n"
                     "keyframes: [{seed: 4, name: a}, {feedback: {from: a, steps: 3, mix: 0.5}}]\n")
    out = tiny / "loop-w.mp4"
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == 4 * 2
    r = runner.invoke(app, ["analyze", str(scene), "-o", str(tiny / "loop-w"), "-q"])
    assert r.exit_code == 0, r.output
    import json

    summary = json.loads((tiny / "loop-w" / "analysis.json").read_text())
    m = np.array(summary["keyframe_distance_matrix"])
    assert m.shape == (4, 4) and np.allclose(np.diag(m), 0, atol=1e-3)
    assert len(summary["feedback"][0]["step_distances"]) == 3
    assert (tiny / "loop-w" / "feedback-steps.png").stat().st_size > 5000


def test_stylegan_bench_runs_every_part_on_a_small_network(monkeypatch):
    """The bench's plumbing (its figures come from `latentreel bench stylegan`)."""
    import latentreel.models.stylegan2.bench as sgbench
    from latentreel.bench.stylegan import run_stylegan_bench

    monkeypatch.setattr(sgbench, "random_generator", lambda resolution: random_net(seed=1))
    monkeypatch.setattr(sgbench, "_images_per_s", lambda g, batch, s, u8: 10.0 * batch)
    r = run_stylegan_bench(resolution=32, device="cpu", frames=30, size=64, batches=(1, 2),
                           invert_steps=2, log=lambda *a: None)
    assert r["generator"]["images_per_s"]["fp32"] == {1: 10.0, 2: 20.0}
    render = r["render"]
    assert render["G_fps"] == 20.0 and render["ENC_fps"] > 0 and render["E2E_fps"] > 0
    assert render["E2E_over_min_G_ENC"] == pytest.approx(render["E2E_fps"] / 20.0)
    inv = r["invert"]
    assert inv["pixel_s_per_1000"] > 0 and inv["facenet_noise_s_per_1000"] > 0
