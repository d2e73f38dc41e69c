"""The scene check covers the model: names, files, pulls, spaces and directions, located,
reported with every other problem, from metadata alone (no weights are read: the model files
here are empty)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app

runner = CliRunner()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache: nothing pulled, and directions for the file model `net.pt`."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LATENTREEL_CACHE", str(root))
    store = root / "directions" / "net"
    store.mkdir(parents=True)
    meta = {"smile": {"source": "fitted", "space": "w", "stats": {}},
            "zsmile": {"source": "file", "space": "z", "stats": {}}}
    (store / "directions.json").write_text(json.dumps(meta))
    np.savez(store / "directions.npz", smile=np.ones(4, np.float32), zsmile=np.ones(4, np.float32))
    return root


def _problems(write_scene, tmp_path, text: str) -> list[str]:
    (tmp_path / "net.pt").write_bytes(b"")  # never opened: the check reads no weights
    r = runner.invoke(app, ["validate", str(write_scene(text))])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    return r.output.removeprefix("error: ").strip().splitlines()


BAD = {  # name: (scene, [(line:col, fragments of that problem's line)])
    "unknown-name": ("model: ffhq-25\nkeyframes: [{seed: 1}]\n",
                     [("1:8", ["model: unknown model 'ffhq-25'", "'ffhq-256'", "'ffhq-512'",
                               "latentreel models"])]),
    "misspelt-default": ("model: dcgan-digifce\nkeyframes: [{seed: 1}]\n",
                         [("1:8", ["did you mean 'dcgan-digiface'?"])]),
    "missing-file": ("model: models/net.pkl\nkeyframes: [{seed: 1}]\n",
                     [("1:8", ["models/net.pkl does not exist",
                               "relative to the scene file"])]),
    "misspelt-file": ("model: nett.pt\nkeyframes: [{seed: 1}]\n",
                      [("1:8", ["nett.pt does not exist", "did you mean 'net.pt'?"])]),
    "wrong-suffix": ("model: weights/ffhq.pth\nkeyframes: [{seed: 1}]\n",
                     [("1:8", ["not .pth", "give a .pkl or .pt file"])]),
    "not-pulled": ("model: ffhq-256\nkeyframes: [{seed: 1}]\n",
                   [("1:8", ["'ffhq-256' is not downloaded yet",
                             "run: latentreel models pull ffhq-256"])]),
    "space-of-dcgan": ("space: w\nkeyframes: [{seed: 1}]\n",
                       [("1:8", ["space: dcgan-digiface has no 'w' space; use one of z"])]),
    "anti-and-truncation-in-stylegan-z": (
        "model: net.pt\nspace: z\nkeyframes:\n  - {seed: 1, name: a, truncation: 0.5}\n"
        "  - {anti: a}\n",
        [("4:36", ["keyframes[0].truncation: truncation on net happens in W", "space: w+"]),
         ("5:12", ["keyframes[1].anti: an anti-face on net happens in W"])]),
    "directions": (
        "model: net.pt\nkeyframes:\n  - {seed: 1, name: a}\n"
        "  - edit: {of: a, direction: smiel, keep: [zsmile]}\n"
        "    transition: {sweep: {direction: smile, keep: [frown]}}\n",
        [("4:30", ["edit.direction: no direction named 'smiel' for net; "
                   "did you mean 'smile'"]),
         ("4:44", ["edit.keep[0]: direction 'zsmile' lives in z, but this scene moves in w+"]),
         ("5:51", ["sweep.keep[0]: no direction named 'frown' for net"])]),
    "with-other-problems": ("model: no-such\nkeyframes: [{seed: 1, hodl: 2}, {anti: b}]\n",
                            [("1:8", ["unknown model 'no-such'"]),  # in the file's order
                             ("2:23", ["unknown key 'hodl'"]),
                             ("2:40", ["no keyframe is named 'b'"])]),
}


@pytest.mark.parametrize("name", list(BAD), ids=list(BAD))
def test_bad_models_are_located_with_every_other_problem(cache, write_scene, tmp_path, name):
    text, expected = BAD[name]
    lines = _problems(write_scene, tmp_path, text)
    assert len(lines) == len(expected), lines
    for line, (at, fragments) in zip(lines, expected):
        assert f"scene.yaml:{at}: " in line, line
        for fragment in fragments:
            assert fragment in line, line


def test_a_good_file_model_scene_validates_without_loading_weights(cache, write_scene, tmp_path):
    (tmp_path / "net.pt").write_bytes(b"")
    scene = write_scene("model: net.pt\nkeyframes:\n  - {seed: 1, name: a, truncation: 0.7}\n"
                        "  - {anti: a}\n  - edit: {of: a, direction: smile}\n")
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 0 and "valid; 3 keyframes" in r.output, r.output


def test_render_stops_at_the_scene_check(cache, write_scene, tmp_path, monkeypatch):
    from latentreel.render import prepared

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the scene was checked")

    monkeypatch.setattr(prepared, "load_generator", no_loading)
    r = runner.invoke(app, ["render", str(write_scene("model: ffhq-256\nkeyframes: [{seed: 1}]\n")),
                            "-q", "-o", str(tmp_path / "x.mp4")])
    assert r.exit_code == 2 and "scene.yaml:1:8: model:" in r.output and "models pull" in r.output
    assert not (tmp_path / "x.mp4").exists()
