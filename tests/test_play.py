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


def test_play_without_a_display_says_so_before_any_work(write_scene, monkeypatch):
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    scene = write_scene("model: dcgan-digiface\nkeyframes: [{seed: 1}, {seed: 2}]\n")
    r = CliRunner().invoke(app, ["play", str(scene), "--frames", "5"])
    assert r.exit_code == 2
    assert r.output.startswith("error: `latentreel play` cannot open a window: no display")
    assert r.output.count("\n") == 1 and "showed" not in r.output


def test_a_display_sdl_cannot_open_is_one_quiet_line(write_scene, tmp_path):
    """SDL falls back to drawing nowhere (or fails) and its libraries print warnings on the
    process's own stderr: a subprocess, to see what a terminal would."""
    import os
    import subprocess
    import sys

    scene = write_scene("output: {size: 32}\nkeyframes: [{seed: 1}, {seed: 2}]\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR")}
    env["DISPLAY"] = ":97"  # no X server listens there
    proc = subprocess.run([sys.executable, "-m", "latentreel", "play", str(scene), "--frames",
                           "3", "--device", "cpu"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open a window" in lines[0], proc.stderr
