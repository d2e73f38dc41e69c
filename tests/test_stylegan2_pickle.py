"""Loading NVIDIA-format network pickles written here, and refusing hostile or broken ones.

No NVIDIA code is used: tiny stand-in classes pickle themselves the way
``torch_utils.persistence`` does (``_reconstruct_persistent_obj(meta)`` with the module source,
class name and the nn.Module ``__dict__`` as state), with the reconstructor and
``dnnlib.util.EasyDict`` living in throwaway modules that exist only while writing.
"""

from __future__ import annotations

import builtins
import os
import pickle
import re
import subprocess
import sys
import types
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from latentreel.errors import ModelError
from latentreel.models.stylegan2.backend import StyleGAN2Generator, load_stylegan2_file
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

CFG = StyleGAN2Config(img_resolution=32, z_dim=32, w_dim=32, mapping_layers=2,
                      channel_base=256, channel_max=32)
FAKE_SOURCE = "# the defining module's source would be here; a safe loader never runs it\n"


def _never_called(meta):
    raise AssertionError("the persistence reconstructor must never run")


class _EasyDict(dict):
    pass


def _fake_module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        value.__module__ = name
        value.__qualname__ = key
        setattr(mod, key, value)
    return mod


def install_nvidia_modules(mp: pytest.MonkeyPatch) -> None:
    """Make ``torch_utils.persistence`` and ``dnnlib.util`` importable by name for pickling."""
    for name, mod in {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": _fake_module("torch_utils.persistence",
                                                _reconstruct_persistent_obj=_never_called),
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": _fake_module("dnnlib.util", EasyDict=_EasyDict),
    }.items():
        mp.setitem(sys.modules, name, mod)


@pytest.fixture
def nvidia_modules(monkeypatch):
    install_nvidia_modules(monkeypatch)


class Persistent:
    """Pickles like an NVIDIA persistent object: reconstructor(meta) with class name + state."""

    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __reduce__(self):
        meta = {"type": "class", "version": 6, "module_src": FAKE_SOURCE,
                "class_name": self.class_name, "state": self.state}
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


PLAIN = (int, float, str, bool, type(None), list, tuple)


def as_persistent(module: torch.nn.Module, extra: dict | None = None) -> Persistent:
    """A module's ``__dict__`` as NVIDIA pickles it, children converted recursively."""
    state = {k: v for k, v in module.__dict__.items()
             if k.startswith("_") or isinstance(v, PLAIN)}
    state["_modules"] = OrderedDict((n, as_persistent(c)) for n, c in module._modules.items())
    state.update(extra or {})
    return Persistent(type(module).__name__, state)


def nvidia_kwargs(cfg: StyleGAN2Config, layout: str = "ada") -> dict:
    """Generator init kwargs as NVIDIA's training scripts record them."""
    mapping = _EasyDict(num_layers=cfg.mapping_layers)
    synthesis = _EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                          num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp)
    top = {"z_dim": cfg.z_dim, "c_dim": 0, "w_dim": cfg.w_dim,
           "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
           "mapping_kwargs": mapping}
    if layout == "ada":  # stylegan2-ada-pytorch
        return {**top, "synthesis_kwargs": synthesis}
    return {**top, **synthesis, "fused_modconv_default": "inference_only"}  # stylegan3


def random_net(cfg: StyleGAN2Config = CFG, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    net = Generator(cfg).eval().requires_grad_(False)
    with torch.no_grad():  # non-default values so copying them is visible
        net.mapping.w_avg.normal_()
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.3)
    return net


def write_nvidia_pickle(path: Path, net: Generator, layout: str = "ada", extra=None) -> Path:
    """Write ``net`` the way NVIDIA's training loop snapshots G, D, G_ema and augment_pipe."""
    g = as_persistent(net, {"_init_args": (), "_init_kwargs": nvidia_kwargs(net.cfg, layout)})
    d = Persistent("Discriminator", {"_parameters": OrderedDict(w=torch.nn.Parameter(
        torch.randn(4, 4), requires_grad=False)), "_buffers": OrderedDict(), "_modules": {},
        "training": False, "_non_persistent_buffers_set": set()})
    snapshot = {"G": g, "D": d, "G_ema": g, "augment_pipe": None,
                "training_set_kwargs": _EasyDict(resolution=net.img_resolution), **(extra or {})}
    path.write_bytes(pickle.dumps(snapshot))
    return path


def _images(g: StyleGAN2Generator, n: int = 3) -> torch.Tensor:
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(7))
    return g.synthesize(z)


