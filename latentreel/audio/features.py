"""Per-video-frame features of a sound: exactly one value per frame, no drift.

The sound is resampled to ``fps * round(22050 / fps)`` Hz so one video frame is a whole
number of samples (the hop); frame f's values describe the sound around f / fps seconds.
Onsets and beats come from a finer grid (the hop divided by a whole number) pooled onto the
frames, so a hit lands on the frame nearest to it rather than anywhere within a hop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentreel.audio.load import Sound

BASE_RATE = 22050  # Hz to analyse at: music's features all sit well below its 11 kHz limit
BEATS_PER_BAR = 4  # bars are counted as four beats from the first detected beat
BANDS = {"bass": (20.0, 250.0), "mid": (250.0, 4000.0), "high": (4000.0, 11025.0)}  # Hz
FINE_HOP = 150  # samples: the onset grid is the frame hop divided into steps about this long
HARMONIC_STEPS = 31  # fine steps (~0.2 s) a sound must last to count as harmonic, not a hit

# What every feature means (the README and `latentreel audio` list them from here).
FEATURES = {
    "onsets": "how hard a hit starts on this frame, from the percussive part (0..1)",
    "beats": "1 on each beat's frame, else 0 (tempo from the beat tracker)",
    "bars": f"1 on the first beat of each bar ({BEATS_PER_BAR} beats from the first), else 0",
    "loudness": "RMS loudness, 1 on the loudest frame of the song",
    "bass": "energy below 250 Hz, 1 on its loudest frame",
    "mid": "energy from 250 Hz to 4 kHz, 1 on its loudest frame",
    "high": "energy above 4 kHz, 1 on its loudest frame",
    "chroma": "12 pitch classes C, C#, ..., B; the strongest on each frame is 1",
    "sections": "1 on the first frame of each new song section (verse, chorus, ...), else 0",
}


@dataclass(frozen=True)
class Features:
    """A sound's features at ``fps``, each [frames] (chroma [12, frames])."""

    fps: int
    frames: int  # round(duration * fps): the video length that matches the song
    duration: float  # seconds of sound
    tempo: float  # beats per minute
    beats: np.ndarray  # [B] int: frame of each beat, ascending
    sections: np.ndarray  # [S] int: first frame of each section after the first
    onsets: np.ndarray  # [T] float in [0, 1]
    loudness: np.ndarray  # [T]
    bass: np.ndarray  # [T]
    mid: np.ndarray  # [T]
    high: np.ndarray  # [T]
    chroma: np.ndarray  # [12, T]

    @property
    def bars(self) -> np.ndarray:
        """[bars] int: frame of the first beat of each bar."""
        return self.beats[::BEATS_PER_BAR]

    def series(self, name: str) -> np.ndarray:
        """Feature ``name`` as float64 [T] (chroma: [12, T])."""
        if name in ("beats", "bars", "sections"):
            x = np.zeros(self.frames)
            x[getattr(self, name)] = 1.0
            return x
        return np.asarray(getattr(self, name), dtype=np.float64)


def fine_steps(fps: int) -> int:
    """Fine onset steps per frame: each about FINE_HOP samples long."""
    return max(1, round(BASE_RATE / fps / FINE_HOP))


def analysis_rate(fps: int) -> int:
    """The sample rate features are computed at: a frame is a whole number of samples, and
    of fine onset steps (24 fps: 22032 Hz, 918 samples a frame, 6 steps of 153)."""
    fine = fine_steps(fps)
    return fps * fine * max(1, round(BASE_RATE / (fps * fine)))


