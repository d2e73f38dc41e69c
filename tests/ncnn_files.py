"""Writes tiny SRVGG networks as ncnn .param/.bin files, for the reader's refusal tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.upscale.ncnn import TAG_FP16
from latentreel.upscale.networks import SRVGG


def tiny_srvgg(seed: int = 0, num_conv: int = 1, feat: int = 4) -> SRVGG:
    torch.manual_seed(seed)
    net = SRVGG(num_conv=num_conv, feat=feat, upscale=4)
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-0.3, 0.3)
    return net.eval()


def srvgg_param_lines(net: SRVGG) -> list[str]:
    lines, blob = ["Input data 0 1 data", "Split split0 1 2 data d0 d1"], "d1"
    for i, (conv, act) in enumerate(zip(net.conv_list, net.prelus)):
        o, i_c = conv.weight.shape[:2]
        lines.append(f"Convolution conv{i} 1 1 {blob} c{i} 0={o} 1=3 4=1 5=1 6={o * i_c * 9}")
        lines.append(f"PReLU prelu{i} 1 1 c{i} p{i} 0={o}")
        blob = f"p{i}"
    last = net.conv_list[-1]
    o, i_c = last.weight.shape[:2]
    lines += [f"Convolution convlast 1 1 {blob} cl 0={o} 1=3 4=1 5=1 6={o * i_c * 9}",
              f"PixelShuffle shuffle 1 1 cl ps 0={net.upscale}",
              f"Interp skip 1 1 d0 up 0=1 1={net.upscale:.6e} 2={net.upscale:.6e}",
              "BinaryOp add 2 1 ps up output"]
    return lines


def srvgg_bin(net: SRVGG) -> bytes:
    out = bytearray()
    for conv, act in zip(net.conv_list, [*net.prelus, None]):
        out += TAG_FP16.to_bytes(4, "little")
        w = conv.weight.detach().numpy().astype("<f2").tobytes()
        out += w + b"\0" * (-len(w) % 4)
        out += conv.bias.detach().numpy().astype("<f4").tobytes()
        if act is not None:
            out += act.weight.detach().numpy().astype("<f4").tobytes()
    return bytes(out)


def write_ncnn(folder: Path, lines: list[str], data: bytes,
               stem: str = "tiny") -> tuple[Path, Path]:
    blobs = {b for ln in lines for b in _blobs(ln)}
    param, bin_ = folder / f"{stem}.param", folder / f"{stem}.bin"
    param.write_text("\n".join(["7767517", f"{len(lines)} {len(blobs)}", *lines]) + "\n")
    bin_.write_bytes(data)
    return param, bin_


def _blobs(line: str) -> list[str]:
    tok = line.split()
    n = int(tok[2]) + int(tok[3])
    return tok[4:4 + n]


def fp16_weights(net: SRVGG) -> SRVGG:
    """``net`` with its conv kernels rounded through fp16, as the .bin stores them."""
    with torch.no_grad():
        for conv in net.conv_list:
            conv.weight.copy_(conv.weight.half().float())
    return net


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.numpy())
