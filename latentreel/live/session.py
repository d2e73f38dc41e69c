"""A performance: the scene played live, steered, shown, recorded, until told to stop.

One frame thread does everything that decides pixels, in this order each frame: take the
next clock slot, move the walk on by the slots that passed, apply the control messages that
arrived, draw, wait for the slot, show, record. Drawing on the frame thread (no queue of
frames drawn ahead) keeps a control's effect within one or two frames of its arrival.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from latentreel.errors import BadInputError
from latentreel.live.clock import FrameClock
from latentreel.live.draw import draw, live_threads
from latentreel.live.inbox import Inbox, RefusalLog
from latentreel.live.reacting import CAMERA_CYCLE, LiveReactions, heard_live
from latentreel.live.state import BadControl, Control
from latentreel.live.walker import Walker
from latentreel.render.prepared import PreparedScene, prepare_scene
from latentreel.render.react import reaction_drive
from latentreel.scene.model import Scene


DRAW_HISTORY = 30  # recent draw times the latch looks at (one slow frame counts for a second)
LEAD_FACTOR = 1.25  # start drawing this many longest-recent-draws before the slot is due
LEAD_MARGIN = 0.002  # seconds, plus this (waking from sleep is not exact)


@dataclass(frozen=True)
class LiveOptions:
    headless: bool = False  # no window (a box that streams elsewhere, a test)
    fullscreen: bool = False  # the window fills the screen
    size: int | None = None  # window / recording side in pixels (default: output.size)
    seconds: float | None = None  # stop after this long (None: until closed or Ctrl-C)
    max_frames: int | None = None  # stop after this many frames shown
    record: Path | None = None  # write what was shown here (+ NAME.frames.json)
    screenshot: Path | None = None  # save the last frame shown as a PNG
    osc_port: int | None = None  # listen for OSC here (0: an ephemeral port)
    osc_host: str = "127.0.0.1"  # where to listen (0.0.0.0: every interface)
    osc_out: tuple[str, int] | None = None  # send loop/keyframe events here
    midi: str | None = None  # MIDI input port ('auto': the first) for controls.midi
    listen: str | None = None  # sound for controls.listen: a device, 'default', file:PATH
    device: str = "auto"  # auto | cpu | cuda | mps
    latch: bool = True  # take controls as late as drawing allows (False: the bench's baseline)
    upscale: str | None = None  # override output.upscale


@dataclass
class LiveResult:
    shown: int = 0  # frames drawn and shown
    dropped: int = 0  # clock slots that passed with no new frame
    seconds: float = 0.0  # wall time from the first frame to the last
    applied: int = 0  # control messages applied
    refused: dict[str, int] = field(default_factory=dict)  # address -> refused messages
    osc_port: int | None = None  # the port OSC listened on
    osc_received: int = 0  # OSC messages that arrived (applied, refused or still queued)
    # When the latest frames were shown (perf_counter seconds); bounded, for runs of days.
    frame_times: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass
class Hooks:
    """Ways in for benches and tests (None: not used)."""

    on_ready: Callable[[LiveResult, Inbox], None] | None = None  # listening, before frame 0
    on_frame: Callable[[int, list[Control]], None] | None = None  # after each frame shown
    stop: threading.Event = field(default_factory=threading.Event)  # set: stop after a frame


def prepare_live(scene: Scene, *, size: int | None, upscale: str | None, device: str,
                 progress: bool = True, listen: bool = False) -> tuple[PreparedScene, Walker]:
    """The scene prepared for a performance (looping) and its walker, directions loaded.

    ``listen``: the reactions whose feature the live input measures follow it (live.reacting)
    instead of the song file; they are left out of the prepared path and built unit-sized."""
    if scene.output.fit == "grid":  # the live walk is one path; a grid is many
        raise BadInputError(f"{scene.output.fit_where or scene.file}: output.fit: play shows "
                            "one walk, not a grid; render it, or use fit pad, crop or extend")
    base = scene.output.with_height(size) if size else scene.output  # a wide frame stays so
    output = replace(base, upscale=upscale or scene.output.upscale)
    heard = [r for r in scene.react if listen and heard_live(r)]
    played = replace(scene, react=tuple(r for r in scene.react if r not in heard))
    prepared = prepare_scene(played, output=output, device=device, loop=True,
                             progress=progress)
    drives = {}
    for r in heard:
        frames = CAMERA_CYCLE if r.drive == "camera" else 1
        drives[r.index] = None if r.drive == "speed" else reaction_drive(
            r, np.ones(frames), prepared.keyframes, prepared.latents, prepared.generator,
            prepared.space, scene)
    reactions = LiveReactions(scene.react, prepared.path.react, drives, output.fps)
    return prepared, Walker(prepared, load_directions(prepared), reactions)


def load_directions(prepared: PreparedScene) -> dict[str, torch.Tensor]:
    """controls.directions' offsets for one unit of amount, loaded before the first frame."""
    from latentreel.edits.directions import DirectionStore, edit_step

    controls = prepared.scene.controls
    names = controls.directions if controls else ()
    if not names:
        return {}
    g, where = prepared.generator, f"{prepared.scene.file}: controls.directions"
    store = DirectionStore(g.name)
    return {name: torch.from_numpy(edit_step(store, name, [], prepared.space,
                                             g.latent_shape(prepared.space), where))
            for name in names}


