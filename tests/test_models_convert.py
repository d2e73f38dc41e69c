"""`latentreel models convert`: a TensorFlow-era pickle becomes a code-free PyTorch-era one that
the hardened loader reads back with identical images."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.models.network_file import load_network_file
from tests.tf_nets import CONFIGS, write_tf_pickle


def test_convert_round_trips_with_identical_images(tmp_path):
    kw, options = CONFIGS["tf32_orig"]
    src = write_tf_pickle(tmp_path / "tf.pkl", kw, seed=options["seed"])
    out = tmp_path / "safe.pkl"
    r = CliRunner().invoke(app, ["models", "convert", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert b"tflib" not in data and b"dnnlib" not in data
    a, b = (load_network_file(p, "cpu", precision="fp32") for p in (src, out))
    assert b.net.cfg == a.net.cfg
    z = torch.randn(2, a.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(a.synthesize(z), b.synthesize(z))


def test_convert_refuses_a_bad_source_with_one_line(tmp_path):
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    out = tmp_path / "out.pkl"
    r = CliRunner().invoke(app, ["models", "convert", str(tmp_path / "bad.pkl"), "-o", str(out)])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1, r.output
    assert not out.exists()
