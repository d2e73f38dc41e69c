"""Faces end to end: photo loading, detection and alignment on real photos, FaceNet identity.

The OpenCV cross-check of the converted FaceNet lives in test_facenet.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from latentreel.errors import PhotoError
from latentreel.faces.align import align_face, center_crop, similarity_transform
from latentreel.faces.photo import load_photo, load_photo_with_mask

# The DCGAN's measured template (median MTCNN landmarks over 243 of 256 generated faces).
TEMPLATE = np.array([[0.346, 0.484], [0.664, 0.480], [0.503, 0.689], [0.372, 0.857],
                     [0.645, 0.852]])


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def test_exif_rotation_is_applied(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :10] = 255  # white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(img).save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_photo(tmp_path / "r.jpg")
    assert out.shape == (40, 20, 3)
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # stripe now on top


def test_rgba_gives_a_mask(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 8:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    rgb, mask = load_photo_with_mask(tmp_path / "a.png")
    assert rgb.shape == (16, 16, 3) and mask.shape == (16, 16)
    assert mask[:, :8].max() == 0 and mask[:, 8:].min() == 1
    assert tuple(rgb[0, 0]) == (128, 128, 128) and tuple(rgb[0, 15]) == (255, 0, 0)


@pytest.mark.parametrize("mode", ["L", "I;16", "CMYK", "P"])
def test_other_modes_become_rgb(tmp_path, mode):
    base = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    if mode == "I;16":
        img = Image.fromarray(base.astype(np.uint16) * 257)
    else:
        img = Image.fromarray(base).convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    out = load_photo(path)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    if mode == "I;16":  # 16-bit scaled by its range, not clipped to white
        assert abs(int(out[0, 5, 0]) - 5) <= 1 and out.max() == 255


def test_huge_photos_are_downscaled(tmp_path):
    Image.new("RGB", (5000, 3000), (10, 20, 30)).save(tmp_path / "big.png")
    assert load_photo(tmp_path / "big.png").shape == (1229, 2048, 3)


@pytest.mark.parametrize("content,match", [
    (None, "no such photo"), (b"", "not a readable image"),
    (b"\x89PNG\r\n\x1a\nbroken", "not a readable image"),
], ids=["missing", "empty", "corrupt"])
def test_bad_photos(tmp_path, content, match):
    path = tmp_path / "p.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PhotoError, match=match):
        load_photo(path)


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, t = 0.3, 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + t
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], scale * rot, atol=1e-9) and np.allclose(m[:, 2], t, atol=1e-9)


def test_astronaut_aligns_to_template(astronaut):
    a = align_face(astronaut, TEMPLATE, 64)
    assert a.crop.shape == (64, 64, 3)
    assert np.abs(a.landmarks - TEMPLATE * 64).max() < 4  # pixels at 64 px


def test_largest_face_first_and_face_index(astronaut):
    # Two copies of the face, one half size: face 0 is the big one.
    face = astronaut[0:260, 110:350]
    small = np.asarray(Image.fromarray(face).resize((120, 130)))
    canvas = np.full((300, 420, 3), 200, np.uint8)
    canvas[20:280, 0:240] = face
    canvas[100:230, 280:400] = small
    big = align_face(canvas, TEMPLATE, 64, face_index=0)
    other = align_face(canvas, TEMPLATE, 64, face_index=1)
    assert big.box[0] < 240 <= other.box[0]
    with pytest.raises(PhotoError, match=r"2 face\(s\) were found"):
        align_face(canvas, TEMPLATE, 64, face_index=5)


def test_no_face_says_no_align():
    noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    with pytest.raises(PhotoError, match="no face was found.*--no-align"):
        align_face(noise, TEMPLATE, 64, source="noise.png")
    assert center_crop(noise, 32).shape == (32, 32, 3)


def test_facenet_knows_the_same_person(astronaut, dcgan):
    from latentreel.faces.facenet import load_facenet

    fn = load_facenet()
    a = align_face(astronaut, TEMPLATE, 160).crop
    b = np.ascontiguousarray(a[:, ::-1])  # mirrored: the same person
    with torch.no_grad():
        z = torch.randn(8, 100, generator=torch.Generator().manual_seed(0))
        faces = dcgan.synthesize(z)
        emb = fn.embed(torch.from_numpy(np.stack([a, b])))
        rand = fn.embed(faces)
    same = float((emb[0] * emb[1]).sum())
    other = (emb[0:1] * rand).sum(1)
    assert same > 0.8 and same > float(other.max()) + 0.2
