"""Live sound: features of synthesised blocks, shaping, and a file played into a performance."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.live.features import FeatureTracker, Shaper
from latentreel.live.inbox import Inbox
from latentreel.live.listen import ListenInput
from latentreel.live.session import Hooks, LiveOptions, perform
from latentreel.scene import load_scene

RATE, BLOCK = 22050, 512


def _tone(freq, seconds, amp=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _clicks(seconds, every, amp=0.8):
    x = np.zeros(int(seconds * RATE), np.float32)
    rng = np.random.default_rng(0)
    for start in np.arange(0.25, seconds, every):
        i = int(start * RATE)
        x[i:i + 300] = amp * rng.standard_normal(300).astype(np.float32) * np.exp(
            -np.arange(300) / 60)
    return x


def _features(x):
    tracker = FeatureTracker(RATE, BLOCK)
    return [tracker.push(x[i:i + BLOCK]) for i in range(0, len(x) - BLOCK + 1, BLOCK)]


def test_bands_and_loudness_follow_the_sound():
    bass = _features(_tone(100, 0.5))[-1]
    high = _features(_tone(4000, 0.5))[-1]
    quiet = _features(_tone(100, 0.5, amp=0.005))[-1]
    assert bass["bass"] > 0.8 and bass["high"] < 0.3
    assert high["high"] > 0.8 and high["bass"] < 0.3
    assert quiet["loudness"] < bass["loudness"] - 0.4
    assert _features(np.zeros(RATE // 4, np.float32))[-1]["loudness"] == 0.0


def test_onsets_fire_once_per_hit_with_a_refractory_period():
    hits = _features(_clicks(2.0, every=0.25))  # 7 hits, 250 ms apart
    assert sum(f["onsets"] for f in hits) == 7
    tracker = FeatureTracker(RATE, BLOCK, refractory=0.4)
    x = _clicks(2.0, every=0.25)
    fired = sum(tracker.push(x[i:i + BLOCK])["onsets"] for i in range(0, len(x) - BLOCK, BLOCK))
    assert fired == 4  # every other hit falls in the 400 ms after the one before


def test_attack_and_release_shape_a_step():
    s = Shaper(attack=0.0, release=0.5)
    assert s.step(1.0, 0.01) == 1.0  # no attack: at once
    assert s.step(0.0, 0.5) == pytest.approx(np.exp(-1))  # one time constant later
    slow = Shaper(attack=1.0, release=0.0)
    assert slow.step(1.0, 0.1) == pytest.approx(1 - np.exp(-0.1))
    assert slow.step(0.0, 0.01) == 0.0


LISTEN_SCENE = """\
output: {fps: 30, size: 64}
defaults: {hold: 0.2, transition: 0.5}
loop: true
keyframes: [{seed: 1}, {seed: 2}]
controls:
  listen:
    - {feature: onsets, param: pulse, range: [0, 1.5]}
    - {feature: loudness, param: truncation, range: [1.0, 0.5], release: 0.3}
"""


def _wav(path, x):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


class _Blocks:
    rate, block = RATE, BLOCK

    def start(self, callback):
        pass

    def stop(self):
        pass


def test_listen_bindings_send_pulses_and_changes_only(write_scene):
    scene = load_scene(write_scene(LISTEN_SCENE))
    inbox = Inbox()
    listen = ListenInput(_Blocks(), scene.controls.listen, inbox)
    x = _clicks(1.0, every=0.25)
    for i in range(0, len(x) - BLOCK + 1, BLOCK):
        listen.handle(x[i:i + BLOCK])
    sent = inbox.drain()
    pulses = [c for c in sent if c.address == "/latentreel/pulse"]
    assert len(pulses) == listen.onsets == 3 and pulses[0].args == (1.5,)
    sets = [c.args for c in sent if c.address == "/latentreel/set"]
    assert sets and all(name == "truncation" and 0.5 <= v <= 1.0 for name, v in sets)
    assert len(sets) < len(x) // BLOCK  # silence between hits sends nothing new


def test_a_file_listened_to_steers_a_recorded_performance(write_scene, tmp_path):
    scene = write_scene(LISTEN_SCENE)
    song = _wav(tmp_path / "song.wav", _clicks(1.5, every=0.25))
    record = tmp_path / "show.mp4"
    hooks = Hooks()
    hooks.on_frame = lambda i, applied: hooks.stop.set() if i >= 400 else None
    result = perform(load_scene(scene), LiveOptions(headless=True, seconds=1.2, record=record,
                                                    listen=f"file:{song}", device="cpu"),
                     hooks=hooks)
    sidecar = json.loads(record.with_suffix(".frames.json").read_text())
    applied = [c for f in sidecar["frames"] for c in f.get("controls", [])]
    assert result.applied == len(applied) > 0
    assert any(c[0] == "/latentreel/pulse" for c in applied)
    r = CliRunner().invoke(app, ["render", str(scene), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o",
                                 str(tmp_path / "again.mp4"), "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output


def _have_sound_input() -> bool:
    try:
        import sounddevice as sd

        return any(d["max_input_channels"] > 0 for d in sd.query_devices())
    except Exception:
        return False


@pytest.mark.skipif(_have_sound_input(), reason="this machine has a sound input")
def test_no_sound_input_is_one_line(write_scene):
    r = CliRunner().invoke(app, ["play", str(write_scene(LISTEN_SCENE)), "--headless",
                                 "--listen", "default"])
    assert r.exit_code == 2 and r.output.startswith("error: --listen: no audio input")
    assert r.output.count("\n") == 1


def test_listen_without_bindings_or_file_says_so(write_scene, tmp_path):
    plain = write_scene("keyframes: [{seed: 1}, {seed: 2}]\n", "plain.yaml")
    song = _wav(tmp_path / "s.wav", _tone(100, 0.2))
    r = CliRunner().invoke(app, ["play", str(plain), "--headless", "--listen", f"file:{song}"])
    assert r.exit_code == 2 and "binds no sound features" in r.output
    r = CliRunner().invoke(app, ["play", str(plain), "--headless", "--listen", "file:nope.wav"])
    assert r.exit_code == 2 and "no such file" in r.output