@pytest.mark.parametrize("layout", ["ada", "stylegan3"])
def test_nvidia_pickle_loads_into_the_same_network(tmp_path, nvidia_modules, layout):
    net = random_net()
    path = write_nvidia_pickle(tmp_path / "net.pkl", net, layout)
    g = load_stylegan2_file(path, "cpu")
    assert (g.name, g.resolution, g.z_dim, g.num_ws) == ("net", 32, 32, 8)
    for name, t in net.state_dict().items():
        torch.testing.assert_close(g.net.state_dict()[name], t, msg=name)
    torch.testing.assert_close(_images(g), _images(StyleGAN2Generator(random_net(), "cpu")))
    torch.testing.assert_close(g.mean_latent("w"), net.mapping.w_avg)


def test_recorded_precision_options_are_honoured(tmp_path, nvidia_modules):
    cfg = StyleGAN2Config(img_resolution=32, z_dim=16, w_dim=16, mapping_layers=3,
                          channel_base=128, channel_max=16, num_fp16_res=2, conv_clamp=256.0)
    g = load_stylegan2_file(write_nvidia_pickle(tmp_path / "ada.pkl", random_net(cfg)), "cpu")
    assert g.net.cfg == cfg
    assert [b.use_fp16 for b in g.net.synthesis.blocks()] == [False, False, True, True]


def test_the_registry_loads_pickles_by_path(tmp_path, nvidia_modules):
    from latentreel.models.registry import load_generator

    write_nvidia_pickle(tmp_path / "faces.pkl", random_net())
    g = load_generator("faces.pkl", "cpu", base=tmp_path)
    assert isinstance(g, StyleGAN2Generator) and g.latent_spaces == ("z", "w", "w+")


class _Hostile:
    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return (self.call, self.args)


def _hostile_cases(marker: Path):
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": _Hostile(os.system, f"touch {marker}"),
        "builtins.eval": _Hostile(builtins.eval, touch),
        "subprocess.Popen": _Hostile(subprocess.Popen, ["touch", str(marker)]),
        "builtins.exec": _Hostile(builtins.exec, touch),
    }


@pytest.mark.parametrize("case", ["os.system", "builtins.eval", "subprocess.Popen",
                                  "builtins.exec"])
@pytest.mark.parametrize("where", ["top", "inside-D"])
def test_hostile_pickles_are_refused_without_running(tmp_path, nvidia_modules, case, where):
    marker = tmp_path / "pwned"
    payload = _hostile_cases(marker)[case]
    path = tmp_path / "evil.pkl"
    if where == "top":
        path.write_bytes(pickle.dumps({"G_ema": payload}))
    else:  # a valid G_ema first, the payload hidden in the discriminator's state
        write_nvidia_pickle(path, random_net(), extra={"D": Persistent("Discriminator",
                                                                       {"_hooks": payload})})
    with pytest.raises(ModelError, match=r"refusing to load .*evil\.pkl: it asks for") as e:
        load_stylegan2_file(path, "cpu")
    module = {"os.system": os.system.__module__}.get(case, case.split(".")[0])
    assert module in str(e.value)
    assert not marker.exists()


def test_hostile_storage_bytes_are_refused(tmp_path, nvidia_modules):
    """A storage's bytes are a nested torch.save; it is loaded weights_only, so code refuses."""
    marker = tmp_path / "pwned"
    import io

    inner = io.BytesIO()
    torch.save(_Hostile(os.system, f"touch {marker}"), inner, _use_new_zipfile_serialization=False)
    payload = _Hostile(torch.storage._load_from_bytes, inner.getvalue())
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": payload}))
    where = re.escape(f"'{os.system.__module__}.system' (inside a tensor storage)")
    with pytest.raises(ModelError, match=rf"refusing to load .*evil\.pkl: it asks for {where}"):
        load_stylegan2_file(tmp_path / "evil.pkl", "cpu")
    assert not marker.exists()


def test_a_lone_tensorflow_network_is_not_a_snapshot(tmp_path):
    body = b"\x80\x02cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01."
    (tmp_path / "tf.pkl").write_bytes(body)
    with pytest.raises(ModelError, match=r"TensorFlow-era pickle, but not the \(G, D, Gs\)"):
        load_stylegan2_file(tmp_path / "tf.pkl", "cpu")


