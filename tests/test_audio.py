"""Soundtracks: trimmed or looped to the video, video stream copied, bad files named."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from latentreel.errors import BadInputError
from latentreel.video.audio import mux_audio
from latentreel.video.probe import probe_video, read_audio, read_frames
from latentreel.video.writer import write_video

FPS = 10
RATE = 16000  # decoding rate for the checks


def sine_wav(path, seconds: float, rate: int = 8000, hz: float = 440.0):
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


@pytest.fixture
def video(tmp_path):
    """A 2.0 s silent video: 20 frames at 10 fps."""
    frames = np.random.default_rng(0).integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "v.mp4"
    write_video(path, [frames], fps=FPS, size=64, preset="veryfast")
    return path


@pytest.mark.parametrize("audio_seconds", [5.0, 0.7], ids=["trimmed", "looped"])
def test_sound_fills_exactly_the_video(tmp_path, video, audio_seconds):
    wav = sine_wav(tmp_path / "s.wav", audio_seconds)
    out = mux_audio(video, wav, tmp_path / "out" / "with-sound.mp4")
    info = probe_video(out)
    assert info.has_audio and (info.frames, info.codec, info.pix_fmt) == (20, "h264", "yuv420p")
    assert info.duration == pytest.approx(2.0, abs=2 / FPS)
    sound = read_audio(out, RATE)
    assert len(sound) / RATE == pytest.approx(2.0, abs=2 / FPS)
    tail = sound[-int(0.3 * RATE):-int(0.05 * RATE)]
    assert np.sqrt(np.mean(tail ** 2)) > 0.2  # still sounding at the end: looped, not padded
    assert np.array_equal(read_frames(out), read_frames(video))  # video copied, not re-encoded
    assert sorted(p.name for p in out.parent.iterdir()) == ["with-sound.mp4"]


def test_sound_can_replace_the_video_in_place(tmp_path, video):
    mux_audio(video, sine_wav(tmp_path / "s.wav", 1.0), video)
    assert probe_video(video).has_audio
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav", "v.mp4"]


@pytest.mark.parametrize("content,message", [
    (None, "no such audio file"),
    (b"RIFF this is not a wave file", "cannot read it as sound"),
], ids=["missing", "garbage"])
def test_bad_audio_is_bad_input_naming_the_file(tmp_path, video, content, message):
    wav = tmp_path / "song.wav"
    if content is not None:
        wav.write_bytes(content)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(BadInputError, match=message) as err:
        mux_audio(video, wav, out)
    assert str(wav) in str(err.value)
    assert out.read_bytes() == b"previous"
    assert not list(tmp_path.glob(".*partial*"))


def test_muxing_in_place_that_fails_leaves_no_silent_video(tmp_path, video):
    garbage = tmp_path / "song.wav"
    garbage.write_bytes(b"RIFF this is not a wave file")
    with pytest.raises(BadInputError):
        mux_audio(video, garbage, video)
    assert not video.exists()


@pytest.mark.parametrize("content,message", [
    (b"RIFF this is not a wave file", "holds no sound ffmpeg can read"),
    ("video", "holds no sound ffmpeg can read"),  # a silent video is not a soundtrack
], ids=["garbage", "silent-video"])
def test_validate_refuses_a_soundtrack_that_is_not_sound(write_scene, tmp_path, video,
                                                         content, message):
    from typer.testing import CliRunner

    from latentreel.cli import app

    song = tmp_path / "song.mp3"
    song.write_bytes(video.read_bytes() if content == "video" else content)
    scene = write_scene("output: {audio: song.mp3, fps: 4, size: 32}\n"
                        "keyframes:\n  - seed: 1\n")
    for command in (["validate"], ["render", "-q", "--device", "cpu"]):
        result = CliRunner().invoke(app, command + [str(scene)])
        assert result.exit_code == 2
        assert f"{scene}:1:17: output.audio: song.mp3 {message}" in result.output
    assert not (tmp_path / "out").exists()


def test_validate_accepts_real_sound(write_scene, tmp_path):
    from typer.testing import CliRunner

    from latentreel.cli import app

    sine_wav(tmp_path / "song.wav", 0.5)
    scene = write_scene("output: {audio: song.wav}\nkeyframes:\n  - seed: 1\n")
    assert CliRunner().invoke(app, ["validate", str(scene)]).exit_code == 0
