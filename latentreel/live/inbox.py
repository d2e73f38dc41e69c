"""Where control messages wait for the next frame, and how refused ones are reported.

Listener threads (OSC, MIDI, audio) only append to a ``queue.SimpleQueue`` (a lock-free
deque in CPython: a put never waits for the frame thread); the frame thread drains it once
per frame, at most ``DRAIN_LIMIT`` messages, so a storm of thousands of messages a second
costs each frame a bounded moment and never stalls the clock.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable

from latentreel.live.state import Control

DRAIN_LIMIT = 5000  # messages applied per frame at most; the rest wait for the next frame
ADDRESSES_KEPT = 100  # refusal counts kept per address; past that, one count for the rest
OTHERS = "(other addresses)"


class Inbox:
    """Control messages from any thread, drained by the frame thread."""

    def __init__(self):
        self._queue: queue.SimpleQueue[Control] = queue.SimpleQueue()

    def put(self, control: Control) -> None:
        self._queue.put(control)

    def drain(self, limit: int = DRAIN_LIMIT) -> list[Control]:
        """Every waiting message, oldest first (at most ``limit``)."""
        out = []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out


class RefusalLog:
    """Counts refused messages per address and says why once per address (a controller
    sending a bad message 30 times a second must not flood the terminal)."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.counts: dict[str, int] = {}
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    def refuse(self, control: Control, why: str) -> None:
        address = control.address[:80]
        if address not in self.counts and len(self.counts) >= ADDRESSES_KEPT:
            address = OTHERS  # a sender inventing addresses must not grow this for weeks
        if address not in self.counts:
            self._log(f"live: ignoring {address} {list(control.args)[:4]}: {why} (further "
                      "refusals at this address are only counted)")
            self.counts[address] = 0
        self.counts[address] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())
