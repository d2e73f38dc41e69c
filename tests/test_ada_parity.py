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


def _small_state(kw: dict, seed: int = 0) -> dict:
    from latentreel.models.stylegan2.kwargs import config_from_init
    from latentreel.models.stylegan2.limits import expected_shapes

    cfg = config_from_init((), kw)
    return {k: fill(k, s, seed, lr_multiplier(kw)) for k, s in expected_shapes(cfg).items()}


OK_KW = ADA_CONFIGS["ada64_cond"][0]
HOSTILE = {  # recorded kwargs -> the refusal (checked before anything is allocated)
    "huge-c_dim": ({"c_dim": 10 ** 7}, r"c_dim=10000000 \(allowed 0..4096\)"),
    "huge-embed": ({"mapping_kwargs": {"num_layers": 2, "embed_features": 10 ** 6}},
                   r"mapping embed_features=1000000 \(allowed 1..4096\)"),
    "bool-c_dim": ({"c_dim": True}, "option c_dim=True is not an int"),
    "gelu-mapping": ({"mapping_kwargs": {"num_layers": 2, "activation": "gelu"}},
                     "mapping activation 'gelu' is not one of linear, relu, lrelu"),
    "dense-synthesis": ({"synthesis_kwargs": {"channel_base": 512, "channel_max": 16,
                                              "architecture": "dense"}},
                        "architecture 'dense' is not supported"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_variant_options_are_bounded_before_building(tmp_path, case):
    from latentreel.errors import ModelError

    change, message = HOSTILE[case]
    path = write_ada_pickle(tmp_path / "bad.pkl", {**OK_KW, **change}, _small_state(OK_KW))
    with pytest.raises(ModelError, match=message) as info:
        load_network_file(path, "cpu")
    assert "bad.pkl: " in str(info.value) and "\n" not in str(info.value)


def test_a_conditional_resnet_converts_to_the_same_network(tmp_path):
    """`models convert` keeps c_dim, the label embedding, resnet and the mapping activation."""
    from latentreel.models.stylegan2.convert import convert_network_file

    kw, options = VARIANT_CONFIGS["tf64_cond_resnet"]
    src = write_tf_pickle(tmp_path / "tf.pkl", kw, seed=options["seed"],
                          version=options["version"], lod=options["lod"])
    convert_network_file(src, tmp_path / "safe.pkl")
    a, b = (load_network_file(p, "cpu", precision="fp32") for p in (src, tmp_path / "safe.pkl"))
    assert b.c_dim == 3 and b.net.cfg.architecture == "resnet"
    assert b.net.cfg.mapping_activation == "swish"
    z, c = torch.randn(2, 16, generator=torch.Generator().manual_seed(1)), torch.eye(3)[:2]
    with torch.no_grad():
        torch.testing.assert_close(a.synthesize(a.to_space(z, "w", labels=c), "w"),
                                   b.synthesize(b.to_space(z, "w", labels=c), "w"))