def test_truncated_and_random_files_get_clear_errors(tmp_path, nvidia_modules):
    good = write_nvidia_pickle(tmp_path / "good.pkl", random_net()).read_bytes()
    (tmp_path / "cut.pkl").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError, match="cut.pkl: the file is truncated"):
        load_stylegan2_file(tmp_path / "cut.pkl", "cpu")
    (tmp_path / "noise.pkl").write_bytes(torch.randint(0, 256, (4096,),
                                         generator=torch.Generator().manual_seed(3))
                                         .to(torch.uint8).numpy().tobytes())
    with pytest.raises(ModelError, match="noise.pkl: not a readable network pickle: it holds "
                                         ".* damaged or another kind"):
        load_stylegan2_file(tmp_path / "noise.pkl", "cpu")
    torch.save({"a": torch.zeros(2)}, tmp_path / "zip.pkl")
    with pytest.raises(ModelError, match="zip.pkl"):
        load_stylegan2_file(tmp_path / "zip.pkl", "cpu")


def test_wrong_content_is_named(tmp_path, nvidia_modules):
    (tmp_path / "dict.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(ModelError, match="no G_ema generator in it .*weights"):
        load_stylegan2_file(tmp_path / "dict.pkl", "cpu")
    net = random_net()
    bad = as_persistent(net, {"_init_args": (), "_init_kwargs": {**nvidia_kwargs(net.cfg),
                                                                 "c_dim": 10}})
    (tmp_path / "cond.pkl").write_bytes(pickle.dumps({"G_ema": bad}))
    with pytest.raises(ModelError, match=r"missing mapping.embed.weight, mapping.embed.bias; "
                                         r"wrong shape mapping.fc0.weight"):
        load_stylegan2_file(tmp_path / "cond.pkl", "cpu")
    odd = as_persistent(net, {"_init_args": (), "_init_kwargs": {**nvidia_kwargs(net.cfg),
                                                                 "magic_option": 1}})
    (tmp_path / "odd.pkl").write_bytes(pickle.dumps({"G_ema": odd}))
    with pytest.raises(ModelError, match="unknown generator option.*magic_option"):
        load_stylegan2_file(tmp_path / "odd.pkl", "cpu")


def test_every_tensor_shape_is_checked(tmp_path, nvidia_modules):
    net = random_net()
    wider = nvidia_kwargs(net.cfg)
    wider["synthesis_kwargs"] = _EasyDict(wider["synthesis_kwargs"], channel_max=64,
                                          channel_base=512)
    rec = as_persistent(net, {"_init_args": (), "_init_kwargs": wider})
    (tmp_path / "shape.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    with pytest.raises(ModelError, match=r"wrong shape synthesis\.b4\.const \[32, 4, 4\] "
                                         r"\(expected \[64, 4, 4\]\)"):
        load_stylegan2_file(tmp_path / "shape.pkl", "cpu")
    del net.synthesis.b8.conv0.__dict__["_parameters"]["bias"]
    (tmp_path / "missing.pkl").write_bytes(pickle.dumps({"G_ema": as_persistent(
        net, {"_init_args": (), "_init_kwargs": nvidia_kwargs(net.cfg)})}))
    with pytest.raises(ModelError, match=r"missing synthesis\.b8\.conv0\.bias"):
        load_stylegan2_file(tmp_path / "missing.pkl", "cpu")


def test_a_missing_w_avg_is_estimated(tmp_path, nvidia_modules):
    net = random_net()
    del net.mapping.__dict__["_buffers"]["w_avg"]
    kwargs = nvidia_kwargs(net.cfg)
    kwargs["mapping_kwargs"]["w_avg_beta"] = None
    (tmp_path / "noavg.pkl").write_bytes(pickle.dumps({"G_ema": as_persistent(
        net, {"_init_args": (), "_init_kwargs": kwargs})}))
    g = load_stylegan2_file(tmp_path / "noavg.pkl", "cpu")
    z = torch.randn(20000, g.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(g.mean_latent("w"), net.mapping(z).mean(0),
                                   atol=0.05, rtol=0.05)


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_tensor_views_outside_their_storage_are_refused(tmp_path, nvidia_modules):
    """torch would grow the storage to fit: a hostile file could ask for terabytes."""
    import collections

    storage = torch.zeros(4).storage()
    huge = _Hostile(torch._utils._rebuild_tensor_v2, storage, 0, (10**12,), (1,), False,
                    collections.OrderedDict())
    (tmp_path / "huge.pkl").write_bytes(pickle.dumps({"G_ema": huge}))
    with pytest.raises(ModelError, match=r"a tensor view .* outside its storage of 4 elements"):
        load_stylegan2_file(tmp_path / "huge.pkl", "cpu")
