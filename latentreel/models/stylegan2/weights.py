"""Copy a checkpoint's tensors into our generator by name, checking every name and shape."""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from latentreel.errors import ModelError, quote
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

# Tensors a file may lack: NVIDIA's mapping network has no w_avg when trained with
# w_avg_beta=None, and rosinality's training checkpoints carry no average at all.
OPTIONAL = ("mapping.w_avg",)


def _shorten(names: list[str], limit: int = 4) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def fit_problems(missing: list[str], unexpected: list[str], wrong: list[str],
                 not_float: list[str]) -> str:
    """What is wrong with a file's weights, each kind shortened, '; '-joined ("" if none):
    shared by the PyTorch-era and TF-era readers."""
    kinds = (("missing", missing, 4), ("unexpected", unexpected, 4),
             ("wrong shape", wrong, 2), ("not floating point", not_float, 4))
    return "; ".join(f"{label} {_shorten(names, limit)}" for label, names, limit in kinds
                     if names)


def check_fit(expected: dict[str, torch.Size], tensors: dict[str, torch.Tensor], where: str,
              may_lack: tuple[str, ...] = OPTIONAL) -> None:
    """The file's tensors must be exactly the ``expected`` names and shapes, all floating.

    Runs before the real generator is built (``expected`` comes from a shape-only network),
    so a file cannot make the loader allocate a network its own tensors do not fill.

    Raises:
        ModelError: a missing, unexpected, non-float or wrongly shaped tensor (all listed).
    """
    missing = [k for k in expected if k not in tensors and k not in may_lack]
    unexpected = [quote(k, 80) for k in tensors if k not in expected]
    wrong = [f"{k} {list(t.shape)} (expected {list(expected[k])})"
             for k, t in tensors.items()
             if k in expected and tuple(t.shape) != tuple(expected[k])]
    not_float = [k for k, t in tensors.items() if k in expected and not t.is_floating_point()]
    problems = fit_problems(missing, unexpected, wrong, not_float)
    if problems:
        raise ModelError(f"{where}: its tensors do not fit a StyleGAN2 generator of its recorded "
                         f"configuration: {problems}")


def assign_tensors(net: Generator, tensors: dict[str, torch.Tensor], where: str) -> set[str]:
    """Copy ``tensors`` into ``net``'s parameters and buffers.

    Returns:
        The OPTIONAL names the file did not provide (the caller fills them in).
    Raises:
        ModelError: a missing, unexpected, non-float or wrongly shaped tensor (all listed).
    """
    expected = net.state_dict()
    check_fit({k: t.shape for k, t in expected.items()}, tensors, where)
    with torch.no_grad():
        for name, t in tensors.items():
            expected[name].copy_(t)  # state_dict() tensors share storage with the module
    _check_filters(net, where)
    return {k for k in OPTIONAL if k not in tensors}


class _NoRandomInit(TorchFunctionMode):
    """``torch.randn`` becomes ``torch.empty`` while a loader builds a network it is about to
    overwrite: drawing ~30M random numbers costs more than reading them from the file."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.randn:
            func = torch.empty
        return func(*args, **(kwargs or {}))


def empty_generator(cfg: StyleGAN2Config) -> Generator:
    """``Generator(cfg)`` whose randomly initialised tensors hold garbage, for loaders only:
    call ``check_fit`` first, which guarantees the file supplies every one of them (the
    tensors a file may lack, w_avg and the resampling filters, are not random)."""
    with _NoRandomInit():
        return Generator(cfg).eval().requires_grad_(False)


def _check_filters(net: Generator, where: str) -> None:
    """The resampling ops filter in two 1-D passes, which is exact only for outer products."""
    for name, f in net.named_buffers():
        if not name.endswith("resample_filter"):
            continue
        col, row = f.sum(dim=1), f.sum(dim=0) / f.sum()
        if not torch.allclose(torch.outer(col, row), f, atol=1e-6):
            raise ModelError(f"{where}: {name} is not a separable low-pass filter; "
                             "only StyleGAN2's separable resampling filters are supported")


@torch.no_grad()
def estimate_w_avg(net: Generator, samples: int = 10_000, seed: int = 0) -> torch.Tensor:
    """The mean of mapping(z) over seeded z ~ N(0, I), for files that carry no W average
    (conditional networks: over classes drawn uniformly, one-hot, as a balanced data set's)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, net.z_dim, generator=g)
    c, c_dim = None, getattr(net, "c_dim", 0)  # StyleGAN3's networks are never conditional
    if c_dim:
        c = torch.nn.functional.one_hot(torch.randint(c_dim, (samples,), generator=g),
                                        c_dim).float()
    device = net.mapping.w_avg.device
    total = torch.zeros(net.w_dim, dtype=torch.float64)
    for s in range(0, samples, 1000):
        batch = z[s:s + 1000].to(device)
        w = net.mapping(batch) if c is None else net.mapping(batch, c[s:s + 1000].to(device))
        total += w.double().sum(0).cpu()
    return (total / samples).float()
