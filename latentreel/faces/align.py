"""FFHQ-style alignment from 5 landmarks, to the generator's own face template (no dlib).

A generator draws faces with the eyes and mouth in roughly fixed places. Measuring those
places (MTCNN over many generated faces) and warping each photo with the similarity
transform that puts its landmarks there gives inversion a target it can actually reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentreel.cache import atomic_write_path, cache_dir
from latentreel.errors import PhotoError
from latentreel.faces.detect import detect_faces, detect_faces_batch

DETECT_SIZE = 160  # generated faces are upscaled to this before MTCNN (min face ~20 px)


@dataclass(frozen=True)
class AlignedFace:
    crop: np.ndarray  # uint8 [size, size, 3]
    matrix: np.ndarray  # [2, 3] photo pixel -> crop pixel
    landmarks: np.ndarray  # [5, 2] the photo's landmarks, in crop pixels after warping
    box: np.ndarray  # [4] the face's box in the photo


def measure_template(generator, n: int = 512, seed: int = 0, batch: int = 64) -> dict:
    """Mean landmark positions of ``n`` generated faces, normalised to [0, 1]."""
    from latentreel.models.base import to_uint8

    rng = torch.Generator().manual_seed(seed)
    found = []
    for start in range(0, n, batch):
        z = torch.randn(min(batch, n - start), generator.z_dim, generator=rng)
        with torch.no_grad():
            img = generator.synthesize(z.to(generator.device))
            img = torch.nn.functional.interpolate(img, size=(DETECT_SIZE, DETECT_SIZE),
                                                  mode="bilinear", align_corners=False)
        for faces in detect_faces_batch(to_uint8(img).cpu().numpy(), min_prob=0.95):
            if faces:
                found.append(faces[0].landmarks / DETECT_SIZE)
    if len(found) < max(4, n // 10):
        raise RuntimeError(f"MTCNN found faces in only {len(found)} of {n} generated images")
    pts = np.stack(found)
    return {"landmarks": np.median(pts, 0).tolist(), "faces": len(found), "samples": n,
            "spread": pts.std(0).mean().item()}


def generator_template(generator, n: int = 512) -> np.ndarray:
    """The cached template of ``generator`` ([5, 2] in [0, 1]); measured on first use."""
    path = cache_dir("templates") / f"{generator.name}.json"
    if path.is_file():
        return np.asarray(json.loads(path.read_text())["landmarks"])
    template = measure_template(generator, n=n)
    tmp = atomic_write_path(path)
    tmp.write_text(json.dumps(template, indent=1))
    tmp.replace(path)
    return np.asarray(template["landmarks"])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The [2, 3] rotation + uniform scale + translation mapping src points onto dst
    in the least-squares sense (Umeyama's closed form)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / s.var(0).sum()
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def warp(image: np.ndarray, matrix: np.ndarray, size: int,
         resample=Image.BICUBIC) -> np.ndarray:
    """Apply the photo -> crop ``matrix``, anti-aliased when it shrinks a lot."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    img = Image.fromarray(image)
    factor = max(1, int(1 / (2 * scale))) if scale < 0.5 else 1
    if factor > 1:  # shrink first with a proper filter: bicubic sampling alone would alias
        img = img.reduce(factor)
        matrix = matrix @ np.diag([factor, factor, 1.0])
    full = np.vstack([matrix, [0, 0, 1]])
    inv = np.linalg.inv(full)[:2].ravel()  # PIL maps output pixels back to input pixels
    out = img.transform((size, size), Image.AFFINE, data=tuple(inv), resample=resample)
    return np.asarray(out)


def warp_mask(mask: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    m = warp((mask * 255).astype(np.uint8), matrix, size, Image.BILINEAR)
    return m.astype(np.float32) / 255


def align_face(image: np.ndarray, template: np.ndarray, size: int, *,
               face_index: int | None = None, source: Path | str = "photo") -> AlignedFace:
    """Warp the chosen face of ``image`` so its landmarks land on ``template`` * size.

    Raises:
        PhotoError: no face found (the message says how to force a crop), or no face N.
    """
    faces = detect_faces(image)
    if not faces:
        raise PhotoError(f"{source}: no face was found; use a clearer, front-facing photo, or "
                         "--no-align (align: false in a scene) to use a centre crop as it is")
    index = 0 if face_index is None else face_index
    if index >= len(faces):
        raise PhotoError(f"{source}: --face {index} asked for, but only {len(faces)} "
                         f"face(s) found; use --face 0..{len(faces) - 1} (0 is the largest)")
    face = faces[index]
    matrix = similarity_transform(face.landmarks, np.asarray(template) * size)
    crop = warp(image, matrix, size)
    moved = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(crop=crop, matrix=matrix, landmarks=moved, box=face.box)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The largest central square, resized to ``size`` (for --no-align)."""
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(image[top:top + s, left:left + s])
    return np.asarray(square.resize((size, size), Image.LANCZOS))
