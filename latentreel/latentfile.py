"""Latent files written by latentreel: ``.npz`` with the latent, its space, model and metadata.

A bare ``.npy`` holding one latent is accepted too (no metadata, so only its shape is checked).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentreel.cache import atomic_write
from latentreel.errors import LatentFileError


@dataclass
class LatentFile:
    latent: np.ndarray  # one latent, shape = generator.latent_shape(space)
    space: str = "z"
    model: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # settings, losses, source photo hash...
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. fitted noise maps


def save_latent(path: Path, lf: LatentFile) -> Path:
    """Write ``lf`` atomically to ``path`` (``.npz``). Returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    reserved = {"latent", "space", "model", "meta"} & set(lf.arrays)
    if reserved:
        raise ValueError(f"extra arrays may not be called {sorted(reserved)}")
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            latent=np.asarray(lf.latent, dtype=np.float32),
            space=np.array(lf.space),
            model=np.array(lf.model or ""),
            meta=np.array(json.dumps(lf.meta, default=str)),
            **{k: np.asarray(v) for k, v in lf.arrays.items()},
        )
    return path


def load_latent(path: Path) -> LatentFile:
    """Read a latent file; corrupt or foreign files raise LatentFileError."""
    path = Path(path)
    if not path.is_file():
        raise LatentFileError(f"{path}: no such latent file; check the path")
    try:
        if path.suffix == ".npy":
            return LatentFile(latent=np.load(path, allow_pickle=False).astype(np.float32))
        # allow_pickle=False: a latent file is data and must never run code.
        with np.load(path, allow_pickle=False) as data:
            if "latent" not in data:
                raise LatentFileError(
                    f"{path}: not a latentreel latent file (no 'latent' array); "
                    "write one with `latentreel invert` or `latentreel.latentfile.save_latent`"
                )
            meta = json.loads(str(data["meta"])) if "meta" in data else {}
            model = str(data["model"]) if "model" in data else ""
            return LatentFile(
                latent=data["latent"].astype(np.float32),
                space=str(data["space"]) if "space" in data else "z",
                model=model or None,
                meta=meta,
                arrays={k: data[k] for k in data.files
                        if k not in ("latent", "space", "model", "meta")},
            )
    except LatentFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as e:
        raise LatentFileError(
            f"{path}: cannot read the latent file ({type(e).__name__}: {e}); "
            "it must be a .npz/.npy written by latentreel"
        ) from None