def perform(scene: Scene, options: LiveOptions, *, hooks: Hooks | None = None,
            log: Callable[[str], None] | None = None) -> LiveResult:
    """Play ``scene`` live until ``options`` or the viewer says stop.

    Raises:
        BadInputError: no window where one is needed, a port in use, bad scene files.
    """
    hooks = hooks or Hooks()
    display = None
    if not options.headless:
        from latentreel.live.display import Window

        display = Window.check()  # no display: one line, before minutes of preparing
    inbox = Inbox()
    inputs = _inputs(scene, options, inbox)  # no MIDI, no sound: one line, before preparing
    refusals, result = RefusalLog(log), LiveResult()
    with contextlib.ExitStack() as stack:
        server = None
        if options.osc_port is not None:  # bound now: a port in use is one line, no work
            from latentreel.live.osc import OscServer

            server = OscServer(options.osc_host, options.osc_port, inbox)
            stack.callback(server.__exit__, None, None, None)
            result.osc_port = server.port
        # 1. Prepare the scene (looping) and its live walk.
        prepared, walker = prepare_live(scene, size=options.size, upscale=options.upscale,
                                        device=options.device,
                                        listen=options.listen is not None)
        stack.enter_context(live_threads(prepared.source.device))
        # 2. Start listening, and the window and recording if asked for.
        if server is not None:
            server.__enter__()
        for listener in inputs:
            stack.enter_context(listener)
        out = _osc_out(options, stack)
        first = draw(prepared, walker.shot())
        if display is not None:
            display = stack.enter_context(display.open(prepared, options))
        recorder = None
        if options.record is not None:
            from latentreel.live.record import Recorder

            recorder = stack.enter_context(Recorder(options.record, prepared, first.shape,
                                                    heard=_heard_indexes(walker)))
        speaker = None if display is None else _speaker(scene, stack, log)
        if hooks.on_ready:
            hooks.on_ready(result, inbox)
        # 3. Frames until told to stop.
        ear = next((i for i in inputs if hasattr(i, "take")), None)  # --listen's input
        last = _run(prepared, walker, inbox, refusals, result, options, hooks, display,
                    recorder, out, speaker, ear)
        if options.screenshot is not None and last is not None:
            from PIL import Image

            Image.fromarray(last).resize(prepared.output.frame, Image.LANCZOS).save(
                options.screenshot)
        if server is not None:
            result.osc_received = server.received
    result.refused = dict(refusals.counts)
    return result


