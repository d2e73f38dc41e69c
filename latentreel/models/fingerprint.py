"""A short content hash of a network's weights: what a tuned delta or a shipped average latent
belongs to, so neither is ever applied to other weights."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def state_fingerprint(net: nn.Module) -> str:
    """sha256 (16 hex digits) of the parameters and buffers, by name, as float32."""
    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def weights_fingerprint(generator) -> str:
    """``state_fingerprint`` of a generator's network, computed once per generator object."""
    cached = getattr(generator, "_weights_fingerprint", None)
    if cached is None:
        cached = generator._weights_fingerprint = state_fingerprint(generator.net)
    return cached
