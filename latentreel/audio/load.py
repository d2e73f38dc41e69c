"""Reading a sound file into mono samples, with one refusal for each way a file can be wrong.

soundfile (libsndfile) reads WAV, FLAC, OGG and MP3 exactly and fast; anything else (M4A)
is decoded by the ffmpeg latentreel encodes with (imageio-ffmpeg's: no ffmpeg on the PATH
needed, as librosa's audioread fallback would).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentreel.errors import BadInputError

FORMATS = "WAV, FLAC, MP3, OGG or M4A"
FFMPEG_RATE = 44100  # Hz to decode other formats at (features resample anyway)
SILENCE = 1e-4  # peak amplitude below which a file counts as silent (-80 dBFS)


@dataclass(frozen=True)
class Sound:
    """Mono samples of one file."""

    samples: np.ndarray  # [N] float32 in [-1, 1]
    rate: int  # samples per second
    path: Path

    @property
    def duration(self) -> float:
        """Seconds of sound."""
        return len(self.samples) / self.rate


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (the feature cache and the resume fingerprint key on it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:24]


def load_sound(path: str | Path) -> Sound:
    """Read ``path`` as mono float32.

    Raises:
        BadInputError: missing, unreadable, empty or silent (one line naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such audio file; check the path")
    samples, rate = _read(path)
    if samples.size == 0:
        raise BadInputError(f"{path}: the file holds no sound; use a file with audio in it")
    if not np.isfinite(samples).all() or float(np.abs(samples).max()) < SILENCE:
        raise BadInputError(f"{path}: the sound is silent, nothing to react to; use a file "
                            "with audible sound in it")
    return Sound(samples=samples, rate=int(rate), path=path)


def _read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data.mean(axis=1), rate
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        pass  # not a format libsndfile reads (MP3 in old versions, M4A): try ffmpeg
    from latentreel.errors import LatentreelError
    from latentreel.video.probe import has_audio_stream, read_audio

    try:
        if has_audio_stream(path):
            return read_audio(path, rate=FFMPEG_RATE), FFMPEG_RATE
    except LatentreelError:  # ffmpeg saw a stream but could not decode it
        pass
    raise BadInputError(f"{path}: cannot read it as sound; use a {FORMATS} file")


def sound_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a scene's music (None: it can); for scene validation."""
    try:
        load_sound(path)
    except BadInputError as e:
        return str(e).split(": ", 1)[-1]
    return None
