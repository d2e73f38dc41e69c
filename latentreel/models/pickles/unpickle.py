"""Read NVIDIA's network pickles (StyleGAN2, StyleGAN3) without running code they carry.

Format (stylegan2-ada-pytorch and stylegan3): a pickled dict with ``G``, ``D``, ``G_ema`` and
``augment_pipe`` (sometimes more). Each network is a ``torch_utils.persistence`` object: it
pickles as a call ``_reconstruct_persistent_obj(meta)`` where ``meta`` holds the Python source
of its defining module, the class name and the instance ``state`` (the nn.Module ``__dict__``:
``_parameters``, ``_buffers``, ``_modules`` of child objects of the same kind, and for the
top-level network ``_init_args`` / ``_init_kwargs``). NVIDIA's loader imports that source, so
opening an untrusted pickle runs whatever it contains.

Before anything is unpickled, prescan.py walks the file's opcode stream and refuses what
could crash, exhaust memory or smuggle state (deep nesting, huge memo indices, lengths the
file does not hold, BUILD on anything but this loader's own records). Then the unpickler
resolves only an explicit allow-list of globals, each mapped to plain data or to a loader-owned
function or record that checks its arguments (standins.py). The persistence
reconstructor becomes an inert ``PersistentRecord``; tensors are rebuilt by torch's own
functions from storages that torch loads with ``weights_only=True``. Anything else a file asks
for stops the load before anything runs. ``find_generator`` then picks G_ema's record and
``record_tensors`` its tensors; each backend builds its own generator from them
(stylegan2/load.py, stylegan3/load.py).
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.pickles import standins
from latentreel.models.pickles.prescan import (
    PickleMalformed,
    PickleRefused,
    PickleTruncated,
    ScanPolicy,
    scan_pickle,
)
from latentreel.models.pickles.standins import BadContent
from latentreel.models.pickles.tfnetwork import GLOBAL as TF_NETWORK
from latentreel.models.pickles.tfnetwork import TFNetworkRecord


@dataclass
class PersistentRecord:
    """What a ``torch_utils.persistence`` object becomes here: its class name and state, inert."""

    class_name: str
    state: dict
    module_src_chars: int  # length of the source it carried (never executed)

    def __setstate__(self, state):  # a well-formed file never BUILDs a record
        raise BadContent("a persistent record with extra state")


class _EasyDict(dict):
    """Stands in for ``dnnlib.util.EasyDict`` (a dict with attribute access): data only."""

    def __setstate__(self, state):  # older pickles BUILD it with its empty __dict__
        if state:
            raise BadContent("an EasyDict with attribute state")


def _record_from_meta(meta) -> PersistentRecord:
    if not isinstance(meta, dict) or not isinstance(meta.get("class_name"), str):
        raise BadContent("a persistent object without a class name")
    if meta.get("type", "class") != "class":
        raise BadContent(f"a persistent object of type {quote(meta.get('type'))}")
    state = meta.get("state")
    state = {} if state is None else state
    if not isinstance(state, dict):
        raise BadContent(f"{quote(meta['class_name'])} with a non-dict state")
    source = meta.get("module_src")
    return PersistentRecord(meta["class_name"], dict(state),
                            len(source) if isinstance(source, str) else 0)


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")  # numpy 1.x, 2.x

# Every global a network pickle may name, mapped to what it becomes here. Each value is
# either plain data (OrderedDict, set, frozenset, torch.Size) or a loader-owned function or
# record that checks its arguments: never a callable that allocates what a file asks for.
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor_v2"): standins.rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): standins.rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): standins.rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): standins.storage_from_bytes,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _record_from_meta,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    **{("torch", name): standins.storage_type(name) for name in standins.STORAGE_TYPES},
    **{(mod, "_reconstruct"): standins.numpy_reconstruct for mod in _NUMPY_MODULES},
    **{(mod, "scalar"): standins.numpy_scalar for mod in _NUMPY_MODULES},
    ("numpy", "ndarray"): standins.NumpyArrayType,
    ("numpy", "dtype"): standins.NumpyDtype,
    TF_NETWORK: TFNetworkRecord,  # TensorFlow-era snapshots: state kept as data (tfnetwork.py)
}

# The allowed globals whose results may then receive BUILD state: only the loader's own
# records, whose __setstate__ checks it. BUILD on anything else (a class, a function, a
# tensor, whose __setstate__ would call set_()) is refused by the pre-scan.
STATEFUL_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("dnnlib.util", "EasyDict"),
    ("numpy", "dtype"),
    TF_NETWORK,
    *((mod, "_reconstruct") for mod in _NUMPY_MODULES),
})


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ALLOWED_GLOBALS; refuses persistent ids (torch.save's zip format)."""

    def find_class(self, module: str, name: str):
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise PickleRefused(f"{module}.{name}")
        return found

    def persistent_load(self, pid):
        raise BadContent("a persistent id (a torch.save checkpoint? give it a .pt suffix)")


_ZIP_MAGIC = b"PK\x03\x04"


def _prescan(f, size: int) -> None:
    """Refuse hostile streams before unpickling (see prescan.py); ``f`` is rewound."""
    if f.read(4) == _ZIP_MAGIC:
        raise BadContent("a zip archive: a torch.save checkpoint, not an NVIDIA network "
                          "pickle; if it is a rosinality checkpoint, give it a .pt suffix")
    f.seek(0)
    scan_pickle(f, size, ScanPolicy(allowed=ALLOWED_GLOBALS, stateful=STATEFUL_GLOBALS))
    f.seek(0)


