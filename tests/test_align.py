"""Alignment: the similarity fit, the warp's geometry and anti-aliasing, the measured template,
and aligning a real face (skimage's astronaut, public domain)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage import data

from latentreel.errors import ModelError, PhotoError
from latentreel.faces.align import align_face, center_crop, similarity_transform, warp, warp_mask
from latentreel.faces.detect import detect_faces
from latentreel.faces.template import generator_template, measure_template, template_path

# dcgan-digiface's template: per-landmark median over the 479 of 512 generated faces (seed 0)
# in which MTCNN found a face with p >= 0.95 (measured by measure_template).
TEMPLATE = np.array([[0.35105, 0.46891], [0.66075, 0.46389], [0.50664, 0.66205],
                     [0.3724, 0.82478], [0.64223, 0.82182]])


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_similarity_transform_recovers_a_known_one():
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    rot, scale, t = _rotation(0.3), 1.7, np.array([5.0, -3.0])
    m = similarity_transform(src, scale * src @ rot.T + t)
    assert np.allclose(m[:, :2], scale * rot, atol=1e-9) and np.allclose(m[:, 2], t, atol=1e-9)


def test_similarity_transform_is_the_least_squares_fit():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    dst = 0.8 * src @ _rotation(-0.2).T + 7 + rng.normal(0, 2, (5, 2))
    m = similarity_transform(src, dst)

    def err(a, b, tx, ty):  # similarity matrices are [[a, -b], [b, a]]
        return np.square(src @ np.array([[a, -b], [b, a]]).T + (tx, ty) - dst).sum()

    best = err(m[0, 0], m[1, 0], *m[:, 2])
    for d in np.eye(4) * 1e-3:
        for sign in (1, -1):
            assert err(*(np.array([m[0, 0], m[1, 0], *m[:, 2]]) + sign * d)) > best


def test_similarity_transform_never_mirrors():
    src = np.random.default_rng(2).uniform(0, 100, (5, 2))
    m = similarity_transform(src, src * (-1, 1))  # a mirror image is not reachable
    assert np.linalg.det(m[:, :2]) > 0


def _blob(shape, centre, sigma=3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] + 0.5  # pixel centres
    g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2))
    return (g * 255).round().astype(np.uint8)


def _centroid(img: np.ndarray) -> np.ndarray:
    w = img.astype(np.float64)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]] + 0.5
    return np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()


@pytest.mark.parametrize("scale", [1.5, 0.9, 0.3, 0.12], ids=["enlarge", "slight", "shrink",
                                                              "strong-shrink"])
def test_warp_puts_points_where_the_matrix_says(scale):
    centre = np.array([141.3, 97.8])
    photo = np.repeat(_blob((240, 300), centre, sigma=4 / min(scale, 1))[..., None], 3, 2)
    m = np.hstack([scale * _rotation(0.4), [[0.0], [0.0]]])
    m[:, 2] = 32 - m[:, :2] @ centre  # the blob's centre goes to the crop's centre (32, 32)
    out = warp(photo, m, 64, fill=0)
    assert np.abs(_centroid(out[..., 0]) - 32).max() < 0.25


def test_strong_shrinks_are_anti_aliased():
    stripes = np.zeros((800, 800, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: any aliasing shows as bands
    out = warp(stripes, np.array([[0.1, 0.0, 10.0], [0.0, 0.1, 10.0]]), 60)
    inside = out[2:-2, 2:-2, 0].astype(float)
    assert abs(inside.mean() - 127.5) < 3 and inside.std() < 3


def test_outside_the_photo_is_grey_and_masked():
    photo = np.full((100, 100, 3), 250, np.uint8)
    m = np.array([[1.0, 0.0, 30.0], [0.0, 1.0, 0.0]])  # shifted right: left 30 px are outside
    out = warp(photo, m, 64)
    assert tuple(out[32, 5]) == (128, 128, 128) and tuple(out[32, 50]) == (250, 250, 250)
    mask = warp_mask(np.ones((100, 100)), m, 64)
    assert mask[:, :29].max() == 0 and mask[:, 31:].min() == 1


def test_astronaut_aligns_onto_the_template(astronaut):
    a = align_face(astronaut, TEMPLATE, 160)
    assert a.crop.shape == (160, 160, 3) and a.crop.dtype == np.uint8
    # The 5-point fit's residual: she smiles wider than the generator's average face.
    residual = np.abs(a.landmarks - TEMPLATE * 160)
    assert residual.max() < 8 and residual.mean() < 4
    assert a.coverage.min() == 1  # the crop lies inside the photo
    # Detected again in the warped image, the landmarks are where the matrix moved them: the
    # warp is right. MTCNN needs the whole face (the tight crop cuts the chin), so the same
    # warp is taken with 40 px more of the photo on each side.
    wide = align_face(astronaut, (TEMPLATE * 160 + 40) / 240, 240)
    assert np.allclose(wide.matrix[:, :2], a.matrix[:, :2])
    again = detect_faces(wide.crop)[0].landmarks - 40
    # MTCNN's own landmark noise is a pixel or two; the warp's geometry is checked to a
    # fraction of a pixel with synthetic blobs above.
    assert np.abs(again - a.landmarks).max() < 4 and np.abs(again - a.landmarks).mean() < 1.5


def _two_faces(astronaut) -> np.ndarray:
    face = np.asarray(Image.fromarray(astronaut[0:260, 110:350]).resize((120, 130),
                                                                         Image.LANCZOS))
    small = np.asarray(Image.fromarray(face).resize((60, 65), Image.LANCZOS))
    canvas = np.full((150, 210, 3), 200, np.uint8)
    canvas[50:115, 0:60] = small  # the small face on the left, so order is not position
    canvas[10:140, 80:200] = face
    return canvas


def test_largest_face_is_the_default_and_face_index_picks_others(astronaut):
    canvas = _two_faces(astronaut)
    big = align_face(canvas, TEMPLATE, 64)
    assert big.box[0] >= 75
    assert np.array_equal(align_face(canvas, TEMPLATE, 64, face_index=0).crop, big.crop)
    small = align_face(canvas, TEMPLATE, 64, face_index=1)
    assert small.box[2] <= 65
    for bad in (2, -1):
        with pytest.raises(PhotoError, match=r"two\.png: face .* but 2 face\(s\) were found"):
            align_face(canvas, TEMPLATE, 64, face_index=bad, source="two.png")


def test_no_face_says_no_align():
    noise = np.random.default_rng(1).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    with pytest.raises(PhotoError, match=r"noise\.png: no face was found.*--no-align"):
        align_face(noise, TEMPLATE, 64, source="noise.png")


def test_center_crop_takes_the_middle_square():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 255
    out = center_crop(img, 32)
    assert out.shape == (32, 32, 3) and out.min() == 255


def test_measured_template_matches_the_stored_one(dcgan, monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path))
    # Cached per model name with its face count; a second call reads the file.
    first = generator_template(dcgan, n=16)
    saved = json.loads(template_path(dcgan.name).read_text())
    assert saved["samples"] == 16 and saved["faces"] >= 12
    assert np.array_equal(np.array(saved["landmarks"]), first)
    assert np.abs(first - TEMPLATE).max() < 0.03
    monkeypatch.setattr("latentreel.faces.template.measure_template",
                        lambda *a, **k: pytest.fail("measured again despite the cache"))
    assert np.array_equal(generator_template(dcgan), first)


def test_unusable_template_cache_is_measured_again(dcgan, monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path))
    template_path(dcgan.name).write_text('{"version": 2, "landmarks": [[0.5, 0.5]]}')
    fake = {"version": 2, "landmarks": TEMPLATE.tolist(), "faces": 1, "samples": 1}
    monkeypatch.setattr("latentreel.faces.template.measure_template", lambda g, n: fake)
    assert np.allclose(generator_template(dcgan), TEMPLATE)
    assert json.loads(template_path(dcgan.name).read_text()) == fake
    # A template measured the old way (no version) is measured again too.
    template_path(dcgan.name).write_text(json.dumps({**fake, "version": None}))
    fake["landmarks"] = (TEMPLATE + 0.01).tolist()
    assert np.allclose(generator_template(dcgan), TEMPLATE + 0.01)


def test_a_generator_without_faces_cannot_be_measured():
    import torch

    class Blank:  # a "generator" that draws flat grey squares
        name, z_dim, resolution, device = "blank", 4, 32, torch.device("cpu")

        def synthesize(self, z, space="z"):
            return torch.zeros(len(z), 3, 32, 32)

    with pytest.raises(ModelError, match="blank: MTCNN found a face in only 0 of 8.*--no-align"):
        measure_template(Blank(), n=8)
