"""ncnn graph -> latentreel's PyTorch module, after checking the graph is the expected network.

The graph must match the architecture layer for layer (types in order, with Splits left out,
since they only fan a blob out), every convolution's shape and activation, the residual
coefficients and the resampling settings. Anything else is refused with the first mismatch.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from latentreel.errors import ModelError
from latentreel.upscale.ncnn import NcnnLayer, NcnnModel
from latentreel.upscale.networks import LRELU, RESIDUAL, RRDBNet, SRVGG

ACT_NONE, ACT_LEAKY = 0, 2  # ncnn Convolution key 9: fused activation type
INTERP_NEAREST, INTERP_BICUBIC = 1, 3


def _rrdb_types(num_block: int) -> list[str]:
    dense = ["Convolution", "Concat"] * 4 + ["Convolution", "Eltwise"]
    body = (dense * 3 + ["Eltwise"]) * num_block
    return ["Input", "Convolution", *body, "Convolution", "BinaryOp",
            "Interp", "Convolution", "Interp", "Convolution", "Convolution", "Convolution"]


def _srvgg_types(num_conv: int, shrink: bool) -> list[str]:
    return ["Input", *(["Convolution", "PReLU"] * (num_conv + 1)), "Convolution",
            "PixelShuffle", "Interp", "BinaryOp", *(["Interp"] if shrink else [])]


def build_rrdbnet(model: NcnnModel, where: Path) -> RRDBNet:
    """RRDBNet with the file's weights; the block count comes from the number of convs."""
    layers = [la for la in model.layers if la.type != "Split"]
    n_conv = sum(la.type == "Convolution" for la in layers)
    num_block = (n_conv - 6) // 15
    _expect_types(layers, _rrdb_types(num_block) if num_block > 0 else [], where, "RRDBNet")
    for la in layers:
        if la.type == "Eltwise" and (la.get(0) != 1 or la.get(1, ()) != (RESIDUAL, 1.0)):
            raise ModelError(f"{la.where}: {la.name}: expected a 0.2 * x + y residual sum")
        if la.type == "Interp" and (la.get(0) != INTERP_NEAREST or la.get(1) != 2.0):
            raise ModelError(f"{la.where}: {la.name}: expected a nearest x2 upsampling")
    convs = [la for la in layers if la.type == "Convolution"]
    with torch.device("meta"):  # no random init: every tensor comes from the file
        net = RRDBNet(num_block, feat=int(convs[0].get(0)), grow=int(convs[1].get(0)))
    plain = {0, n_conv - 5, n_conv - 1} | {1 + 5 * i + 4 for i in range(3 * num_block)}
    for i, la in enumerate(convs):
        _expect_activation(la, ACT_NONE if i in plain else ACT_LEAKY)
    _assign(net, _conv_tensors(net, net.convs(), convs, model))
    net.fold_residual()
    return net.eval()


def build_srvgg(model: NcnnModel, where: Path) -> SRVGG:
    """SRVGG with the file's weights (and its final bicubic shrink, if it has one)."""
    layers = [la for la in model.layers if la.type != "Split"]
    n_conv = sum(la.type == "Convolution" for la in layers)
    shrink = layers[-1].type == "Interp" and layers[-2].type == "BinaryOp"
    _expect_types(layers, _srvgg_types(n_conv - 2, shrink) if n_conv > 2 else [], where, "SRVGG")
    shuffle = next(la for la in layers if la.type == "PixelShuffle")
    upscale = int(shuffle.get(0))
    if shuffle.get(1) != 0 or upscale not in (2, 3, 4):
        raise ModelError(f"{shuffle.where}: {shuffle.name}: expected a x2-x4 pixel shuffle")
    skip = [la for la in layers if la.type == "Interp"][0]
    if skip.get(0) != INTERP_NEAREST or skip.get(1) != float(upscale):
        raise ModelError(f"{skip.where}: {skip.name}: expected a nearest x{upscale} skip")
    out_scale = 1.0
    if shrink:
        last = layers[-1]
        out_scale = float(last.get(1))
        if last.get(0) != INTERP_BICUBIC or last.get(2) != out_scale or not 0 < out_scale < 1:
            raise ModelError(f"{last.where}: {last.name}: expected a bicubic shrink below 1")
    convs = [la for la in layers if la.type == "Convolution"]
    with torch.device("meta"):
        net = SRVGG(n_conv - 2, feat=int(convs[0].get(0)), upscale=upscale, out_scale=out_scale)
    for la in convs:
        _expect_activation(la, ACT_NONE)
    tensors = _conv_tensors(net, net.convs(), convs, model)
    prelus = [la for la in layers if la.type == "PReLU"]
    for i, (act, la) in enumerate(zip(net.prelus, prelus, strict=True)):
        tensors[f"prelus.{i}.weight"] = _checked(act.weight, model.weights[la.name]["slope"], la)
    _assign(net, tensors)
    return net.eval()


def _expect_types(layers: list[NcnnLayer], expected: list[str], where: Path, arch: str) -> None:
    got = [la.type for la in layers]
    if got == expected:
        return
    i = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got),
                                                                                len(expected)))
    at = layers[i].where if i < len(layers) else str(where)
    want = expected[i] if i < len(expected) else "end of graph"
    found = got[i] if i < len(got) else "end of graph"
    raise ModelError(f"{at}: not a {arch} graph: layer {i} is {found}, expected {want}")


def _expect_activation(la: NcnnLayer, act: int) -> None:
    params = la.get(10, ())
    ok = la.get(9) == act and (act != ACT_LEAKY or params == (LRELU,))
    if not ok or not la.get(5) or la.get(4, 0) != 1 or la.get(1) != 3:
        raise ModelError(f"{la.where}: {la.name}: expected a 3x3 pad-1 conv with bias and "
                         f"{'leaky ReLU 0.2' if act == ACT_LEAKY else 'no activation'}")


def _conv_tensors(net: nn.Module, convs: list[nn.Conv2d], layers: list[NcnnLayer],
                  model: NcnnModel) -> dict[str, torch.Tensor]:
    """state_dict entries for ``convs`` from the matching ncnn layers, shapes checked."""
    names = {id(m): name for name, m in net.named_modules()}
    out = {}
    for conv, la in zip(convs, layers, strict=True):
        for key in ("weight", "bias"):
            out[f"{names[id(conv)]}.{key}"] = _checked(getattr(conv, key),
                                                       model.weights[la.name][key], la)
    return out


def _checked(param: nn.Parameter, value: torch.Tensor, la: NcnnLayer) -> torch.Tensor:
    if tuple(param.shape) != tuple(value.shape):
        raise ModelError(f"{la.where}: {la.name}: weights of shape {tuple(value.shape)}, the "
                         f"network needs {tuple(param.shape)}")
    return value


def _assign(net: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Take the file's tensors as the parameters (no copy); every parameter must be set."""
    net.load_state_dict(tensors, strict=True, assign=True)
