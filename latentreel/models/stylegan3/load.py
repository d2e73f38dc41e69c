"""A StyleGAN3 generator from an unpickled NVIDIA network record (see pickles/unpickle.py:
the file has already been read with the allow-list, and nothing in it ran)."""

from __future__ import annotations

from pathlib import Path

from latentreel.errors import ModelError
from latentreel.models.pickles.standins import BadContent
from latentreel.models.pickles.tensors import check_finite, check_storage_claims
from latentreel.models.pickles.unpickle import PersistentRecord, record_tensors
from latentreel.models.stylegan2.weights import assign_tensors, estimate_w_avg
from latentreel.models.stylegan3.kwargs import config_from_init
from latentreel.models.stylegan3.network import Generator, StyleGAN3Config, plan_layers

# The persistent classes a StyleGAN3 generator is made of (NVIDIA's networks_stylegan3).
CLASS_NAMES = frozenset({"Generator", "MappingNetwork", "FullyConnectedLayer",
                         "SynthesisNetwork", "SynthesisInput", "SynthesisLayer"})


def _check_class_names(record: PersistentRecord, where: str = "G_ema") -> None:
    if record.class_name not in CLASS_NAMES:
        raise ValueError(f"{where} is a {record.class_name[:40]!r}, not a StyleGAN3 module")
    for name, child in (record.state.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            _check_class_names(child, f"{where}.{name}")


def weight_count(cfg: StyleGAN3Config) -> int:
    """The mapping, input and convolution weights a network of ``cfg`` has (a lower bound on
    its tensors' size), from the layer plan alone: nothing is allocated."""
    sizes = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
    count = sum(a * b for a, b in zip(sizes, sizes[1:]))
    plans = plan_layers(cfg)
    count += plans[0].channels ** 2
    for idx, dst in enumerate(plans):
        src = plans[max(idx - 1, 0)]
        k = 1 if idx == len(plans) - 1 else cfg.conv_kernel
        count += dst.channels * src.channels * k * k + src.channels * cfg.w_dim
    return count


def network_from_record(record: PersistentRecord, path: Path) -> Generator:
    """Build our StyleGAN3 generator from G_ema's record and copy its tensors in by name.

    Raises:
        ModelError: unsupported options, unknown modules, missing or misshapen tensors.
    """
    try:
        cfg = config_from_init(record.state.get("_init_args", ()),
                               record.state.get("_init_kwargs", {}))
        _check_class_names(record)
        tensors = record_tensors(record)
        check_storage_claims(tensors)  # views must be backed by the file's own bytes
        check_finite(tensors)
    except (ValueError, TypeError, AttributeError, BadContent) as e:
        raise ModelError(f"{path}: unsupported StyleGAN3 network: {e}") from None
    # A configuration needing more weights than the file holds is refused before it is built:
    # a few hundred bytes must not make the loader allocate gigabytes.
    held = sum(t.numel() for t in tensors.values())
    if weight_count(cfg) > held:
        raise ModelError(f"{path}: its recorded configuration needs {weight_count(cfg):,} "
                         f"weights but the file holds {held:,} numbers; a damaged or "
                         "mislabelled network")
    net = Generator(cfg).eval().requires_grad_(False)
    if assign_tensors(net, tensors, str(path)):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    for name, f in net.named_buffers():
        if name.endswith("up_filter") and f.ndim != 1:
            raise ModelError(f"{path}: {name} is not separable; StyleGAN3 upsamples with "
                             "separable filters")
    return net
