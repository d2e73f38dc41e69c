"""Parity with NVIDIA's stylegan2-ada-pytorch networks for the StyleGAN2 variants: resnet and
orig synthesis, other mapping activations and widths, conditional generators (label
embedding), in PyTorch-era pickles and TensorFlow-era ones (converted by NVIDIA's legacy.py).

Only NVIDIA's images (subsampled) and the z, labels, w and W+ that drew them are stored
(tests/data/ada_parity); the networks are rewritten here from the same seeds (ada_nets.py,
tf_nets.py), and make_reference.py beside the data says how NVIDIA's code drew them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentreel.models.network_file import load_network_file
from tests.ada_nets import ADA_CONFIGS, fill, labels, lr_multiplier, write_ada_pickle
from tests.parity_refs import DATA, check, ratio
from tests.tf_nets import VARIANT_CONFIGS, write_tf_pickle


@pytest.mark.parametrize("name", list(ADA_CONFIGS))
def test_pytorch_variants_match_nvidia(tmp_path, name):
    kw, seed = ADA_CONFIGS[name]
    ref = np.load(DATA / f"{name}.npz")
    assert json.loads(str(ref["kwargs_json"])) == kw  # the data was made from this config
    shapes = json.loads(str(ref["names_json"]))  # NVIDIA's tensors, by name
    state = {k: fill(k, tuple(s), seed, lr_multiplier(kw)) for k, s in shapes.items()}
    g = load_network_file(write_ada_pickle(tmp_path / f"{name}.pkl", kw, state), "cpu",
                          precision="fp32")
    assert g.c_dim == kw["c_dim"]
    np.testing.assert_array_equal(ref["c"], labels(kw["c_dim"], 2, seed))
    check(g, ref, name)


@pytest.mark.parametrize("name", list(VARIANT_CONFIGS))
def test_tensorflow_variants_match_nvidias_conversion(tmp_path, name):
    kw, options = VARIANT_CONFIGS[name]
    ref = np.load(DATA / f"{name}.npz")
    assert json.loads(str(ref["kwargs_json"])) == kw
    path = write_tf_pickle(tmp_path / f"{name}.pkl", kw, seed=options["seed"],
                           version=options["version"], lod=options["lod"])
    check(load_network_file(path, "cpu", precision="fp32"), ref, name)


def test_the_class_changes_the_image(tmp_path):
    """Drawing a conditional model with another class must not match: labels reach it."""
    kw, seed = ADA_CONFIGS["ada64_cond"]
    ref = np.load(DATA / "ada64_cond.npz")
    state = {k: fill(k, tuple(s), seed, lr_multiplier(kw))
             for k, s in json.loads(str(ref["names_json"])).items()}
    g = load_network_file(write_ada_pickle(tmp_path / "c.pkl", kw, state), "cpu",
                          precision="fp32")
    other = torch.zeros(1, kw["c_dim"])
    other[0, 3] = 1  # the reference drew class 1
    with torch.no_grad():
        w = g.to_space(torch.from_numpy(ref["z"][:1]), "w", labels=other)
        assert ratio(g.synthesize(w, "w"), ref, "z") > 0.05
    with pytest.raises(ValueError, match="needs labels"):
        g.to_space(torch.from_numpy(ref["z"][:1]), "w")
