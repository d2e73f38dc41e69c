"""Bad input around latent edits: one clear line, exit 2, no traceback."""

from __future__ import annotations

import io

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.edits.directions import Direction, DirectionStore

runner = CliRunner()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache holding two directions for the default model."""
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    store = DirectionStore("dcgan-digiface")
    rng = np.random.default_rng(0)
    store.add(Direction("yaw", rng.standard_normal(100), "fitted"))
    store.add(Direction("zoom", rng.standard_normal(100), "fitted"))
    store.save()
    return store


def _fails_cleanly(r, *fragments: str, lines: int = 1) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == lines, r.output  # one line per problem
    for f in fragments:
        assert f in r.output, r.output


SCENES = {  # name: (keyframes, fragments of the one-line error)
    "edit-of-missing": (["{seed: 1, name: alice}", "{edit: {of: alcie, direction: yaw}}"],
                        ["edit.of", "no keyframe is named 'alcie'", "did you mean 'alice'"]),
    "edit-cycle": (["{edit: {of: b, direction: yaw}, name: a}",
                    "{edit: {of: a, direction: yaw}, name: b}"], ["cycle"]),
    "unknown-direction": (["{seed: 1, name: a}", "{edit: {of: a, direction: yaww}}"],
                          ["no direction named 'yaww'", "did you mean 'yaw'", "scene.yaml:3:"]),
    "unknown-keep": (["{seed: 1, name: a}", "{edit: {of: a, direction: yaw, keep: [zom]}}"],
                     ["no direction named 'zom'", "did you mean 'zoom'"]),
    "unknown-sweep": (["{seed: 1, transition: {sweep: {direction: zooom}}}", "{seed: 2}"],
                      ["no direction named 'zooom'", "did you mean 'zoom'"]),
    "amount-range": (["{seed: 1, name: a}", "{edit: {of: a, direction: yaw, amount: 50}}"],
                     ["amount", "50"]),
    "anti-psi-range": (["{seed: 1, name: a}", "{anti: {of: a, psi: 4}}"],
                       ["psi", "[-3.0, 3.0]"]),
}


@pytest.mark.parametrize("name", list(SCENES), ids=list(SCENES))
def test_bad_edit_scenes(cache, write_scene, tmp_path, name):
    keyframes, fragments = SCENES[name]
    text = "keyframes:\n" + "".join(f"  - {k}\n" for k in keyframes)
    r = runner.invoke(app, ["render", str(write_scene(text)), "-q", "-o", str(tmp_path / "x.mp4")])
    # Both keyframes of the cycle are reported, each on its line.
    _fails_cleanly(r, *fragments, lines=2 if name == "edit-cycle" else 1)
    assert not (tmp_path / "x.mp4").exists()


def test_stored_direction_of_the_wrong_shape(cache, write_scene, tmp_path):
    cache.add(Direction("wide", np.ones(512), "file"))  # made for a 512-d model
    cache.save()
    scene = write_scene("keyframes:\n  - {seed: 1, name: a}\n"
                        "  - {edit: {of: a, direction: wide}}\n")
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "x.mp4")])
    _fails_cleanly(r, "direction 'wide' has shape [512]", "[100]")


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, v=np.ones(100))
    return buf.getvalue()


@pytest.mark.parametrize("make,fragments", [
    (lambda p: np.save(p, np.ones((2, 100), np.float32)), ["shape [2, 100]", "[100]"]),
    (lambda p: np.save(p, np.zeros(100, np.float32)), ["is zero"]),
    (lambda p: np.save(p, np.full(100, np.nan, np.float32)), ["NaN"]),
    (lambda p: np.save(p, np.array(["a"] * 100)), ["not numbers"]),
    (lambda p: p.write_bytes(b"not numpy"), ["not a .npy array"]),
    (lambda p: p.write_bytes(_npz_bytes()), [".npz archive"]),
    (lambda p: None, ["no such file"]),
], ids=["shape", "zero", "nan", "strings", "garbage", "npz", "missing"])
def test_import_refuses_bad_vectors(cache, tmp_path, make, fragments):
    path = tmp_path / "v.npy"
    make(path)
    r = runner.invoke(app, ["directions", "import", "smile", str(path)])
    _fails_cleanly(r, *fragments)
    assert "smile" not in DirectionStore("dcgan-digiface").directions


@pytest.mark.parametrize("args,fragments", [
    (["directions", "name", "yaww", "turn"], ["no direction named 'yaww'", "did you mean 'yaw'"]),
    (["directions", "name", "yaw", "zoom"], ["'zoom' already exists"]),
    (["directions", "fit", "yaww"], ["unknown attribute 'yaww'", "did you mean 'yaw'"]),
    (["directions", "fit", "similarity", "--samples", "50"], ["needs --photo"]),
    (["directions", "fit", "yaw", "--photo", "x.png"], ["only used by the similarity"]),
    (["sheet", "--direction", "zom"], ["no direction named 'zom'", "did you mean 'zoom'"]),
    (["sheet", "--axes", "98-100"], ["axes 0-99, not 100"]),
    (["sheet", "--psi", "1,0", "--plane"], ["--psi and --plane", "one kind of sheet"]),
], ids=["name-unknown", "name-taken", "fit-unknown", "similarity-no-photo",
        "photo-unused", "sheet-direction", "sheet-axes", "sheet-two-kinds"])
def test_bad_direction_commands(cache, tmp_path, args, fragments):
    if args[0] == "sheet":
        args = [*args, "-o", str(tmp_path / "s.png")]
    _fails_cleanly(runner.invoke(app, args), *fragments)
    assert not (tmp_path / "s.png").exists()
    assert set(DirectionStore("dcgan-digiface").directions) == {"yaw", "zoom"}


@pytest.fixture
def no_inversion(monkeypatch):
    monkeypatch.setattr("latentreel.invert.photo.invert_photo",
                        lambda *a, **k: pytest.fail("inverted before checking every photo"))


def _from_photos(positive, negative):
    return runner.invoke(app, ["directions", "from-photos", "smile", "--positive", str(positive),
                               "--negative", str(negative)])


def test_from_photos_reports_a_missing_photo_first(cache, tmp_path, no_inversion):
    from PIL import Image

    Image.new("RGB", (80, 80), (128, 128, 128)).save(tmp_path / "blank.png")
    r = _from_photos(tmp_path / "blank.png", tmp_path / "missing.jpg")
    _fails_cleanly(r, "missing.jpg", "no such photo")


def test_from_photos_checks_faces_before_inverting(cache, dcgan, tmp_path, no_inversion):
    from PIL import Image
    from skimage import data

    from latentreel.faces.template import generator_template

    generator_template(dcgan, n=32)  # a rough template, quicker than measuring the full one
    Image.fromarray(data.astronaut()).resize((128, 128)).save(tmp_path / "face.png")
    Image.new("RGB", (80, 80), (128, 128, 128)).save(tmp_path / "blank.png")
    _fails_cleanly(_from_photos(tmp_path / "face.png", tmp_path / "blank.png"), "blank.png", "face")


@pytest.mark.parametrize("name,model,hint", [
    ("sefa0", "dcgan-digiface", "make sefa0.. with `latentreel directions sefa`"),
    ("pc3", "net", "make pc0.. with `latentreel directions pca --model net`"),
    ("yaw", "dcgan-digiface", "fit it with `latentreel directions fit yaw`"),
    ("smile", "dcgan-digiface", "make it with `latentreel directions from-photos` or "
                                "`directions import`"),
], ids=["sefa", "pca", "attribute", "other"])
def test_no_directions_yet_names_the_command_that_makes_one(name, model, hint):
    from latentreel.edits.directions import unknown_direction

    message = unknown_direction(name, {}, model)
    assert message.startswith(f"no direction named '{name}' for {model}; {hint}"), message
