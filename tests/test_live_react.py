"""`react:` in a performance: amounts steered live, and `--listen` feeding the reactions.

Sound is synthesised (click tracks); the listened file plays at wall-clock pace, so which
frames the clicks land on varies run to run, but the recording says, and the replay must
draw the same frames.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.live.session import Hooks, LiveOptions, perform, prepare_live
from latentreel.live.state import BadControl, Control
from latentreel.scene import load_scene
from latentreel.video.probe import read_frames
from tests.music_tracks import click_track

FILE_SCENE = """\
output: {{fps: 30, size: 64}}
defaults: {{hold: 0.2, transition: 0.5}}
loop: true
audio: {{path: {song}}}
keyframes: [{{seed: 1}}, {{seed: 2}}]
react:
  - {{feature: onsets, drive: pulse, amount: 1.0}}
  - {{feature: loudness, drive: speed, amount: 0.5}}
  - {{feature: bass, drive: truncation, amount: 0}}
"""

HEARD_SCENE = """\
output: {fps: 30, size: 64}
defaults: {hold: 20, transition: 1}
loop: true
keyframes: [{seed: 1}, {seed: 2}]
react:
  - {feature: onsets, drive: pulse, amount: 1.0}
"""


def _set(name, value):
    return Control("/latentreel/set", (name, value))


def test_a_reaction_amount_scales_its_drive_live(write_scene, tmp_path):
    song = click_track(tmp_path / "clicks.wav", [0.5, 1.0, 1.5], 2.0)
    scene = load_scene(write_scene(FILE_SCENE.format(song=song)))
    _, walker = prepare_live(scene, size=None, upscale=None, device="cpu", progress=False)
    plain = walker.path.with_react(None)
    react = walker.path.react
    frame = int(react.drives[0].envelope.argmax())  # the hardest hit
    walker.position = float(frame)
    hit = walker.shot().latent
    walker.apply(_set("react.onsets.amount", 0.0))
    assert torch.equal(walker.shot().latent, plain.latents(torch.tensor([frame])))
    walker.apply(_set("react.0.amount", 2.0))
    double = walker.shot().latent
    base = plain.latents(torch.tensor([frame]))
    assert (double - base).norm() > (hit - base).norm() > 0  # (z keeps its norm: not 2x)
    walker.apply(_set("react.0.amount", 1.0))
    assert torch.equal(walker.shot().latent, hit)  # back where the scene had it
    # A MIDI knob bound to the amount (controls.midi) sends the same message.
    import mido

    from latentreel.live.midi import controls_for

    knob = load_scene(write_scene(FILE_SCENE.format(song=song) + "controls: {midi: [{cc: 7, "
                                  "param: react.onsets.amount, range: [0, 2]}]}\n", "k.yaml"))
    (turned,) = controls_for(mido.Message("control_change", control=7, value=127),
                             knob.controls.midi)
    walker.apply(turned)
    assert walker.state.react == {0: 2.0} and torch.equal(walker.shot().latent, double)
    walker.apply(_set("react.0.amount", 1.0))
    for name, why in [("react.9.amount", "no reaction"), ("react.1.amount", "steer `speed`"),
                      ("react.2.amount", "amount 0 in the scene")]:
        try:
            walker.apply(_set(name, 1.0))
        except BadControl as e:
            assert why in str(e)
        else:
            raise AssertionError(f"{name} was not refused")
    assert walker.state.react == {0: 1.0}


def test_listen_feeds_react_records_and_replays_frame_for_frame(write_scene, tmp_path):
    """No `audio:`: `--listen file:clicks.wav` drives the onset pulse; the frames the
    recording says heard an onset jump, the others hold still; the replay is identical."""
    scene = write_scene(HEARD_SCENE)
    song = click_track(tmp_path / "clicks.wav", [0.3, 0.7, 1.1], 1.6)
    record = tmp_path / "show.mp4"
    hooks = Hooks()
    hooks.on_ready = lambda result, inbox: (inbox.put(_set("react.onsets.amount", 0.8)),
                                            inbox.put(_set("react.nope.amount", 1.0)))
    hooks.on_frame = lambda i, applied: hooks.stop.set() if i >= 400 else None
    logged = []
    result = perform(load_scene(scene), LiveOptions(headless=True, seconds=1.4, record=record,
                                                    listen=f"file:{song}", device="cpu"),
                     hooks=hooks, log=logged.append)
    assert result.applied == 1 and result.refused == {"/latentreel/set": 1}
    sidecar = json.loads(record.with_suffix(".frames.json").read_text())
    assert sidecar["heard"] == [0]
    frames = read_frames(record)
    entries = sidecar["frames"]
    shown = [i for i, f in enumerate(entries) if not f.get("dropped")]
    hits = [i for i in shown if entries[i]["heard"]["onsets"] == 1.0]
    assert 2 <= len(hits) <= 3, hits  # a click may fall after the last frame
    jump = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))  # [i]: i->i+1
    # A frame after dropped slots shows several slots of decay at once: a busy machine's
    # drops are not the pulse, so those frames are left out of the comparison.
    others = [jump[i - 1] for i in shown[1:]
              if i not in hits and not entries[i - 1].get("dropped")]
    for i in hits:  # the pulse lands on the frame that heard the click, then decays
        assert jump[i - 1] > 1.5 * max(others), (i, jump[i - 1], max(others))
        assert jump[i - 1] > 4 * np.median(others), (i, jump[i - 1], np.median(others))
    before = [i for i in shown[1:] if i < hits[0]]  # slots, not positions: some may drop
    assert all(jump[i - 1] < 1 for i in before), jump[:hits[0]]  # still before the first
    assert all(abs(b - a - 12) <= 2 for a, b in zip(hits, hits[1:])), hits  # 0.4 s at 30 fps
    again = tmp_path / "again.mp4"
    r = CliRunner().invoke(app, ["render", str(scene), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o", str(again),
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    assert (read_frames(again) == frames).all()


def test_react_without_audio_plays_with_listen_but_does_not_render(write_scene, tmp_path):
    scene = write_scene(HEARD_SCENE)
    r = CliRunner().invoke(app, ["render", str(scene), "-o", str(tmp_path / "x.mp4"),
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "scene.yaml:6:" in r.output and "play --listen" in r.output
    assert not (tmp_path / "x.mp4").exists()
    knob = load_scene(write_scene(HEARD_SCENE + "controls: {midi: [{cc: 7, param: "
                                  "react.onsets.amount}]}\n", "knob.yaml"))
    assert (knob.controls.midi[0].low, knob.controls.midi[0].high) == (0.0, 1.0)
    r = CliRunner().invoke(app, ["validate", str(scene)])
    assert r.exit_code == 0 and "scene.yaml:6:5: note: react: without `audio:`" in r.output
    bad = write_scene(HEARD_SCENE.replace("onsets", "beats"), "bad.yaml")
    r = CliRunner().invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and "beats needs a song" in r.output


def test_heard_values_are_shaped_as_the_file_driven_features_are():
    """Frame by frame, a heard feature passes the reaction's own shaping exactly as
    audio.shaping shapes a whole song's series (and a dropped slot steps it twice)."""
    from latentreel.audio.shaping import Shaping, shape
    from latentreel.live.reacting import LiveReactions
    from latentreel.scene.model import Reaction

    shaping = Shaping(gain=1.5, threshold=0.2, compress=0.5, attack=0.1, release=0.3)
    r = Reaction(feature="loudness", drive="speed", amount=0.5, shaping=shaping)
    x = np.random.default_rng(1).uniform(0, 1, 90) * (np.arange(90) % 30 < 12)
    heard = LiveReactions((r,), None, {0: None}, fps=30)
    levels = []
    for v in x:
        heard.hear({"loudness": float(v)}, 1)
        levels.append(heard.heard[0].level)
    np.testing.assert_allclose(levels, shape(x, shaping, 30), rtol=1e-12, atol=1e-15)
    assert heard.speed({}) == max(1 + 0.5 * levels[-1], 0.05)
    assert heard.speed({0: 0.0}) == 1.0  # react.loudness.amount 0: the walk at its own pace
    twice = LiveReactions((r,), None, {0: None}, fps=30)
    twice.hear({"loudness": float(x[0])}, 1)
    twice.hear({"loudness": float(x[1])}, 2)  # one slot dropped
    once = LiveReactions((r,), None, {0: None}, fps=30)
    for v in (x[0], x[1], x[1]):
        once.hear({"loudness": float(v)}, 1)
    assert twice.heard[0].level == pytest.approx(once.heard[0].level, rel=1e-12)


