"""The generator's own face template: where its faces' eyes, nose and mouth sit on average.

Measured once per model with MTCNN over many generated faces and cached as JSON in the user
cache, so photos can be aligned to the framing the generator actually draws.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentreel.cache import atomic_write, cache_dir
from latentreel.errors import ModelError
from latentreel.faces.detect import detect_faces_batch

DETECT_SIZE = 160  # generated faces are resized to this before MTCNN (min face ~20 px)
# ... and framed by this much mid-grey on each side. Generated faces fill the frame, chin
# cut off; MTCNN then places the box and landmarks too low (mouth by ~0.03 of the height).
# Photos are detected in full context, so the template must be measured that way too.
DETECT_PAD = 40
TEMPLATE_MIN_PROB = 0.95  # only confident detections shape the template
# Generated faces fill most of the frame (DCGAN: ~115 of 160 px; FFHQ-style: ~half), so
# MTCNN need not look for small ones.
GENERATED_MIN_FACE = DETECT_SIZE // 3
TEMPLATE_VERSION = 2  # bump when the measurement changes, so cached templates are re-measured


def measure_template(generator, n: int = 512, seed: int = 0, batch: int = 64) -> dict:
    """Landmark positions of ``n`` generated faces (z drawn with NumPy from ``seed``).

    Returns:
        {"landmarks": [5][2] per-landmark median in [0, 1] (robust to the odd misplaced
        detection), "mean": the plain mean, "faces": how many of the n images had a
        confident face, "samples": n, "spread": mean std in [0, 1], and "version", "seed",
        "detect_size", "detect_pad" to say how it was measured}.

    Raises:
        ModelError: MTCNN found a face in fewer than a tenth of the images.
    """
    z_all = np.random.RandomState(seed).randn(n, generator.z_dim).astype(np.float32)
    found = []
    for start in range(0, n, batch):
        images = _detectable(generator, torch.from_numpy(z_all[start:start + batch]))
        for faces in detect_faces_batch(images, generator.device, TEMPLATE_MIN_PROB,
                                        GENERATED_MIN_FACE):
            if faces:
                found.append((faces[0].landmarks - DETECT_PAD) / DETECT_SIZE)
    if len(found) < max(4, n // 10):
        raise ModelError(f"{generator.name}: MTCNN found a face in only {len(found)} of {n} "
                         "generated images, too few to measure where its faces sit; use "
                         "--no-align (align: false in a scene) with this model")
    pts = np.stack(found)  # [F, 5, 2]
    return {"version": TEMPLATE_VERSION, "landmarks": np.median(pts, 0).round(5).tolist(),
            "mean": pts.mean(0).round(5).tolist(), "faces": len(found), "samples": n,
            "seed": seed, "detect_size": DETECT_SIZE, "detect_pad": DETECT_PAD,
            "spread": round(float(pts.std(0).mean()), 5)}


def _detectable(generator, z: torch.Tensor) -> np.ndarray:
    """Generated faces as uint8 [N, S, S, 3] for MTCNN, S = DETECT_SIZE + 2 * DETECT_PAD."""
    from latentreel.models.base import to_uint8

    with torch.no_grad():
        images = generator.synthesize(z.to(generator.device), "z")
        shrink = images.shape[-1] > DETECT_SIZE
        images = F.interpolate(images, size=(DETECT_SIZE, DETECT_SIZE), mode="bicubic",
                               align_corners=False, antialias=shrink)
        images = F.pad(images, (DETECT_PAD,) * 4, value=0.0)  # 0 is mid-grey in [-1, 1]
    return to_uint8(images).cpu().numpy()


def generator_template(generator, n: int = 512) -> np.ndarray:
    """The generator's landmark template [5, 2] in [0, 1], from the user cache or measured
    now (about a minute for n=512 on a CPU) and cached as JSON by model name.

    Raises:
        ModelError: MTCNN finds too few faces in the generator's images to measure them.
    """
    path = template_path(generator.name)
    cached = _read_template(path)
    if cached is not None:
        return cached
    template = measure_template(generator, n=n)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(template, indent=1))
    return np.asarray(template["landmarks"])


def template_path(name: str) -> Path:
    """The cache file for a model name (names of model files may hold any characters)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
    if slug != name:
        slug += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return cache_dir("templates") / f"{slug}.json"


def _read_template(path: Path) -> np.ndarray | None:
    """The cached landmarks, or None when missing, stale or unusable (then measured again)."""
    try:
        saved = json.loads(path.read_text())
        pts = np.asarray(saved["landmarks"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if saved.get("version") != TEMPLATE_VERSION:
        return None
    usable = pts.shape == (5, 2) and np.isfinite(pts).all() and (pts >= 0).all()
    return pts if usable and (pts <= 1).all() else None
