"""MIDI: the scene's controls section, CC/note mapping, MIDI-learn, and no-MIDI in one line.

mido messages are injected directly; a real (virtual) port is used only where ALSA's
sequencer exists.
"""

from __future__ import annotations

import mido
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import SceneError
from latentreel.live.inbox import Inbox
from latentreel.live.midi import MidiInput, controls_for, learn, learned_binding
from latentreel.scene import load_scene

CONTROLS = """\
keyframes: [{seed: 1}, {seed: 2}]
controls:
  directions: [sefa0]
  midi:
    - {cc: 1, param: truncation, range: [0.5, 1.5]}
    - {cc: 2, channel: 2, param: direction.sefa0, range: [-3, 3], curve: ease-in}
    - {note: 36, param: pulse}
    - {note: 37, param: paused}
"""


def _bindings(write_scene):
    import latentreel.scene.load as load

    # controls.directions is checked when the performance loads it; the section alone here.
    scene = load.load_scene(write_scene(CONTROLS))
    return scene.controls.midi


def test_cc_and_notes_map_through_ranges_and_curves(write_scene):
    b = _bindings(write_scene)
    cc = controls_for(mido.Message("control_change", control=1, value=127), b)
    assert [c.as_json() for c in cc] == [["/latentreel/set", "truncation", 1.5]]
    assert controls_for(mido.Message("control_change", control=1, value=0), b)[0].args[1] == 0.5
    # ease-in: halfway along the knob is an eighth of the way along the range
    half = controls_for(mido.Message("control_change", channel=1, control=2, value=127), b)
    assert half[0].args == ("direction.sefa0", 3.0)
    assert controls_for(mido.Message("control_change", channel=0, control=2, value=64), b) \
        == []  # bound to channel 2 only
    assert b[1].value(0.5) == pytest.approx(-3 + 6 * 0.125)
    hit = controls_for(mido.Message("note_on", note=36, velocity=127), b)
    assert hit[0].args == ("pulse", 1.0)
    assert controls_for(mido.Message("note_off", note=36), b) == []  # a pulse dies by itself
    gate = controls_for(mido.Message("note_on", note=37, velocity=100), b)[0].args
    assert gate[0] == "paused" and gate[1] > 0.5
    assert controls_for(mido.Message("note_on", note=37, velocity=0), b)[0].args == \
        ("paused", 0.0)
    assert controls_for(mido.Message("pitchwheel", pitch=100), b) == []


def test_midi_messages_reach_the_inbox(write_scene):
    inbox = Inbox()
    midi = MidiInput("auto", _bindings(write_scene), inbox)
    for value in (0, 64, 127):
        midi.handle(mido.Message("control_change", control=1, value=value))
    assert [c.args[1] for c in inbox.drain()] == pytest.approx([0.5, 0.5 + 64 / 127, 1.5])


def test_bad_controls_sections_are_located(write_scene):
    scene = write_scene("""\
        keyframes: [{seed: 1}, {seed: 2}]
        controls:
          directions: [sefa0]
          midi:
            - {cc: 1, note: 3, param: truncation}
            - {cc: 200, param: truncashun}
            - {cc: 4, param: direction.smile, range: [1]}
          listen:
            - {feature: loudnes, param: speed}
        """)
    with pytest.raises(SceneError) as e:
        load_scene(scene)
    lines = e.value.problems
    assert any(":5:" in ln and "exactly one of cc: or note:" in ln for ln in lines)
    assert any(":6:" in ln and "controls.midi[1].cc: 200 is out of range" in ln for ln in lines)
    assert any(":6:" in ln and "did you mean 'truncation'" in ln for ln in lines)
    assert any(":7:" in ln and "'smile' is not in controls.directions" in ln for ln in lines)
    assert any(":7:" in ln and "two numbers" in ln for ln in lines)
    assert any(":9:" in ln and "did you mean 'loudness'" in ln for ln in lines)
    r = CliRunner().invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_midi_learn_prints_the_binding_for_a_moved_control():
    assert learned_binding(mido.Message("control_change", channel=2, control=74, value=9)) == \
        "- {cc: 74, channel: 3, param: truncation, range: [0.0, 1.0]}"
    waiting = [[mido.Message("clock")], [], [mido.Message("note_on", note=40, velocity=90)]]
    assert learn(lambda: waiting.pop(0) if waiting else [], timeout=5, poll=0) == \
        "- {note: 40, channel: 1, param: pulse, range: [0.0, 1.0]}"
    assert learn(lambda: [], timeout=0.05) is None


def _have_alsa_seq() -> bool:
    try:
        mido.get_input_names()
        return True
    except Exception:
        return False


@pytest.mark.skipif(_have_alsa_seq(), reason="this machine has a MIDI system")
def test_no_midi_system_is_one_line(write_scene):
    scene = write_scene(CONTROLS)
    for args in (["play", str(scene), "--headless", "--midi", "auto"], ["midi-learn"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error: ") and r.output.count("\n") == 1
        assert "MIDI needs a port" in r.output


@pytest.mark.skipif(not _have_alsa_seq(), reason="no ALSA sequencer (/dev/snd/seq) here for "
                    "a virtual MIDI port")
def test_a_virtual_port_carries_a_cc(write_scene):  # pragma: no cover - needs ALSA
    import time

    inbox = Inbox()
    with mido.open_output("latentreel-test", virtual=True) as out:
        with MidiInput("latentreel-test", _bindings(write_scene), inbox):
            out.send(mido.Message("control_change", control=1, value=127))
            time.sleep(0.2)
    assert [c.args for c in inbox.drain()] == [("truncation", 1.5)]


def test_a_midi_knob_pushes_a_listed_direction_in_a_performance(write_scene):
    """controls.directions load before the first frame; a CC bound to one moves the face."""
    r = CliRunner().invoke(app, ["directions", "sefa"])
    assert r.exit_code == 0, r.output
    from latentreel.live.session import Hooks, LiveOptions, perform, prepare_live

    scene = load_scene(write_scene(CONTROLS))
    prepared, walker = prepare_live(scene, size=None, upscale=None, device="cpu",
                                    progress=False)
    assert set(walker.directions) == {"sefa0"}
    before = walker.shot().latent
    for control in controls_for(mido.Message("control_change", channel=1, control=2,
                                             value=127), scene.controls.midi):
        walker.apply(control)
    pushed = walker.shot().latent
    assert torch.allclose(pushed - before, 3.0 * walker.directions["sefa0"].to(before),
                          atol=1e-5)
    frames = []
    hooks = Hooks()
    hooks.on_ready = lambda result, inbox: [inbox.put(c) for c in controls_for(
        mido.Message("control_change", channel=1, control=2, value=127),
        scene.controls.midi)]
    hooks.on_frame = lambda index, applied: frames.append(applied)
    result = perform(scene, LiveOptions(headless=True, max_frames=2, device="cpu"),
                     hooks=hooks)
    assert result.applied == 1 and frames[0][0].args == ("direction.sefa0", 3.0)
