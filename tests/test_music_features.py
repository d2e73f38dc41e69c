"""The music's features: one value per video frame, hits on their own frame, one-line
refusals for files that are not music, and shaping as pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from latentreel.audio.features import analyse, analysis_rate
from latentreel.audio.load import load_sound
from latentreel.audio.shaping import Shaping, compress, follow, gate, shape
from latentreel.errors import BadInputError
from tests.music_tracks import click_track

# Clear of half-frame boundaries at 24 and 30 fps, where "the nearest frame" is a coin toss.
CLICKS = [0.31, 0.82, 1.41, 2.07, 2.68, 3.18, 3.74, 4.39, 5.01, 5.51]


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_a_frame_is_a_whole_number_of_samples(fps):
    assert analysis_rate(fps) % fps == 0
    assert abs(analysis_rate(fps) - 22050) <= fps


@pytest.mark.parametrize("fps", [24, 30])
def test_every_click_peaks_on_its_own_frame(tmp_path, fps):
    f = analyse(load_sound(click_track(tmp_path / "c.wav", CLICKS, 6.0)), fps)
    assert f.frames == round(6.0 * fps) == len(f.onsets) == f.chroma.shape[1]
    x = f.onsets
    peaks = [i for i in range(len(x)) if x[i] > 0.3 and x[i] >= x[i - 1] and
             (i + 1 == len(x) or x[i] > x[i + 1])]
    expected = [round(t * fps) for t in CLICKS]
    assert len(peaks) == len(expected)
    late = [p - e for p, e in zip(peaks, expected)]
    assert all(d in (0, 1) for d in late), late  # at most one frame late, never early


def test_beats_follow_a_constant_tempo(tmp_path):
    times = [0.26 + 0.5 * i for i in range(24)]  # 120 bpm
    f = analyse(load_sound(click_track(tmp_path / "c.wav", times, 12.5)), 30)
    assert abs(f.tempo - 120) < 3
    assert abs(f.beats[0] - round(times[0] * 30)) <= 1
    assert np.all(np.abs(np.diff(f.beats) - 15) <= 1)
    assert list(f.bars) == list(f.beats[::4])


@pytest.mark.parametrize("content,message", [
    (None, "no such audio file"),
    (b"RIFF not really a wav", "cannot read it as sound"),
    ("silent", "silent"),
], ids=["missing", "broken", "silent"])
def test_files_that_are_not_music_give_one_line(tmp_path, content, message):
    import soundfile

    path = tmp_path / "song.wav"
    if content == "silent":
        soundfile.write(str(path), np.zeros(44100, np.float32), 44100)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(BadInputError) as e:
        load_sound(path)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(str(path))


def test_shaping_is_pure_and_ordered():
    x = np.array([0.0, 0.2, 1.0, 0.0, 0.0, 0.0])
    assert np.allclose(gate(x, 0.5), [0, 0, 1, 0, 0, 0])
    assert np.allclose(compress(np.array([0.25]), 0.5), [0.5])
    assert np.array_equal(follow(x, 0, 0, 30), x)
    decayed = follow(x, 0, 0.1, 30)
    assert decayed[2] == 1.0 and 0 < decayed[3] < 1 and decayed[4] < decayed[3]
    assert np.array_equal(shape(x, Shaping(), 30), x)
    assert np.allclose(shape(x, Shaping(gain=2), 30), 2 * x)


def test_a_song_that_changes_halfway_has_a_section_there(tmp_path):
    import soundfile

    rate, half = 22050, 24.0
    t = np.arange(int(2 * half * rate)) / rate
    first = 0.3 * np.sin(2 * np.pi * 220 * t) * (t < half)
    noise = np.random.default_rng(0).uniform(-1, 1, len(t))
    second = (0.2 * np.sin(2 * np.pi * 311 * t) + 0.1 * noise) * (t >= half)
    y = (first + second).astype(np.float32)
    c = np.exp(-np.arange(300) / 50) * np.sin(np.arange(300) * 0.5)
    for i in range(int(2 * half / 0.5)):  # a click every half second: beats to count by
        start = int((0.26 + 0.5 * i) * rate)
        y[start:start + 300] += 0.8 * c[:len(y) - start]
    soundfile.write(str(tmp_path / "two.wav"), y, rate)
    f = analyse(load_sound(tmp_path / "two.wav"), 30)
    assert len(f.sections) >= 1
    assert min(abs(s - half * 30) for s in f.sections) <= 16  # within a beat of the change


@pytest.mark.parametrize("suffix", ["mp3", "ogg", "m4a", "flac"])
def test_compressed_formats_are_read(tmp_path, suffix):
    import subprocess

    from latentreel.video.writer import ffmpeg_exe

    wav = click_track(tmp_path / "c.wav", CLICKS[:3], 2.0)
    other = tmp_path / f"c.{suffix}"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(wav), str(other)], check=True)
    sound = load_sound(other)
    assert abs(sound.duration - 2.0) < 0.06 and np.abs(sound.samples).max() > 0.3
