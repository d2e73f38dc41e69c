"""Scenes that move to music: responses on the click's frame, pins on the beat, nothing at
amount 0, the song's length with its sound muxed, and every mistake located at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentreel.errors import SceneError
from latentreel.render.prepared import prepare_scene
from latentreel.scene.load import load_scene
from tests.music_tracks import click_track

FPS = 30
CLICKS = [0.41, 1.07, 1.68, 2.18, 2.74, 3.39]  # clear of half frames at 30 fps


def _prepared(write_scene, dcgan, react: str, extra: str = "", keyframes: str = ""):
    scene = write_scene(f"""
        audio: clicks.wav
        {react}
        {extra}
        output: {{size: 64, fps: {FPS}}}
        keyframes:
        {keyframes or '''  - {seed: 1, hold: 1, transition: 2}
          - {seed: 2, hold: 1}'''}
        """)
    return prepare_scene(load_scene(scene), generator=dcgan, progress=False)


@pytest.fixture
def clicks(tmp_path):
    return click_track(tmp_path / "clicks.wav", CLICKS, 4.0)


def _all_latents(prepared) -> torch.Tensor:
    return prepared.path.latents(torch.arange(prepared.path.total_frames))


def test_a_click_moves_the_picture_on_its_own_frame(write_scene, dcgan, clicks):
    still = _all_latents(_prepared(write_scene, dcgan, ""))
    pulsed = _prepared(write_scene, dcgan, "react: [{feature: onsets, drive: pulse, amount: 1.0}]")
    moved = (_all_latents(pulsed) - still).flatten(1).norm(dim=1)
    starts = [f for f in range(len(moved)) if moved[f] > 1e-6 and
              (f == 0 or moved[f] > 1.5 * moved[f - 1] + 1e-6)]
    expected = [round(t * FPS) for t in CLICKS]
    assert len(starts) == len(expected), (starts, expected)
    assert all(s - e in (0, 1) for s, e in zip(starts, expected)), (starts, expected)
    # And the drawn frames change there too, not only the latents.
    frames = np.concatenate([b.numpy() for b in pulsed.batches()]).astype(np.float32)
    plain = np.concatenate([b.numpy() for b in _prepared(write_scene, dcgan, "").batches()])
    change = np.abs(frames - plain).mean(axis=(1, 2, 3))
    assert all(change[e] > 2 * change[e - 1] and change[e] > 10 for e in expected), \
        [(change[e - 1], change[e]) for e in expected]


def test_the_video_lasts_as_long_as_the_song(write_scene, dcgan, clicks):
    assert _prepared(write_scene, dcgan, "").path.total_frames == 4 * FPS
    own = _prepared(write_scene, dcgan, "", "")
    assert own.path.total_frames == 4 * FPS
    scene = write_scene("""
        audio: {path: clicks.wav, length: keyframes}
        output: {fps: 30}
        keyframes: [{seed: 1, hold: 1, transition: 0.5}, {seed: 2, hold: 0}]
        """)
    assert prepare_scene(load_scene(scene), generator=dcgan,
                         progress=False).path.total_frames == 45


def test_zero_amount_changes_nothing_bit_for_bit(write_scene, dcgan, clicks):
    plain = _prepared(write_scene, dcgan, "")
    zero = _prepared(write_scene, dcgan, """react:
          - {feature: onsets, drive: pulse, amount: 0}
          - {feature: loudness, drive: speed, amount: 0}
          - {feature: bass, drive: truncation, amount: 0}""")
    assert torch.equal(_all_latents(plain), _all_latents(zero))
    assert plain.fingerprint() != zero.fingerprint() or plain.music is not None


@pytest.mark.parametrize("unit", ["beat", "bar"])
def test_a_keyframe_pinned_to_a_beat_lands_on_it(write_scene, dcgan, tmp_path, unit):
    times = [0.26 + 0.5 * i for i in range(20)]  # 120 bpm
    click_track(tmp_path / "clicks.wav", times, 10.5)
    n = 9 if unit == "beat" else 2
    prepared = _prepared(write_scene, dcgan, "", keyframes=f"""  - {{seed: 1, hold: 0.5}}
          - {{seed: 2, at: {unit} {n}, hold: 0.5}}
          - {{seed: 3, at: 9.0}}""")
    holds = {s.index: s.start for s in prepared.path.segments if s.kind == "hold"}
    beat = n if unit == "beat" else 4 * n
    assert abs(holds[1] - times[beat] * FPS) <= 1
    assert holds[2] == 9 * FPS
    assert prepared.path.total_frames == round(10.5 * FPS)


def test_speed_keeps_pins_on_time(write_scene, dcgan, clicks):
    keyframes = """  - {seed: 1, hold: 0}
          - {seed: 2, at: 2.0, hold: 0}
          - {seed: 3}"""
    plain = _prepared(write_scene, dcgan, "", keyframes=keyframes)
    fast = _prepared(write_scene, dcgan, "react: [{feature: onsets, drive: speed, amount: 4}]",
                     keyframes=keyframes)
    pin = 2 * FPS
    assert torch.equal(plain.path.latents(torch.tensor([pin])),
                       fast.path.latents(torch.tensor([pin])))
    assert not torch.equal(_all_latents(plain), _all_latents(fast))


def test_segments_draw_the_frames_of_one_render(write_scene, dcgan, clicks):
    prepared = _prepared(write_scene, dcgan, """react:
          - {feature: onsets, drive: pulse, amount: 0.8}
          - {feature: chroma, drive: chroma, amount: 0.3, attack: 0.2, release: 0.4}
          - {feature: loudness, drive: speed, amount: 1}""")
    path = prepared.path
    whole = path.latents(torch.arange(path.total_frames))
    parts = torch.cat([path.latents(torch.arange(0, 37)),
                       path.latents(torch.arange(37, path.total_frames))])
    assert torch.equal(whole, parts)  # a frame's reaction depends on its index alone
    cut = prepared.batch_size  # pixels: cut where batches are cut (same generator calls)
    whole = np.concatenate([b.numpy() for b in prepared.batches()])
    parts = np.concatenate([b.numpy() for b in prepared.batches(start=0, stop=cut)] +
                           [b.numpy() for b in prepared.batches(start=cut)])
    assert np.array_equal(whole, parts)


def test_the_fingerprint_follows_the_music_and_reactions(write_scene, dcgan, clicks):
    a = _prepared(write_scene, dcgan, "react: [{feature: onsets, drive: pulse, amount: 1}]")
    b = _prepared(write_scene, dcgan, "react: [{feature: onsets, drive: pulse, amount: 0.5}]")
    assert a.fingerprint() != b.fingerprint()


def test_muxed_sound_and_video_end_together(write_scene, clicks, tmp_path):
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.video.probe import probe_video, read_audio

    scene = write_scene("""
        audio: clicks.wav
        react: [{feature: onsets, drive: pulse}]
        output: {size: 32, fps: 10, preset: ultrafast}
        keyframes: [{seed: 1}, {seed: 2}]
        """)
    result = render_scene(load_scene(scene), RenderOptions(device="cpu", progress=False))
    info = probe_video(result.path)
    assert info.frames == 40 and info.has_audio
    sound = read_audio(result.path, rate=16000)
    assert abs(len(sound) / 16000 - info.frames / 10) < 1 / 10


def test_every_mistake_is_located_at_once(write_scene, clicks):
    scene = write_scene("""
        audio: {path: clicks.wav, stems: {drums: nothere.wav}}
        react:
          - {feature: onsetz, drive: pulse}
          - {feature: onsets, drive: wobble}
          - {feature: onsets, drive: pulse, stem: bass}
          - {feature: loudness, drive: camera}
        keyframes:
          - {seed: 1}
          - {seed: 2, at: 3.0}
          - {seed: 3, at: 2.0}
          - {seed: 4, at: beat 500}
          - {seed: 5, at: 99}
          - {seed: 6, at: soon}
        """)
    with pytest.raises(SceneError) as e:
        load_scene(scene)
    lines = e.value.problems
    expect = [("audio.stems.drums", "nothere.wav"), ("react[0].feature", "onsetz"),
              ("react[1].drive", "wobble"), ("react[2].stem", "bass"),
              ("react[3].drive", "no input transform"),
              ("keyframes[2].at", "must increase"), ("keyframes[3].at", "beats"),
              ("keyframes[4].at", "past the song's end"), ("keyframes[5].at", "'beat N'")]
    for field, words in expect:
        hits = [ln for ln in lines if f": {field}: " in ln and words in ln]
        assert hits, (field, lines)
        assert hits[0].startswith(f"{scene}:")
        assert hits[0].split(":")[1].isdigit() and hits[0].split(":")[2].isdigit()


def test_music_words_need_music(write_scene):
    scene = write_scene("""
        react: [{feature: onsets, drive: pulse}, {feature: beats, drive: pulse}]
        keyframes: [{seed: 1}, {seed: 2, at: bar 1}]
        """)
    with pytest.raises(SceneError) as e:
        load_scene(scene)
    text = str(e.value)  # onsets may come from `play --listen` (live); beats need the song
    assert "react[1].feature: beats needs a song" in text and "react[0]" not in text
    assert "needs the scene's music" in text


def test_every_grid_cell_keeps_the_songs_timing_and_hears_it(write_scene, dcgan, clicks):
    scene = write_scene(f"""
        audio: clicks.wav
        react: [{{feature: onsets, drive: pulse}}]
        output: {{size: [128, 64], fit: grid, grid: {{cols: 2, rows: 1}}, fps: {FPS}}}
        keyframes: [{{seed: 1}}, {{seed: 2, at: 2.0}}]
        """)
    cells = prepare_scene(load_scene(scene), generator=dcgan, progress=False).path.paths
    assert [c.total_frames for c in cells] == [4 * FPS, 4 * FPS]  # as long as the song
    for cell in cells:  # the pulse answers on each click's frame in every cell
        x = cell.latents(torch.arange(cell.total_frames)).flatten(1)
        step = (x[1:] - x[:-1]).norm(dim=1)
        hit = round(CLICKS[0] * FPS)
        assert step[hit - 1] > 5 * step[hit - 6:hit - 1].max()


def test_a_missing_song_is_said_once_not_again_at_every_pin(write_scene):
    scene = write_scene("""
        audio: {path: nowhere.wav}
        keyframes: [{seed: 1, at: bar 0}, {seed: 2, at: bar 1}]
        """)
    with pytest.raises(SceneError) as e:
        load_scene(scene)
    lines = str(e.value).splitlines()
    assert len(lines) == 1 and "audio.path" in lines[0] and "not found" in lines[0], lines


def test_the_shipped_beat_scene_pulses_on_its_kicks(tmp_path, dcgan):
    import shutil
    from pathlib import Path

    from latentreel.audio.beat import BPM, write_beat

    write_beat(tmp_path / "beat", bars=8)
    shutil.copy(Path(__file__).resolve().parents[1] / "scenes" / "beat.yaml", tmp_path)
    scene = load_scene(tmp_path / "beat.yaml")
    prepared = prepare_scene(scene, generator=dcgan, progress=False)
    beat = 60 / BPM
    kicks = sorted({(bar * 4 + b) * beat * FPS for bar in range(8)  # frames, unrounded:
                    for b in (0, 2) + ((3.5,) if bar % 2 else ())} - {0})  # some on a half
    bars = {round(bar * 4 * beat * FPS) for bar in range(8)}
    lat = _all_latents(prepared)
    step = (lat[1:] - lat[:-1]).flatten(1).norm(dim=1)  # step[f - 1]: into frame f
    jumps = [f for f in range(2, len(lat))  # where a jump starts (not its decay)
             if step[f - 1] > 4 * step.median() and step[f - 1] > 2 * step[f - 2]]
    # Pulses on the kicks (on the nearest frame, or the next one), and nowhere else.
    assert all(any(0 <= j - k <= 1 for k in kicks) for j in jumps), jumps
    assert all(any(0 <= j - k <= 1 for j in jumps) for k in kicks if k not in bars), jumps


@pytest.mark.parametrize("content,words", [
    ("silent", "the sound is silent"),
    (b"RIFF\x00\x00 broken", "cannot read it as sound"),
], ids=["silent", "broken"])
def test_validate_names_music_that_is_not_music_at_its_line(write_scene, tmp_path, content,
                                                            words):
    import soundfile
    from typer.testing import CliRunner

    from latentreel.cli import app

    song = tmp_path / "song.wav"
    if content == "silent":
        soundfile.write(str(song), np.zeros(22050, np.float32), 22050)
    else:
        song.write_bytes(content)
    scene = write_scene("""
        keyframes: [{seed: 1}, {seed: 2}]
        audio:
          path: song.wav
        """)
    r = CliRunner().invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2
    assert r.output.startswith(f"error: {scene}:3:9: audio.path: ") and words in r.output
    assert r.output.count("\n") == 1


def test_direction_and_keyframe_targets(write_scene, dcgan, clicks):
    from latentreel.edits.directions import Direction, DirectionStore

    vec = np.zeros(100, np.float32)
    vec[3] = 1.0
    store = DirectionStore(dcgan.name)
    store.add(Direction("music_test_axis", vec, "file", space="z"))
    store.save()
    plain = _all_latents(_prepared(write_scene, dcgan, ""))
    along = _all_latents(_prepared(write_scene, dcgan, "react: [{feature: loudness, "
                                   "drive: direction, target: music_test_axis, amount: 2}]"))
    diff = along - plain
    assert diff.abs().sum() > 0 and torch.equal(diff[:, :3], torch.zeros_like(diff[:, :3]))
    assert (diff[:, 3] >= 0).all() and diff[:, 3].max() <= 2 + 1e-5  # amount x feature <= 1
    toward = _prepared(write_scene, dcgan, "react: [{feature: onsets, drive: pulse, "
                       "target: b, amount: 1, threshold: 0, release: 0}]",
                       keyframes="""  - {seed: 1, hold: 4}
          - {seed: 2, name: b}""")
    hit = round(CLICKS[0] * FPS)
    lat = toward.path.latents(torch.tensor([hit - 1, hit]))
    b = toward.latents[1]
    # On the hardest hit the latent is all the way at keyframe b (onsets peak at 1).
    assert (lat[1] - b).norm() < 0.5 * (lat[0] - b).norm()
