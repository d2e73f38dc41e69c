"""Opening the window `play` draws in, or saying in one line why there is none.

Without a display SDL does not fail: it falls back to an off-screen driver and "shows"
frames nobody sees, while its audio and desktop layers print ALSA and XDG warnings. So a
window is opened only where a display is, with only SDL's video part started (no audio
noise), and an off-screen driver is accepted only when SDL_VIDEODRIVER asks for it by name
(tests do, with ``dummy``).
"""

from __future__ import annotations

import contextlib
import os
import sys

from latentreel.errors import BadInputError

# SDL's drivers that draw nowhere: fine when asked for, a silent failure otherwise.
HEADLESS_DRIVERS = ("dummy", "offscreen", "evdev")

NO_WINDOW = ("`latentreel play` cannot open a window: {why}; run it in a desktop session "
             "(or `ssh -X`, or set DISPLAY), or write a video with `latentreel render`")


def check_display() -> None:
    """Fail early, before minutes of resolving a scene, where no window can open.

    Raises:
        BadInputError: on Linux and the BSDs, neither DISPLAY nor WAYLAND_DISPLAY is set and
            SDL_VIDEODRIVER does not name a driver.
    """
    if os.environ.get("SDL_VIDEODRIVER"):
        return  # asked for by name: trusted (the dummy driver of tests, kmsdrm on a kiosk)
    desktop = sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))
    if desktop and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise BadInputError(NO_WINDOW.format(why="no display (DISPLAY and WAYLAND_DISPLAY "
                                                 "are not set)"))


def open_window(pygame, *, side: int, fullscreen: bool, caption: str,
                width: int | None = None):
    """The window's surface: SDL's video started alone, the mode set, the caption given.
    ``side`` high and ``width`` wide (default: square).

    Raises:
        BadInputError: SDL could not open a window, or fell back to a driver that draws
            nowhere without being asked to.
    """
    check_display()
    asked = os.environ.get("SDL_VIDEODRIVER", "")
    try:
        with library_noise_hidden():
            pygame.display.init()  # not pygame.init(): its audio start prints ALSA errors
            flags = pygame.FULLSCREEN if fullscreen else 0
            screen = pygame.display.set_mode((0, 0) if fullscreen else (width or side, side),
                                             flags)
    except pygame.error as e:
        pygame.display.quit()
        raise BadInputError(NO_WINDOW.format(why=f"SDL says {str(e).strip() or 'no'}")) \
            from None
    driver = pygame.display.get_driver()
    if driver in HEADLESS_DRIVERS and driver != asked:
        pygame.display.quit()
        raise BadInputError(NO_WINDOW.format(why=f"SDL found only its {driver!r} driver, "
                                                 "which draws nowhere"))
    pygame.display.set_caption(caption)
    return screen


@contextlib.contextmanager
def library_noise_hidden():
    """Send what C libraries (SDL, ALSA, XDG) write to the process's stderr to /dev/null for
    the block: their warnings are not latentreel's message, which follows on failure."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedding host): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
