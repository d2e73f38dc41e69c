"""Convert any StyleGAN2 file latentreel loads (TensorFlow-era or PyTorch-era NVIDIA pickles,
rosinality checkpoints) into one PyTorch-era network pickle in NVIDIA's snapshot layout that
carries no code: ``{'G_ema': record}``, each record the persistence call NVIDIA's files use with
an empty module source, its state only ``_parameters`` / ``_buffers`` / ``_modules`` and, at the
top, the constructor arguments our config maps to. The hardened loader reads it back as it
reads any NVIDIA pickle, and draws the same images."""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

from torch import nn

from latentreel.cache import atomic_write
from latentreel.errors import ModelError, shown_path
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

_MODULE, _NAME = "torch_utils.persistence", "_reconstruct_persistent_obj"


def init_kwargs(cfg: StyleGAN2Config) -> dict:
    """The ``Generator(**kwargs)`` call (stylegan2-ada-pytorch layout) that is ``cfg``."""
    return {"z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim,
            "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
            "mapping_kwargs": {"num_layers": cfg.mapping_layers,
                               "layer_features": cfg.mapping_features,
                               "embed_features": cfg.embed_features,
                               "activation": cfg.mapping_activation,
                               "lr_multiplier": cfg.mapping_lr_multiplier,
                               "w_avg_beta": cfg.w_avg_beta},
            "synthesis_kwargs": {"channel_base": cfg.channel_base,
                                 "channel_max": cfg.channel_max,
                                 "num_fp16_res": cfg.num_fp16_res,
                                 "conv_clamp": cfg.conv_clamp,
                                 "architecture": cfg.architecture,
                                 "resample_filter": list(cfg.resample_filter),
                                 "use_noise": cfg.use_noise}}


class _Record:
    """Pickles as ``_reconstruct_persistent_obj(meta)`` with no source: data only."""

    def __init__(self, class_name: str, state: dict):
        self.meta = {"type": "class", "version": 6, "module_src": "",
                     "class_name": class_name, "state": state}

    def __reduce__(self):
        return sys.modules[_MODULE]._reconstruct_persistent_obj, (self.meta,)


def _record(module: nn.Module, extra: dict | None = None) -> _Record:
    state = {"_parameters": OrderedDict((k, None if v is None else v.detach().clone())
                                        for k, v in module._parameters.items()),
             "_buffers": OrderedDict((k, v.detach().clone())
                                     for k, v in module._buffers.items() if v is not None),
             "_modules": OrderedDict((k, _record(c)) for k, c in module._modules.items()),
             **(extra or {})}
    return _Record(type(module).__name__, state)


def _unreachable(meta):  # only its name is written; nothing ever calls it
    raise AssertionError("never called")


def write_safe_pickle(net: Generator, out: Path) -> None:
    """Write ``net`` as a code-free NVIDIA-layout snapshot (atomically)."""
    top = _record(net, {"_init_args": (), "_init_kwargs": init_kwargs(net.cfg)})
    top.meta["class_name"] = "Generator"
    # pickle names a function by module and name; while writing, that module is a stand-in
    # holding a function that is never called (unless a real one is already imported).
    names = ("torch_utils", _MODULE)
    added = [n for n in names if n not in sys.modules]
    for n in added:
        sys.modules[n] = types.ModuleType(n)
    module = sys.modules[_MODULE]
    if not hasattr(module, _NAME):
        _unreachable.__module__, _unreachable.__qualname__ = _MODULE, _NAME
        setattr(module, _NAME, _unreachable)
    try:
        data = pickle.dumps({"G_ema": top}, protocol=4)
    finally:
        for n in added:
            sys.modules.pop(n, None)
    with atomic_write(out) as tmp:
        Path(tmp).write_bytes(data)


def convert_network_file(src: Path, out: Path) -> Generator:
    """Load ``src`` with the hardened loaders and write it to ``out`` as a safe pickle.

    Raises:
        ModelError: an unloadable source, a StyleGAN3 source, or an unwritable output.
    """
    from latentreel.models.network_file import load_network_file

    g = load_network_file(Path(src), "cpu", precision="fp32")
    if type(g.net) is not Generator:
        raise ModelError(f"{shown_path(src)}: only StyleGAN2 generators convert; this one is "
                         "already a PyTorch-era pickle latentreel reads")
    if g.net.cfg.channel_table is not None:  # NVIDIA's kwargs have no per-resolution table
        raise ModelError(f"{shown_path(src)}: its channel widths (rosinality "
                         "channel_multiplier 4) have no NVIDIA pickle layout; load the .pt "
                         "file itself")
    try:
        write_safe_pickle(g.net, Path(out))
    except OSError as e:
        raise ModelError(f"{shown_path(out)}: cannot write it ({e.strerror or e})") from None
    return g.net
