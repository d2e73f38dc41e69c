"""`latentreel bench audio`: what listening to music costs, and whether sound and picture
stay together.

1. Analysis time of a synthetic song of ``minutes`` (target: under 30 s on a 2-core CPU),
   after a short warm-up that pays librosa's one-off compilation.
2. Render speed of a reactive scene against the same scene without `react:` (target: at
   least 0.9), both encoded as a render encodes, best of alternating runs.
3. A ``mux_minutes`` render with the song as its soundtrack: the muxed sound's length
   against the video's (target: under one frame apart).
"""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from latentreel.bench.common import machine_info

REACT = """react:
  - {feature: onsets, stem: kick, drive: pulse, amount: 0.5}
  - {feature: loudness, stem: bass, drive: pulse, amount: 0.3, attack: 0.5, release: 1.0}
  - {feature: loudness, drive: speed, amount: 1.0}
  - {feature: chroma, drive: chroma, amount: 0.2}
"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def _scene(folder: Path, react: str, fps: int, size: int, name: str,
           length: str = "song") -> Path:
    text = textwrap.dedent(f"""
        model: dcgan-digiface
        audio: {{path: beat.wav, stems: {{kick: kick.wav, bass: bass.wav}}, length: {length}}}
        output: {{size: {size}, fps: {fps}, preset: ultrafast}}
        defaults: {{hold: 0, transition: 2}}
        keyframes: [{{seed: 1}}, {{seed: 2}}, {{seed: 3}}, {{seed: 4}}, {{seed: 5}}]
        """) + react
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def run_music_bench(*, minutes: float = 5.0, mux_minutes: float = 10.0, frames: int = 300,
                    log: Callable[[str], None] = print) -> dict:
    from latentreel.audio.beat import write_beat
    from latentreel.audio.features import analyse
    from latentreel.audio.load import load_sound

    results: dict = {"machine": machine_info()}
    with tempfile.TemporaryDirectory(prefix="latentreel-bench-audio-") as tmp:
        folder = Path(tmp)
        # 1. Analysis of a long song (a short one first: librosa compiles on first use).
        warm = write_beat(folder / "warm", bars=2)
        t0 = time.perf_counter()
        analyse(load_sound(warm), 30)
        warmup = time.perf_counter() - t0
        song = write_beat(folder / "long", bars=int(round(minutes * 30)))
        sound = load_sound(song)
        t0 = time.perf_counter()
        features = analyse(sound, 30)
        seconds = time.perf_counter() - t0
        results["analysis"] = {"song_s": sound.duration, "seconds": seconds,
                               "first_call_s": warmup, "tempo": features.tempo,
                               "beats": len(features.beats)}
        log(f"analysis: {sound.duration / 60:.1f} min song in {seconds:.1f} s (target < 30 s; "
            f"first call in a process +{warmup:.1f} s compiling), {features.tempo:.1f} bpm, "
            f"{len(features.beats)} beats; {_load()}")
        # 2. Reactive against plain render speed.
        results["render"] = _render_ratio(folder, frames, log)
        # 3. Sound and picture of a long render end together.
        results["mux"] = _mux_check(folder, mux_minutes, log)
    return results


def _render_ratio(folder: Path, frames: int, log) -> dict:
    from latentreel.audio.beat import write_beat
    from latentreel.render.pipeline import write_path_video
    from latentreel.render.prepared import prepare_scene
    from latentreel.scene.load import load_scene

    fps = 30
    bars = max(1, -(-frames // (2 * fps)))  # 2 s a bar
    write_beat(folder, bars=bars)
    prepared = {name: prepare_scene(load_scene(_scene(folder, react, fps, 256, name)),
                                    device="cpu", progress=False)
                for name, react in (("plain", ""), ("reactive", REACT))}
    best = {name: float("inf") for name in prepared}
    for _ in range(3):  # alternating, so a busy moment of the machine hits both
        for name, p in prepared.items():
            from dataclasses import replace

            p = replace(p, output=replace(p.output, path=folder / f"{name}.mp4"))
            t0 = time.perf_counter()
            n = write_path_video(p, progress=False)
            best[name] = min(best[name], time.perf_counter() - t0)
    fps_of = {name: n / best[name] for name in best}
    ratio = fps_of["reactive"] / fps_of["plain"]
    log(f"render ({n} frames, dcgan-digiface 64 -> 256 px, CPU): plain "
        f"{fps_of['plain']:.1f} frames/s, reactive {fps_of['reactive']:.1f} frames/s, "
        f"ratio {ratio:.3f} (target >= 0.9); {_load()}")
    return {"frames": n, "plain_fps": fps_of["plain"], "reactive_fps": fps_of["reactive"],
            "ratio": ratio}


def _mux_check(folder: Path, minutes: float, log) -> dict:
    from latentreel.audio.beat import write_beat
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene.load import load_scene
    from latentreel.video.probe import probe_video, read_audio

    fps = 30
    mux = folder / "mux"
    write_beat(mux, bars=int(round(minutes * 30)))
    scene = load_scene(_scene(mux, "react: [{feature: onsets, drive: pulse, amount: 0.5}]",
                              fps, 16, "mux"))
    t0 = time.perf_counter()
    result = render_scene(scene, RenderOptions(device="cpu", progress=False))
    info = probe_video(result.path)
    sound_s = len(read_audio(result.path, rate=48000)) / 48000
    video_s = info.frames / fps
    gap = abs(sound_s - video_s)
    log(f"mux: {minutes:g} min render ({info.frames} frames at {fps} fps, "
        f"{time.perf_counter() - t0:.0f} s): video {video_s:.4f} s, sound {sound_s:.4f} s, "
        f"apart {gap * 1000:.1f} ms = {gap * fps:.3f} frames (target < 1); {_load()}")
    return {"frames": info.frames, "video_s": video_s, "sound_s": sound_s,
            "apart_frames": gap * fps}