def _inputs(scene: Scene, options: LiveOptions, inbox: Inbox) -> list:
    """MIDI and sound listeners asked for, checked but not started (they start once the
    scene is prepared, so nothing waits in the inbox from minutes before the first frame)."""
    controls, inputs = scene.controls, []
    if options.midi is not None:
        from latentreel.live.midi import MidiInput, input_names

        input_names()
        inputs.append(MidiInput(options.midi, controls.midi if controls else (), inbox))
    if options.listen is not None:
        from latentreel.live.listen import ListenInput, open_source

        inputs.append(ListenInput(open_source(options.listen),
                                  controls.listen if controls else (), inbox,
                                  heard=any(heard_live(r) for r in scene.react)))
    return inputs


def _osc_out(options: LiveOptions, stack: contextlib.ExitStack):
    if options.osc_out is None:
        return None
    from latentreel.live.osc import OscOut

    out = OscOut(*options.osc_out)
    stack.callback(out.close)
    return out


def _speaker(scene: Scene, stack: contextlib.ExitStack, log: Callable[[str], None] | None):
    """The soundtrack's Speaker in a window's performance, or None (no soundtrack, or no
    audio device: said in one line through ``log``)."""
    if scene.output.audio is None:
        return None
    from latentreel.audio.speaker import open_speaker

    speaker, why = open_speaker(scene.output.audio)
    if why and log:
        log(why)
    if speaker is not None:
        stack.callback(speaker.stop)
    return speaker


def _heard_indexes(walker: Walker) -> list[int]:
    return [h.reaction.index for h in walker.reactions.heard]


def _run(prepared, walker, inbox, refusals, result, options, hooks, display, recorder, out,
         speaker=None, ear=None):
    clock = FrameClock(prepared.output.fps)
    deadline = None if options.seconds is None else clock.start + options.seconds
    frame, walked = None, None  # walked: the slot the walk stands at
    draws: deque[float] = deque(maxlen=DRAW_HISTORY)  # seconds the recent frames took
    try:
        while not hooks.stop.is_set():
            if options.max_frames is not None and result.shown >= options.max_frames:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                break
            # The walk moves by the slots since the last frame was drawn for, so a slow
            # frame costs its slots once and the scene keeps to the wall clock.
            slot = clock.next_slot()
            # Latch the controls as late as the drawing allows: wait until the slot is due
            # less the longest recent draw (and a margin), so a message has to wait for
            # one draw, not for a frame drawn early and then held back.
            if options.latch:
                clock.sleep_until(clock.due(slot) - LEAD_FACTOR * max(draws, default=0.0)
                                  - LEAD_MARGIN)
            slots = 0 if walked is None else slot - walked
            events = walker.advance(slots)
            walked = slot
            heard = None
            if ear is not None and walker.reactions.heard:
                heard = ear.take()
                walker.hear(heard, slots)
            applied = _apply(walker, inbox.drain(), refusals)
            shot = walker.shot()
            began = time.perf_counter()
            frame = draw(prepared, shot)
            draws.append(time.perf_counter() - began)
            shown = clock.wait(slot)
            shown_at, wall = time.perf_counter(), time.time()
            if display is not None and not display.show(frame):
                break
            if recorder is not None:
                recorder.add(frame, slot=shown, walked=slot, position=shot.position,
                             shown_at=shown_at, controls=applied, wall=wall, heard=heard)
            for event in events:
                if out is not None:
                    out.send(event)
                if speaker is not None and event == ("loop",):
                    speaker.start()  # each pass through the scene restarts its sound
            if result.shown == 0:
                first_shown = shown_at
                if speaker is not None:
                    speaker.start()
            result.shown += 1
            result.applied += len(applied)
            result.frame_times.append(shown_at)
            if hooks.on_frame:
                hooks.on_frame(result.shown - 1, applied)
    except KeyboardInterrupt:  # Ctrl-C ends a performance; the recording is kept
        pass
    result.dropped = clock.dropped
    if result.shown > 1:
        result.seconds = result.frame_times[-1] - first_shown
    return frame


def _apply(walker: Walker, controls: list[Control], refusals: RefusalLog) -> list[Control]:
    """Apply ``controls`` in order; returns those applied (refused ones are logged)."""
    applied = []
    for control in controls:
        try:
            walker.apply(control)
        except BadControl as e:
            refusals.refuse(control, str(e))
        else:
            applied.append(control)
    return applied
