"""MIDI in (mido over python-rtmidi): controls.midi bindings turn CCs and notes into the same
`/latentreel/set` messages OSC sends, so MIDI is recorded and replayed like the rest.

A CC's value (0-127) and a note's velocity travel their binding's curve from its range's low
end to its high end. A note-off (or a note-on at velocity 0) sets the parameter back to its
low end, except a pulse, which dies away by itself. rtmidi calls back on its own thread; the
callback only appends to the Inbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from latentreel.errors import BadInputError
from latentreel.live.inbox import Inbox
from latentreel.live.state import Control
from latentreel.scene.controls import Binding

NO_MIDI = ("{what}: {why}; MIDI needs a port (a controller plugged in) or ALSA's virtual "
           "ports (/dev/snd/seq); see `latentreel midi-learn --list`")


def controls_for(message, bindings: tuple[Binding, ...], received: float = 0.0) -> list[Control]:
    """The control messages a mido ``message`` means under ``bindings`` ([] for none)."""
    kind = message.type
    if kind == "control_change":
        source, number, value = "cc", message.control, message.value
    elif kind in ("note_on", "note_off"):
        source, number = "note", message.note
        value = message.velocity if kind == "note_on" else 0
    else:
        return []
    out = []
    for b in bindings:
        if b.source != source or b.number != number or \
                b.channel is not None and b.channel != message.channel + 1:
            continue
        if source == "note" and value == 0 and b.param == "pulse":
            continue  # a pulse dies away by itself
        out.append(Control("/latentreel/set", (b.param, b.value(value / 127)), received))
    return out


def input_names(what: str = "--midi") -> list[str]:
    """MIDI input ports here.

    Raises:
        BadInputError: no MIDI system (no ALSA sequencer, no backend).
    """
    from latentreel.window import library_noise_hidden

    try:
        import mido

        with library_noise_hidden():  # ALSA prints its own failure to stderr first
            return list(mido.get_input_names())
    except ImportError:
        why = "mido and python-rtmidi are not installed (pip install mido python-rtmidi)"
        raise BadInputError(NO_MIDI.format(what=what, why=why)) from None
    except (OSError, SystemError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        why = f"no MIDI system here ({first})"
        raise BadInputError(NO_MIDI.format(what=what, why=why)) from None


def open_port(name: str, callback, what: str = "--midi"):
    """Open MIDI input ``name`` ('auto': the first port) with ``callback(message)``.

    Raises:
        BadInputError: no MIDI system, no ports, or no port of that name.
    """
    import mido

    names = input_names(what)
    if not names:
        raise BadInputError(NO_MIDI.format(what=what, why="no MIDI input ports"))
    if name == "auto":
        name = names[0]
    if name not in names:
        raise BadInputError(f"{what} {name!r}: no such input port; ports: {', '.join(names)}")
    return mido.open_input(name, callback=callback)


class MidiInput:
    """Context manager: ``port``'s messages, mapped by ``bindings``, into ``inbox``."""

    def __init__(self, port: str, bindings: tuple[Binding, ...], inbox: Inbox):
        if not bindings:
            raise BadInputError("--midi: the scene binds no MIDI controls; add a "
                                "`controls: {midi: [...]}` section (`latentreel midi-learn` "
                                "prints a binding for a moved control)")
        self.port_name, self.bindings, self.inbox = port, bindings, inbox
        self.received = 0

    def handle(self, message) -> None:
        self.received += 1
        for control in controls_for(message, self.bindings, time.perf_counter()):
            self.inbox.put(control)

    def __enter__(self) -> MidiInput:
        self._port = open_port(self.port_name, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        self._port.close()


def learned_binding(message, param: str = "truncation") -> str | None:
    """The `controls.midi` line for the control ``message`` came from (None: not a CC or
    a note), for the user to paste and edit."""
    channel = message.channel + 1 if hasattr(message, "channel") else None
    if message.type == "control_change":
        knob = f"cc: {message.control}"
    elif message.type == "note_on" and message.velocity > 0:
        knob, param = f"note: {message.note}", "pulse"
    else:
        return None
    return f"- {{{knob}, channel: {channel}, param: {param}, range: [0.0, 1.0]}}"


def learn(pending: Callable[[], Iterable], *, timeout: float | None = None,
          poll: float = 0.01) -> str | None:
    """The binding for the first CC or note that ``pending()`` (e.g. an open port's
    ``iter_pending``) yields, or None when ``timeout`` seconds pass first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        for message in pending():
            line = learned_binding(message)
            if line is not None:
                return line
        time.sleep(poll)
    return None
