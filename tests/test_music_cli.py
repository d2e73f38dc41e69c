"""`latentreel audio` (the features picture) and `play` with a scene's music."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from latentreel.cli import app
from tests.music_tracks import click_track


def test_audio_plots_a_scene_with_its_keyframes_and_reactions(write_scene, tmp_path):
    click_track(tmp_path / "clicks.wav", [0.5 * i + 0.26 for i in range(12)], 6.0, hum=0.05)
    scene = write_scene("""
        audio: clicks.wav
        react:
          - {feature: onsets, drive: pulse}
          - {feature: chroma, drive: chroma, amount: 0.2}
        keyframes: [{seed: 1}, {seed: 2, at: beat 4}, {seed: 3, at: 4.5}]
        """)
    out = tmp_path / "features.png"
    r = CliRunner().invoke(app, ["audio", str(scene), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "180 frames at 30 fps" in r.output and "3 keyframes, 2 reactions" in r.output
    assert np.asarray(Image.open(out)).std() > 10


def test_audio_refuses_a_file_that_is_not_sound_in_one_line(tmp_path):
    bad = tmp_path / "song.wav"
    bad.write_bytes(b"not a wav at all")
    r = CliRunner().invoke(app, ["audio", str(bad), "-o", str(tmp_path / "f.png")])
    assert r.exit_code == 2
    assert r.output.startswith(f"error: {bad}: cannot read it as sound")
    assert r.output.count("\n") == 1 and not (tmp_path / "f.png").exists()


def test_play_with_music_and_no_audio_device_says_so(write_scene, tmp_path, monkeypatch):
    import latentreel.audio.speaker as speaker

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setattr(speaker, "open_speaker", lambda path: (None, speaker.NO_DEVICE))
    click_track(tmp_path / "clicks.wav", [0.3, 0.6], 1.0)
    scene = write_scene("""
        audio: clicks.wav
        react: [{feature: onsets, drive: pulse}]
        output: {fps: 30, size: 64}
        keyframes: [{seed: 1}, {seed: 2}]
        """)
    r = CliRunner().invoke(app, ["play", str(scene), "--frames", "35"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == speaker.NO_DEVICE and lines[1].startswith("showed 35 frames"), lines
    assert len(lines) == 2


def test_the_readme_says_what_every_feature_and_drive_means():
    from pathlib import Path

    from latentreel.audio.drives import DRIVES
    from latentreel.audio.features import FEATURES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name, text in {**FEATURES, **{k: v.help for k, v in DRIVES.items()}}.items():
        assert f"| `{name}` | {text}" in readme, name
