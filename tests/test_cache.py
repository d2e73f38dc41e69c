"""cache.atomic_write, the one atomic write every room uses (cache files and videos alike)."""

from __future__ import annotations

import os

import pytest

from latentreel.cache import atomic_write
from latentreel.errors import RenderError
from latentreel.video.writer import atomic_output


def test_a_finished_write_replaces_the_file_and_leaves_no_partial(tmp_path):
    path = tmp_path / "sub" / "a.npz"
    with atomic_write(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".") and not path.exists()
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.npz"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with pytest.raises(ValueError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise ValueError("interrupted")
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]


def test_two_writers_of_one_file_never_share_a_partial(tmp_path):
    path = tmp_path / "a.pt"
    with atomic_write(path) as first, atomic_write(path) as second:
        assert first != second and first.suffix == second.suffix == ".pt"
        first.write_text("1")
        second.write_text("2")
    assert path.read_text() == "1"  # the outer block finishes last


def test_the_file_gets_the_permissions_of_a_new_file(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.png") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644


def test_an_output_in_an_unwritable_place_is_a_render_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RenderError, match="cannot write .*choose an output folder"):
        with atomic_output(tmp_path / "file" / "out.mp4"):
            pass
