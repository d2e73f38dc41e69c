"""Checks on the tensors a model file supplies, before a network is built from them.

Shared by every loader (NVIDIA pickles for StyleGAN2 and StyleGAN3, torch.save checkpoints):
a file's tensors are views over storages it holds, and a hostile file can make a view claim
more elements than its storage has, or hide NaN/inf among its weights.
"""

from __future__ import annotations

import torch

from latentreel.errors import quote


def check_storage_claims(tensors: dict[str, torch.Tensor]) -> None:
    """Every tensor's elements must exist in its storage, counted once across all tensors.

    Raises:
        ValueError: a view claiming more elements than its storage holds (stride-0 or
            overlapping views), or tensors sharing storages to claim more than the file has.
    """
    held: dict[tuple[int, int], int] = {}
    claimed = 0
    for name, t in tensors.items():
        storage = t.untyped_storage()
        elements = storage.nbytes() // max(t.element_size(), 1)
        if t.numel() > elements:
            raise ValueError(f"tensor {quote(name)} claims {t.numel()} elements from a storage "
                             f"of {elements} (a stride-0 or overlapping view)")
        held[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        claimed += t.numel() * t.element_size()
    if claimed > sum(held.values()):
        raise ValueError(f"tensors claim {claimed} bytes from storages holding "
                         f"{sum(held.values())} (views sharing one storage)")


def check_finite(tensors: dict[str, torch.Tensor]) -> None:
    """Raises ValueError naming the first floating-point tensor that holds NaN or inf."""
    for name, t in tensors.items():
        # A sum is NaN or inf whenever an element is (and a sum is ~20x cheaper than an
        # elementwise test); only a sum that overflowed needs the exact test to confirm.
        if t.is_floating_point() and not bool(torch.isfinite(t.sum())) and \
                not bool(torch.isfinite(t).all()):
            raise ValueError(f"tensor {quote(name)} holds NaN or infinite values")
