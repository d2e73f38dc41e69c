"""Read a ``torch.save`` checkpoint (``.pt``) as data only: pre-scanned, then
``torch.load(weights_only=True)``, so a file can neither run code nor make the loader build
what it has no bytes for.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import zipfile
from pathlib import Path

import torch

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.pickles.prescan import (
    PickleMalformed,
    PickleTruncated,
    ScanPolicy,
    scan_pickle,
)

# torch's weights_only unpickler checks the globals; the pre-scan bounds the stream's shape
# and lets only an options Namespace and a state dict's OrderedDict (its _metadata) take
# BUILD state: BUILD on a tensor would reach set_().
_PT_POLICY = ScanPolicy(allowed=None, persistent_ids=True,
                        stateful=frozenset({("argparse", "Namespace"),
                                            ("collections", "OrderedDict")}))
MAX_DATA_PKL = 1 << 26  # 64 MiB of pickle (not tensor data); a real checkpoint's is ~100 KB
_LEGACY_PICKLES = 5  # magic number, protocol, system info, the object, its storage keys


def _prescan_checkpoint(path: Path, where: str) -> None:
    """Scan the checkpoint's pickle(s) before torch.load unpickles them (see prescan.py).

    Zip checkpoints (torch >= 1.6): ``*/data.pkl``; torch itself checks each storage record's
    size against what the pickle claims. Legacy ones: every pickle in the stream, and no
    storage may claim more elements than the file has bytes.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                found = [i for i in z.infolist() if i.filename.rsplit("/", 1)[-1] == "data.pkl"]
                if len(found) != 1 or found[0].file_size > MAX_DATA_PKL:
                    raise ModelError(f"{where}: a zip file, but not a torch.save checkpoint "
                                     "(no single data.pkl of a sane size in it)")
                data = z.read(found[0])
            scan_pickle(io.BytesIO(data), len(data), _PT_POLICY)
            return
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise ModelError(f"{where}: a zip (torch.save) checkpoint without its directory: "
                                 "the file is truncated or damaged; download it again")
            f.seek(0)
            for k in range(_LEGACY_PICKLES):
                report = scan_pickle(f, size, _PT_POLICY)
                if k == 0 and any(m == "torch_utils.persistence" for m, _ in report.globals):
                    raise ModelError(f"{where}: this is an NVIDIA network pickle; give it a "
                                     ".pkl suffix")
                for pid in report.persistent_ids:
                    numel = pid[4] if isinstance(pid, tuple) and len(pid) > 4 else None
                    if not isinstance(numel, int) or not 0 <= numel <= size:
                        raise PickleMalformed(f"a storage claiming {quote(numel)} elements in "
                                              f"a file of {size} bytes")
    except PickleTruncated:
        raise ModelError(f"{where}: the file is truncated (an interrupted download?); "
                         "download it again") from None
    except PickleMalformed as e:
        raise ModelError(f"{where}: not a loadable torch checkpoint: it holds {e}") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{where}: cannot read it as a torch checkpoint "
                         f"({type(e).__name__})") from None


def _torch_refusal(e: Exception) -> str:
    """What torch's weights_only loader refused, in our words: never its advice to retry
    with weights_only=False, which would run code from the file."""
    text = str(e)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return f"it asks for {quote(found.group(1), 100)}; latentreel never runs code from a " \
               "model file"
    reason = re.search(r"WeightsUnpickler error: *\n*([^\n]*)", text)
    if reason:
        return f"torch refused it ({quote(reason.group(1).strip(), 100)})"
    if "weights_only" in text:
        return f"torch refused it ({type(e).__name__})"
    first = (text.strip().splitlines() or [type(e).__name__])[0]
    return f"torch cannot read it ({quote(first, 120)})"


def load_checkpoint(path: Path, kind: str) -> object:
    """The object ``torch.save`` wrote to ``path``, on the CPU, loaded as data only.

    Args:
        kind: what the caller expects, for messages ("rosinality StyleGAN2 checkpoint").
    Raises:
        ModelError: a hostile, truncated, damaged or foreign file (nothing in it ran).
    """
    where = shown_path(path)
    _prescan_checkpoint(path, where)
    try:
        # argparse.Namespace is how training scripts (rosinality's train.py) store their
        # options: plain data.
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - refused globals, truncation, foreign file
        raise ModelError(f"{where}: not a loadable {kind}: {_torch_refusal(e)}") from None
