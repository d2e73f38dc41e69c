"""5-point similarity alignment of photos to the generator's own face template (no dlib).

A generator draws faces with the eyes and mouth in roughly fixed places. Measuring those
places (MTCNN over many generated faces) and warping each photo with the similarity
transform that puts its landmarks there gives inversion a target it can actually reach.

Coordinates are continuous pixels: pixel (i, j) covers [j, j + 1] x [i, i + 1], as in PIL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from latentreel.errors import PhotoError
from latentreel.faces.detect import MIN_FACE, detect_faces
from latentreel.faces.photo import too_small

GREY = (128, 128, 128)  # fill outside the photo, as photo.py composites transparency
PRESHRINK_BELOW = 0.75  # scales below this are first done by an anti-aliased resize


@dataclass(frozen=True)
class AlignedFace:
    crop: np.ndarray  # uint8 [size, size, 3]
    matrix: np.ndarray  # [2, 3] photo pixel -> crop pixel
    landmarks: np.ndarray  # [5, 2] the face's landmarks moved into crop pixels
    box: np.ndarray  # [4] x0, y0, x1, y1: the face's box in the photo
    coverage: np.ndarray | None = None  # float32 [size, size]: 1 where the crop saw the photo


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The [2, 3] rotation + uniform scale + translation that maps points ``src`` [K, 2]
    onto ``dst`` [K, 2] in the least-squares sense (Umeyama's closed form, no reflection)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = s.var(0).sum()
    if var_s < 1e-12:
        raise ValueError("similarity_transform: the source points coincide")
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / var_s
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def _full(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def _preshrink(img: Image.Image, matrix: np.ndarray, size: int,
               scale: float) -> tuple[Image.Image, np.ndarray]:
    """Resize (anti-aliased) just the part of the photo the crop sees, by about ``scale``;
    returns that smaller image and the matrix from its pixels to crop pixels."""
    inv = np.linalg.inv(_full(matrix))
    corners = inv @ np.array([[0, size, 0, size], [0, 0, size, size], [1, 1, 1, 1]], float)
    pad = 4 / scale  # room for the filters at the region's edges
    x0, y0 = np.floor(corners[:2].min(1) - pad).astype(int).clip(0, img.size)
    x1, y1 = np.ceil(corners[:2].max(1) + pad).astype(int).clip(0, img.size)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the crop misses the photo: nothing to shrink
        return img, matrix
    w, h = x1 - x0, y1 - y0
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = img.resize((nw, nh), Image.LANCZOS, box=(x0, y0, x1, y1))
    to_photo = np.array([[w / nw, 0, x0], [0, h / nh, y0], [0, 0, 1]], float)
    return small, (_full(matrix) @ to_photo)[:2]


def warp(image: np.ndarray, matrix: np.ndarray, size: int, resample=Image.BICUBIC,
         fill: tuple[int, ...] | int = GREY) -> np.ndarray:
    """Apply the photo -> crop ``matrix`` [2, 3] to ``image`` [H, W, 3] (or [H, W]) uint8,
    giving [size, size, 3] (or [size, size]); outside the photo is ``fill``.

    Bicubic sampling alone aliases when it shrinks, so strong shrinks first resize the
    region the crop sees with PIL's anti-aliased Lanczos filter, then rotate and place it.
    """
    img = Image.fromarray(image)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < PRESHRINK_BELOW:
        img, matrix = _preshrink(img, matrix, size, scale)
    inv = np.linalg.inv(_full(matrix))[:2].ravel()  # PIL maps crop pixels back to the photo
    out = img.transform((size, size), Image.AFFINE, data=tuple(inv), resample=resample,
                        fillcolor=fill)
    return np.asarray(out)


def warp_mask(mask: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp a float mask [H, W] in [0, 1] like its photo; outside the photo is 0."""
    m = warp((np.clip(mask, 0, 1) * 255).round().astype(np.uint8), matrix, size,
             Image.BILINEAR, fill=0)
    return m.astype(np.float32) / 255


def coverage(matrix: np.ndarray, photo_shape: tuple[int, ...], size: int) -> np.ndarray:
    """float32 [size, size]: 1 where a crop pixel's centre falls inside the photo."""
    centres = np.arange(size) + 0.5
    xx, yy = np.meshgrid(centres, centres)
    inv = np.linalg.inv(_full(matrix))
    px = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    py = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    h, w = photo_shape[:2]
    return ((px >= 0) & (px <= w) & (py >= 0) & (py <= h)).astype(np.float32)


def align_face(image: np.ndarray, template: np.ndarray, size: int, *,
               face_index: int | None = None, source: Path | str = "photo") -> AlignedFace:
    """Warp a face of ``image`` [H, W, 3] uint8 so its 5 landmarks land on ``template``
    [5, 2] (in [0, 1]) times ``size``.

    Args:
        face_index: which face, 0-based by size (0 = largest, the default).
        source: the photo's name, for error messages.

    Raises:
        PhotoError: an image too small to hold a face, no face found (the message says how
            to force a centre crop), or no face number ``face_index``.
    """
    template = np.asarray(template, np.float64)
    if template.shape != (5, 2):
        raise ValueError(f"a face template is [5, 2] landmarks, got {list(template.shape)}")
    if min(image.shape[:2]) < MIN_FACE:
        raise PhotoError(too_small(source, image.shape[1], image.shape[0], MIN_FACE))
    faces = detect_faces(image)
    if not faces:
        raise PhotoError(f"{source}: no face was found in it; use a clearer, front-facing "
                         "photo, or --no-align (align: false in a scene) to use a centre crop")
    index = 0 if face_index is None else face_index
    if not 0 <= index < len(faces):
        raise PhotoError(f"{source}: face {index} asked for, but {len(faces)} face(s) were "
                         f"found; use --face 0..{len(faces) - 1} (0 is the largest)")
    face = faces[index]
    matrix = similarity_transform(face.landmarks, template * size)
    moved = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    return AlignedFace(crop=warp(image, matrix, size), matrix=matrix, landmarks=moved,
                       box=face.box, coverage=coverage(matrix, image.shape, size))


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The largest central square of ``image`` [H, W, ...] resized to ``size`` (Lanczos):
    what --no-align uses instead of a detected face."""
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(image[top:top + s, left:left + s])
    return np.asarray(square.resize((size, size), Image.LANCZOS))

