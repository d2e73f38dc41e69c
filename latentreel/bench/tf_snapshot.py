"""A TensorFlow-era StyleGAN2 snapshot for `latentreel bench load --tf`: ``(G, D, Gs)`` of
``dnnlib.tflib.network.Network`` objects as NVIDIA's TensorFlow training loop pickles them,
with random FFHQ-config-f-shaped variables (at 1024 px: 30M per generator, like ffhq.pkl).

The variable names and shapes come from models/stylegan2/tf_layout.py (what the loader will
ask for), so the file is exactly one the loader accepts; the parity tests check that layout
against NVIDIA's own converter. Nothing here is needed to read such files.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np

from latentreel.models.stylegan2.tf_layout import config_from_tf_kwargs, tf_sources

SOURCE = "# G_main's module source would be here; latentreel never executes it\n"


def ffhq_kwargs(resolution: int) -> dict:
    """Static kwargs as NVIDIA's FFHQ config-f records them (fmap_base 16384 = 32768 / 2)."""
    return {"num_channels": 3, "resolution": resolution, "label_size": 0, "latent_size": 512,
            "dlatent_size": 512, "mapping_layers": 8, "fmap_base": 16384, "fmap_max": 512,
            "architecture": "skip", "truncation_psi": 0.5}


class _Network:
    """Pickles like dnnlib.tflib.network.Network: ``Network.__new__``, then BUILD with state."""

    def __init__(self, state: dict):
        self._state = state

    def __getstate__(self):
        return self._state


def _state(name: str, kwargs: dict, variables: list, components: dict) -> dict:
    return {"version": 5, "name": name, "static_kwargs": dict(kwargs), "components": components,
            "build_module_src": SOURCE, "build_func_name": name, "variables": variables,
            "input_shapes": [[None, 512]], "output_shapes": [[None, 3, 8, 8]],
            "input_names": ["latents_in"], "output_names": ["images_out"]}


def _generator(kwargs: dict, rng: np.random.Generator) -> _Network:
    """A G_main network: its own dlatent_avg and the mapping and synthesis components."""
    scopes: dict[str, list] = {"": [], "mapping": [], "synthesis": []}
    for source in tf_sources(config_from_tf_kwargs(kwargs)).values():
        scope, _, rest = source.tf_name.partition("/")
        if scope not in ("mapping", "synthesis"):
            scope, rest = "", source.tf_name
        value = np.asarray(rng.standard_normal(source.tf_shape, dtype=np.float32) * 0.2,
                           dtype=np.float32)  # 0-d shapes come back as Python floats
        scopes[scope].append((rest, value))
    components = {n: _Network(_state(f"G_{n}", kwargs, scopes[n], {}))
                  for n in ("mapping", "synthesis")}
    return _Network(_state("G", kwargs, scopes[""], components))


def write_tf_snapshot(path: Path, resolution: int, seed: int = 0) -> int:
    """Write ``(G, D, Gs)`` for an FFHQ-shaped network at ``resolution``; returns the size.

    D is a stand-in holding as many numbers as the synthesis network (NVIDIA's D is about
    that size), so the file weighs what a real snapshot weighs.
    """
    kwargs = ffhq_kwargs(resolution)
    rng = np.random.default_rng(seed)
    g, gs = _generator(kwargs, rng), _generator(kwargs, rng)
    synthesis = gs._state["components"]["synthesis"]._state["variables"]
    # Copies: pickle would store shared arrays once and the file would weigh a third less.
    d = _Network(_state("D", kwargs, [(f"D/{n}", a.copy()) for n, a in synthesis], {}))
    names = ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    _Network.__module__, _Network.__qualname__ = "dnnlib.tflib.network", "Network"
    sys.modules["dnnlib.tflib.network"].Network = _Network
    try:
        data = pickle.dumps((g, d, gs), protocol=4)  # TensorFlow's code writes protocol 4
    finally:
        _Network.__module__, _Network.__qualname__ = __name__, "_Network"
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    path.write_bytes(data)
    return path.stat().st_size
