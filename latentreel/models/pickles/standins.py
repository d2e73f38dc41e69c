"""What the numpy and torch globals a network pickle may name become: loader-owned checks.

NVIDIA's snapshots hold tensors (``_rebuild_tensor_v2`` over ``_load_from_bytes`` storages),
can carry small numpy values (in training options, never in G_ema's weights) and may name
torch storage classes. Handing the real callables to the unpickler would let a file call them
with any arguments: ``ndarray((10**10,))``, ``_reconstruct(ndarray, shape, 'O')``,
``FloatStorage(10**10)`` or a tensor view torch grows its storage to fit all allocate whatever
the file asks for before anything could check it. Here each becomes a function or record that
checks its arguments and never allocates more than the bytes the file supplied. They raise
``BadContent`` (or ``PickleRefused`` for a global inside a storage's own pickle) to refuse.
"""

from __future__ import annotations

import io
import warnings
from collections import OrderedDict

import numpy as np
import torch

from latentreel.errors import quote
from latentreel.models.pickles.prescan import (
    PickleMalformed,
    PickleRefused,
    ScanPolicy,
    scan_pickle,
)

# Plain numeric dtypes only: no object arrays (whose elements would be arbitrary objects),
# no structured, string or datetime dtypes.
_NUMERIC_KINDS = "biufc"
MAX_ARRAY_BYTES = 1 << 26  # 64 MiB: option values and small tables, never weights


class BadContent(Exception):
    """Well-formed pickle data that a network file never holds (the message says what)."""


class NumpyDtype:
    """``numpy.dtype(name, align, copy)`` then BUILD with its state: a checked numeric dtype."""

    def __init__(self, name, align=False, copy=True):
        if not isinstance(name, str) or len(name) > 8:
            raise BadContent(f"a numpy dtype named {quote(name)}")
        try:
            self.dtype = np.dtype(name)
        except TypeError:
            raise BadContent(f"a numpy dtype named {quote(name)}") from None
        if self.dtype.kind not in _NUMERIC_KINDS:
            raise BadContent(f"a numpy dtype {quote(name)} that is not plain numbers")

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if not (isinstance(state, tuple) and 2 <= len(state) <= 9 and
                isinstance(state[1], str) and state[1] in ("<", ">", "|", "=")
                and all(s is None for s in state[2:5] if len(state) > 4)):
            raise BadContent("a numpy dtype with state other than a byte order")
        self.dtype = self.dtype.newbyteorder(state[1])


