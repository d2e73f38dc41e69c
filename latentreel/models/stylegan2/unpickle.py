"""Read NVIDIA's StyleGAN2 network pickles without running any code they carry.

Format (stylegan2-ada-pytorch and stylegan3): a pickled dict with ``G``, ``D``, ``G_ema`` and
``augment_pipe`` (sometimes more). Each network is a ``torch_utils.persistence`` object: it
pickles as a call ``_reconstruct_persistent_obj(meta)`` where ``meta`` holds the Python source
of its defining module, the class name and the instance ``state`` (the nn.Module ``__dict__``:
``_parameters``, ``_buffers``, ``_modules`` of child objects of the same kind, and for the
top-level network ``_init_args`` / ``_init_kwargs``). NVIDIA's loader imports that source, so
opening an untrusted pickle runs whatever it contains.

Here the unpickler resolves only an explicit allow-list of globals. The persistence
reconstructor becomes an inert ``PersistentRecord``; tensors are rebuilt by torch's own
functions from storages that torch loads with ``weights_only=True``. Anything else a file asks
for stops the load before anything runs. Our own generator is then built from G_ema's recorded
init kwargs and its tensors are copied in by name.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentreel.errors import ModelError
from latentreel.models.stylegan2.kwargs import config_from_init
from latentreel.models.stylegan2.network import Generator
from latentreel.models.stylegan2.weights import assign_tensors, estimate_w_avg


class _Refused(Exception):
    """The pickle asked for a global outside the allow-list."""


class _BadContent(Exception):
    """The pickle is well-formed but holds something a network file never does."""


@dataclass
class PersistentRecord:
    """What a ``torch_utils.persistence`` object becomes here: its class name and state, inert."""

    class_name: str
    state: dict
    module_src_chars: int  # length of the source it carried (never executed)

    def __setstate__(self, state):  # a well-formed file never BUILDs a record
        raise _BadContent("a persistent record with extra state")


class _EasyDict(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access): data only."""


def _record_from_meta(meta) -> PersistentRecord:
    if not isinstance(meta, dict) or not isinstance(meta.get("class_name"), str):
        raise _BadContent("a persistent object without a class name")
    if meta.get("type", "class") != "class":
        raise _BadContent(f"a persistent object of type {meta.get('type')!r}")
    state = meta.get("state") or {}
    if not isinstance(state, dict):
        raise _BadContent(f"{meta['class_name']} with a non-dict state")
    return PersistentRecord(meta["class_name"], dict(state), len(meta.get("module_src") or ""))


