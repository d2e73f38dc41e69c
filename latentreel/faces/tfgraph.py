"""Read a frozen TensorFlow GraphDef (.pb) without TensorFlow.

A frozen graph stores every trained variable as a ``Const`` node that keeps the variable's
name. Only the few protobuf messages needed are decoded here, straight from the wire format:
GraphDef.node -> NodeDef{name, op, input, attr} -> AttrValue -> TensorProto / TensorShapeProto.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

# TensorFlow DataType enum -> NumPy; constants of other types are kept as ``None``.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 6: np.int8, 9: np.int64,
           10: np.bool_}
AttrValue = bytes | int | float | bool | list | np.ndarray | None


@dataclass
class GraphNode:
    name: str
    op: str
    inputs: list[str]
    attrs: dict[str, AttrValue] = field(default_factory=dict)  # e.g. strides, padding, epsilon

    @property
    def value(self) -> np.ndarray | None:
        """The tensor of a Const node (None for other ops or unreadable dtypes)."""
        v = self.attrs.get("value")
        return v if isinstance(v, np.ndarray) else None


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _signed(v: int) -> int:
    """int64 fields arrive as unsigned 64-bit varints (unknown dims are -1)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) of one message; LEN values as memoryviews."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("truncated protobuf message")
        yield number, wire, value


def _ints(values: list) -> list[int]:
    """Repeated varint fields: each entry is one varint or a packed run of them."""
    out: list[int] = []
    for v in values:
        if isinstance(v, int):
            out.append(_signed(v))
            continue
        pos = 0
        while pos < len(v):
            x, pos = _varint(v, pos)
            out.append(_signed(x))
    return out


def _floats(values: list) -> np.ndarray:
    """Repeated float fields: each entry is one fixed32 or a packed run of them."""
    if not values:
        return np.zeros(0, np.float32)
    return np.concatenate([np.frombuffer(bytes(v), "<f4") for v in values])


def _shape(buf: memoryview) -> list[int]:
    dims = []
    for number, _, value in _fields(buf):
        if number == 2:  # Dim {1: size, 2: name}
            size = next((_signed(v) for f, _, v in _fields(value) if f == 1), 0)
            dims.append(size)
    return dims


def _tensor(buf: memoryview) -> np.ndarray | None:
    dtype, shape, content, floats, ints = 1, [], None, [], []
    for number, _, value in _fields(buf):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = _shape(value)
        elif number == 4:
            content = bytes(value)
        elif number == 5:  # float_val
            floats.append(value)
        elif number in (7, 10, 11):  # int_val, int64_val, bool_val
            ints.append(value)
    if dtype not in _DTYPES:
        return None
    np_type = _DTYPES[dtype]
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, np.dtype(np_type).newbyteorder("<")).astype(np_type)
    elif floats:
        arr = _floats(floats).astype(np_type)
    elif ints:
        arr = np.array(_ints(ints)).astype(np_type)
    else:
        arr = np.zeros(1, np_type)
    if arr.size == 1 and count > 1:  # TF stores a tensor filled with one value once
        arr = np.full(count, arr[0], np_type)
    if arr.size != count:
        raise ValueError(f"tensor holds {arr.size} values for shape {shape}")
    return arr.reshape(shape)


def _list_value(buf: memoryview) -> list:
    """AttrValue.list: the strings, ints or floats it holds (e.g. Conv2D strides)."""
    strings, ints, floats = [], [], []
    for number, _, value in _fields(buf):
        if number == 2:
            strings.append(bytes(value))
        elif number == 3:
            ints.append(value)
        elif number == 4:
            floats.append(value)
    return strings or _ints(ints) or _floats(floats).tolist()


def _attr(buf: memoryview) -> AttrValue:
    for number, _, value in _fields(buf):
        if number == 1:
            return _list_value(value)
        if number == 2:
            return bytes(value)
        if number == 3:
            return _signed(value)
        if number == 4:
            return float(np.frombuffer(bytes(value), "<f4")[0])
        if number == 5:
            return bool(value)
        if number == 6:
            return int(value)
        if number == 7:
            return _shape(value)
        if number == 8:
            return _tensor(value)
    return None


def _node(buf: memoryview) -> GraphNode:
    node = GraphNode("", "", [])
    for number, _, v in _fields(buf):
        if number == 1:
            node.name = bytes(v).decode()
        elif number == 2:
            node.op = bytes(v).decode()
        elif number == 3:
            node.inputs.append(bytes(v).decode())
        elif number == 5:  # map<string, AttrValue> entry {1: key, 2: value}
            key, attr = "", None
            for f, _, x in _fields(v):
                if f == 1:
                    key = bytes(x).decode()
                elif f == 2:
                    attr = _attr(x)
            node.attrs[key] = attr
    return node


def read_graph(data: bytes) -> dict[str, GraphNode]:
    """Every node of a serialized GraphDef, by name.

    Raises:
        ValueError: the bytes are not a GraphDef (bad wire format, no nodes).
    """
    nodes = {}
    try:
        for number, wire, value in _fields(memoryview(data)):
            if number == 1 and wire == 2:
                node = _node(value)
                nodes[node.name] = node
    except (IndexError, TypeError, UnicodeDecodeError) as e:  # random bytes fail in many ways
        raise ValueError(f"not a valid protobuf message ({type(e).__name__})") from None
    if not nodes or not all(n.name and n.op for n in nodes.values()):
        raise ValueError("no nodes found: not a TensorFlow GraphDef")
    return nodes
