"""Conditional StyleGAN2 generators in scenes: `class:` on seed keyframes and in defaults (a
class number or a label vector) draws each seed in its class; every misuse is one located line
with exit 2, before the first frame; tools that draw from class-less z refuse such models.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.models.base import seed_latent
from latentreel.models.stylegan2.limits import expected_shapes
from latentreel.models.stylegan2.network import StyleGAN2Config
from latentreel.video.probe import probe_video
from tests.ada_nets import fill, write_ada_pickle

runner = CliRunner()
CLASSES = 5


def _pickle(path, c_dim: int):
    kw = {"z_dim": 16, "c_dim": c_dim, "w_dim": 16, "img_resolution": 16, "img_channels": 3,
          "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {"channel_base": 128,
                                                                    "channel_max": 16}}
    cfg = StyleGAN2Config(img_resolution=16, z_dim=16, w_dim=16, c_dim=c_dim,
                          mapping_layers=2, channel_base=128, channel_max=16)
    state = {k: fill(k, s, seed=3) for k, s in expected_shapes(cfg).items()}
    return write_ada_pickle(path, kw, state)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cond")
    _pickle(folder / "cond.pkl", CLASSES)
    _pickle(folder / "plain.pkl", 0)
    return folder


def _scene(folder, name: str, body: str, model: str = "cond.pkl", defaults: str = ""):
    path = folder / f"{name}.yaml"
    path.write_text(f"model: {model}\noutput: {{fps: 4, size: 16}}\n"
                    f"defaults: {{hold: 0.25, transition: 0.5{defaults}}}\n{body}")
    return path


def test_seeds_are_drawn_in_their_class(models):
    from latentreel.models.registry import load_generator
    from latentreel.render.keyframes import resolve_keyframes
    from latentreel.scene import load_scene

    g = load_generator(str(models / "cond.pkl"))
    scene = _scene(models, "ok", "keyframes:\n  - {seed: 1}\n  - {seed: 1, class: 3}\n"
                   "  - {seed: 1, class: {labels: [0, 0.5, 0, 0.5, 0]}}\n",
                   defaults=", class: 1")
    lat = resolve_keyframes(load_scene(scene), g, progress=False).latents
    z = torch.from_numpy(seed_latent(1, g.z_dim))[None]
    for row, label in enumerate(([0, 1, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0.5, 0, 0.5, 0])):
        want = g.to_space(z, "w+", labels=torch.tensor([label], dtype=torch.float32))
        torch.testing.assert_close(lat[row], want[0])
    assert not torch.allclose(lat[0], lat[1])  # the class reached the mapping network


def test_a_conditional_scene_renders_and_its_classes_are_fingerprinted(models):
    from latentreel.render.prepared import prepare_scene
    from latentreel.scene import load_scene

    one = _scene(models, "r1", "keyframes: [{seed: 1, class: 0}, {seed: 2, class: 4}]\n")
    out = models / "r1.mp4"
    r = runner.invoke(app, ["render", str(one), "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert probe_video(out).frames == 1 + 2 + 1  # hold, transition, hold
    two = _scene(models, "r2", "keyframes: [{seed: 1, class: 0}, {seed: 2, class: 2}]\n")
    prints = [prepare_scene(load_scene(p), device="cpu", progress=False).fingerprint()
              for p in (one, two)]
    assert prints[0] != prints[1]


BAD = {
    "missing": ("keyframes: [{seed: 1, class: 0}, {seed: 2}]\n", "cond.pkl",
                r"missing.yaml:4:\d+: seed: cond is a conditional generator with 5 classes; "
                r"give this keyframe a `class:` \(0 to 4\) or set defaults.class"),
    "out-of-range": ("keyframes: [{seed: 1, class: 5}]\n", "cond.pkl",
                     r"out-of-range.yaml:4:\d+: keyframes\[0\].class: class 5 is out of range: "
                     "cond has classes 0 to 4"),
    "labels": ("keyframes: [{seed: 1}, {seed: 2}]\n", "cond.pkl",
               r"labels.yaml:3:\d+: defaults.class: labels has 2 weights but cond has 5 "
               "classes", ", class: {labels: [1, 0]}"),
    "unconditional": ("keyframes: [{seed: 1, class: 2}]\n", "plain.pkl",
                      r"unconditional.yaml:4:\d+: keyframes\[0\].class: plain is not a "
                      "conditional generator; remove `class:`"),
    "both": ("keyframes: [{seed: 1, class: {index: 1, labels: [1, 0, 0, 0, 0]}}]\n",
             "cond.pkl", r"both.yaml:4:\d+: keyframes\[0\].class: give a class number or "
                         r"labels: \[...\], not both"),
    "z-space": ("space: z\nkeyframes: [{seed: 1, class: 1}]\n", "cond.pkl",
                "z-space.yaml: space: a conditional generator's z has no class"),
    "not-a-class": ("keyframes: [{seed: 1, class: cat}]\n", "cond.pkl",
                    r"not-a-class.yaml:4:\d+: keyframes\[0\].class.index: expected an integer"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_misuse_is_one_located_line(models, case):
    body, model, message, *defaults = BAD[case]
    out = models / f"{case}.mp4"
    r = runner.invoke(app, ["render", str(_scene(models, case, body, model, *defaults)), "-q",
                            "-o", str(out)])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


@pytest.mark.parametrize("args", [["sheet", "--seeds", "0-1"],
                                  ["directions", "pca", "--k", "2"]], ids=["sheet", "pca"])
def test_tools_without_classes_refuse_conditional_models(models, tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, [*args, "--model", str(models / "cond.pkl")])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "cond: a conditional generator (5 classes)" in lines[0]
    assert "render scenes with `class:`" in lines[0]


def test_unconditional_models_take_no_labels(models):
    from latentreel.models.registry import load_generator

    g = load_generator(str(models / "plain.pkl"))
    assert g.c_dim == 0
    with pytest.raises(ValueError, match="unconditional"):
        g.to_space(torch.zeros(1, 16), "w", labels=torch.ones(1, 1))
    np.testing.assert_array_equal(g.to_space(torch.zeros(1, 16), "w").shape, (1, 16))