def read_network_pickle(path: Path) -> object:
    """Unpickle ``path`` with the allow-list. Returns the top-level object (a dict, usually).

    Raises:
        ModelError: a refused global (nothing ran), or a truncated/corrupt/foreign file.
    """
    where = shown_path(path)
    try:
        with open(path, "rb") as f:
            _prescan(f, os.fstat(f.fileno()).st_size)
            return RestrictedUnpickler(f).load()
    except PickleRefused as e:
        hint = ""
        if e.name.startswith("dnnlib.tflib"):
            hint = " (a TensorFlow-era pickle holds only dnnlib.tflib.network.Network objects)"
        raise ModelError(f"refusing to load {where}: it asks for {quote(e.name, 100)}"
                         f"{e.context}{hint}; latentreel never runs code from a model file"
                         ) from None
    except BadContent as e:
        raise ModelError(f"{where}: not a StyleGAN2 network pickle: it holds {e}") from None
    except PickleTruncated:
        raise ModelError(f"{where}: the file is truncated (an interrupted download?); "
                         "download it again") from None
    except PickleMalformed as e:
        raise ModelError(f"{where}: not a readable network pickle: it holds {e}; is it "
                         "damaged or another kind of file?") from None
    except OSError as e:
        raise ModelError(f"{where}: cannot read it ({e.strerror or type(e).__name__})") from None
    except Exception as e:  # noqa: BLE001 - EOFError, UnpicklingError, ...: a damaged file
        if isinstance(e, EOFError) or "truncated" in str(e)[:200]:
            raise ModelError(f"{where}: the file is truncated (an interrupted download?); "
                             "download it again") from None
        raise ModelError(f"{where}: not a readable network pickle ({type(e).__name__}); "
                         "is it damaged or another kind of file?") from None


def _describe(value: object) -> str:
    if isinstance(value, standins.NumpyArray):
        return "a numpy array"
    if isinstance(value, PersistentRecord):
        return f"a {quote(value.class_name)}"
    return "nothing" if value is None else quote(value)


_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def find_generator(obj: object, path: Path) -> PersistentRecord:
    """G_ema from an NVIDIA snapshot dict (or a pickled generator on its own)."""
    where = shown_path(path)
    record = obj.get("G_ema") if isinstance(obj, dict) else obj
    if isinstance(obj, int) and obj == _LEGACY_TORCH_MAGIC:  # torch.save's pre-zip format
        raise ModelError(f"{where}: a (legacy) torch.save checkpoint, not an NVIDIA network "
                         "pickle; if it is a rosinality checkpoint, give it a .pt suffix")
    if not isinstance(record, PersistentRecord):
        if isinstance(obj, dict) and "G_ema" in obj:
            found = f"its G_ema is {_describe(record)}"
        elif isinstance(obj, dict):
            keys = ", ".join(quote(k, 30) for k in list(obj)[:6])
            found = f"it holds {keys or 'nothing'}" + (" ..." if len(obj) > 6 else "")
        else:
            found = f"it holds {_describe(obj)}"
        raise ModelError(f"{where}: not a StyleGAN2 network pickle: no G_ema generator in it "
                         f"({found})")
    if record.class_name != "Generator":
        raise ModelError(f"{where}: G_ema is a {quote(record.class_name)}, not a StyleGAN2 "
                         "Generator")
    return record


def is_stylegan3(record: PersistentRecord) -> bool:
    """A StyleGAN3 (alias-free) generator: its synthesis network starts with an input layer."""
    modules = record.state.get("_modules")
    synthesis = modules.get("synthesis") if isinstance(modules, dict) else None
    return isinstance(synthesis, PersistentRecord) and isinstance(
        synthesis.state.get("_modules"), dict) and "input" in synthesis.state["_modules"]


MAX_MODULE_DEPTH = 16  # a StyleGAN2 generator's module tree is 5 deep
MAX_TENSORS = 10_000  # a 1024-px generator has about 400


def record_tensors(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a record tree's ``_parameters`` and ``_buffers`` into {dotted name: tensor}.

    Iterative and bounded: a tree deeper than MAX_MODULE_DEPTH, a module reached twice (a
    cycle, or a shared child that would make the walk exponential) or more than MAX_TENSORS
    tensors is refused.
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    todo = [(record, prefix, 0)]
    while todo:
        rec, pre, depth = todo.pop()
        if id(rec) in seen:
            raise BadContent(f"module {quote(pre.rstrip('.'))} reached twice in the tree")
        if depth > MAX_MODULE_DEPTH:
            raise BadContent(f"modules nested more than {MAX_MODULE_DEPTH} deep")
        seen.add(id(rec))
        for group in ("_parameters", "_buffers"):
            for name, t in _group(rec, group, pre):
                if t is None:
                    continue
                if not isinstance(t, torch.Tensor):
                    raise BadContent(f"{quote(pre + str(name))} that is {_describe(t)}, "
                                      "not a tensor")
                out[pre + name] = t
        children = []
        for name, child in _group(rec, "_modules", pre):
            if child is None:
                continue
            if not isinstance(child, PersistentRecord):
                raise BadContent(f"module {quote(pre + str(name))} that is {_describe(child)}")
            children.append((child, f"{pre}{name}.", depth + 1))
        todo.extend(reversed(children))
        if len(out) > MAX_TENSORS:
            raise BadContent(f"more than {MAX_TENSORS} tensors")
    return out


def _group(record: PersistentRecord, group: str, prefix: str) -> list:
    """A record's ``_parameters``/``_buffers``/``_modules`` dict as (str name, value) pairs."""
    items = record.state.get(group)
    if items is None:
        return []
    if not isinstance(items, dict):
        raise BadContent(f"{quote(prefix + group)} that is {_describe(items)}, not a dict")
    bad = next((k for k in items if not isinstance(k, str)), None)
    if bad is not None:
        raise BadContent(f"a {group} name that is {_describe(bad)}")
    return list(items.items())
