"""Loading photos people actually have: EXIF-rotated, RGBA, greyscale, palette, 16-bit, CMYK,
colour-managed, huge.

Everything comes out as 8-bit sRGB [H, W, 3], at most ``MAX_SIDE`` pixels on its longest side
(faces need no more, and MTCNN's image pyramid grows with the pixel count).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from latentreel.errors import PhotoError

MAX_SIDE = 2048  # larger photos are downscaled before detection
# Refuse more pixels than this before decoding: a small file can claim a huge canvas
# (a decompression bomb). 160 MP is above any camera's. PIL itself refuses over 179 MP
# (twice its MAX_IMAGE_PIXELS) while opening; that gets the same message.
MAX_PIXELS = 160_000_000
GREY = (128, 128, 128)  # transparent areas are composited on this mid-grey


def load_photo(path: Path | str) -> np.ndarray:
    """RGB uint8 [H, W, 3] (see ``load_photo_with_mask``)."""
    return load_photo_with_mask(path)[0]


def load_photo_with_mask(path: Path | str) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 [H, W, 3] and, if the photo has transparent pixels, a mask [H, W] float32
    in [0, 1] (1 = opaque). Transparent areas are composited on mid-grey; the mask tells
    inversion to ignore them.

    Raises:
        PhotoError: missing, unreadable, corrupt, empty or absurdly large files.
    """
    path = Path(path)
    img = _decode(path)
    img = _to_8bit(img)
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    img = _to_srgb(img, "RGBA" if has_alpha else "RGB")
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    if not has_alpha:
        return np.asarray(img), None
    alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255
    flat = Image.alpha_composite(Image.new("RGBA", img.size, (*GREY, 255)), img)
    rgb = np.asarray(flat.convert("RGB"))
    return rgb, (alpha if alpha.min() < 1 else None)


def check_photo(path: Path | str, *, min_side: int = 0) -> tuple[int, int]:
    """Check that ``path`` opens as a photo of a usable size, reading its header only (cheap:
    commands call it before loading any model). Returns (width, height).

    Args:
        min_side: the smallest width and height accepted (faces.detect.MIN_FACE when a face
            is to be found in it; 0 for a centre crop).

    Raises:
        PhotoError: missing, a folder, unreadable, not an image, empty, too small or too large.
    """
    path = Path(path)
    _check_file(path)
    with _reading(path), Image.open(path) as img:
        width, height = img.size
    _check_size(path, width, height)
    if min(width, height) < min_side:
        raise PhotoError(too_small(path, width, height, min_side))
    return width, height


def photo_problem(path: Path, min_side: int = 0) -> str | None:
    """What check_photo finds wrong with ``path``, or None (for checks that collect problems,
    such as a scene's)."""
    try:
        check_photo(path, min_side=min_side)
    except PhotoError as e:
        return str(e)
    return None


def face_photo_problem(path: Path) -> str | None:
    """photo_problem for a photo whose face will be looked for."""
    from latentreel.faces.detect import MIN_FACE

    return photo_problem(path, MIN_FACE)


def too_small(source: Path | str, width: int, height: int, min_side: int) -> str:
    return (f"{source}: the image is {width}x{height} pixels, too small to find a face in "
            f"(a face needs at least {min_side}x{min_side}); use a larger photo")


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise PhotoError(f"{path}: is a folder, not a photo; give the path of an image file")
    if not path.is_file():
        raise PhotoError(f"{path}: no such photo; check the path")


def _decode(path: Path) -> Image.Image:
    """Open, check the size from the header, decode and apply EXIF orientation."""
    _check_file(path)
    with _reading(path), Image.open(path) as img:  # reads the header only
        _check_size(path, *img.size)
        _draft(img)
        img.load()
        # Phones store the rotation in EXIF, not in the pixels.
        return ImageOps.exif_transpose(img)


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """PIL's and the OS's errors while reading ``path`` as one-line PhotoErrors."""
    try:
        with warnings.catch_warnings():
            # Size is checked with a clear message; PIL's own warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        raise PhotoError(_too_large(path, *_claimed_size(path))) from None
    except PermissionError as e:
        raise PhotoError(f"{path}: cannot be read ({e.strerror}); check its permissions") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, UnidentifiedImageError):
            detail = "unknown or damaged image format"
        raise PhotoError(f"{path}: not a readable image ({detail}); use a JPEG or PNG "
                         "photo") from None


def _claimed_size(path: Path) -> tuple[int, int]:
    """The size the header of a file PIL refused as a decompression bomb claims. PIL's limit
    is lifted only to read that header; nothing is decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError, SyntaxError, EOFError):
        return 0, 0  # unreadable the second time: the message says "over PIL's limit"
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _draft(img: Image.Image) -> None:
    """JPEG: decode at 1/2, 1/4 or 1/8 scale straight away when that still leaves the longest
    side at least MAX_SIDE (much faster, less memory); a no-op for other formats."""
    f = MAX_SIDE / max(img.size)
    if f < 1:
        img.draft(img.mode, (max(1, int(img.width * f)), max(1, int(img.height * f))))


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise PhotoError(f"{path}: the image is empty ({width}x{height} pixels); use a photo")
    if width * height > MAX_PIXELS:
        raise PhotoError(_too_large(path, width, height))


def _too_large(path: Path, width: int, height: int) -> str:
    size = (f"{width}x{height} pixels, {width * height / 1e6:.0f} megapixels" if width * height
            else "over PIL's limit")
    return (f"{path}: the image is too large to open safely ({size}; the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels); downscale it first")


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale to 8 bits by their real range (PIL would clip)."""
    if img.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return img  # 16-bit RGB(A) PNG and TIFF already decode to 8 bits per channel
    arr = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        top = 65535.0
    else:  # 32-bit int or float: 8-bit, 16-bit or unit range, judged by the values
        peak = float(arr.max()) if arr.size else 0.0
        top = next((t for t in (1.0, 255.0, 65535.0) if peak <= t), peak)
        if top == 1.0 and img.mode == "I":
            top = 255.0
    out = Image.fromarray((arr / top * 255).clip(0, 255).round().astype(np.uint8))
    out.info = dict(img.info)
    return out


def _to_srgb(img: Image.Image, mode: str) -> Image.Image:
    """Convert to ``mode`` ("RGB" or "RGBA") in sRGB, through the embedded ICC profile
    when there is one (Display P3 phone photos, CMYK print files)."""
    managed = _apply_profile(img, mode)
    img = img if managed is None else managed
    return img if img.mode == mode else img.convert(mode)


def _apply_profile(img: Image.Image, mode: str) -> Image.Image | None:
    profile = img.info.get("icc_profile")
    if not profile or img.mode not in ("RGB", "RGBA", "CMYK"):
        return None
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"),
                                         outputMode=mode if img.mode != "CMYK" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile is ignored, as browsers do
