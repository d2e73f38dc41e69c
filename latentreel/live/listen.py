"""`play --listen`: live sound steering the performance through controls.listen.

A source delivers blocks of mono samples on its own thread: a sound card's input through
sounddevice (PortAudio), or a file played at wall-clock pace (`--listen file:song.wav`, for
rehearsals and tests, looping). Each block's features (live.features) pass each binding's
attack/release shaping, range and curve, and become the same `/latentreel/set` (or, for an
onset driving the pulse, `/latentreel/pulse`) messages OSC sends: recorded and replayed
like them. Only changes are sent, so a steady sound costs nothing.

The scene's `react:` entries on these features hear the sound too, beside controls.listen:
the frame thread takes the latest values once a frame (``take``), and live.reacting shapes
them with each reaction's own shaping; the recording keeps the values taken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from latentreel.errors import BadInputError
from latentreel.live.features import FeatureTracker, Shaper
from latentreel.live.inbox import Inbox
from latentreel.live.state import Control
from latentreel.scene.controls import FEATURES, Binding

RATE = 22050  # Hz: bands up to 8 kHz need no more
BLOCK = 512  # samples per block: 23 ms, under a frame at 30 fps
CHANGE = 2e-3  # a parameter moving less than this is not sent again
NO_INPUT = ("--listen: {why}; plug in a microphone or line-in, name a device "
            "(python -m sounddevice lists them), or use --listen file:SONG.wav")


class FileSource:
    """A sound file's samples, block by block at wall-clock pace, looping."""

    def __init__(self, path: Path, rate: int = RATE, block: int = BLOCK):
        from latentreel.video.probe import read_audio

        if not path.is_file():
            raise BadInputError(f"--listen file:{path}: no such file")
        try:
            self.samples = read_audio(path, rate)
        except Exception as e:  # ffmpeg could not decode it
            raise BadInputError(f"--listen file:{path}: cannot read it as sound ({e})") \
                from None
        if len(self.samples) < block:
            raise BadInputError(f"--listen file:{path}: the sound is empty")
        self.rate, self.block = rate, block
        self._stop = threading.Event()

    def start(self, callback: Callable[[np.ndarray], None]) -> None:
        def run():
            start, k, n = time.perf_counter(), 0, len(self.samples) // self.block
            while not self._stop.is_set():
                i = k % n
                callback(self.samples[i * self.block:(i + 1) * self.block])
                k += 1
                delay = start + k * self.block / self.rate - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)
        self._thread = threading.Thread(target=run, daemon=True, name="live-listen-file")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class DeviceSource:
    """A sound card's input (sounddevice), mono."""

    def __init__(self, device: str | None, rate: int = RATE, block: int = BLOCK):
        try:
            import sounddevice as sd
        except (ImportError, OSError) as e:  # OSError: the PortAudio library is missing
            raise BadInputError(NO_INPUT.format(why=f"no audio input here ({e})")) from None
        self.sd, self.rate, self.block = sd, rate, block
        self.device = int(device) if device and device.isdigit() else device
        try:
            inputs = [d for d in sd.query_devices() if d["max_input_channels"] > 0]
        except Exception as e:  # PortAudio found no host API
            raise BadInputError(NO_INPUT.format(why=f"no audio input here ({e})")) from None
        if not inputs:
            raise BadInputError(NO_INPUT.format(why="no audio input device here"))

    def start(self, callback: Callable[[np.ndarray], None]) -> None:
        try:
            self._stream = self.sd.InputStream(
                device=self.device, channels=1, samplerate=self.rate, blocksize=self.block,
                callback=lambda data, frames, t, status: callback(data[:, 0].copy()))
            self._stream.start()
        except Exception as e:  # a busy or unknown device
            raise BadInputError(NO_INPUT.format(why=f"cannot open {self.device!r} ({e})")) \
                from None

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()


def open_source(spec: str):
    """'file:PATH' or a device name/index ('default': the system's input).

    Raises:
        BadInputError: no such file, or no audio input.
    """
    if spec.startswith("file:"):
        return FileSource(Path(spec[len("file:"):]))
    return DeviceSource(None if spec == "default" else spec)


class ListenInput:
    """Context manager: ``source``'s features, through ``bindings``, into ``inbox``."""

    def __init__(self, source, bindings: tuple[Binding, ...], inbox: Inbox,
                 heard: bool = False):
        """``heard``: `react:` entries take the features too (``take``)."""
        if not bindings and not heard:
            raise BadInputError("--listen: the scene binds no sound features; add a "
                                "`controls: {listen: [...]}` section, e.g. "
                                "- {feature: onsets, param: pulse}, or a `react:` entry on "
                                "onsets, loudness, bass, mid or high")
        self.source, self.bindings, self.inbox = source, bindings, inbox
        self._lock = threading.Lock()
        self._latest: dict[str, float] = {}  # the last block's values, onsets since taken
        self.tracker = FeatureTracker(source.rate, source.block)
        self._shapers = [Shaper(b.attack, b.release) for b in bindings]
        self._sent: list[float | None] = [None] * len(bindings)
        self.onsets = 0

    def handle(self, samples: np.ndarray) -> None:
        """One block: features -> shaped, scaled parameter changes into the inbox."""
        now, dt = time.perf_counter(), self.source.block / self.source.rate
        features = self.tracker.push(samples)
        self.onsets += int(features["onsets"])
        with self._lock:  # an onset stays 1 until a frame takes it: none falls between frames
            onset = max(features["onsets"], self._latest.get("onsets", 0.0))
            self._latest = {**features, "onsets": onset}
        for i, b in enumerate(self.bindings):
            if b.param == "pulse" and b.source == "onsets":
                if features["onsets"]:
                    self.inbox.put(Control("/latentreel/pulse", (b.value(1.0),), now))
                continue
            value = b.value(self._shapers[i].step(features[b.source], dt))
            if self._sent[i] is None or abs(value - self._sent[i]) >= CHANGE:
                self._sent[i] = value
                self.inbox.put(Control("/latentreel/set", (b.param, value), now))

    def take(self) -> dict[str, float]:
        """The latest feature values for one frame (onsets: 1 if one fired since the last
        take); 0s before the first block."""
        with self._lock:
            values = {name: 0.0 for name in FEATURES} | self._latest
            self._latest = {**self._latest, "onsets": 0.0}
        return values

    def __enter__(self) -> ListenInput:
        self.source.start(self.handle)
        return self

    def __exit__(self, *exc) -> None:
        self.source.stop()
