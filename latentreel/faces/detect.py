"""Face detection and 5-point landmarks with facenet-pytorch's MTCNN (weights in its wheel)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Landmark order: left eye, right eye, nose, mouth left, mouth right (as seen in the image).
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # [4] x0, y0, x1, y1 in pixels
    prob: float  # detector confidence
    landmarks: np.ndarray  # [5, 2] x, y in pixels

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


_MTCNN: dict[str, object] = {}


def mtcnn(device: torch.device | str = "cpu"):
    """One MTCNN per device (loading its three nets takes a moment)."""
    from facenet_pytorch import MTCNN

    key = str(device)
    if key not in _MTCNN:
        _MTCNN[key] = MTCNN(keep_all=True, device=torch.device(device), min_face_size=20)
    return _MTCNN[key]


def detect_faces(image: np.ndarray, device="cpu", min_prob: float = 0.9) -> list[Face]:
    """Faces in an RGB uint8 image [H, W, 3], largest first."""
    return detect_faces_batch(image[None], device, min_prob)[0]


def detect_faces_batch(images: np.ndarray, device="cpu", min_prob: float = 0.9) -> list[list[Face]]:
    """Faces in each of same-sized RGB uint8 images [N, H, W, 3], largest first per image."""
    with torch.no_grad():
        boxes, probs, points = mtcnn(device).detect(list(images), landmarks=True)
    out = []
    for b, p, pts in zip(boxes, probs, points):
        faces = [] if b is None else [
            Face(box=np.asarray(b[i], np.float64), prob=float(p[i]),
                 landmarks=np.asarray(pts[i], np.float64))
            for i in range(len(b)) if p[i] is not None and p[i] >= min_prob
        ]
        out.append(sorted(faces, key=lambda f: -f.area))
    return out
