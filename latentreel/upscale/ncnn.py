"""A reader for ncnn model files (.param graph text + .bin weights), refusing what it can't read.

``.param`` (text): the magic ``7767517``, then ``layer_count blob_count``, then one line per
layer: ``Type name n_in n_out in_blobs... out_blobs... k=v...``. Keys are small integers;
a negative key ``-23300 - k`` holds an array for key k written ``count,v1,v2,...``.

``.bin``: each layer's weights in layer order, nothing between them. A convolution's kernel
starts with a 4-byte storage tag (fp16 or fp32); its bias and PReLU slopes are raw fp32.

Only the layer types Real-ESRGAN's networks use are accepted, so a file that needs anything
else is refused here rather than half-run later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latentreel.errors import ModelError

MAGIC = 7767517
LAYER_TYPES = ("Input", "Convolution", "PReLU", "Split", "Concat", "Eltwise", "BinaryOp",
               "Interp", "PixelShuffle")
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x00000000
ARRAY_KEY_BASE = -23300
MAX_LAYERS = 10_000


@dataclass(frozen=True)
class NcnnLayer:
    type: str  # one of LAYER_TYPES
    name: str  # unique within the graph
    inputs: tuple[str, ...]  # blob names read
    outputs: tuple[str, ...]  # blob names written
    params: dict[int, float | int | tuple[float, ...]]  # key -> value (arrays as tuples)
    where: str  # "file:line" for errors

    def get(self, key: int, default=0):
        return self.params.get(key, default)


@dataclass
class NcnnModel:
    layers: list[NcnnLayer]
    weights: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # layer -> name -> t


def read_ncnn(param: Path, bin_: Path) -> NcnnModel:
    """Read a model's graph and weights.

    Raises:
        ModelError: a missing file, a bad magic number or count, a malformed line, a layer type
            or setting outside Real-ESRGAN's, a weight count that disagrees with the shapes, an
            unknown storage tag, a truncated or over-long .bin.
    """
    layers = read_param(param)
    return NcnnModel(layers=layers, weights=read_bin(bin_, layers))


def read_param(path: Path) -> list[NcnnLayer]:
    """The layers of a .param file, in file order (see the module docstring)."""
    lines = _read_text(path).splitlines()
    if not lines or lines[0].strip() != str(MAGIC):
        raise ModelError(f"{path}: not an ncnn .param file (first line is not {MAGIC}); "
                         "reinstall the weights package")
    counts = lines[1].split() if len(lines) > 1 else []
    if len(counts) != 2 or not all(c.isdigit() for c in counts):
        raise ModelError(f"{path}:2: expected 'layer_count blob_count', got {lines[1:2]}")
    n_layers = int(counts[0])
    body = [(i + 3, ln) for i, ln in enumerate(lines[2:]) if ln.strip()]
    if n_layers > MAX_LAYERS or len(body) != n_layers:
        raise ModelError(f"{path}: header says {n_layers} layers, file has {len(body)}; "
                         "the file is truncated or edited")
    layers = [_parse_layer(ln, f"{path}:{no}") for no, ln in body]
    _check_graph(layers, path)
    return layers


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found; reinstall the weights package") from None
    except (UnicodeDecodeError, OSError) as e:
        raise ModelError(f"{path}: cannot read as ncnn .param text ({e})") from None


def _parse_layer(line: str, where: str) -> NcnnLayer:
    tok = line.split()
    if len(tok) < 4 or not tok[2].isdigit() or not tok[3].isdigit():
        raise ModelError(f"{where}: expected 'Type name n_in n_out blobs... k=v...'")
    kind, name, n_in, n_out = tok[0], tok[1], int(tok[2]), int(tok[3])
    if kind not in LAYER_TYPES:
        raise ModelError(f"{where}: layer type {kind!r} is not one Real-ESRGAN uses "
                         f"({', '.join(LAYER_TYPES)}); this file is not a supported model")
    blobs = tok[4:4 + n_in + n_out]
    if len(blobs) != n_in + n_out:
        raise ModelError(f"{where}: {name} lists fewer blobs than its counts {n_in} {n_out}")
    params = dict(_parse_param(kv, where) for kv in tok[4 + n_in + n_out:])
    return NcnnLayer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params, where)


def _parse_param(kv: str, where: str) -> tuple[int, float | int | tuple[float, ...]]:
    key, sep, value = kv.partition("=")
    try:
        k = int(key)
        if not sep:
            raise ValueError
        if k <= ARRAY_KEY_BASE:
            count, *items = value.split(",")
            if int(count) != len(items):
                raise ValueError
            return ARRAY_KEY_BASE - k, tuple(float(v) for v in items)
        return k, (float(value) if any(c in value for c in ".eE") else int(value))
    except ValueError:
        raise ModelError(f"{where}: cannot read parameter {kv!r} (expected key=value)") from None


def _check_graph(layers: list[NcnnLayer], path: Path) -> None:
    """Every blob is written once before it is read; one Input; names unique."""
    written: set[str] = set()
    names: set[str] = set()
    for layer in layers:
        if layer.name in names:
            raise ModelError(f"{layer.where}: layer name {layer.name!r} is used twice")
        names.add(layer.name)
        for blob in layer.inputs:
            if blob not in written:
                raise ModelError(f"{layer.where}: {layer.name} reads blob {blob!r} before any "
                                 "layer writes it")
        for blob in layer.outputs:
            if blob in written:
                raise ModelError(f"{layer.where}: blob {blob!r} is written twice")
            written.add(blob)
    if sum(layer.type == "Input" for layer in layers) != 1 or layers[0].type != "Input":
        raise ModelError(f"{path}: expected exactly one Input layer, first")


def read_bin(path: Path, layers: list[NcnnLayer]) -> dict[str, dict[str, torch.Tensor]]:
    """Each weighted layer's tensors from a .bin, checked against the .param's shapes."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found; reinstall the weights package") from None
    reader = _BinReader(data, path)
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for layer in layers:
        if layer.type == "Convolution":
            weights[layer.name] = _conv_weights(layer, reader)
        elif layer.type == "PReLU":
            weights[layer.name] = {"slope": reader.raw(int(layer.get(0, 1)), layer)}
    if reader.pos != len(data):
        raise ModelError(f"{path}: {len(data) - reader.pos} bytes left after the last layer's "
                         "weights; the .bin does not belong to this .param")
    return weights


