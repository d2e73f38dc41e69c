"""Adding a soundtrack to a rendered video: trimmed or looped to fit, video copied as is.

moviepy prepares the sound (cut to the video's length, or repeated to fill it) as a
lossless WAV; ffmpeg then muxes it as AAC next to a stream copy of the video, so adding
sound never re-encodes (or degrades) the frames.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from latentreel.errors import BadInputError
from latentreel.video.probe import has_audio_stream, video_duration
from latentreel.video.writer import atomic_output, run_ffmpeg

AUDIO_RATE = 44100  # Hz: CD rate, which every player and AAC encoder takes
AUDIO_BITRATE = "192k"  # AAC at this rate is transparent for music


def _open_audio(audio_path: Path):
    """moviepy AudioFileClip for ``audio_path``, or a BadInputError that says what to do."""
    from moviepy import AudioFileClip

    if not audio_path.is_file():
        raise BadInputError(f"{audio_path}: no such audio file; fix the path in output.audio "
                            "or remove it")
    # Checked first: moviepy half-builds its reader on a bad file and complains at exit.
    unreadable = BadInputError(f"{audio_path}: cannot read it as sound; use a WAV, MP3, FLAC, "
                               "OGG or M4A file")
    if not has_audio_stream(audio_path):
        raise unreadable
    try:
        clip = AudioFileClip(str(audio_path), fps=AUDIO_RATE)
    except Exception:  # ffmpeg saw a stream, but moviepy could not decode it
        raise unreadable from None
    if not clip.duration or clip.duration <= 0:
        clip.close()
        raise BadInputError(f"{audio_path}: the sound is empty; use a file with audio in it")
    return clip


def audio_problem(audio_path: Path) -> str | None:
    """Why ``audio_path`` cannot be a soundtrack (None: it can), found without moviepy: an
    audio stream in ffmpeg's summary, and its first seconds decode. What `validate` checks."""
    import subprocess

    from latentreel.video.writer import ffmpeg_exe

    advice = "use a WAV, MP3, FLAC, OGG or M4A file"
    if not has_audio_stream(audio_path):
        return f"{audio_path.name} holds no sound ffmpeg can read; {advice}"
    proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-t", "2", "-i", str(audio_path),
                           "-map", "0:a:0", "-f", "null", "-"],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if proc.returncode != 0:
        return f"{audio_path.name}: its sound does not decode; {advice}"
    return None


def fit_audio(audio_path: Path, seconds: float, wav_out: Path) -> Path:
    """Write ``audio_path`` trimmed (or looped, when shorter) to ``seconds`` as a WAV.

    Raises:
        BadInputError: the audio file is missing, unreadable or empty.
    """
    from moviepy import afx

    clip = _open_audio(Path(audio_path))
    try:
        if clip.duration >= seconds:
            fitted = clip.subclipped(0, seconds)
        else:
            fitted = clip.with_effects([afx.AudioLoop(duration=seconds)])
        fitted.write_audiofile(str(wav_out), fps=AUDIO_RATE, codec="pcm_s16le", logger=None)
    finally:
        clip.close()
    return Path(wav_out)


def mux_audio(video_path: Path, audio_path: Path, out_path: Path) -> Path:
    """Put ``audio_path`` into ``video_path`` as AAC, fitted to the video's length.

    ``out_path`` may be ``video_path``: the result replaces it atomically either way, and
    if muxing fails the (silent) video is removed.

    Raises:
        BadInputError: the video or the audio file is missing or unreadable.
        RenderError: ffmpeg failed (its message included); ``out_path`` is untouched.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    seconds = video_duration(video_path)
    try:
        with tempfile.TemporaryDirectory(prefix="latentreel-audio-") as work:
            wav = fit_audio(Path(audio_path), seconds, Path(work) / "sound.wav")
            with atomic_output(out_path) as tmp:
                run_ffmpeg(["-i", str(video_path), "-i", str(wav), "-map", "0:v:0",
                            "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
                            "-b:a", AUDIO_BITRATE, "-movflags", "+faststart", "-f", "mp4",
                            str(tmp)], f"adding {audio_path} to {video_path}")
    except BaseException:
        # Muxing in place (a render's last step): a silent video is not what was asked for,
        # and would pass for a finished one; leave nothing behind.
        if out_path.resolve() == video_path.resolve():
            video_path.unlink(missing_ok=True)
        raise
    return out_path
