"""A StyleGAN2 generator from a TensorFlow-era network pickle (NVlabs stylegan2, stylegan2-ada):
Gs's state read as data (models/pickles/tfnetwork.py: its build source never runs), its static
kwargs bounded into our config, its variables matched by name and shape against what that
config needs before any tensor is made, then converted to our layout (tf_layout.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.pickles.tensors import check_finite
from latentreel.models.pickles.tfnetwork import find_tf_generator, tf_variables
from latentreel.models.stylegan2.limits import expected_shapes
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config
from latentreel.models.stylegan2.ops import fir_filter
from latentreel.models.stylegan2.tf_layout import (
    IGNORED_VARIABLES,
    TFSource,
    config_from_tf_kwargs,
    tf_sources,
)
from latentreel.models.stylegan2.weights import (
    assign_tensors,
    empty_generator,
    estimate_w_avg,
    fit_problems,
)

_MAY_LACK = ("dlatent_avg",)  # as for PyTorch files: estimated when absent


def check_tf_fit(sources: dict[str, TFSource], variables: dict[str, np.ndarray],
                 where: str) -> None:
    """The file's variables must be exactly the ones the config needs (plus ignorable ones),
    with the right shapes and floating-point values: checked before anything is allocated.

    Raises:
        ModelError: every missing, unexpected, wrongly shaped or non-float variable, listed.
    """
    expected = {s.tf_name: s.tf_shape for s in sources.values()}
    expected.update(IGNORED_VARIABLES)
    missing = [n for n in expected if n not in variables and n not in _MAY_LACK
               and n not in IGNORED_VARIABLES]
    unexpected = [quote(n, 80) for n in variables if n not in expected]
    wrong = [f"{n} {list(a.shape)} (expected {list(expected[n])})"
             for n, a in variables.items() if n in expected and a.shape != expected[n]]
    not_float = [n for n, a in variables.items() if n in expected and a.dtype.kind != "f"]
    problems = fit_problems(missing, unexpected, wrong, not_float)
    if problems:
        raise ModelError(f"{where}: its Gs variables do not fit a StyleGAN2 generator of its "
                         f"static kwargs: {problems}")


def _tensors(cfg: StyleGAN2Config, sources: dict[str, TFSource],
             variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Our {name: tensor}, converted from TensorFlow's layouts (float32 copies)."""
    out = {}
    for name, source in sources.items():
        if source.tf_name in variables:
            value = source.convert(variables[source.tf_name])
            out[name] = torch.from_numpy(np.array(value, dtype=np.float32, order="C"))
    taps = fir_filter(cfg.resample_filter)  # TensorFlow files keep the kernel as a kwarg
    for name in expected_shapes(cfg):
        if name.endswith("resample_filter"):
            out[name] = taps.clone()
    return out


def load_tf_generator(obj: object, path: Path) -> Generator:
    """Build our StyleGAN2 generator from a TensorFlow-era ``(G, D, Gs)`` pickle's Gs.

    ``obj``: the file as read_network_pickle returned it (nothing in it ran).

    Raises:
        ModelError: not a (G, D, Gs) snapshot, unsupported or out-of-bounds kwargs, variables
            that do not fit them, NaN/inf weights.
    """
    where = shown_path(path)
    # 1. Gs and our architecture from its static kwargs (bounded like recorded PyTorch ones).
    gs = find_tf_generator(obj, path)
    try:
        cfg = config_from_tf_kwargs(gs.static_kwargs)
        sources = tf_sources(cfg)
    except ValueError as e:
        raise ModelError(f"{where}: unsupported TensorFlow StyleGAN2 network: {e}") from None
    # 2. Before allocating anything: the variables are exactly what that network needs.
    variables = tf_variables(gs, where)
    check_tf_fit(sources, variables, where)
    # 3. Convert, refuse NaN/inf, build and copy in by name.
    tensors = _tensors(cfg, sources, variables)
    try:
        check_finite(tensors)
    except ValueError as e:
        raise ModelError(f"{where}: Gs's {e}; the file is damaged") from None
    net = empty_generator(cfg)
    if assign_tensors(net, tensors, where):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net
