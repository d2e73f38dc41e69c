"""Locality without locality images: a curvature penalty on the tuned weight deltas.

PTI's regulariser draws random faces through the tuned and the untuned generator every step
and asks their images to stay put; at 256 px and up that is four of every five images a step
draws (and a fifth forward pass for the untuned images). Here the same quantity, the mean
squared change of random faces' pixels, is approximated once, before tuning, as a quadratic
form in the deltas (Gauss-Newton), and each step draws the photo alone.

Per weight W (used as y = W u on inputs u: a convolution's patches, a linear layer's vectors),
    E ||change of the image||^2  ~  sum_o c_o * dW_o A dW_o^T,   A = E[u u^T] on random faces
over the rows o of dW (output channels): K-FAC with a diagonal output factor. c_o is
calibrated so that a random change of row o costs what it costs the pixels:
c_o = E||grad_{W_o} (v . G(z))||^2 / tr A, with v ~ N(0, 1) per pixel (the diagonal of the
Gauss-Newton matrix, summed over the row). The output factor matters: the rows that move the
photo most are the ones that move every face most, and tuning seeks them out. Weights whose
input cannot be seen (no 2-D or convolution use of the parameter itself) and vectors (biases,
noise strengths, the constant) get the diagonal alone: sum of E[grad^2] * dW^2.

With a low-rank delta a @ b the form needs b A b^T: r * D^2 work, never O * D^2.
`latentreel bench tune` compares it with the image regulariser (README).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from latentreel.invert.delta import FullDelta, LowRankDelta, parametrized
from latentreel.models.base import Generator

FACES = 16  # random faces whose layer inputs give A (16 * POSITIONS samples per weight)
POSITIONS = 512  # positions sampled per face and layer (never every pixel: 256 px is 65k)
PROBES = 8  # random faces whose pixel gradients calibrate c
# Modules known to compute y = u W^T from their input u (by class name: invert/ sits below
# the model backends). Other 2-D weights (StyleGAN3's input transform) get the diagonal form.
LINEAR = frozenset({"Linear", "FullyConnectedLayer"})


@dataclass
class _Form:
    """One weight's quadratic form. With ``a``: sum over rows o of c[o] * dW_o A dW_o^T, dW as
    [rows, D]; without: sum of c * dW^2 elementwise (c shaped as the weight). ``rows_first``:
    the parameter is stored [rows, ...] (else [D-major, rows, ...], as an nn.ConvTranspose2d
    weight [in, out, k, k], transposed before the form)."""

    c: torch.Tensor
    shape: torch.Size
    a: torch.Tensor | None = None
    rows_first: bool = True


class Curvature:
    """Per-weight forms of the generator's tunable module, measured once on random faces."""

    def __init__(self, generator: Generator, *, faces: int = FACES, positions: int = POSITIONS,
                 probes: int = PROBES, seed: int = 0):
        module = generator.tunable_module()
        self.resolution = generator.resolution
        moments, layout = _input_moments(generator, module, faces, positions, seed)
        grads = _gradient_energy(generator, module, probes, seed)
        self.forms: dict[str, _Form] = {}
        # Convolution weights whose inputs were not seen: a network drawing in fp16/bf16
        # rescales each weight before its convolution (StyleGAN2's reduced precision, and
        # StyleGAN3 always), so only their diagonal is known.
        self.unseen = [n for n, p in module.named_parameters() if p.ndim == 4 and n not in moments]
        for name, p in module.named_parameters():
            a, energy = moments.get(name), grads[name]
            if a is None:
                self.forms[name] = _Form(energy, p.shape)
                continue
            rows_first = layout[name]
            # Per output row: its share of the gradient energy over the input's total variance.
            rows = energy.transpose(0, 1) if not rows_first else energy
            per_row = rows.reshape(rows.shape[0], -1).sum(1)
            self.forms[name] = _Form(per_row / float(a.diagonal().sum()), p.shape,
                                     a.to(p.device), rows_first)

    def penalty(self, module: nn.Module) -> torch.Tensor:
        """The approximate mean squared pixel change of random faces (images in [-1, 1]) that
        ``module``'s current deltas cause."""
        total = torch.zeros(())
        for name, delta in parametrized(module):
            total = total + _quadratic(delta, self.forms[name])
        return total / (3 * self.resolution ** 2)


