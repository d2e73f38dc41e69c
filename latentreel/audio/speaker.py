"""Sound out of the machine's speakers for `play`, through PortAudio (sounddevice).

A machine without PortAudio or without an output device (a server, a container) still plays
the picture: ``open_speaker`` says so in one line instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from latentreel.audio.load import Sound, load_sound

NO_DEVICE = "no audio device: playing without sound"


class Speaker:
    """Plays one sound from its start, again on every ``start``."""

    def __init__(self, sd, sound: Sound):
        self._sd, self._sound = sd, sound

    def start(self) -> None:
        """(Re)start the sound from its beginning, now."""
        self._sd.stop()
        self._sd.play(self._sound.samples, self._sound.rate)

    def stop(self) -> None:
        self._sd.stop()


def open_speaker(path: Path) -> tuple[Speaker | None, str | None]:
    """(a Speaker for ``path``, None), or (None, why there is no sound: one line).

    Raises:
        BadInputError: the sound file itself is missing or unreadable.
    """
    sound = load_sound(path)
    try:
        import sounddevice as sd
    except (ImportError, OSError):  # OSError: the PortAudio library is not installed
        return None, f"{NO_DEVICE} (PortAudio is not installed)"
    try:
        sd.query_devices(kind="output")
    except Exception:  # PortAudioError or ValueError: no default output device
        return None, NO_DEVICE
    return Speaker(sd, sound), None
