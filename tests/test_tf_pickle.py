"""TensorFlow-era StyleGAN2 pickles: what loads, and every way a file is refused (one line,
nothing built, nothing in the file run). Files are written by tests/tf_nets.py."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.errors import ModelError
from latentreel.models.stylegan2 import tf_load
from latentreel.models.stylegan2.backend import load_stylegan2_file
from tests import tf_nets
from tests.tf_nets import CONFIGS, tf_modules, tf_snapshot, write_tf_pickle

KW, _ = CONFIGS["tf32_map2"]


@pytest.fixture
def no_build(monkeypatch):
    def refuse(cfg):
        raise AssertionError(f"the loader built a generator for {cfg}")

    monkeypatch.setattr(tf_load, "empty_generator", refuse)


def _dump(path, obj):
    with tf_modules():
        path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_build_module_src_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setattr(tf_nets, "SOURCE", f"open({str(marker)!r}, 'w').write('x')\n")
    path = write_tf_pickle(tmp_path / "g.pkl", KW)
    assert b"open(" in path.read_bytes()
    g = load_stylegan2_file(path, "cpu")
    assert g.resolution == 32 and not marker.exists()


def _var(name):
    def edit(v):
        for prefix, group in v.items():
            for i, (n, a) in enumerate(group):
                if (f"{prefix}/{n}" if prefix else n) == name:
                    return group, i, a
        raise KeyError(name)
    return edit


def _set(name, value):
    def edit(v):
        group, i, _ = _var(name)(v)
        group[i] = (group[i][0], value(group[i][1]))
    return edit


def _drop(name):
    def edit(v):
        group, i, _ = _var(name)(v)
        del group[i]
    return edit


def _add(v):
    v["synthesis"].append(("64x64/Conv1/weight", np.zeros((3, 3, 1, 1), np.float32)))


def _kw(**over):
    """Gs's static kwargs changed after its variables were drawn (no huge arrays written)."""
    def build(tmp):
        g, d, gs = tf_snapshot(KW)
        gs._state["static_kwargs"] = {**KW, **over}
        return _dump(tmp / "k.pkl", (g, d, gs))
    return build


def _edited(edit):
    return lambda tmp: write_tf_pickle(tmp / "e.pkl", KW, edit=edit)


def _state_over(**over):
    def build(tmp):
        g, d, gs = tf_snapshot(KW)
        gs._state = {**gs._state, **over}
        return _dump(tmp / "s.pkl", (g, d, gs))
    return build


def _cycle(tmp):
    g, d, gs = tf_snapshot(KW)
    gs._state["components"]["mapping"] = gs
    return _dump(tmp / "c.pkl", (g, d, gs))


def _smuggled_global(tmp):
    g, d, gs = tf_snapshot(KW)
    gs._state["static_kwargs"]["evil"] = os.system
    return _dump(tmp / "o.pkl", (g, d, gs))


def _lone_gs(tmp):
    return _dump(tmp / "lone.pkl", tf_snapshot(KW)[2])


CASES = {
    "unknown-kwarg": (_kw(synthesis_func="G_synthesis_stylegan_revised"),
                      "unknown TensorFlow generator option.s. 'synthesis_func'"),
    "string-labels": (_kw(label_size="3"), "static kwarg label_size='3' is not an int"),
    "dense": (_kw(architecture="dense"), "architecture 'dense' is not supported"),
    "tanh-synthesis": (_kw(nonlinearity="tanh"), "nonlinearity 'tanh' is not supported"),
    "mapping-gelu": (_kw(mapping_nonlinearity="gelu"), "mapping_nonlinearity 'gelu' is not one"),
    "huge-resolution": (_kw(resolution=2 ** 20), r"img_resolution=1048576 \(allowed 4..4096\)"),
    "string-size": (_kw(fmap_max="512"), "static kwarg fmap_max='512' is not an int"),
    "wrong-shape": (_edited(_set("synthesis/8x8/Conv1/weight",
                                 lambda a: np.zeros((3, 3, 32, 31), np.float32))),
                    r"wrong shape synthesis/8x8/Conv1/weight \[3, 3, 32, 31\]"),
    "missing": (_edited(_drop("mapping/Dense1/bias")), "missing mapping/Dense1/bias"),
    "unexpected": (_edited(_add), "unexpected 'synthesis/64x64/Conv1/weight'"),
    "int-weights": (_edited(_set("synthesis/4x4/Conv/bias", lambda a: a.astype(np.int32))),
                    "not floating point synthesis/4x4/Conv/bias"),
    "nan": (_edited(_set("synthesis/16x16/ToRGB/weight", lambda a: a * np.nan)),
            "Gs's tensor 'synthesis.b16.torgb.weight' holds NaN"),
    "object-array": (_edited(_set("synthesis/noise0", lambda a: np.array([None, 1], dtype=object))),
                     "a numpy dtype 'O8' that is not plain numbers"),
    "version-3": (_state_over(version=3), "a TensorFlow network of version 3"),
    "unknown-field": (_state_over(extra=1), "a TensorFlow network with an unknown field 'extra'"),
    "cycle": (_cycle, "component 'mapping/' reached twice"),
    "os-system-in-kwargs": (_smuggled_global, "it asks for 'posix.system'"),
    "lone-gs": (_lone_gs, r"not the \(G, D, Gs\) snapshot"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_bad_file_is_refused_before_building(tmp_path, no_build, case):
    build, match = CASES[case]
    path = build(tmp_path)
    with pytest.raises(ModelError, match=match) as e:
        load_stylegan2_file(path, "cpu")
    assert len(str(e.value)) < 400 and "\n" not in str(e.value)


def test_network_new_with_arguments_is_refused(tmp_path):
    body = (b"\x80\x04\x8c\x14dnnlib.tflib.network\x94\x8c\x07Network\x94\x93\x94"
            b"K\x01\x85\x94\x81\x94.")
    (tmp_path / "args.pkl").write_bytes(body)
    with pytest.raises(ModelError, match="a TensorFlow network built with arguments"):
        load_stylegan2_file(tmp_path / "args.pkl", "cpu")


def test_missing_dlatent_avg_is_estimated_and_lod_ignored(tmp_path):
    path = write_tf_pickle(tmp_path / "g.pkl", KW, lod=True, edit=_drop("dlatent_avg"))
    g = load_stylegan2_file(path, "cpu")
    assert float(g.net.mapping.w_avg.abs().sum()) > 0
    assert torch.isfinite(g.synthesize(torch.randn(1, 32))).all()


def test_cli_refuses_with_one_clean_line(tmp_path):
    path = CASES["cycle"][0](tmp_path)
    scene = tmp_path / "scene.yaml"
    out = tmp_path / "out.mp4"
    scene.write_text(f"model: {path.name}\noutput: {{fps: 5, size: 32}}\n"
                     "keyframes: [{seed: 1}, {seed: 2}]\n")
    from latentreel.cli import app

    r = CliRunner().invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    assert not out.exists()