SG3_SCENE = """\
model: tiny3.pkl
output: {fps: 10, size: 32}
defaults: {hold: 20, transition: 1}
loop: true
keyframes: [{seed: 1}, {seed: 2}]
react:
  - {feature: bass, drive: camera, target: turn, amount: 0.5}
  - {feature: onsets, drive: truncation, amount: 0.5}
"""


def test_heard_camera_and_truncation_reactions_on_stylegan3(tmp_path):
    from tests.stylegan3_nets import write_tiny_stylegan3

    write_tiny_stylegan3(tmp_path / "tiny3.pkl")
    scene = tmp_path / "s.yaml"
    scene.write_text(SG3_SCENE)
    _, w = prepare_live(load_scene(scene), size=None, upscale=None, device="cpu",
                        progress=False, listen=True)
    assert [h.reaction.index for h in w.reactions.heard] == [0, 1]
    still = w.shot()
    w.hear({"bass": 1.0, "onsets": 1.0}, 1)
    heard = w.shot()
    turn = heard.camera - (torch.zeros(1, 4) if still.camera is None else still.camera)
    assert torch.allclose(turn, torch.tensor([[0.0, 0.0, 0.5 * 45.0, 0.0]], dtype=turn.dtype))
    assert not torch.equal(heard.latent, still.latent)  # psi 1.5 on the onset
    w.apply(_set("react.camera.amount", 0.0))
    w.apply(_set("react.onsets.amount", 0.0))
    assert torch.equal(w.shot().latent, still.latent)
