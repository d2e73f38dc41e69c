"""Read constants out of a frozen TensorFlow GraphDef (.pb) without TensorFlow.

A frozen graph stores every trained variable as a ``Const`` node that keeps the variable's
name. Only the few protobuf messages needed to get them out are decoded here, straight from
the wire format: GraphDef.node -> NodeDef{name, op, attr} -> AttrValue.tensor -> TensorProto.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# TensorFlow DataType enum values we can read.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


@dataclass
class GraphNode:
    name: str
    op: str
    inputs: list[str]
    value: np.ndarray | None  # the constant, for Const nodes


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview):
    """Yield (field number, wire type, value) of one message; LEN values as memoryviews."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
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
        yield field, wire, value


def _shape(buf: memoryview) -> list[int]:
    dims = []
    for field, _, value in _fields(buf):
        if field == 2:  # Dim
            size = 0
            for f, _, v in _fields(value):
                if f == 1:
                    size = v
            dims.append(size)
    return dims


def _tensor(buf: memoryview) -> np.ndarray:
    dtype, shape, content, floats, ints = 1, [], None, [], []
    for field, wire, value in _fields(buf):
        if field == 1:
            dtype = value
        elif field == 2:
            shape = _shape(value)
        elif field == 4:
            content = bytes(value)
        elif field == 5:  # float_val: packed (LEN) or one fixed32
            floats.append(np.frombuffer(bytes(value), "<f4"))
        elif field == 7:  # int_val: packed varints or one varint
            ints.append(value)
    if dtype not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype {dtype}")
    np_dtype = np.dtype(_DTYPES[dtype]).newbyteorder("<")
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, np_dtype).astype(_DTYPES[dtype])
    elif floats:
        arr = np.concatenate(floats).astype(_DTYPES[dtype])
    elif ints:
        vals: list[int] = []
        for v in ints:
            if isinstance(v, int):
                vals.append(v)
            else:
                p = 0
                while p < len(v):
                    x, p = _varint(v, p)
                    vals.append(x)
        arr = np.array(vals, dtype=_DTYPES[dtype])
    else:
        arr = np.zeros(1, _DTYPES[dtype])
    if arr.size == 1 and count > 1:  # TF stores a repeated scalar once
        arr = np.full(count, arr[0], _DTYPES[dtype])
    return arr.reshape(shape)


def _node(buf: memoryview) -> GraphNode:
    name, op, inputs, value = "", "", [], None
    for field, _, v in _fields(buf):
        if field == 1:
            name = bytes(v).decode()
        elif field == 2:
            op = bytes(v).decode()
        elif field == 3:
            inputs.append(bytes(v).decode())
        elif field == 5:  # attr map entry {1: key, 2: AttrValue}
            key, attr = "", None
            for f, _, x in _fields(v):
                if f == 1:
                    key = bytes(x).decode()
                elif f == 2:
                    attr = x
            if key == "value" and attr is not None:
                for f, _, x in _fields(attr):
                    if f == 8:
                        value = _tensor(x)
    return GraphNode(name, op, inputs, value)


def read_graph(data: bytes) -> dict[str, GraphNode]:
    """Every node of a serialized GraphDef, by name."""
    buf = memoryview(data)
    nodes = {}
    for field, _, value in _fields(buf):
        if field == 1:
            node = _node(value)
            nodes[node.name] = node
    if not nodes:
        raise ValueError("no nodes found: not a TensorFlow GraphDef")
    return nodes