def _conv_weights(layer: NcnnLayer, reader: _BinReader) -> dict[str, torch.Tensor]:
    out_c, k = int(layer.get(0)), int(layer.get(1))
    size = int(layer.get(6))
    if layer.get(8) or layer.get(11, k) != k or layer.get(3, 1) != 1 or layer.get(2, 1) != 1:
        raise ModelError(f"{layer.where}: {layer.name}: only fp16/fp32 square stride-1 "
                         "undilated convolutions are supported")
    if out_c <= 0 or k <= 0 or size <= 0 or size % (out_c * k * k):
        raise ModelError(f"{layer.where}: {layer.name}: weight_data_size {size} does not fit "
                         f"{out_c} outputs of {k}x{k}")
    in_c = size // (out_c * k * k)
    w = reader.tagged(size, layer).reshape(out_c, in_c, k, k)
    tensors = {"weight": w}
    if layer.get(5):
        tensors["bias"] = reader.raw(out_c, layer)
    return tensors


class _BinReader:
    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def _take(self, n: int, layer: NcnnLayer) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelError(f"{self.path}: ends inside {layer.name}'s weights (needs "
                             f"{self.pos + n} bytes, has {len(self.data)}); the file is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def raw(self, count: int, layer: NcnnLayer) -> torch.Tensor:
        return torch.from_numpy(np.frombuffer(self._take(4 * count, layer), "<f4").copy())

    def tagged(self, count: int, layer: NcnnLayer) -> torch.Tensor:
        tag = int.from_bytes(self._take(4, layer), "little")
        if tag == TAG_FP16:
            n = count * 2
            values = np.frombuffer(self._take(n + (-n) % 4, layer)[:n], "<f2")
            return torch.from_numpy(values.astype(np.float32))
        if tag == TAG_FP32:
            return self.raw(count, layer)
        raise ModelError(f"{self.path}: {layer.name}: weight storage tag {tag:#010x} is not "
                         "fp16 or fp32 (quantised models are not supported)")
