"""Small StyleGAN3 networks for tests, written as NVIDIA-format network pickles.

Pickles are written with the stand-ins of test_stylegan2_pickle (``Persistent`` records and
throwaway ``torch_utils.persistence`` / ``dnnlib.util`` modules from its ``nvidia_modules``
fixture): no NVIDIA code is involved.
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from latentreel.models.stylegan3.network import Generator, StyleGAN3Config
from tests.test_stylegan2_pickle import Persistent, _EasyDict, install_nvidia_modules

TINY_T = StyleGAN3Config(img_resolution=16, z_dim=8, w_dim=8, channel_base=64, channel_max=8,
                         num_layers=4, num_critical=2, margin_size=3, num_fp16_res=0,
                         conv_clamp=None)

# Which NVIDIA class each module path is (networks_stylegan3 and networks_stylegan2).
_CLASSES = (
    (r"", "Generator"), (r"mapping", "MappingNetwork"), (r".*(fc\d+|affine|embed)",
                                                         "FullyConnectedLayer"),
    (r"synthesis", "SynthesisNetwork"), (r"synthesis\.input", "SynthesisInput"),
    (r"synthesis\.L\d+_\d+_\d+", "SynthesisLayer"), (r"synthesis\.b\d+", "SynthesisBlock"),
    (r".*\.conv[01]", "SynthesisLayer"), (r".*\.torgb", "ToRGBLayer"),
)
_BUFFERS = {"w_avg", "magnitude_ema", "up_filter", "down_filter", "transform", "freqs",
            "phases", "resample_filter", "noise_const"}


def _class_of(module_path: str) -> str:
    return next(cls for pattern, cls in reversed(_CLASSES) if re.fullmatch(pattern, module_path))


def _extras(module_path: str) -> dict:
    """Some of the numpy attributes NVIDIA's modules pickle along (arrays, float64 scalars)."""
    found = re.fullmatch(r"synthesis\.L\d+_(\d+)_\d+", module_path)
    if found:
        size = int(found.group(1))
        return {"out_size": np.broadcast_to(np.asarray(size), [2]),
                "out_cutoff": np.float64(size / 4), "padding": [1, 1, 1, 1]}
    if module_path == "synthesis":
        return {"layer_names": ["L0"], "num_ws": 6}
    return {}


def tree_from_tensors(tensors: dict[str, torch.Tensor], init_kwargs: dict) -> Persistent:
    """The Persistent record tree NVIDIA pickles for a generator with these named tensors."""
    states: dict[str, dict] = {}

    def state(path: str) -> dict:
        if path not in states:
            states[path] = {"_parameters": OrderedDict(), "_buffers": OrderedDict(),
                            "_modules": OrderedDict(), "training": False, **_extras(path)}
            if path:
                parent, _, name = path.rpartition(".")
                state(parent)["_modules"][name] = path
        return states[path]

    for name, t in tensors.items():
        path, _, leaf = name.rpartition(".")
        group = "_buffers" if leaf in _BUFFERS else "_parameters"
        value = t.clone() if group == "_buffers" else torch.nn.Parameter(t.clone(), False)
        state(path)[group][leaf] = value

    def build(path: str) -> Persistent:
        st = states[path]
        st["_modules"] = OrderedDict((k, build(v)) for k, v in st["_modules"].items())
        return Persistent(_class_of(path), st)

    root = build("")
    root.state.update({"_init_args": (), "_init_kwargs": init_kwargs})
    return root


def nvidia_kwargs(cfg: StyleGAN3Config) -> dict:
    """Generator init kwargs as stylegan3's train.py records them for config T or R."""
    kw = {"z_dim": cfg.z_dim, "c_dim": 0, "w_dim": cfg.w_dim,
          "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
          "mapping_kwargs": _EasyDict(num_layers=cfg.mapping_layers),
          "channel_base": cfg.channel_base, "channel_max": cfg.channel_max,
          "num_layers": cfg.num_layers, "num_critical": cfg.num_critical,
          "margin_size": cfg.margin_size, "num_fp16_res": cfg.num_fp16_res,
          "conv_clamp": cfg.conv_clamp, "magnitude_ema_beta": 0.999}
    if cfg.use_radial_filters:
        kw.update(conv_kernel=cfg.conv_kernel, use_radial_filters=True)
    return kw


def write_snapshot(path: Path, g_ema: Persistent) -> Path:
    """A training snapshot dict as NVIDIA's training loop pickles it."""
    path.write_bytes(pickle.dumps({"G": g_ema, "D": None, "G_ema": g_ema, "augment_pipe": None,
                                   "training_set_kwargs": None}))
    return path


def random_net(cfg: StyleGAN3Config = TINY_T, seed: int = 0) -> Generator:
    """A random generator whose zero/one-initialised tensors are randomised too."""
    torch.manual_seed(seed)
    net = Generator(cfg).eval().requires_grad_(False)
    with torch.no_grad():
        net.mapping.w_avg.normal_()
        for name, t in net.named_parameters():
            if name.endswith("bias") and "input.affine" not in name:
                t.normal_(0, 0.2)
        for layer in net.synthesis.layers():
            layer.magnitude_ema.uniform_(0.5, 2.0)
    return net


def write_stylegan3_pickle(path: Path, net: Generator) -> Path:
    return write_snapshot(path, tree_from_tensors(net.state_dict(), nvidia_kwargs(net.cfg)))


def write_tiny_stylegan3(path: Path, cfg: StyleGAN3Config = TINY_T, seed: int = 0) -> Path:
    """A random network as an NVIDIA pickle, outside any test's monkeypatch (module fixtures):
    the stand-in NVIDIA modules exist only while it is written."""
    with pytest.MonkeyPatch.context() as mp:
        install_nvidia_modules(mp)
        return write_stylegan3_pickle(path, random_net(cfg, seed))
