"""Keyframes pinned to the music (`at: 12.5`, `at: beat 8`, `at: bar 2`) as video frames."""

from __future__ import annotations

import re

from latentreel.audio.features import Features

UNITS = ("seconds", "beat", "bar")
_SPOKEN = re.compile(r"^\s*(beat|bar)\s+(\d+)\s*$")


def parse_at(value) -> tuple[str, float] | None:
    """``12.5`` -> ("seconds", 12.5); ``"beat 8"`` -> ("beat", 8); None if neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return "seconds", float(value)
    m = _SPOKEN.match(value) if isinstance(value, str) else None
    return (m.group(1), int(m.group(2))) if m else None


def pin_frame(unit: str, value: float, fps: int, features: Features | None) -> int | str:
    """The frame a pin lands on, or why it cannot (beyond the song's end).

    Seconds round to the nearest frame; beat N is the frame of the N-th detected beat
    (counted from 0), bar N that of beat N * beats-per-bar."""
    if unit == "seconds":
        frame = int(value * fps + 0.5)
        if features is not None and frame >= features.frames:
            return (f"{value:g} s is past the song's end ({features.duration:.2f} s); pin it "
                    "earlier")
        return frame
    if features is None:
        return f"`{unit} {int(value)}` needs the scene's music; add `audio: {{path: song.wav}}`"
    marks = features.beats if unit == "beat" else features.bars
    if value >= len(marks):
        return (f"the song has {len(marks)} {unit}s (0 to {len(marks) - 1}); pin it to an "
                "earlier one")
    return int(marks[int(value)])
