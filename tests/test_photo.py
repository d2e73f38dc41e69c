"""Photo loading: every image is made here, in tmp_path, in the form people's photos come in."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from latentreel.errors import PhotoError
from latentreel.faces.photo import MAX_SIDE, load_photo, load_photo_with_mask

RNG = np.random.default_rng(0)
PATTERN = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _stripe(h: int = 20, w: int = 40) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :10] = 255  # white stripe on the left edge as stored
    return img


@pytest.mark.parametrize("orientation,shape,white", [
    (1, (20, 40, 3), "left"), (3, (20, 40, 3), "right"),
    (6, (40, 20, 3), "top"), (8, (40, 20, 3), "bottom"),
], ids=["upright", "rotated-180", "rotated-90-cw", "rotated-90-ccw"])
def test_exif_orientation_is_applied(tmp_path, orientation, shape, white):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_stripe()).save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_photo(tmp_path / "r.jpg")
    assert out.shape == shape
    edge = {"left": out[:, :8], "right": out[:, -8:], "top": out[:8], "bottom": out[-8:]}
    assert edge[white].mean() > 200 and out.mean() < 100


def test_rgba_gives_a_mask_and_grey_background(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 8:, 3] = 255
    rgba[:, 4, 3] = 64  # a half-transparent column
    Image.fromarray(rgba).save(tmp_path / "a.png")
    rgb, mask = load_photo_with_mask(tmp_path / "a.png")
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert mask.shape == (16, 16) and mask.dtype == np.float32
    assert mask[:, :4].max() == 0 and mask[:, 8:].min() == 1
    assert mask[0, 4] == pytest.approx(64 / 255)
    assert tuple(rgb[0, 0]) == (128, 128, 128) and tuple(rgb[0, 15]) == (255, 0, 0)
    assert abs(int(rgb[0, 4, 0]) - round(128 + (255 - 128) * 64 / 255)) <= 1


def test_opaque_alpha_gives_no_mask(tmp_path):
    rgba = np.dstack([PATTERN, np.full(PATTERN.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "o.png")
    rgb, mask = load_photo_with_mask(tmp_path / "o.png")
    assert mask is None and np.array_equal(rgb, PATTERN)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "1"])
def test_greyscale_and_palette_become_rgb(tmp_path, mode):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))  # [8, 64] ramp
    img = Image.fromarray(grey).convert(mode)
    img.save(tmp_path / "g.png")
    rgb, mask = load_photo_with_mask(tmp_path / "g.png")
    assert rgb.shape == (8, 64, 3) and mask is None
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    if mode != "1":
        assert np.abs(rgb[..., 0].astype(int) - grey).max() <= 2


def test_palette_transparency_gives_a_mask(tmp_path):
    img = Image.fromarray(PATTERN).convert("P", palette=Image.ADAPTIVE, colors=8)
    index = np.asarray(img)[0, 0]
    img.save(tmp_path / "t.png", transparency=int(index))
    rgb, mask = load_photo_with_mask(tmp_path / "t.png")
    assert mask is not None and mask[0, 0] == 0 and mask.max() == 1
    assert tuple(rgb[0, 0]) == (128, 128, 128)


def test_16bit_greyscale_is_scaled_not_clipped(tmp_path):
    ramp = (np.arange(64 * 16).reshape(16, 64) * 64).astype(np.uint16)  # 0 .. 65472
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    out = load_photo(tmp_path / "g16.png")
    expected = np.round(ramp / 65535 * 255)
    assert np.abs(out[..., 0] - expected).max() <= 1 and out.max() >= 254


def test_16bit_rgb_png_keeps_its_colours(tmp_path):
    rgb16 = PATTERN.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    assert cv2.imread(str(tmp_path / "c16.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert np.array_equal(load_photo(tmp_path / "c16.png"), PATTERN)


def test_float_tiff_in_unit_range(tmp_path):
    x = np.linspace(0, 1, 32 * 8, dtype=np.float32).reshape(8, 32)
    Image.fromarray(x).save(tmp_path / "f.tif")
    out = load_photo(tmp_path / "f.tif")
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.fromarray(PATTERN).convert("CMYK").save(tmp_path / "c.jpg", quality=98)
    out = load_photo(tmp_path / "c.jpg")
    assert out.shape == PATTERN.shape and np.abs(out.astype(int) - PATTERN).mean() < 8


def test_srgb_profile_round_trips(tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(PATTERN).save(tmp_path / "s.png", icc_profile=profile)
    assert np.abs(load_photo(tmp_path / "s.png").astype(int) - PATTERN).max() <= 1


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_huge_photos_are_downscaled(tmp_path, fmt):
    big = np.zeros((3000, 5000, 3), np.uint8)
    big[:, :2500] = (200, 40, 40)
    Image.fromarray(big).save(tmp_path / f"big.{fmt}")
    out = load_photo(tmp_path / f"big.{fmt}")
    assert out.shape == (1229, MAX_SIDE, 3)
    assert np.abs(out[600, 100].astype(int) - (200, 40, 40)).max() < 6


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and holds none: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.repeat(np.repeat(PATTERN, 8, 0), 8, 1)).save(buf, "JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


@pytest.mark.parametrize("content,match", [
    (None, "no such photo; check the path"),
    (b"", "not a readable image"),
    (b"\x89PNG\r\n\x1a\nbroken", "not a readable image"),
    (b"hello, this is text", "not a readable image"),
    (_truncated_jpeg(), "not a readable image"),
    (_png_header_only(20000, 20000), "too large to open safely.*downscale it"),
    (_png_header_only(14000, 12000), "too large to open safely.*14000x12000.*downscale it"),
], ids=["missing", "empty", "corrupt-png", "not-an-image", "truncated-jpeg", "bomb-over-pil-limit",
        "bomb-over-our-limit"])
def test_bad_photos_raise_one_line_photo_errors(tmp_path, content, match):
    path = tmp_path / "p.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PhotoError, match=match) as info:
        load_photo(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_folder_is_not_a_photo(tmp_path):
    with pytest.raises(PhotoError, match="is a folder"):
        load_photo(tmp_path)


def test_photo_without_a_face_says_how_to_skip_alignment(tmp_path):
    from latentreel.faces.align import align_face

    yy, xx = np.mgrid[0:120, 0:160]
    landscape = np.dstack([xx * 255 // 160, yy * 255 // 120, np.full_like(xx, 90)])
    path = tmp_path / "landscape.png"
    Image.fromarray(landscape.astype(np.uint8)).save(path)
    template = np.array([[0.35, 0.48], [0.66, 0.48], [0.5, 0.69], [0.37, 0.85], [0.64, 0.85]])
    with pytest.raises(PhotoError, match=r"landscape\.png: no face was found.*--no-align"):
        align_face(load_photo(path), template, 64, source=path)
