"""Attributes measured on generated faces with real, offline detectors.

From MTCNN's five landmarks: head yaw, roll and zoom. From pixels: overall brightness, skin
tone (the central face region) and background brightness (the border). From FaceNet:
similarity to a chosen photo. Faces MTCNN misses get NaN landmark attributes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentreel.models.base import Generator, to_uint8

LANDMARK_ATTRIBUTES = ("yaw", "roll", "zoom")
PIXEL_ATTRIBUTES = ("brightness", "skin_tone", "background")
ATTRIBUTES = LANDMARK_ATTRIBUTES + PIXEL_ATTRIBUTES + ("similarity",)
DETECT_SIZE = 160


def _luma(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> luminance [N, H, W] in [0, 1]."""
    w = torch.tensor([0.299, 0.587, 0.114], device=images.device)[None, :, None, None]
    return ((images.clamp(-1, 1) + 1) / 2 * w).sum(1)


def pixel_attributes(images: torch.Tensor) -> dict[str, np.ndarray]:
    y = _luma(images)
    h = y.shape[-1]
    b = max(1, h // 10)
    centre = y[:, int(0.45 * h):int(0.8 * h), int(0.3 * h):int(0.7 * h)]
    border = torch.cat([y[:, :b].flatten(1), y[:, :, :b].flatten(1), y[:, :, -b:].flatten(1)], 1)
    return {"brightness": y.flatten(1).mean(1).cpu().numpy(),
            "skin_tone": centre.flatten(1).mean(1).cpu().numpy(),
            "background": border.mean(1).cpu().numpy()}


def landmark_attributes(images: torch.Tensor) -> dict[str, np.ndarray]:
    from latentreel.faces.detect import detect_faces_batch

    up = F.interpolate(images, size=(DETECT_SIZE, DETECT_SIZE), mode="bilinear",
                       align_corners=False)
    out = {k: np.full(len(images), np.nan) for k in LANDMARK_ATTRIBUTES}
    for i, faces in enumerate(detect_faces_batch(to_uint8(up).cpu().numpy(), min_prob=0.9)):
        if not faces:
            continue
        p = faces[0].landmarks
        eyes = p[1] - p[0]
        dist = float(np.hypot(*eyes))
        mid = (p[0] + p[1]) / 2
        out["yaw"][i] = (p[2, 0] - mid[0]) / dist  # the nose swings sideways as the head turns
        out["roll"][i] = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
        out["zoom"][i] = dist / DETECT_SIZE
    return out


def measure(images: torch.Tensor, names=ATTRIBUTES, facenet=None,
            target_embedding: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Attributes ``names`` of images [N, 3, H, W] in [-1, 1]."""
    out: dict[str, np.ndarray] = {}
    if any(n in PIXEL_ATTRIBUTES for n in names):
        out.update(pixel_attributes(images))
    if any(n in LANDMARK_ATTRIBUTES for n in names):
        out.update(landmark_attributes(images))
    if "similarity" in names and facenet is not None and target_embedding is not None:
        with torch.no_grad():
            similarity = facenet.embed(images) @ target_embedding.T
            out["similarity"] = similarity.squeeze(1).cpu().numpy()
    return {k: v for k, v in out.items() if k in names}


def sample_and_measure(generator: Generator, n: int, names, *, seed: int = 0, batch: int = 128,
                       facenet=None, target_embedding=None, progress: bool = False):
    """Sample n z, render and measure them; returns (z [n, d], {name: values [n]})."""
    from tqdm import tqdm

    z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    values: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for s in tqdm(range(0, n, batch), desc="measuring faces", disable=not progress,
                  unit="batch"):
        with torch.no_grad():
            images = generator.synthesize(z[s:s + batch].to(generator.device))
        for k, v in measure(images, names, facenet, target_embedding).items():
            values[k].append(v)
    return z, {k: np.concatenate(v) for k, v in values.items() if v}
