"""Compact generator weight deltas for pivotal tuning: low-rank where a weight is big, whole
where it is small, fingerprinted to the base weights they were tuned from.

A weight of shape [O, *rest] gets delta = A @ B with A [O, r], B [r, prod(rest)] (LoRA's
shape); vectors and weights too small for a low-rank factor to save anything (batch-norm
affines, the DCGAN's last layer) get a whole additive delta. Tuning trains the factors through
``torch.nn.utils.parametrize``, so the generator's own ``synthesize`` runs unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from latentreel.errors import LatentFileError
from latentreel.models.fingerprint import weights_fingerprint

PREFIX = "tune:"  # extra arrays of a latent file that hold a delta


class LowRankDelta(nn.Module):
    """base + A @ B, reshaped to the base weight's shape."""

    def __init__(self, shape: torch.Size, rank: int, device, seed: int):
        super().__init__()
        rows, cols = shape[0], math.prod(shape[1:])
        g = torch.Generator().manual_seed(seed)
        # B random, A zero: the delta starts at exactly zero but has a gradient (LoRA's init).
        self.a = nn.Parameter(torch.zeros(rows, rank, device=device))
        self.b = nn.Parameter((torch.randn(rank, cols, generator=g) / math.sqrt(cols)).to(device))

    def forward(self, base: torch.Tensor) -> torch.Tensor:
        return _like(base, base + (self.a @ self.b).view_as(base).to(base.dtype))


class FullDelta(nn.Module):
    """base + delta, for small weights."""

    def __init__(self, shape: torch.Size, device):
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(shape, device=device))

    def forward(self, base: torch.Tensor) -> torch.Tensor:
        return _like(base, base + self.delta.to(base.dtype))


def _like(base: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``weight`` in ``base``'s memory format: a channels-last convolution fed a contiguous
    weight takes a slow path (the DCGAN runs channels-last, see models/dcgan.py)."""
    if base.ndim == 4 and base.is_contiguous(memory_format=torch.channels_last):
        return weight.contiguous(memory_format=torch.channels_last)
    return weight


@dataclass
class WeightDelta:
    """What tuning changed, per parameter name of the generator's network."""

    fingerprint: str  # of the base weights (weights_fingerprint)
    low_rank: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # A, B
    full: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes + b.nbytes for a, b in self.low_rank.values())
                + sum(d.nbytes for d in self.full.values()))

    def digest(self) -> str:
        """A short content hash: what a worker or a resumed render checks it has."""
        h = hashlib.sha256(self.fingerprint.encode())
        for key, value in sorted(self.to_arrays().items()):
            h.update(key.encode())
            h.update(np.ascontiguousarray(value).tobytes())
        return h.hexdigest()[:24]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Extra arrays for a latent file (``tune:`` names)."""
        out = {f"{PREFIX}fingerprint": np.array(self.fingerprint)}
        for name, (a, b) in self.low_rank.items():
            out[f"{PREFIX}a:{name}"], out[f"{PREFIX}b:{name}"] = a, b
        out.update({f"{PREFIX}full:{name}": d for name, d in self.full.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> WeightDelta | None:
        """The delta stored in a latent file's extra arrays, or None when there is none."""
        if f"{PREFIX}fingerprint" not in arrays:
            return None
        delta = cls(fingerprint=str(arrays[f"{PREFIX}fingerprint"]))
        for key, value in arrays.items():
            kind, _, name = key.removeprefix(PREFIX).partition(":")
            if key.startswith(PREFIX) and kind == "a":
                delta.low_rank[name] = (value.astype(np.float32),
                                        arrays[f"{PREFIX}b:{name}"].astype(np.float32))
            elif key.startswith(PREFIX) and kind == "full":
                delta.full[name] = value.astype(np.float32)
        return delta


def base_nbytes(generator) -> int:
    """Bytes of the base network's float32 parameters (what a delta is compared against)."""
    return sum(p.numel() * 4 for p in generator.net.parameters())


def attach(module: nn.Module, rank: int, seed: int = 0,
           frozen: Callable[[str], bool] | None = None) -> list[nn.Parameter]:
    """Put a zero delta on every parameter of ``module`` except those whose name ``frozen``
    picks (they keep their weights and, needing no gradient, cost no weight-gradient pass);
    returns the trainable factors."""
    trainable = []
    for i, (name, owner, pname, p) in enumerate(_parameters(module)):
        if frozen is not None and frozen(name):
            continue  # i still counts it: every other weight keeps its factor's seed
        low = p.ndim >= 2 and rank * (p.shape[0] + p[0].numel()) < p.numel() // 4
        delta = (LowRankDelta(p.shape, rank, p.device, seed + i) if low
                 else FullDelta(p.shape, p.device))
        parametrize.register_parametrization(owner, pname, delta, unsafe=True)
        trainable += list(delta.parameters())
    return trainable


def detach(module: nn.Module, fingerprint: str) -> WeightDelta:
    """Read the trained deltas off ``module`` and restore its base weights."""
    out = WeightDelta(fingerprint=fingerprint)
    for name, owner, pname in list(_parametrized(module)):
        delta = owner.parametrizations[pname][0]
        if isinstance(delta, LowRankDelta):
            out.low_rank[name] = (delta.a.detach().cpu().numpy(), delta.b.detach().cpu().numpy())
        else:
            out.full[name] = delta.delta.detach().cpu().numpy()
        parametrize.remove_parametrizations(owner, pname, leave_parametrized=False)
    return out


def check_fingerprint(delta: WeightDelta, generator, source: str) -> None:
    """Raises LatentFileError when ``delta`` was tuned from other weights than ``generator``'s."""
    if delta.fingerprint != weights_fingerprint(generator):
        raise LatentFileError(
            f"{source}: tuned for other model weights (fingerprint {delta.fingerprint}; "
            f"{generator.name} here is {weights_fingerprint(generator)}); render it with the "
            "model it was inverted on, or invert the photo again on this one")


def apply_delta(generator, delta: WeightDelta, source: str = "the latent file"):
    """A copy of ``generator`` with ``delta`` added to its weights.

    Raises:
        LatentFileError: the delta was tuned from other weights (another model).
    """
    check_fingerprint(delta, generator, source)
    for space in generator.latent_spaces:  # the average stays the base model's
        generator.mean_latent(space)
    tuned = copy.deepcopy(generator)
    params = dict(tuned.tunable_module().named_parameters())
    with torch.no_grad():
        for name, (a, b) in delta.low_rank.items():
            p = params[name]
            p.add_((torch.from_numpy(a) @ torch.from_numpy(b)).view_as(p).to(p.device, p.dtype))
        for name, d in delta.full.items():
            params[name].add_(torch.from_numpy(d).to(params[name].device, params[name].dtype))
    tuned._weights_fingerprint = None  # the tuned copy is not the base any more
    return tuned


def parametrized(module: nn.Module):
    """(name, delta module) of every tuned weight of ``module``."""
    for name, owner, pname in _parametrized(module):
        yield name, owner.parametrizations[pname][0]


def _parameters(module: nn.Module) -> list[tuple[str, nn.Module, str, nn.Parameter]]:
    return [(f"{mname}.{pname}" if mname else pname, owner, pname, p)
            for mname, owner in list(module.named_modules())
            for pname, p in list(owner.named_parameters(recurse=False))]


def _parametrized(module: nn.Module):
    for mname, owner in list(module.named_modules()):
        if parametrize.is_parametrized(owner):
            for pname in list(owner.parametrizations.keys()):
                yield (f"{mname}.{pname}" if mname else pname), owner, pname