def _quadratic(delta: nn.Module, form: _Form) -> torch.Tensor:
    if form.a is None:
        d = delta.delta if isinstance(delta, FullDelta) else delta.a @ delta.b
        return (form.c * d.float().reshape(form.shape).square()).sum()
    if isinstance(delta, LowRankDelta) and form.rows_first:
        m = (delta.b @ form.a) @ delta.b.t()  # [r, r]
        return (form.c[:, None] * (delta.a @ m) * delta.a).sum()
    d = (delta.delta if isinstance(delta, FullDelta) else delta.a @ delta.b).float()
    d = d.reshape(form.shape)
    if not form.rows_first:  # [in, out, k, k] -> [out, in, k, k]
        d = d.transpose(0, 1)
    d = d.reshape(d.shape[0], -1)
    return (form.c[:, None] * (d @ form.a) * d).sum()


class _Recorder(TorchFunctionMode):
    """Sees every convolution whose weight is (a view of) a tuned parameter and accumulates
    the second moment of its inputs at sampled positions (linear layers: forward hooks)."""

    def __init__(self, params: dict[int, tuple[str, torch.Tensor]], positions: int,
                 draw: torch.Generator):
        super().__init__()
        self.params, self.positions, self.draw = params, positions, draw
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.layout: dict[str, bool] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (F.conv2d, F.conv_transpose2d) and len(args) >= 2:
            self._conv(func, args, kwargs)
        return func(*args, **kwargs)

    def _conv(self, func, args, kwargs) -> None:
        x, w = args[0], args[1]
        found = self.params.get(w.data_ptr())
        if found is None or kwargs.get("groups", 1) != 1 or w.ndim != 4:
            return
        name, p = found
        same = w.shape == p.shape and w.stride() == p.stride()  # the parameter itself
        opts = dict(zip(("bias", "stride", "padding"), args[2:]), **kwargs)
        stride, padding = _pair(opts.get("stride", 1)), _pair(opts.get("padding", 0))
        if func is F.conv2d:
            if not same or opts.get("dilation", 1) not in (1, (1, 1)):
                return
            cols = self._patches(F.pad(x, (padding[1], padding[1], padding[0], padding[0])),
                                 w.shape[-2:], stride)
            self.layout[name] = True
        else:  # a transposed convolution is a convolution of the zero-inserted input
            k = w.shape[-2:]
            n, c, h, wd = x.shape
            z = x.new_zeros(n, c, (h - 1) * stride[0] + 1, (wd - 1) * stride[1] + 1)
            z[:, :, ::stride[0], ::stride[1]] = x
            pad = (k[1] - 1 - padding[1], k[1] - 1 - padding[1],
                   k[0] - 1 - padding[0], k[0] - 1 - padding[0])
            if min(pad) < 0 or opts.get("output_padding", 0) not in (0, (0, 0)):
                return
            cols = self._patches(F.pad(z, pad), k, (1, 1), flip=True)
            # NVIDIA's up-convolution passes W^T of a [out, in, k, k] parameter; a torch
            # ConvTranspose2d owns its [in, out, k, k] weight.
            self.layout[name] = not same
        self._add(name, cols)

    def _patches(self, x: torch.Tensor, k, stride, flip: bool = False) -> torch.Tensor:
        """[N * P, C * kh * kw] patches at P random output positions (weight tap order)."""
        n, c, h, w = x.shape
        oh, ow = (h - k[0]) // stride[0] + 1, (w - k[1]) // stride[1] + 1
        p = min(self.positions, oh * ow)
        pos = torch.randperm(oh * ow, generator=self.draw)[:p].to(x.device)
        py, px = (pos // ow) * stride[0], (pos % ow) * stride[1]
        dy, dx = torch.arange(k[0], device=x.device), torch.arange(k[1], device=x.device)
        if flip:  # tap (a, b) of the kernel meets the patch at (k - 1 - a, k - 1 - b)
            dy, dx = dy.flip(0), dx.flip(0)
        rows = (py[:, None, None] + dy[None, :, None]).expand(-1, k[0], k[1])
        cols = (px[:, None, None] + dx[None, None, :]).expand(-1, k[0], k[1])
        patches = x[:, :, rows, cols]  # [N, C, P, kh, kw]
        return patches.permute(0, 2, 1, 3, 4).reshape(n * p, -1)

    def _add(self, name: str, u: torch.Tensor) -> None:
        u = u.float()  # float32: Apple's mps has no float64, and 8k samples need none
        self.sums[name] = self.sums.get(name, 0) + u.t() @ u
        self.counts[name] = self.counts.get(name, 0) + len(u)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _input_moments(generator: Generator, module: nn.Module, faces: int, positions: int,
                   seed: int) -> tuple[dict[str, torch.Tensor], dict[str, bool]]:
    """E[u u^T] of each tuned weight's inputs over ``faces`` random faces (float32, on the
    CPU until placed), and each weight's layout (rows first or not)."""
    named = dict(module.named_parameters())
    draw = torch.Generator().manual_seed(seed)
    recorder = _Recorder({p.data_ptr(): (n, p) for n, p in named.items()}, positions, draw)
    hooks = []
    for mname, m in module.named_modules():  # linear maps: y = u W^T on the module's input
        w = getattr(m, "weight", None)
        if type(m).__name__ in LINEAR and isinstance(w, nn.Parameter) and w.ndim == 2:
            name = f"{mname}.weight" if mname else "weight"
            hooks.append(m.register_forward_pre_hook(
                lambda _m, inp, name=name: _linear_input(recorder, name, inp)))
    z = torch.randn(faces, generator.z_dim, generator=draw)
    try:
        with torch.no_grad(), recorder:
            for i in range(0, faces, 4):
                generator.synthesize(z[i:i + 4].to(generator.device))
    finally:
        for h in hooks:
            h.remove()
    moments = {n: _shrunk(s / recorder.counts[n], recorder.counts[n])
               for n, s in recorder.sums.items() if named[n].numel() % s.shape[0] == 0}
    layout = {n: recorder.layout.get(n, True) for n in moments}
    return moments, layout


def _shrunk(a: torch.Tensor, samples: int) -> torch.Tensor:
    """The sample moment pulled towards its mean eigenvalue by D / (D + samples): at low
    resolutions a face gives few positions (16 at 4x4) for D = 4608 inputs, and a direction
    no sample spans would otherwise cost nothing, free for the tuning to change."""
    d = a.shape[0]
    rho = d / (d + samples)
    iso = torch.eye(d, dtype=a.dtype) * (a.diagonal().mean())
    return ((1 - rho) * a + rho * iso).float()


def _linear_input(recorder: _Recorder, name: str, inputs: tuple) -> None:
    if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].ndim >= 2:
        recorder._add(name, inputs[0].reshape(-1, inputs[0].shape[-1]))
        recorder.layout[name] = True


def _gradient_energy(generator: Generator, module: nn.Module, probes: int,
                     seed: int) -> dict[str, torch.Tensor]:
    """E (d(v . G(z)) / dW)^2 per element of each weight over random faces z and pixel
    weights v ~ N(0, 1): the diagonal of the Gauss-Newton matrix, what a random change of
    each element costs the pixels."""
    params = dict(module.named_parameters())
    energy = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    draw = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(probes, generator.z_dim, generator=draw)
    was = {n: p.requires_grad for n, p in params.items()}
    try:
        for p in params.values():
            p.requires_grad_(True)
        for k in range(probes):
            img = generator.synthesize(z[k:k + 1].to(generator.device))
            v = torch.randn(img.shape, generator=draw).to(img.device)
            grads = torch.autograd.grad((img * v).sum(), list(params.values()),
                                        allow_unused=True)
            for name, g in zip(params, grads):
                if g is not None:
                    energy[name] += g.float().square() / probes
    finally:
        for n, p in params.items():
            p.requires_grad_(was[n])
    return energy