def numpy_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: one number of a checked dtype."""
    if not isinstance(dtype, NumpyDtype) or not isinstance(data, bytes):
        raise BadContent("a numpy scalar without a dtype and its bytes")
    if len(data) != dtype.dtype.itemsize:
        raise BadContent(f"a numpy scalar of {len(data)} bytes for a {dtype.dtype} value")
    return np.frombuffer(data, dtype.dtype)[0]


class NumpyArrayType:
    """Stands in for ``numpy.ndarray``: only a marker passed to ``_reconstruct``."""

    def __new__(cls, *args, **kwargs):
        raise BadContent("a direct numpy.ndarray call")


class NumpyArray:
    """``_reconstruct(ndarray, (0,), b'b')`` then BUILD with (version, shape, dtype,
    fortran_order, raw bytes): an array read from the bytes the file holds, nothing more."""

    def __init__(self):
        self.array: np.ndarray | None = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise BadContent("a numpy array with malformed state")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, NumpyDtype):
            raise BadContent("a numpy array without a numeric dtype (object arrays are refused)")
        if not (isinstance(shape, tuple) and len(shape) <= 8 and
                all(isinstance(n, int) and 0 <= n <= MAX_ARRAY_BYTES for n in shape)):
            raise BadContent(f"a numpy array of shape {quote(shape)}")
        if not isinstance(raw, bytes) or len(raw) > MAX_ARRAY_BYTES:
            raise BadContent("a numpy array without its raw bytes (or over 64 MiB of them)")
        count = 1
        for n in shape:  # Python ints: a numpy product could wrap around to match
            count *= n
        if count * dtype.dtype.itemsize != len(raw):
            raise BadContent(f"a numpy array of shape {list(shape)} with {len(raw)} bytes")
        flat = np.frombuffer(raw, dtype.dtype)
        self.array = flat.reshape(shape, order="F" if fortran else "C")


def numpy_reconstruct(subtype, shape=None, typecode=None):
    """``numpy.core.multiarray._reconstruct``: an empty record that BUILD then fills."""
    if subtype is not NumpyArrayType:
        raise BadContent("a numpy array of a type other than ndarray")
    return NumpyArray()


def storage_type(name: str):
    """A torch storage class name: a marker only (tensors arrive through _load_from_bytes)."""

    def refuse(*args, **kwargs):
        raise BadContent(f"a direct call of torch.{name}")

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


# --- torch: storages and tensors, rebuilt from bytes the file holds ---------------------

STORAGE_TYPES = ("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
                  "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage",
                  "BoolStorage")

# A storage's bytes are torch.save's legacy format: five pickles (magic number, protocol,
# system info, the storage as a persistent id, its key list), then the raw elements.
_STORAGE_POLICY = ScanPolicy(allowed={("torch", n) for n in STORAGE_TYPES},
                             persistent_ids=True)


def storage_from_bytes(data: bytes):
    """torch pickles a storage as ``_load_from_bytes(torch.save(storage))``; load those bytes
    as data only (weights_only), on the CPU whatever device the file was saved from."""
    if not isinstance(data, bytes):
        raise BadContent("a tensor storage that is not bytes")
    _scan_storage_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation chatter
            storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - torch raises many kinds; each means 'refused'
        raise BadContent("a tensor storage torch cannot load") from None
    if not isinstance(storage, torch.TypedStorage):
        raise BadContent(f"a tensor storage that loads as {type(storage).__name__}")
    return storage


_CLEAN_HEADERS: list[bytes] = []  # storage headers (the first three pickles) scanned clean


def _scan_storage_bytes(data: bytes) -> None:
    """Scan the five pickles; the storage may not claim more elements than the bytes hold.

    The first three (magic number, protocol, system info) are the same bytes for every
    storage a file holds: once scanned clean, the same bytes need no second scan."""
    f = io.BytesIO(data)
    header = next((h for h in _CLEAN_HEADERS if data.startswith(h)), None)
    try:
        if header is not None:
            f.seek(len(header))
        for k in range(3 if header is not None else 0, 5):
            report = scan_pickle(f, len(data), _STORAGE_POLICY)
            if k == 2 and len(_CLEAN_HEADERS) < 8:
                _CLEAN_HEADERS.append(data[:f.tell()])
            for pid in report.persistent_ids:
                numel = pid[4] if isinstance(pid, tuple) and len(pid) > 4 else None
                if not isinstance(numel, int) or not 0 <= numel <= len(data):
                    raise BadContent(f"a tensor storage claiming {quote(numel)} elements "
                                      f"in {len(data)} bytes")
    except PickleRefused as e:
        raise PickleRefused(e.name, " (inside a tensor storage)") from None
    except PickleMalformed as e:
        raise BadContent(f"a tensor storage with {e}") from None


def rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    # Hooks and metadata are dropped: a checkpoint's tensors are data, never callbacks.
    if not isinstance(storage, torch.TypedStorage):
        raise BadContent("a tensor without a storage")
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
        # Nor may it claim more elements than the storage has (stride-0, overlapping views).
        ok = ok and len(size) <= 8 and _product(size) <= storage_size
    if not ok:
        raise BadContent(f"a tensor view (offset {quote(offset)}, size {_short(size)}, "
                          f"stride {_short(stride)}) outside its storage of {storage_size} "
                          "elements")


def _product(sizes) -> int:
    out = 1
    for n in sizes:
        out *= n
    return out


def _short(values) -> str:
    if isinstance(values, (tuple, list)) and len(values) <= 8:
        return "[" + ", ".join(quote(v, 20) for v in values) + "]"
    return quote(values)


def rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise BadContent("a parameter that is not a tensor")
    return torch.nn.Parameter(data, requires_grad=False)
