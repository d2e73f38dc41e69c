"""StyleGAN3 pickles go through the same allow-listed unpickler: hostile ones are refused
before anything runs, wrong ones are one ModelError line naming the problem."""

from __future__ import annotations

import os
import pickle

import pytest

from latentreel.errors import ModelError
from latentreel.models.network_file import load_network_file
from tests.stylegan3_nets import nvidia_kwargs, random_net, tree_from_tensors, write_snapshot
from tests.test_stylegan2_pickle import _Hostile, nvidia_modules  # noqa: F401 - fixture


def _tree(**kwargs_changes):
    net = random_net()
    kwargs = {**nvidia_kwargs(net.cfg), **kwargs_changes}
    return net, tree_from_tensors(net.state_dict(), kwargs)


def test_a_payload_inside_a_layer_is_refused_unrun(tmp_path, nvidia_modules):  # noqa: F811
    marker = tmp_path / "pwned"
    _, tree = _tree()
    layer = tree.state["_modules"]["synthesis"].state["_modules"]["input"]
    layer.state["_hooks"] = _Hostile(os.system, f"touch {marker}")
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": tree}))
    with pytest.raises(ModelError, match="refusing to load .*evil.pkl: it asks for"):
        load_network_file(path, "cpu")
    assert not marker.exists()


@pytest.mark.parametrize("change,message", [
    ({"fancy_option": 3}, "unknown generator option.s. fancy_option"),
    ({"c_dim": 10}, "conditional generators"),
    ({"num_layers": "14"}, "num_layers='14' has the wrong type"),
    ({"channel_max": 16}, "do not fit|needs .* weights"),
], ids=["unknown-option", "conditional", "bad-type", "tensors-mismatch"])
def test_wrong_networks_are_one_line(tmp_path, nvidia_modules, change, message):  # noqa: F811
    _, tree = _tree(**change)
    path = write_snapshot(tmp_path / "odd.pkl", tree)
    with pytest.raises(ModelError, match=message) as e:
        load_network_file(path, "cpu")
    assert "\n" not in str(e.value) and "odd.pkl" in str(e.value)


def test_a_foreign_module_class_is_refused(tmp_path, nvidia_modules):  # noqa: F811
    _, tree = _tree()
    tree.state["_modules"]["synthesis"].state["_modules"]["input"].class_name = "Mystery"
    path = write_snapshot(tmp_path / "odd.pkl", tree)
    with pytest.raises(ModelError, match="G_ema.synthesis.input is a 'Mystery'"):
        load_network_file(path, "cpu")


def test_a_missing_w_avg_is_estimated(tmp_path, nvidia_modules):  # noqa: F811
    net, tree = _tree()
    del tree.state["_modules"]["mapping"].state["_buffers"]["w_avg"]
    g = load_network_file(write_snapshot(tmp_path / "no-avg.pkl", tree), "cpu")
    assert g.mean_latent("w").shape == (net.w_dim,)
    assert not g.mean_latent("w").allclose(net.mapping.w_avg)  # estimated, not the file's


def test_a_configuration_bigger_than_its_file_is_refused(tmp_path, nvidia_modules):  # noqa: F811
    from latentreel.models.stylegan3.load import weight_count

    net, tree = _tree(img_resolution=4096, channel_max=4096)
    assert weight_count(net.cfg) <= sum(t.numel() for t in net.state_dict().values())
    path = write_snapshot(tmp_path / "bomb.pkl", tree)
    with pytest.raises(ModelError, match="needs .* weights but the file holds"):
        load_network_file(path, "cpu")
    _, tree = _tree(num_layers=100000)
    with pytest.raises(ModelError, match="num_layers=100000 is outside"):
        load_network_file(write_snapshot(tmp_path / "deep.pkl", tree), "cpu")


def test_the_stylegan2_loader_names_the_stylegan3_one(tmp_path, nvidia_modules):  # noqa: F811
    from latentreel.models.stylegan2.backend import load_stylegan2_file

    _, tree = _tree()
    with pytest.raises(ModelError, match="StyleGAN3 .*load_network_file"):
        load_stylegan2_file(write_snapshot(tmp_path / "sg3.pkl", tree), "cpu")
