"""Every command that takes a photo answers a bad one the same way: exit 2, one line that
names the file and the fix, no traceback, before any inversion runs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app

runner = CliRunner()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels and holds none (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _landscape(path: Path) -> None:
    yy, xx = np.mgrid[0:120, 0:160]
    Image.fromarray(np.dstack([xx * 255 // 160, yy * 255 // 120, np.full_like(xx, 90)])
                    .astype(np.uint8)).save(path)


PHOTOS = {  # name: (writes the file or None for a missing one, fragments of the message)
    "missing": (None, ["no such photo; check the path|not found (looked for"]),
    "not-an-image": (lambda p: p.write_text("hello"), ["not a readable image", "JPEG or PNG"]),
    "too-small": (lambda p: Image.new("RGB", (8, 8)).save(p, "PNG"),
                  ["8x8 pixels, too small to find a face in", "use a larger photo"]),
    "no-face": (_landscape, ["no face was found", "front-facing photo"]),
    "huge": (lambda p: p.write_bytes(_png_header(20000, 20000)),
             ["20000x20000 pixels, 400 megapixels; the limit is 160", "downscale it"]),
}


def _scene(tmp_path: Path, keyframe: str) -> list[str]:
    scene = tmp_path / "scene.yaml"
    scene.write_text("output: {fps: 2, size: 64}\n"
                     f"keyframes:\n  - {{seed: 1, name: a}}\n  - {keyframe}\n")
    return ["render", str(scene), "-q", "-o", str(tmp_path / "x.mp4")]


COMMANDS = {  # name: photo path -> argv
    "invert": lambda tmp, photo: ["invert", str(photo), "-o", str(tmp / "me.npz"), "-q",
                                  "--steps", "1"],
    "photo-keyframe": lambda tmp, photo: _scene(tmp, f"photo: {{path: {photo.name}, steps: 1}}"),
    "search-target": lambda tmp, photo: _scene(tmp, f"search: {{target: {photo.name}, "
                                                    "seconds: 0.1}"),
    "directions-from-photos": lambda tmp, photo: [
        "directions", "from-photos", "x", "--positive", str(photo), "--negative", str(photo),
        "--steps", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("photo", list(PHOTOS))
def test_bad_photos_exit_2_with_one_line(tmp_path, command, photo):
    write, fragments = PHOTOS[photo]
    path = tmp_path / "me.png"
    if write is not None:
        write(path)
    r = runner.invoke(app, COMMANDS[command](tmp_path, path))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert "me.png" in r.output, r.output
    for fragment in fragments:  # a|b: either wording
        assert any(f in r.output for f in fragment.split("|")), r.output
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "me.npz").exists()
