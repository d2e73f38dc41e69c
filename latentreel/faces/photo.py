"""Loading photos people actually have: EXIF-rotated, RGBA, greyscale, 16-bit, CMYK, huge."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from latentreel.errors import PhotoError

MAX_SIDE = 2048  # larger photos are downscaled before detection: faces do not need more
MAX_PIXELS = 200_000_000  # refuse decompression bombs outright


def load_photo_with_mask(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 [H, W, 3] and, if the photo has an alpha channel, a mask [H, W] in [0, 1].

    Transparent areas are composited on mid-grey; the mask tells inversion to ignore them.

    Raises:
        PhotoError: missing, unreadable, empty or absurdly large files.
    """
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such photo; check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            img = Image.open(path)
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise PhotoError(f"{path}: not a readable image ({type(e).__name__}); use a JPEG or "
                         "PNG photo") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PhotoError(f"{path}: image is too large to open safely (over {MAX_PIXELS:,} "
                         "pixels); downscale it first") from None
    if img.width == 0 or img.height == 0:
        raise PhotoError(f"{path}: the image is empty")
    img = ImageOps.exif_transpose(img)  # phones store rotation in EXIF, not in pixels
    img = _to_8bit(img)
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    mask = None
    if "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3].astype(np.float32) / 255
        if alpha.min() < 1:
            mask = alpha
        grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        img = Image.alpha_composite(grey, rgba)
    return np.asarray(img.convert("RGB")), mask


def load_photo(path: Path) -> np.ndarray:
    """RGB uint8 [H, W, 3] (see load_photo_with_mask)."""
    return load_photo_with_mask(path)[0]


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale to 8 bits by their real range (PIL would clip)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray((arr / hi * 255).clip(0, 255).round().astype(np.uint8))
    if img.mode == "CMYK":
        return img.convert("RGB")
    return img
