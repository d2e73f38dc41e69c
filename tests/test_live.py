"""Live performance: the clock, the walk under control, and a recording that replays exactly.

OSC goes over loopback with a real python-osc client on ephemeral ports.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.live.clock import FrameClock
from latentreel.live.inbox import RefusalLog
from latentreel.live.session import Hooks, LiveOptions, perform, prepare_live
from latentreel.live.state import BadControl, Control
from latentreel.live.walker import Walker
from latentreel.scene import load_scene
from latentreel.video.probe import read_frames

SCENE = """\
output: {fps: 30, size: 64}
defaults: {hold: 0.2, transition: 0.5}
loop: true
keyframes: [{seed: 1, name: a}, {seed: 2, name: b}, {seed: 3}]
"""


class FakeTime:
    def __init__(self):
        self.t = 100.0

    def now(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_clock_drops_late_slots_and_never_drifts():
    ft = FakeTime()
    clock = FrameClock(30, now=ft.now, sleep=ft.sleep)
    for _ in range(3):
        clock.wait(clock.next_slot())
    assert clock.slot == 2 and clock.dropped == 0
    ft.t += 0.2  # a slow frame: 6 slots pass
    slot = clock.next_slot()
    assert clock.wait(slot) == 8 and clock.dropped == 5
    for _ in range(30_000):  # over 1000 s of frames the due times come from the start
        clock.wait(clock.next_slot())
    assert clock.slot == 30_008
    assert ft.t == pytest.approx(100.0 + 30_008 / 30, abs=1e-9)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "scene.yaml"
    path.write_text(SCENE)
    prepared, _ = prepare_live(load_scene(path), size=None, upscale=None, device="cpu",
                               progress=False)
    return prepared


def test_walk_speed_pause_goto_and_events(live):
    w = Walker(live, {})
    total = live.path.total_frames  # 3 holds of 6 + 3 transitions of 15 = 63
    assert total == 63 and w.starts == [0, 21, 42]
    assert w.advance(21) == [("keyframe", "b")]
    w.apply(Control("/latentreel/set", ("speed", 0.5)))
    w.advance(3)
    assert w.position == 22.5
    shot = w.shot()
    a, b = live.path.latents(torch.tensor([22, 23]))
    assert torch.allclose(shot.latent[0], (a + b) / 2, atol=1e-6)
    w.apply(Control("/latentreel/pause"))
    w.advance(10)
    assert w.position == 22.5
    w.apply(Control("/latentreel/resume"))
    w.apply(Control("/latentreel/set", ("speed", 1.0)))
    assert w.advance(50) == [("keyframe", "2"), ("loop",), ("keyframe", "a")]
    assert w.position == 72.5 - 63
    w.apply(Control("/latentreel/goto", ("b", 0.1)))  # 3 frames of glide
    assert w.advance(2) == [] and w.glide is not None
    assert w.advance(1) == [("keyframe", "b")] and w.position == 21.0
    w.apply(Control("/latentreel/goto", (2, 0.0)))  # at once
    assert w.position == 42.0 and w.advance(0) == [("keyframe", "2")]


def test_truncation_pulse_and_directions_change_the_latent(live):
    vec = torch.ones(live.path.keyframes.shape[1:])
    w = Walker(live, {"up": vec})
    plain = w.shot().latent
    w.apply(Control("/latentreel/set", ("direction.up", 2.0)))
    assert torch.allclose(w.shot().latent, plain + 2.0 * vec)
    w.apply(Control("/latentreel/set", ("direction.up", 0.0)))
    w.apply(Control("/latentreel/set", ("truncation", 0.0)))
    mean = live.generator.mean_latent("z")
    assert torch.allclose(w.shot().latent[0], mean.to(plain), atol=1e-5)
    w.apply(Control("/latentreel/set", ("truncation", 1.0)))
    w.apply(Control("/latentreel/pulse", (1.0,)))
    kicked = w.shot().latent
    assert not torch.allclose(kicked, plain)
    w.advance(30)  # 1 s at a 0.25 s half-life: 1/16 left
    assert w.state.pulse == pytest.approx(1 / 16)


@pytest.mark.parametrize("control, why", [
    (Control("/other/thing"), "unknown address"),
    (Control("/latentreel/set", ("nope", 1.0)), "unknown parameter"),
    (Control("/latentreel/set", ("truncation",)), "PARAM VALUE"),
    (Control("/latentreel/set", ("truncation", "x")), "must be a number"),
    (Control("/latentreel/set", ("camera.x", 0.1)), "no camera"),
    (Control("/latentreel/set", ("direction.smile", 1.0)), "not in controls.directions"),
    (Control("/latentreel/goto", ("nobody",)), "no keyframe 'nobody'"),
    (Control("/latentreel/goto", ()), "NAME_OR_INDEX"),
], ids=["address", "param", "arity", "type", "camera", "direction", "keyframe", "goto-empty"])
def test_bad_controls_are_refused_and_change_nothing(live, control, why):
    w = Walker(live, {})
    before = (w.position, repr(w.state))
    with pytest.raises(BadControl, match=why):
        w.apply(control)
    assert (w.position, repr(w.state)) == before


def test_refusals_are_logged_once_per_address_and_counted():
    lines = []
    log = RefusalLog(lines.append)
    for _ in range(50):
        log.refuse(Control("/latentreel/set", ("x",)), "expects PARAM VALUE")
    log.refuse(Control("/what"), "unknown address")
    assert len(lines) == 2 and log.counts == {"/latentreel/set": 50, "/what": 1}
    for i in range(500):  # invented addresses: the counts stay bounded
        log.refuse(Control(f"/x{i}"), "unknown address")
    assert len(log.counts) == 101 and log.total == 551


def _osc_client(port):
    from pythonosc.udp_client import SimpleUDPClient

    return SimpleUDPClient("127.0.0.1", port)


def test_an_osc_performance_records_and_replays_frame_for_frame(write_scene, tmp_path):
    """A headless performance steered by a python-osc client over loopback is recorded; the
    recording renders (render --controls) into the same frames, pixel for pixel."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    scene = write_scene(SCENE)
    record = tmp_path / "show.mp4"
    events, seen = [], Dispatcher()
    seen.set_default_handler(lambda address, *args: events.append((address, *args)))
    listener = BlockingOSCUDPServer(("127.0.0.1", 0), seen)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    script = [("/latentreel/set", ["truncation", 0.6]), ("/latentreel/goto", ["b", 0.2]),
              ("/latentreel/pulse", [1.5]), ("/latentreel/set", ["speed", 2.0]),
              ("/latentreel/bogus", [1]), ("/latentreel/set", ["nope", 1.0]),
              ("/latentreel/set", ["react.0.amount", 2.0])]  # the scene has no `react:`
    hooks, logged = Hooks(), []

    def on_ready(result, inbox):
        def send():
            client = _osc_client(result.osc_port)
            for address, args in script:
                client.send_message(address, args)
                time.sleep(0.05)
        threading.Thread(target=send, daemon=True).start()

    def on_frame(index, applied):
        if result_box and result_box[0].applied >= 4 and index > 20 or index > 400:
            hooks.stop.set()

    result_box = []
    hooks.on_ready = lambda result, inbox: (result_box.append(result), on_ready(result, inbox))
    hooks.on_frame = on_frame
    options = LiveOptions(headless=True, record=record, osc_port=0, device="cpu",
                          osc_out=("127.0.0.1", listener.server_address[1]))
    result = perform(load_scene(scene), options, hooks=hooks, log=logged.append)
    listener.shutdown()
    assert result.applied == 4 and result.refused == {"/latentreel/bogus": 1,
                                                      "/latentreel/set": 2}
    assert len(logged) == 2
    sidecar = json.loads(record.with_suffix(".frames.json").read_text())
    shown = [f for f in sidecar["frames"] if not f.get("dropped")]
    applied = [c for f in shown for c in f["controls"]]
    assert applied == [[a, *(pytest.approx(x) if isinstance(x, float) else x for x in args)]
                       for a, args in script[:4]]  # OSC floats are 32-bit
    assert len(shown) == result.shown and len(sidecar["frames"]) == len(read_frames(record))
    assert ("/latentreel/keyframe", "b") in events  # the goto arrived, and said so
    # Replay it as a render.
    replay = tmp_path / "replay.mp4"
    r = CliRunner().invoke(app, ["render", str(scene), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o", str(replay),
                                 "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    a, b = read_frames(record), read_frames(replay)
    assert a.shape == b.shape and (a == b).all()
    assert a.std(axis=(1, 2, 3)).min() > 5  # faces, not blank frames


def test_replay_refuses_an_edited_scene(write_scene, tmp_path):
    scene = write_scene(SCENE)
    record = tmp_path / "show.mp4"
    perform(load_scene(scene), LiveOptions(headless=True, record=record, max_frames=3,
                                           device="cpu"))
    edited = write_scene(SCENE.replace("hold: 0.2", "hold: 0.3"), "edited.yaml")
    r = CliRunner().invoke(app, ["render", str(edited), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o",
                                 str(tmp_path / "x.mp4"), "--device", "cpu", "-q"])
    assert r.exit_code == 2 and "path_frames" in r.output
    assert not (tmp_path / "x.mp4").exists()
    r = CliRunner().invoke(app, ["render", str(scene), "--controls", str(tmp_path / "no.json"),
                                 "--resume"])
    assert r.exit_code == 2 and "drop --resume" in r.output


def test_play_headless_from_the_command_line(write_scene, tmp_path):
    scene = write_scene(SCENE)
    r = CliRunner().invoke(app, ["play", str(scene), "--headless", "--seconds", "0.5",
                                 "--device", "cpu", "--record", str(tmp_path / "r.mp4")])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("showed ") and "wrote" in r.output
    assert (tmp_path / "r.frames.json").is_file()
    r = CliRunner().invoke(app, ["play", str(scene), "--headless", "--record",
                                 str(tmp_path / "r.gif")])
    assert r.exit_code == 2 and "writes MP4" in r.output


def test_a_control_storm_is_drained_without_stopping_the_frames(write_scene):
    """3,000 messages in a burst over loopback: every one that arrives is applied or refused
    (none lost inside), and frames keep coming while they do."""
    scene = write_scene(SCENE)
    hooks, during = Hooks(), []

    def on_ready(result, inbox):
        def storm():
            client = _osc_client(result.osc_port)
            for i in range(3000):
                if i % 3 == 2:
                    client.send_message("/latentreel/bogus", [i])
                else:
                    client.send_message("/latentreel/set", ["truncation", 0.5 + (i % 50) / 100])
            done.set()
        done = threading.Event()
        hooks.done = done
        threading.Thread(target=storm, daemon=True).start()

    def on_frame(index, applied):
        during.append(len(applied))
        if hooks.done.is_set() and sum(during) >= 1 and len(during) > 45 or index > 900:
            hooks.stop.set()

    hooks.on_ready, hooks.on_frame = on_ready, on_frame
    result = perform(load_scene(scene), LiveOptions(headless=True, osc_port=0, device="cpu"),
                     hooks=hooks, log=lambda line: None)
    assert result.osc_received > 500  # UDP on a busy box may drop some before the server
    assert result.applied + sum(result.refused.values()) == result.osc_received
    assert result.refused == {"/latentreel/bogus": pytest.approx(result.osc_received / 3,
                                                                 abs=30)}
    assert result.shown > 45 and sum(1 for n in during if n) >= 2  # spread over frames


@pytest.mark.parametrize("text, why", [
    ("{not json", "not a frames.json sidecar"),
    ('{"version": 1}', "not a version 1 frames.json"),
    ('{"version": 1, "frames": [{"index": 0, "dropped": true}], "model": "dcgan-digiface", '
     '"space": "z", "fps": 30, "size": 64, "upscale": "none", "path_frames": 63, '
     '"autocast": "None"}', "starts with a dropped frame"),
], ids=["json", "version", "dropped-first"])
def test_bad_sidecars_are_one_line(write_scene, tmp_path, text, why):
    scene = write_scene(SCENE)
    sidecar = tmp_path / "bad.frames.json"
    sidecar.write_text(text)
    r = CliRunner().invoke(app, ["render", str(scene), "--controls", str(sidecar), "-o",
                                 str(tmp_path / "x.mp4"), "--device", "cpu", "-q"])
    assert r.exit_code == 2 and why in r.output and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "x.mp4").exists()


def test_an_osc_port_in_use_is_one_line(write_scene):
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        r = CliRunner().invoke(app, ["play", str(write_scene(SCENE)), "--headless", "--osc",
                                     str(taken.getsockname()[1]), "--device", "cpu"])
    finally:
        taken.close()
    assert r.exit_code == 2 and "cannot listen there" in r.output, r.output
    r = CliRunner().invoke(app, ["play", str(write_scene(SCENE)), "--headless", "--osc-out",
                                 "nowhere"])
    assert r.exit_code == 2 and "HOST:PORT" in r.output


def test_a_far_future_osc_bundle_does_not_silence_the_server():
    from pythonosc.osc_bundle_builder import OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    from latentreel.live.inbox import Inbox
    from latentreel.live.osc import OscServer

    inbox = Inbox()
    with OscServer("127.0.0.1", 0, inbox) as server:
        client = _osc_client(server.port)
        bundle = OscBundleBuilder(time.time() + 3600)  # an hour from now
        msg = OscMessageBuilder("/latentreel/pulse")
        msg.add_arg(1.0)
        bundle.add_content(msg.build())
        client.send(bundle.build())
        client.send_message("/latentreel/pause", [])
        deadline = time.time() + 5
        got = []
        while len(got) < 2 and time.time() < deadline:
            got += inbox.drain()
            time.sleep(0.01)
    assert sorted(c.address for c in got) == ["/latentreel/pause", "/latentreel/pulse"]


def test_a_wide_bent_performance_records_and_replays_its_frame_shape(write_scene, tmp_path):
    scene = write_scene(SCENE.replace("size: 64}", "size: [96, 64], fit: pad}").replace(
        "{seed: 2, name: b}", "{seed: 2, name: b, bend: [{layer: conv1, op: rotate, angle: 90}]}"))
    record = tmp_path / "show.mp4"
    perform(load_scene(scene), LiveOptions(headless=True, record=record, max_frames=8,
                                           device="cpu"))
    r = CliRunner().invoke(app, ["render", str(scene), "--controls",
                                 str(record.with_suffix(".frames.json")), "-o",
                                 str(tmp_path / "again.mp4"), "--device", "cpu", "-q"])
    assert r.exit_code == 0, r.output
    a, b = read_frames(record), read_frames(tmp_path / "again.mp4")
    assert a.shape[1:3] == (64, 96) and a.shape == b.shape and (a == b).all()
    grid = write_scene(SCENE.replace("size: 64}", "size: [128, 64], fit: grid, "
                                     "grid: {cols: 2, rows: 1}}"), "grid.yaml")
    r = CliRunner().invoke(app, ["play", str(grid), "--headless", "--frames", "2"])
    assert r.exit_code == 2 and "output.fit: play shows one walk" in r.output, r.output
