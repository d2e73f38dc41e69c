"""What inversion minimises, per sample: pixels + FaceNet perceptual + identity + LPIPS + a
prior.

Images are [N, 3, H, W] in [-1, 1]. Each term returns a per-sample loss [N] so restarts of
many targets run as one batch and the best restart per target can be picked afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    pixel: float = 1.0  # masked mean squared error in [-1, 1] units
    perceptual: float = 0.0  # FaceNet intermediate activations (seed 001's perceptual loss)
    identity: float = 0.0  # 1 - cosine of FaceNet embeddings
    prior: float = 1e-3  # (|z|^2/d - 1)^2: keep z where the prior puts its mass (z space only)
    lpips: float = 0.0  # LPIPS-VGG distance (needs the VGG16 weights; see invert/perceptual.py)

    @property
    def needs_facenet(self) -> bool:
        return self.perceptual > 0 or self.identity > 0


class Objective:
    """Per-sample loss against fixed targets (repeated for restarts by the caller)."""

    def __init__(self, target: torch.Tensor, weights: LossWeights, *,
                 mask: torch.Tensor | None = None, facenet=None, space: str = "z",
                 lpips_model=None):
        # target [N, 3, H, W]; mask [N, 1, H, W] in [0, 1] or None (all pixels count)
        self.target = target
        self.weights = weights
        self.mask = mask
        self.space = space
        self.facenet = facenet
        self.lpips_model = lpips_model
        if weights.lpips > 0 and lpips_model is None:
            raise ValueError("the LPIPS loss needs an LPIPS model")
        if weights.needs_facenet:
            if facenet is None:
                raise ValueError("perceptual/identity losses need a FaceNet")
            with torch.no_grad():
                face = self._face_input(target)
                self.target_features = [f.detach() for f in facenet.features(face)]
                self.target_embedding = facenet.embed(face).detach()

    def _face_input(self, images: torch.Tensor) -> torch.Tensor:
        if self.mask is not None:  # compare faces only where the target is defined
            images = images * self.mask
        return F.interpolate(images, size=(160, 160), mode="bilinear", align_corners=False)

    def pixel_mse(self, images: torch.Tensor) -> torch.Tensor:
        err = (images - self.target).square()
        if self.mask is None:
            return err.flatten(1).mean(1)
        m = self.mask.expand_as(err)
        return (err * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1.0)

    def __call__(self, images: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        w = self.weights
        loss = w.pixel * self.pixel_mse(images)
        if w.needs_facenet:
            face = self._face_input(images)
            if w.perceptual > 0:
                feats = self.facenet.features(face)
                perc = sum((f - t).square().flatten(1).mean(1)
                           for f, t in zip(feats, self.target_features))
                loss = loss + w.perceptual * perc
            if w.identity > 0:
                emb = self.facenet.embed(face)
                loss = loss + w.identity * (1 - (emb * self.target_embedding).sum(1))
        if w.lpips > 0:
            from latentreel.invert.perceptual import lpips_distance

            masked = (images, self.target) if self.mask is None else (
                images * self.mask, self.target * self.mask)
            loss = loss + w.lpips * lpips_distance(self.lpips_model, *masked)
        if w.prior > 0 and self.space == "z":
            loss = loss + w.prior * (latents.square().flatten(1).mean(1) - 1).square()
        return loss


def psnr(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per sample, for images in [-1, 1] (peak-to-peak 2)."""
    mse = (images - target).square().flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(4.0 / mse)
