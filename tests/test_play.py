"""`latentreel play` in a real SDL window (the dummy video driver: no screen needed)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app


def test_play_shows_frames_in_a_window(write_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    scene = write_scene("output: {fps: 30, size: 96}\ndefaults: {hold: 0, transition: 0.5}\n"
                        "keyframes: [{seed: 1}, {seed: 2}]\n")
    shot = tmp_path / "shot.png"
    # 40 frames is more than the 30-frame loop: the scene wraps around while playing.
    r = CliRunner().invoke(app, ["play", str(scene), "--frames", "40", "--screenshot", str(shot)])
    assert r.exit_code == 0, r.output
    assert "showed 40 frames" in r.output
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (96, 96, 3)
    assert img.std() > 10  # a face, not a blank window
