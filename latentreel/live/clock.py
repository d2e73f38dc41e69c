"""Frame pacing against the wall clock: late frames are dropped, time never drifts.

Slot k is due at ``start + k / fps``, computed from the start every time (never by adding
frame periods, whose rounding errors add up over days). A frame that comes late takes the
slot that is current when it is ready and the slots it missed are dropped, so the picture is
where the wall clock says it should be, not where the slow frames left it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class FrameClock:
    """Hands out clock slots at ``fps``.

    Args:
        fps: slots per second.
        now, sleep: the clock and the wait (tests pass fakes).
    """

    def __init__(self, fps: float, *, now: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        self.fps, self._now, self._sleep = fps, now, sleep
        self.start = now()
        self.slot = -1  # the slot of the frame shown last
        self.dropped = 0  # slots that passed with no new frame

    def due(self, slot: int) -> float:
        """When ``slot`` is due on the clock."""
        return self.start + slot / self.fps

    def current(self) -> int:
        """The slot the wall clock is in now."""
        # A hair of slack: waking exactly at a slot's due time must count as being in it.
        return math.floor((self._now() - self.start) * self.fps + 1e-6)

    def next_slot(self) -> int:
        """The slot of the next frame: the one after the last, or the current one when that
        is already past. Call before drawing; then ``wait`` for it."""
        return max(self.slot + 1, self.current())

    def sleep_until(self, moment: float) -> None:
        """Sleep until ``moment`` on the clock (no-op once it has passed)."""
        delay = moment - self._now()
        if delay > 0:
            self._sleep(delay)

    def wait(self, slot: int) -> int:
        """Sleep until ``slot`` is due and take it (a late frame takes the current slot
        instead); returns the slot taken."""
        late = self.current()
        if late > slot:
            slot = late  # drawn too slowly: show it now, in the slot it is in
        else:
            delay = self.due(slot) - self._now()
            if delay > 0:
                self._sleep(delay)
        self.dropped += max(0, slot - self.slot - 1)
        self.slot = slot
        return slot
