"""Contact sheets and frame strips: sizes, readable labels, refused inputs, atomic PNGs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from latentreel.video.sheet import BACKGROUND, contact_sheet, frame_strip, save_png


def faces(n: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def ink(img: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels in ``box`` (left, top, right, bottom) that differ from the background."""
    region = np.asarray(img.crop(box)).astype(int)
    return int((np.abs(region - BACKGROUND).sum(-1) > 60).sum())


def test_grid_size_and_cells_hold_the_upscaled_images():
    sheet = contact_sheet(faces(6), cols=3, cell=64)
    assert sheet.size == (4 + 3 * 68, 4 + 2 * 68)
    img = np.full((1, 8, 8, 3), (200, 40, 90), np.uint8)
    one = np.asarray(contact_sheet(img, cell=32))
    assert (one[4:36, 4:36] == (200, 40, 90)).all()  # a flat image stays flat when scaled


def test_labels_title_and_row_labels_are_drawn():
    plain = contact_sheet(faces(4), cols=2, cell=64)
    sheet = contact_sheet(torch.from_numpy(faces(4)), [f"seed {i}" for i in range(4)], cols=2,
                          cell=64, title="seeds", row_labels=["row a", "row b"])
    w, h = sheet.size
    assert w > plain.size[0] and h > plain.size[1]
    left = w - plain.size[0]  # the row-label column
    top = 26  # title: a line (10 px font + 8) and 8 px
    assert ink(sheet, (left, 0, w, top)) > 20  # title
    assert ink(sheet, (0, top, left, h)) > 40  # row labels
    for i in range(4):  # a label under each cell
        x = left + 4 + (i % 2) * 68
        y = top + 4 + (i // 2) * (64 + 18 + 4) + 64
        assert ink(sheet, (x, y, x + 64, y + 18)) > 20, f"label {i}"
    assert ink(plain, (4, 68, 68, 72)) == 0  # no labels: no ink between rows


def test_long_labels_are_cut_to_the_cell():
    sheet = contact_sheet(faces(2), ["a label far too long for a small cell", "b"], cell=48)
    assert sheet.size[0] == 4 + 2 * 52
    gutter = ink(sheet, (48 + 4, 52, 48 + 8, sheet.size[1]))  # between the two cells
    assert gutter == 0


@pytest.mark.parametrize("images,kwargs,message", [
    (faces(3).astype(np.float32), {}, "uint8"),
    (faces(3)[..., 0], {}, r"\[3, 16, 16\]"),
    (faces(3), {"labels": ["a", "b"]}, "2 labels for 3 images"),
    (faces(4), {"cols": 2, "row_labels": ["a"]}, "1 row labels for 2 rows"),
], ids=["float", "grey", "labels", "row-labels"])
def test_bad_input_is_refused(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        contact_sheet(images, **kwargs)


def test_frame_strip_picks_evenly_spaced_frames():
    frames = np.zeros((30, 16, 32, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(30)[:, None, None] * 8  # red = frame index * 8
    strip = frame_strip(frames, n=4, cell=20)
    assert strip.size == (4 * 40, 20)
    reds = [np.asarray(strip)[10, 20 + 40 * k, 0] for k in range(4)]
    assert reds == [0, 80, 152, 232]  # frames 0, 10, 19, 29


def test_save_png_is_atomic_and_round_trips(tmp_path):
    sheet = contact_sheet(faces(2), cell=32)
    out = save_png(sheet, tmp_path / "sheets" / "s.png")
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(sheet))
    assert [p.name for p in out.parent.iterdir()] == ["s.png"]
