"""StyleGAN3 behind latentreel's Generator protocol, with a camera on its input layer.

Everything but the synthesis call is the StyleGAN2 backend's (z, W and W+ latents, the W
average, truncation, precisions); StyleGAN3 has no noise inputs, so ``noise_maps()`` is empty
and ``noise_mode`` is ignored.

The camera: ``camera`` rows (x, y, angle, log2 zoom) move the picture by x and y fractions of
the image (positive x to the right, positive y down), turn it by ``angle`` degrees (positive:
counter-clockwise) and magnify it 2**zoom times about its centre, one row per image of the
batch (rows of 3, from before zoom, mean zoom 1). The move happens in the Fourier-feature
input, before any layer, as NVIDIA's gen_video does with its input transform: features
outside the original frame are synthesised, not cropped or padded.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from latentreel.models.stylegan2.backend import StyleGAN2Generator
from latentreel.models.stylegan3.network import Generator


def camera_transforms(camera: torch.Tensor) -> torch.Tensor:
    """Camera rows [N, 4] (x, y, angle in degrees, log2 zoom; or [N, 3]: zoom 1) -> the
    input layer's inverse transforms [N, 3, 3] (how output coordinates map back onto the
    feature plane)."""
    if camera.ndim != 2 or camera.shape[1] not in (3, 4):
        raise ValueError(f"expected camera [N, 4] (x, y, angle, log2 zoom), "
                         f"got {list(camera.shape)}")
    camera = camera.to(torch.float64)
    x, y, angle = camera[:, :3].unbind(dim=1)
    zoom = camera[:, 3] if camera.shape[1] == 4 else torch.zeros_like(x)
    rad = angle * (math.pi / 180)
    scale = torch.exp2(zoom)  # exactly 1.0 at zoom 0: yesterday's cameras, bit for bit
    c, s = rad.cos() * scale, rad.sin() * scale
    zero, one = torch.zeros_like(x), torch.ones_like(x)
    # The picture's own motion: scale by 2**zoom about the centre and rotate by angle
    # (counter-clockwise on screen, where y points down), then shift by (x, y); the layer
    # wants its inverse, which samples a region 2**zoom times smaller of the Fourier
    # features: the magnified picture is synthesised, not upsampled.
    forward = torch.stack([c, s, x, -s, c, y, zero, zero, one], dim=1).view(-1, 3, 3)
    return torch.linalg.inv(forward).to(torch.float32)


class StyleGAN3Generator(StyleGAN2Generator):
    """Generator protocol implementation for a StyleGAN3 (alias-free) network.

    Adds ``has_camera`` (True) and a ``camera`` argument to ``synthesize``. Activations stay
    in the contiguous layout: the filters are depthwise convolutions, which oneDNN runs no
    faster in channels-last.
    """

    has_camera = True
    raw_conv_weights = False  # each weight is rescaled to unit RMS before its convolution

    def __init__(self, net: Generator, device: str | torch.device = "cpu", *,
                 name: str = "stylegan3", precision: str = "auto"):
        super().__init__(net, device, name=name, precision=precision, noise_mode="none",
                         channels_last=False)
        # Each input-grid sample added each side paints R / (its sampling rate) pixels.
        self.extend_step = net.img_resolution // net.synthesis.input.sampling_rate

    def bend_layers(self) -> dict[str, nn.Module]:
        synthesis = self.net.synthesis
        layers = {"input": synthesis.input}
        layers.update((name, getattr(synthesis, name)) for name in synthesis.layer_names[:-1])
        return layers

    @staticmethod
    def _label_size(net: Generator) -> int:
        return 0  # conditional StyleGAN3 networks are refused when loaded

    @property
    def arch(self) -> str:
        return self.net.cfg.arch

    def synthesize(self, latents: torch.Tensor, space: str = "z",
                   noise_mode: str | None = None, camera: torch.Tensor | None = None,
                   margin: tuple[int, int] = (0, 0),
                   keep: tuple[int, int] | None = None) -> torch.Tensor:
        """Images [N, C, R, R] float32 (about [-1, 1]) from latents [N, *latent_shape(space)],
        seen through ``camera`` [N, 4] (x, y, angle, log2 zoom) or the network's own input
        transform.
        ``keep`` is accepted and ignored: every layer's padding is fixed, so the whole
        enlarged grid is drawn."""
        ws = self.to_ws(latents, space)
        transforms = None
        if camera is not None:
            if camera.shape[0] != ws.shape[0]:
                raise ValueError(f"{camera.shape[0]} camera rows for {ws.shape[0]} latents")
            transforms = camera_transforms(camera).to(self.device)
        return self.net.synthesis(ws, transforms, half=self._half, half_all=self._half_all,
                                  margin=tuple(margin))
