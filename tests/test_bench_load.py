"""`latentreel bench load --tf`: a TensorFlow-era snapshot the loader accepts, the same
network written as a PyTorch-era one, and the side-by-side line with ratios and uptime (a
small resolution here; the benchmark itself runs at 1024 px)."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from latentreel.bench.tf_snapshot import write_tf_snapshot
from latentreel.cli import app
from latentreel.models.stylegan2.backend import load_stylegan2_file

runner = CliRunner()


def test_the_tf_snapshot_loads_as_the_same_network_from_both_eras(tmp_path):
    from latentreel.bench.model_load import write_net_snapshot

    write_tf_snapshot(tmp_path / "tf.pkl", 8)
    tf = load_stylegan2_file(tmp_path / "tf.pkl", "cpu", precision="fp32")
    assert tf.resolution == 8 and tf.z_dim == 512 and tf.net.cfg.channel_base == 32768
    write_net_snapshot(tmp_path / "torch.pkl", tf.net)
    torch_era = load_stylegan2_file(tmp_path / "torch.pkl", "cpu", precision="fp32")
    z = torch.randn(2, 512, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(tf.synthesize(z), torch_era.synthesize(z))


def test_bench_load_tf_prints_both_eras_side_by_side(tmp_path):
    r = runner.invoke(app, ["bench", "load", "--tf", "--resolutions", "8", "--repeats", "1",
                            "--json", str(tmp_path / "load.json")])
    assert r.exit_code == 0, r.output
    line = r.output.splitlines()[0]
    assert "TF-era" in line and "PyTorch-era" in line and "peak memory" in line, line
    assert "load average" in r.output
    assert (tmp_path / "load.json").is_file()


def test_bench_load_tf_refuses_two_resolutions():
    r = runner.invoke(app, ["bench", "load", "--tf", "--resolutions", "8,16"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