def analyse(sound: Sound, fps: int) -> Features:
    """Every feature of ``sound`` at one value per frame of a ``fps`` video."""
    import librosa

    # 1. Resample so that a frame is a whole number of samples (the hop).
    rate = analysis_rate(fps)
    y = sound.samples
    if sound.rate != rate:
        y = librosa.resample(y, orig_sr=sound.rate, target_sr=rate, res_type="soxr_hq")
    hop, frames = rate // fps, int(np.floor(sound.duration * fps + 0.5))
    # 2. Onsets on a finer grid from the percussive part, pooled onto frames; beats from
    #    the pooled envelope (tracking them on the fine grid costs 5x more, mostly in the
    #    tempo's autocorrelation, for beats that land on frames all the same).
    fine, onset_env = _fine_onsets(y, rate, hop)
    onsets = _pool(onset_env, fine, hop, frames)
    tempo, beat_frames = librosa.beat.beat_track(onset_envelope=onsets, sr=rate,
                                                 hop_length=hop, trim=False)
    beats = np.unique(np.asarray(beat_frames, dtype=np.int64))
    beats = beats[(beats >= 0) & (beats < frames)]
    # 3. Loudness, bands and chroma, one STFT column per frame (centred on f / fps).
    loud = librosa.feature.rms(y=y, frame_length=2 * hop, hop_length=hop)[0]
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop)) ** 2  # [1025, ~T]
    freqs = librosa.fft_frequencies(sr=rate, n_fft=2048)
    bands = {name: np.sqrt(power[(freqs >= lo) & (freqs < hi)].sum(axis=0))
             for name, (lo, hi) in BANDS.items()}
    chroma = librosa.feature.chroma_stft(S=power, sr=rate)
    # 4. Sections from the beat-synchronous timbre and harmony.
    from latentreel.audio.sections import section_starts

    sections = section_starts(power, chroma, beats, rate)
    return Features(
        fps=fps, frames=frames, duration=sound.duration,
        tempo=float(np.atleast_1d(tempo)[0]), beats=beats, sections=sections,
        onsets=_unit(onsets), loudness=_unit(_fit(loud, frames)),
        bass=_unit(_fit(bands["bass"], frames)), mid=_unit(_fit(bands["mid"], frames)),
        high=_unit(_fit(bands["high"], frames)),
        chroma=np.stack([_fit(c, frames) for c in chroma]).astype(np.float32),
    )


def _fine_onsets(y: np.ndarray, rate: int, hop: int) -> tuple[int, np.ndarray]:
    """(steps per frame, onset strength of the percussive part on the fine grid).

    The percussive part is separated on a mel spectrogram (median filtering, as librosa's
    HPSS does on a full STFT, five times cheaper with 64 bands than with 1025 bins) and its
    spectral flux is the onset strength."""
    import librosa

    fine = fine_steps(rate // hop)
    mel = librosa.feature.melspectrogram(y=y, sr=rate, n_fft=512, hop_length=hop // fine,
                                         n_mels=64, fmax=rate / 2)
    _, percussive = librosa.decompose.hpss(mel, kernel_size=(HARMONIC_STEPS, 9))
    env = librosa.onset.onset_strength(S=librosa.power_to_db(percussive), sr=rate,
                                       hop_length=hop // fine, n_fft=512, center=True)
    return fine, env


def _pool(env: np.ndarray, fine: int, hop: int, frames: int) -> np.ndarray:
    """Max of the fine envelope over each frame's share of time: [f - 1/2, f + 1/2) frames.

    The envelope's peaks sit within 3 ms of the hits (a 512-sample flux, centred; measured on
    click tracks at 24, 25, 30 and 60 fps), so no shift is needed."""
    target = np.floor(np.arange(len(env)) / fine + 0.5).astype(np.int64)
    out = np.zeros(frames)
    keep = (target >= 0) & (target < frames)
    np.maximum.at(out, target[keep], env[keep])
    return out


def _fit(x: np.ndarray, frames: int) -> np.ndarray:
    """Cut or pad (with the last value) a per-frame series to ``frames``."""
    if len(x) >= frames:
        return x[:frames]
    return np.concatenate([x, np.full(frames - len(x), x[-1] if len(x) else 0.0)])


def _unit(x: np.ndarray) -> np.ndarray:
    """Scaled so the largest value is 1 (all zeros stay zeros)."""
    top = float(np.max(x)) if len(x) else 0.0
    return (x / top if top > 0 else x).astype(np.float32)
