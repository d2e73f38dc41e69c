"""A StyleGAN2 generator from an NVIDIA network pickle (PyTorch-era; TensorFlow-era ones go to
tf_load.py), read with the allow-listed unpickler
(models/pickles/unpickle.py: nothing in the file runs). Our own generator is built from G_ema's
recorded init kwargs, once limits.py has bounded them and matched them against the tensors the
file holds, and its tensors are copied in by name."""

from __future__ import annotations

from pathlib import Path

from latentreel.errors import ModelError, shown_path
from latentreel.models.pickles.standins import BadContent
from latentreel.models.pickles.tensors import check_finite, check_storage_claims
from latentreel.models.pickles.tfnetwork import is_tf_pickle
from latentreel.models.pickles.unpickle import (
    find_generator,
    is_stylegan3,
    read_network_pickle,
    record_tensors,
)
from latentreel.models.stylegan2.kwargs import config_from_init
from latentreel.models.stylegan2.limits import expected_shapes
from latentreel.models.stylegan2.network import Generator
from latentreel.models.stylegan2.tf_load import load_tf_generator
from latentreel.models.stylegan2.weights import (
    assign_tensors,
    check_fit,
    empty_generator,
    estimate_w_avg,
)


def load_network_pickle(path: Path, obj: object = None) -> Generator:
    """Build our StyleGAN2 generator from an NVIDIA network pickle, safely.

    ``obj``: the file as read_network_pickle returned it, if the caller has read it already
    (models.network_file does, to tell StyleGAN2 from StyleGAN3).

    Raises:
        ModelError: refused globals, unreadable file, unsupported or mismatching network.
    """
    where = shown_path(path)
    # 1. Pre-scan and unpickle with the allow-list; find G_ema.
    obj = read_network_pickle(path) if obj is None else obj
    if is_tf_pickle(obj):  # TensorFlow-era (G, D, Gs): its own layout and kwargs
        return load_tf_generator(obj, path)
    record = find_generator(obj, path)
    if is_stylegan3(record):
        raise ModelError(f"{where}: this is a StyleGAN3 (alias-free) generator; load it with "
                         "latentreel.models.network_file.load_network_file")
    try:
        # 2. Its tensors, and our architecture from its recorded constructor arguments.
        tensors = record_tensors(record)
        cfg = config_from_init(record.state.get("_init_args", ()),
                               record.state.get("_init_kwargs", {}))
        # 3. Before allocating anything: the tensors are backed by the file's bytes, and the
        #    network the configuration describes has exactly these tensors.
        check_storage_claims(tensors)
        shapes = expected_shapes(cfg)
    except (ValueError, TypeError, AttributeError, BadContent) as e:
        raise ModelError(f"{where}: unsupported StyleGAN2 network: {e}") from None
    check_fit(shapes, tensors, where)
    try:
        check_finite(tensors)
    except ValueError as e:
        raise ModelError(f"{where}: G_ema's {e}; the file is damaged") from None
    # 4. Build it and copy its tensors in by name.
    net = empty_generator(cfg)
    if assign_tensors(net, tensors, where):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net