def _storage_from_bytes(data: bytes):
    """torch pickles a storage as ``_load_from_bytes(torch.save(storage))``; load those bytes
    as data only (weights_only), on the CPU whatever device the file was saved from."""
    if not isinstance(data, bytes):
        raise _BadContent("a tensor storage that is not bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation chatter
            storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds; each means 'refused'
        found = re.search(r"GLOBAL ([\w.]+)", str(e))  # torch names the global it refused
        if found:
            raise _Refused(f"{found.group(1)} (inside a tensor storage)") from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise _BadContent(f"a tensor storage torch cannot load ({first})") from None
    if not isinstance(storage, torch.TypedStorage):
        raise _BadContent(f"a tensor storage that loads as {type(storage).__name__}")
    return storage


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    # Hooks and metadata are dropped: a checkpoint's tensors are data, never callbacks.
    if not isinstance(storage, torch.TypedStorage):
        raise _BadContent("a tensor without a storage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation chatter
        _check_view(storage.size(), storage_offset, size, stride)
        return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False,
                                               OrderedDict())


def _check_view(storage_size: int, offset, size, stride) -> None:
    """A tensor must lie inside its storage: torch would silently grow the storage instead
    (a hostile file could ask for terabytes)."""
    ok = (isinstance(offset, int) and offset >= 0 and isinstance(size, (tuple, list))
          and isinstance(stride, (tuple, list)) and len(size) == len(stride)
          and all(isinstance(v, int) and v >= 0 for v in (*size, *stride)))
    if ok and all(size):  # an empty tensor reads nothing
        ok = offset + sum((n - 1) * st for n, st in zip(size, stride)) < storage_size
    if not ok:
        raise _BadContent(f"a tensor view (offset {offset}, size {size}, stride {stride}) "
                          f"outside its storage of {storage_size} elements")


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise _BadContent("a parameter that is not a tensor")
    return torch.nn.Parameter(data, requires_grad=False)


def _numpy_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    found = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        found[(mod, "_reconstruct")] = multiarray._reconstruct
        found[(mod, "scalar")] = multiarray.scalar
    found[("numpy", "ndarray")] = np.ndarray
    found[("numpy", "dtype")] = np.dtype
    return found


_STORAGE_TYPES = ("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
                  "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage",
                  "BoolStorage")

# Every global a StyleGAN2 pickle may name, mapped to what it becomes here.
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _record_from_meta,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    **{("torch", name): getattr(torch, name) for name in _STORAGE_TYPES},
    **_numpy_globals(),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ALLOWED_GLOBALS; refuses persistent ids (torch.save's zip format)."""

    def find_class(self, module: str, name: str):
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid):
        raise _BadContent("a persistent id (a torch.save checkpoint? give it a .pt suffix)")


def read_network_pickle(path: Path) -> object:
    """Unpickle ``path`` with the allow-list. Returns the top-level object (a dict, usually).

    Raises:
        ModelError: a refused global (nothing ran), or a truncated/corrupt/foreign file.
    """
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except _Refused as e:
        hint = ""
        if str(e).startswith("dnnlib.tflib"):
            hint = " (a TensorFlow-era StyleGAN pickle: use the PyTorch release of the network)"
        raise ModelError(f"refusing to load {path}: it asks for {e}{hint}") from None
    except _BadContent as e:
        raise ModelError(f"{path}: not a StyleGAN2 network pickle: it holds {e}") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read it ({e.strerror or e})") from None
    except Exception as e:  # noqa: BLE001 - EOFError, UnpicklingError, ...: a damaged file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if isinstance(e, EOFError) or "truncated" in first:
            raise ModelError(f"{path}: the file is truncated (an interrupted download?); "
                             "download it again") from None
        raise ModelError(f"{path}: not a readable network pickle ({first}); "
                         "is it damaged or another kind of file?") from None


def find_generator(obj: object, path: Path) -> PersistentRecord:
    """G_ema from an NVIDIA snapshot dict (or a pickled generator on its own)."""
    record = obj.get("G_ema") if isinstance(obj, dict) else obj
    if not isinstance(record, PersistentRecord):
        keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise ModelError(f"{path}: not a StyleGAN2 network pickle: no G_ema generator in it "
                         f"(it holds {keys or 'nothing'})")
    if record.class_name != "Generator":
        raise ModelError(f"{path}: G_ema is a {record.class_name}, not a StyleGAN2 Generator")
    return record


def is_stylegan3(record: PersistentRecord) -> bool:
    """A StyleGAN3 (alias-free) generator: its synthesis network starts with an input layer."""
    synthesis = (record.state.get("_modules") or {}).get("synthesis")
    return isinstance(synthesis, PersistentRecord) and \
        "input" in (synthesis.state.get("_modules") or {})


def record_tensors(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a record tree's ``_parameters`` and ``_buffers`` into {dotted name: tensor}."""
    out: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, t in (record.state.get(group) or {}).items():
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise _BadContent(f"{prefix}{name} that is a {type(t).__name__}, not a tensor")
            out[prefix + name] = t
    for name, child in (record.state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise _BadContent(f"module {prefix}{name} that is a {type(child).__name__}")
        out.update(record_tensors(child, f"{prefix}{name}."))
    return out


def load_network_pickle(path: Path, obj: object = None) -> Generator:
    """Build our StyleGAN2 generator from an NVIDIA network pickle, safely.

    ``obj``: the file as read_network_pickle returned it, if the caller has read it already
    (models.files does, to tell StyleGAN2 from StyleGAN3).

    Raises:
        ModelError: refused globals, unreadable file, unsupported or mismatching network.
    """
    # 1. Unpickle with the allow-list and find G_ema.
    obj = read_network_pickle(path) if obj is None else obj
    try:
        record = find_generator(obj, path)
        if is_stylegan3(record):
            raise ModelError(f"{path}: this is a StyleGAN3 (alias-free) generator; load it "
                             "with latentreel.models.files.load_network_file")
        # 2. Our architecture from its recorded constructor arguments.
        cfg = config_from_init(record.state.get("_init_args", ()),
                               record.state.get("_init_kwargs", {}))
        tensors = record_tensors(record)
    except (ValueError, TypeError, AttributeError, _BadContent) as e:
        raise ModelError(f"{path}: unsupported StyleGAN2 network: {e}") from None
    # 3. Copy its tensors in by name, every shape checked.
    net = Generator(cfg).eval().requires_grad_(False)
    if assign_tensors(net, tensors, str(path)):
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net
