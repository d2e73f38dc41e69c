"""Inert stand-ins for the numpy and torch globals a network pickle may name.

NVIDIA's snapshots can carry small numpy values (in training options, never in G_ema's
weights) and name torch storage classes. Handing the real callables to the unpickler would let
a file call them with any arguments: ``ndarray((10**10,))``, ``_reconstruct(ndarray, shape,
'O')`` or ``FloatStorage(10**10)`` allocate whatever the file asks for before anything could
check it. Here each becomes a loader-owned function or record that checks its arguments and
never allocates more than the bytes the file supplied. They raise ``BadContent`` to refuse.
"""

from __future__ import annotations

import numpy as np

from latentreel.errors import quote

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
