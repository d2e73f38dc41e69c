"""StyleGAN2 behind latentreel's Generator protocol: z, W and W+ latents -> images.

Precision: "fp32"; "fp16" runs the blocks the model itself marks float16-capable
(``num_fp16_res``, with its ``conv_clamp``) in float16, as NVIDIA's code does, on CUDA only,
and is the same as fp32 for models that mark none (e.g. the TF-converted ffhq.pkl); "bf16"
runs every block in bfloat16, whose float32-sized range needs no clamp. "auto" picks fp16 on
CUDA for models with float16 blocks, fp32 otherwise. The mapping network, the demodulation
coefficients and the image accumulation stay in float32 in every mode.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from latentreel.errors import BadInputError, ModelError, shown_path
from latentreel.models.base import refuse_camera
from latentreel.models.stylegan2.network import NOISE_MODES, Generator, truncate_ws

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


class StyleGAN2Generator:
    """Generator protocol implementation for a StyleGAN2 network.

    Attributes beyond the protocol: ``w_dim``, ``num_ws``,
    ``noise_mode`` ("const" by default, so videos do not flicker; "random"; "none"),
    ``precision`` and ``channels_last`` (NHWC activations: about 2x faster with oneDNN on a
    2-core CPU, measured at 256 px; the layout tensor cores want on GPUs).
    """

    latent_spaces = ("z", "w", "w+")
    has_camera = False
    raw_conv_weights = True

    def __init__(self, net: Generator, device: str | torch.device = "cpu", *,
                 name: str = "stylegan2", precision: str = "auto", noise_mode: str = "const",
                 channels_last: bool = True):
        self.device = torch.device(device)
        self.name = name
        self.channels_last = channels_last
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net = net.to(self.device, memory_format=fmt).eval().requires_grad_(False)
        self.z_dim, self.w_dim = net.z_dim, net.w_dim
        self.c_dim = self._label_size(net)
        self.num_ws = net.num_ws
        self.resolution = net.img_resolution
        self.extend_step = net.img_resolution // 4  # one cell of the 4x4 constant
        self.noise_mode = noise_mode
        self.precision = precision
        _check_choice("noise_mode", noise_mode, NOISE_MODES)
        self._half, self._half_all = self._resolve_precision(precision)

    @staticmethod
    def _label_size(net: nn.Module) -> int:
        return net.cfg.c_dim

    def _resolve_precision(self, precision: str) -> tuple[torch.dtype | None, bool]:
        _check_choice("precision", precision, PRECISIONS)
        cuda = self.device.type == "cuda"
        has_fp16 = self.net.cfg.num_fp16_res > 0
        if precision == "auto":
            precision = "fp16" if cuda and has_fp16 else "fp32"
        if precision == "fp16" and not cuda:
            raise BadInputError("precision fp16 needs a CUDA GPU; use fp32 or bf16 here")
        if precision == "fp16":
            return torch.float16, False
        if precision == "bf16":
            return torch.bfloat16, True
        return None, False

    # --- the Generator protocol -----------------------------------------------------------

    def latent_shape(self, space: str) -> tuple[int, ...]:
        _check_choice("space", space, self.latent_spaces)
        return {"z": (self.z_dim,), "w": (self.w_dim,), "w+": (self.num_ws, self.w_dim)}[space]

    def mean_latent(self, space: str) -> torch.Tensor:
        """Zeros for z; the tracked W average for w, repeated per layer for w+."""
        _check_choice("space", space, self.latent_spaces)
        if space == "z":
            return torch.zeros(self.z_dim, device=self.device)
        w_avg = self.net.mapping.w_avg.detach().clone()
        return w_avg if space == "w" else w_avg[None].repeat(self.num_ws, 1)

    def to_space(self, z: torch.Tensor, space: str, *,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] -> z, w [N, w_dim] or w+ [N, num_ws, w_dim]; no truncation.

        ``labels`` [N, c_dim]: the class of each z, for conditional models only (required
        there to leave z)."""
        _check_choice("space", space, self.latent_spaces)
        _check_shape(z, (self.z_dim,), "z")
        if space == "z":
            return z
        z = z.to(self.device)
        w = self.net.mapping(z) if labels is None else \
            self.net.mapping(z, labels.to(self.device, torch.float32))
        return w if space == "w" else w[:, None].repeat(1, self.num_ws, 1)

    def synthesize(self, latents: torch.Tensor, space: str = "z",
                   noise_mode: str | None = None, *,
                   camera: torch.Tensor | None = None,
                   margin: tuple[int, int] = (0, 0),
                   keep: tuple[int, int] | None = None) -> torch.Tensor:
        """Images [N, C, R, R] float32 (about [-1, 1]) from latents [N, *latent_shape(space)];
        R + 2 * margin * R/4 per axis with a ``margin`` (the constant widened), trimmed
        towards the middle ``keep`` (h, w) the caller keeps."""
        refuse_camera(self, camera)
        ws = self.to_ws(latents, space)
        return self.net.synthesis(ws, noise_mode=noise_mode or self.noise_mode,
                                  half=self._half, half_all=self._half_all,
                                  channels_last=self.channels_last, margin=tuple(margin),
                                  keep=keep)

    def bend_layers(self) -> dict[str, nn.Module]:
        """b{r}.conv0 and b{r}.conv1: each block's convolutions at resolution r (StyleGAN3:
        the input's Fourier features, then each L{i}_{size}_{channels} layer but toRGB)."""
        return {name: m for name, m in self.net.synthesis.named_modules()
                if name.endswith((".conv0", ".conv1"))}

    def tunable_module(self) -> nn.Module:
        return self.net.synthesis

    # --- StyleGAN extras ------------------------------------------------------------------

    def to_ws(self, latents: torch.Tensor, space: str) -> torch.Tensor:
        """Any space -> W+ [N, num_ws, w_dim] on the device (W is repeated per layer)."""
        _check_choice("space", space, self.latent_spaces)
        _check_shape(latents, self.latent_shape(space), space)
        latents = latents.to(self.device, torch.float32)
        if space == "z":  # conditional models refuse: their z has no class here
            latents = self.net.mapping(latents)
        if space in ("z", "w"):
            return latents[:, None].expand(-1, self.num_ws, -1)
        return latents

    def truncate(self, latents: torch.Tensor, psi: float, space: str = "w",
                 cutoff: int | None = None) -> torch.Tensor:
        """``w_avg + psi * (w - w_avg)`` for latents in w or w+; with ``cutoff`` (w+ only),
        just the first ``cutoff`` layers move."""
        if space not in ("w", "w+"):
            raise ValueError(f"truncation works in w or w+, not {space!r}")
        _check_shape(latents, self.latent_shape(space), space)
        return truncate_ws(latents.to(self.device), self.net.mapping.w_avg, psi, cutoff)

    def noise_maps(self) -> dict[str, torch.Tensor]:
        """The per-layer constant noise buffers {layer name: [r, r]} used in "const" mode.

        They are the module's own tensors: an optimiser may fit them in place (inversion)."""
        return {name.removesuffix(".noise_const"): buf
                for name, buf in self.net.synthesis.named_buffers()
                if name.endswith("noise_const")}


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, not {value!r}")


def _check_shape(x: torch.Tensor, shape: tuple[int, ...], space: str) -> None:
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"expected {space} latents [N, {', '.join(map(str, shape))}], "
                         f"got {list(x.shape)}")


def load_stylegan2_file(path: Path, device: str | torch.device = "cpu", *,
                        name: str | None = None, precision: str = "auto") -> StyleGAN2Generator:
    """Load an NVIDIA network pickle (``.pkl``) or a rosinality checkpoint (``.pt``), safely.

    Raises:
        ModelError: a missing, hostile, damaged or unsupported file.
    """
    from latentreel.models.files import check_model_file

    path = Path(path)
    check_model_file(path)
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        from latentreel.models.stylegan2.load import load_network_pickle

        net = load_network_pickle(path)
    elif suffix == ".pt":
        from latentreel.models.stylegan2.rosinality import load_rosinality

        net = load_rosinality(path)
    else:
        raise ModelError(f"{shown_path(path)}: StyleGAN2 files end in .pkl (NVIDIA) or .pt "
                         "(rosinality)")
    return StyleGAN2Generator(net, device, name=name or path.stem, precision=precision)
