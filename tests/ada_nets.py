"""Seeded weights for PyTorch StyleGAN2 variants, and files that hold them, written without
NVIDIA's or rosinality's code: NVIDIA network pickles (stylegan2-ada-pytorch snapshots) and
rosinality ``.pt`` checkpoints.

Every tensor is a function of (config seed, tensor name, shape) only, so the reference script
(tests/data/ada_parity/make_reference.py, run outside the repository with NVIDIA's and
rosinality's own networks) and the tests fill the same names with the same numbers. Imports
nothing from latentreel.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
import zlib
from collections import OrderedDict

import numpy as np
import torch

SOURCE = "# the defining module's source would be here; a safe loader never runs it\n"
TAPS = np.array([1.0, 3.0, 3.0, 1.0])


def _filter(gain: float = 1.0) -> np.ndarray:
    f = np.outer(TAPS, TAPS)
    return (f / f.sum() * gain).astype(np.float32)


def fill(name: str, shape: tuple[int, ...], seed: int, lrmul: float = 0.01) -> np.ndarray:
    """The value every copy of tensor ``name`` gets: random, scaled so images stay finite
    and varied; designed resampling filters keep their designed value. Mapping layers are
    stored divided by their learning-rate multiplier ``lrmul``, as trained ones are."""
    if name.endswith("resample_filter"):  # NVIDIA: normalised [1, 3, 3, 1] outer product
        return _filter()
    if name.endswith(".kernel"):  # rosinality: the same filter times up^2
        return _filter(4.0)
    rng = np.random.RandomState((seed * 1_000_003 + zlib.crc32(name.encode())) % 2 ** 32)
    if name.endswith("noise_strength") or name.endswith("noise.weight"):
        return np.full(shape, 0.3, np.float32)
    a = rng.randn(*shape).astype(np.float32)
    if name.endswith("bias") or name.endswith("w_avg") or name == "latent_avg":
        a *= 0.2
    if name.startswith(("mapping.fc", "style.")):
        a /= lrmul
    return a


def lr_multiplier(kwargs: dict) -> float:
    """The mapping network's learning-rate multiplier in NVIDIA init kwargs."""
    return kwargs["mapping_kwargs"].get("lr_multiplier", 0.01)


# NVIDIA Generator init kwargs (stylegan2-ada-pytorch training/networks.py) and a seed.
ADA_CONFIGS = {
    "ada32_resnet": ({"z_dim": 24, "c_dim": 0, "w_dim": 20, "img_resolution": 32,
                      "img_channels": 3,
                      "mapping_kwargs": {"num_layers": 3, "layer_features": 28,
                                         "activation": "linear"},
                      "synthesis_kwargs": {"channel_base": 256, "channel_max": 16,
                                           "architecture": "resnet", "conv_clamp": 2.0}}, 11),
    "ada64_cond": ({"z_dim": 16, "c_dim": 5, "w_dim": 16, "img_resolution": 64,
                    "img_channels": 3,
                    "mapping_kwargs": {"num_layers": 2, "embed_features": 12,
                                       "lr_multiplier": 0.1},
                    "synthesis_kwargs": {"channel_base": 512, "channel_max": 16}}, 12),
    "ada128_orig_elu": ({"z_dim": 16, "c_dim": 3, "w_dim": 16, "img_resolution": 128,
                         "img_channels": 3,
                         "mapping_kwargs": {"num_layers": 4, "activation": "elu"},
                         "synthesis_kwargs": {"channel_base": 512, "channel_max": 8,
                                              "architecture": "orig"}}, 13),
}

# rosinality Generator(size, style_dim, n_mlp, channel_multiplier) and a seed.
ROSINALITY_CONFIGS = {
    "ros64_cm4": ({"size": 64, "style_dim": 32, "n_mlp": 2, "channel_multiplier": 4}, 21),
}


def labels(c_dim: int, n: int = 2, seed: int = 0) -> np.ndarray:
    """[n, c_dim]: a one-hot class (index 1), then a soft label vector."""
    out = np.zeros((n, c_dim), np.float32)
    if c_dim:
        out[0, 1 % c_dim] = 1
        out[1:] = np.random.RandomState(seed).rand(n - 1, c_dim)
    return out


class Persistent:
    """Pickles like an NVIDIA persistent object: reconstructor(meta) with class name + state."""

    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __reduce__(self):
        meta = {"type": "class", "version": 6, "module_src": SOURCE,
                "class_name": self.class_name, "state": self.state}
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


class EasyDict(dict):
    pass


def _never_called(meta):
    raise AssertionError("the persistence reconstructor must never run")


@contextlib.contextmanager
def nvidia_modules():
    """Make ``torch_utils.persistence`` and ``dnnlib.util`` importable by name to pickle."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")
    for mod, name, obj in ((persistence, "_reconstruct_persistent_obj", _never_called),
                           (util, "EasyDict", EasyDict)):
        obj.__module__, obj.__qualname__ = mod.__name__, name
        setattr(mod, name, obj)
    mods = {"torch_utils": types.ModuleType("torch_utils"),
            "torch_utils.persistence": persistence, "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.util": util}
    saved = {n: sys.modules.get(n) for n in mods}
    sys.modules.update(mods)
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


_BUFFERS = ("w_avg", "noise_const", "resample_filter")


def _tree(state: dict[str, np.ndarray], extra: dict) -> Persistent:
    """Module records from dotted names: leaves named like NVIDIA's buffers are buffers."""
    root: dict = {}
    for name, value in state.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = torch.from_numpy(np.array(value, order="C"))

    def record(node: dict, top: bool) -> Persistent:
        params, buffers, modules = OrderedDict(), OrderedDict(), OrderedDict()
        for key, value in node.items():
            if isinstance(value, dict):
                modules[key] = record(value, False)
            elif key in _BUFFERS:
                buffers[key] = value
            else:
                params[key] = torch.nn.Parameter(value, requires_grad=False)
        rec = {"training": False, "_parameters": params, "_buffers": buffers,
               "_modules": modules, "_non_persistent_buffers_set": set()}
        return Persistent("Generator" if top else "Module", {**rec, **(extra if top else {})})

    return record(root, True)


def write_ada_pickle(path, kwargs: dict, state: dict[str, np.ndarray]):
    """A stylegan2-ada-pytorch snapshot (G, D, G_ema) whose G_ema holds ``state``."""
    init = dict(kwargs)
    with nvidia_modules():
        init["mapping_kwargs"] = EasyDict(kwargs["mapping_kwargs"])
        init["synthesis_kwargs"] = EasyDict(kwargs["synthesis_kwargs"])
        g = _tree(state, {"_init_args": (), "_init_kwargs": init})
        d = Persistent("Discriminator", {"_parameters": OrderedDict(), "_buffers": OrderedDict(),
                                         "_modules": OrderedDict(), "training": False})
        snapshot = {"G": g, "D": d, "G_ema": g, "augment_pipe": None,
                    "training_set_kwargs": EasyDict(resolution=kwargs["img_resolution"])}
        data = pickle.dumps(snapshot)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_rosinality_pt(path, state: dict[str, np.ndarray], latent_avg: np.ndarray):
    """A rosinality training checkpoint: g_ema's state dict and latent_avg."""
    torch.save({"g_ema": {k: torch.from_numpy(np.array(v, order="C"))
                          for k, v in state.items()},
                "latent_avg": torch.from_numpy(latent_avg)}, path)
    return path
