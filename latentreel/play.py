"""`latentreel play`: a scene live in a window (or headless), looping until stopped.

A thin front on live.session: `play` with no control options is a performance nobody
steers. Frames are drawn on the frame thread against a wall clock (late frames are dropped,
time never drifts); SDL (through pygame) draws the window; tests use SDL's dummy driver.
"""

from __future__ import annotations

from pathlib import Path

from latentreel.live.session import LiveOptions, LiveResult, perform


def play_scene(scene, *, fullscreen: bool = False, size: int | None = None,
               max_frames: int | None = None, screenshot: Path | None = None,
               device: str = "auto", upscale: str | None = None) -> int:
    """Show ``scene`` in a window until closed (Esc/q) or ``max_frames`` are shown.

    Returns:
        the number of frames shown.
    """
    options = LiveOptions(fullscreen=fullscreen, size=size, max_frames=max_frames,
                          screenshot=screenshot, device=device, upscale=upscale)
    return perform(scene, options).shown


__all__ = ["LiveOptions", "LiveResult", "perform", "play_scene"]
