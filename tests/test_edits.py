"""Latent edits: directions (fit, unsupervised, import), conditioning, edit keyframes,
sweeps and exploration sheets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.edits.directions import Direction, DirectionStore, conditional
from latentreel.edits.fit import ridge_direction, sefa_directions
from latentreel.edits.sweep import sweep_amount

runner = CliRunner()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_ridge_recovers_a_linear_attribute():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((800, 20))
    true = rng.standard_normal(20)
    true /= np.linalg.norm(true)
    y = z @ true * 2 + 0.1 * rng.standard_normal(800)
    y[:10] = np.nan  # undetected faces are dropped, not fitted
    vec, stats = ridge_direction(z, y)
    assert float(vec @ true) > 0.99 and stats["r2"] > 0.95 and stats["samples"] == 790


def test_conditional_edit_is_orthogonal_to_kept():
    rng = np.random.default_rng(1)
    d, k1, k2 = (rng.standard_normal(10).astype(np.float32) for _ in range(3))
    c = conditional(d, [k1, k2])
    assert abs(np.linalg.norm(c) - 1) < 1e-5
    assert abs(c @ k1) < 1e-5 and abs(c @ k2) < 1e-5
    with pytest.raises(Exception, match="within the kept"):
        conditional(k1, [k1])


def test_sefa_components_are_orthonormal(dcgan):
    dirs = sefa_directions(dcgan, k=4)
    m = np.stack([d.vector for d in dirs])
    assert np.allclose(m @ m.T, np.eye(4), atol=1e-5)
    shares = [d.stats["eigenvalue_share"] for d in dirs]
    assert shares == sorted(shares, reverse=True)


def test_store_round_trip_and_suggestions(cache):
    store = DirectionStore("m")
    store.add(Direction("smile", np.ones(4) * 3, "photos"))
    store.save()
    again = DirectionStore("m")
    assert np.allclose(np.linalg.norm(again.get("smile").vector), 1)
    with pytest.raises(Exception, match="did you mean 'smile'"):
        again.get("smlie")


def test_sweep_starts_and_ends_unpushed_and_reaches_both_amounts():
    t = torch.linspace(0, 1, 401, dtype=torch.float64)
    s = sweep_amount(t, -3.0, 3.0)
    assert s[0] == 0 and abs(float(s[-1])) < 1e-12
    assert float(s.min()) == pytest.approx(-3.0) and float(s.max()) == pytest.approx(3.0)
    assert (s[1:] - s[:-1]).abs().max() < 0.1  # continuous


def test_edit_keyframe_and_sweep_render(cache, write_scene, tmp_path):
    r = runner.invoke(app, ["directions", "sefa", "--k", "3"])
    assert r.exit_code == 0, r.output
    scene = write_scene("""
        output: {fps: 5, size: 64}
        keyframes:
          - {seed: 1, name: a, transition: {duration: 2, sweep: {direction: sefa0}}}
          - {edit: {of: a, direction: sefa1, amount: 2, keep: [sefa2]}}
    """)
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "e.mp4")])
    assert r.exit_code == 0, r.output
    from latentreel.video.probe import probe_video

    assert probe_video(tmp_path / "e.mp4").frames == 3 + 10 + 3  # 0.5 s at 5 fps rounds up


def test_unknown_direction_is_exit_2_with_suggestion(cache, write_scene):
    runner.invoke(app, ["directions", "sefa", "--k", "2"])
    scene = write_scene("keyframes:\n  - {seed: 1, name: a}\n"
                        "  - {edit: {of: a, direction: sefa9x, amount: 1}}\n")
    r = runner.invoke(app, ["render", str(scene), "-q"])
    assert r.exit_code == 2 and "no direction named 'sefa9x'" in r.output
    assert "did you mean" in r.output and "Traceback" not in r.output
    assert "scene.yaml:3:" in r.output  # points at the keyframe


def test_import_checks_shape(cache, tmp_path):
    np.save(tmp_path / "ok.npy", np.ones(100, np.float32))
    np.save(tmp_path / "bad.npy", np.ones(512, np.float32))
    r = runner.invoke(app, ["directions", "import", "smile", str(tmp_path / "ok.npy")])
    assert r.exit_code == 0
    r = runner.invoke(app, ["directions", "import", "age", str(tmp_path / "bad.npy")])
    assert r.exit_code == 2 and "shape [512]" in r.output and "[100]" in r.output
    r = runner.invoke(app, ["directions", "list"])
    assert "smile" in r.output and "age" not in r.output
    r = runner.invoke(app, ["directions", "name", "smile", "grin"])
    assert r.exit_code == 0 and "grin" in runner.invoke(app, ["directions", "list"]).output


@pytest.mark.parametrize("command", ["import", "name"])
def test_taken_names_are_replaced_only_with_force(cache, tmp_path, command):
    """One rule for `directions import` and `directions name`: refuse, unless --force."""
    for name, value in (("a", 1.0), ("b", -1.0)):
        np.save(tmp_path / f"{name}.npy", np.full(100, value, np.float32))
        assert runner.invoke(app, ["directions", "import", name,
                                   str(tmp_path / f"{name}.npy")]).exit_code == 0
    args = (["directions", "import", "b", str(tmp_path / "a.npy")] if command == "import"
            else ["directions", "name", "a", "b"])
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "'b' already exists" in r.output and "--force" in r.output
    assert DirectionStore("dcgan-digiface").get("b").vector[0] < 0  # untouched
    assert runner.invoke(app, args + ["--force"]).exit_code == 0
    assert DirectionStore("dcgan-digiface").get("b").vector[0] > 0  # now a's vector


@pytest.mark.parametrize("args", [
    ["--psi", "1,0.5,0,-1"], ["--plane", "--seeds", "1,2,3"], ["--axes", "0-3"], [],
], ids=["psi-row", "plane", "axes", "seeds"])
def test_sheets(tmp_path, args):
    out = tmp_path / "s.png"
    r = runner.invoke(app, ["sheet", "-o", str(out), "--cell", "48", *args])
    assert r.exit_code == 0, r.output
    assert Image.open(out).width >= 4 * 48


@pytest.mark.parametrize("args,match", [
    (["--psi", "1,-5"], "within [-3, 3]"), (["--plane", "--seeds", "1,2"], "three seeds"),
    (["--psi", "a,b"], "comma-separated numbers"),
], ids=["psi-range", "plane-seeds", "psi-garbage"])
def test_bad_sheet_options(tmp_path, args, match):
    r = runner.invoke(app, ["sheet", "-o", str(tmp_path / "s.png"), *args])
    assert r.exit_code == 2 and match in r.output, r.output
    assert not (tmp_path / "s.png").exists()


def test_yaw_attribute_flips_with_a_mirrored_face():
    from skimage import data

    from latentreel.edits.attributes import measure
    from latentreel.faces.align import align_face
    from tests.test_faces import TEMPLATE

    crop = align_face(data.astronaut(), TEMPLATE, 128).crop
    x = torch.from_numpy(np.stack([crop, crop[:, ::-1].copy()])).permute(0, 3, 1, 2).float()
    x = x / 127.5 - 1
    yaw = measure(x, ("yaw", "zoom"))
    assert np.isfinite(yaw["yaw"]).all()
    assert yaw["yaw"][0] == pytest.approx(-yaw["yaw"][1], abs=0.05)
    assert yaw["zoom"][0] == pytest.approx(yaw["zoom"][1], rel=0.15)
