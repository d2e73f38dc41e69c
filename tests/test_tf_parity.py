"""Parity with NVIDIA's own conversion of TensorFlow-era StyleGAN2 pickles.

tests/data/tf_parity/NAME.npz hold only NVIDIA's images (and the z and W+ that drew them) for
the configs in tests/tf_nets.py: the pickle itself is rewritten here from the same seed, and
make_reference.py beside the data says how NVIDIA's legacy.convert_tf_generator drew them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentreel.models.network_file import load_network_file
from tests.tf_nets import CONFIGS, write_tf_pickle

DATA = Path(__file__).parent / "data" / "tf_parity"
TOLERANCE = 1e-4  # max |difference| / std of NVIDIA's image


def _ratio(image: torch.Tensor, ref: np.ndarray) -> float:
    ref = torch.from_numpy(ref)
    return float((image - ref).abs().max() / ref.std())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_images_match_nvidias_conversion(tmp_path, name):
    kw, options = CONFIGS[name]
    ref = np.load(DATA / f"{name}.npz")
    assert json.loads(str(ref["kwargs_json"])) == kw  # the data was made from this config
    path = write_tf_pickle(tmp_path / f"{name}.pkl", kw, seed=options["seed"],
                           version=options["version"], lod=options["lod"])
    g = load_network_file(path, "cpu", precision="fp32")
    z = torch.from_numpy(ref["z"])
    with torch.no_grad():
        ratios = {
            "z": _ratio(g.synthesize(z[:1], "z"), ref["img_z"]),
            "truncation": _ratio(g.synthesize(g.truncate(g.to_space(z[1:], "w+"), 0.6, "w+",
                                                         cutoff=3), "w+"), ref["img_trunc"]),
            "w+": _ratio(g.synthesize(torch.from_numpy(ref["wplus"]), "w+"), ref["img_wplus"]),
        }
    print(name, {k: f"{v:.2e}" for k, v in ratios.items()})
    assert max(ratios.values()) <= TOLERANCE, ratios


def test_gs_renders_not_g(tmp_path):
    """The snapshot's G holds other weights: rendering it instead of Gs would be caught."""
    kw, options = CONFIGS["tf32_map2"]
    ref = np.load(DATA / "tf32_map2.npz")
    path = write_tf_pickle(tmp_path / "swapped.pkl", kw, seed=options["seed"] - 1,
                           version=options["version"])
    g = load_network_file(path, "cpu", precision="fp32")
    with torch.no_grad():
        assert _ratio(g.synthesize(torch.from_numpy(ref["z"][:1]), "z"), ref["img_z"]) > 0.1
