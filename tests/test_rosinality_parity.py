"""Parity with rosinality's stylegan2-pytorch Generator for channel_multiplier 4, whose
channel widths follow no NVIDIA channel_base rule (512 up to 32 px, then 1024 at 64 px).

Only rosinality's images (subsampled) and the z, w and W+ that drew them are stored
(tests/data/ada_parity); the checkpoint is rewritten here from the same seed (ada_nets.py),
and make_reference.py beside the data says how rosinality's code drew them. rosinality's
truncation moves every layer (no cutoff).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentreel.models.network_file import load_network_file
from tests.ada_nets import ROSINALITY_CONFIGS, fill, write_rosinality_pt
from tests.parity_refs import DATA, check


@pytest.mark.parametrize("name", list(ROSINALITY_CONFIGS))
def test_channel_multiplier_4_matches_rosinality(tmp_path, name):
    kw, seed = ROSINALITY_CONFIGS[name]
    ref = np.load(DATA / f"{name}.npz")
    assert json.loads(str(ref["kwargs_json"])) == kw
    shapes = json.loads(str(ref["names_json"]))
    state = {k: fill(k, tuple(s), seed) for k, s in shapes.items()}
    avg = fill("latent_avg", (kw["style_dim"],), seed)
    g = load_network_file(write_rosinality_pt(tmp_path / f"{name}.pt", state, avg), "cpu",
                          precision="fp32")
    assert g.net.cfg.channels(64) == 256 * kw["channel_multiplier"]
    assert g.net.cfg.channels(32) == 512
    check(g, ref, name, cutoff=None)


def test_convert_refuses_a_channel_table_in_one_line(tmp_path):
    """NVIDIA's kwargs have no per-resolution channel table: converting would lose it."""
    from latentreel.errors import ModelError
    from latentreel.models.stylegan2.convert import convert_network_file

    kw, seed = ROSINALITY_CONFIGS["ros64_cm4"]
    ref = np.load(DATA / "ros64_cm4.npz")
    state = {k: fill(k, tuple(s), seed) for k, s in json.loads(str(ref["names_json"])).items()}
    src = write_rosinality_pt(tmp_path / "cm4.pt", state, fill("latent_avg", (32,), seed))
    with pytest.raises(ModelError, match="channel_multiplier 4.*load the .pt file itself"):
        convert_network_file(src, tmp_path / "out.pkl")
    assert not (tmp_path / "out.pkl").exists()
