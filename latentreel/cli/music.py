"""`latentreel audio` and `latentreel bench audio`: the music a scene listens to."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.bench import bench_app
from latentreel.cli.options import checked_name


@app.command("audio")
def audio(
    source: Path = typer.Argument(..., help="A sound file (WAV, FLAC, MP3, OGG, M4A) or a "
                                  "scene with `audio:`."),
    out: Path = typer.Option(None, "-o", "--out", callback=checked_name,
                             help="The PNG to write (default: next to the source)."),
    fps: int = typer.Option(None, min=1, max=240, help="Frames per second to analyse at "
                            "(default: the scene's, or 30)."),
) -> None:
    """Plot the music's features per video frame, with keyframes and reactions marked."""
    from latentreel.analysis.music import plot_music

    out = out or source.with_name(f"{source.stem}-features.png")
    s = plot_music(source, out, fps=fps)
    f = s.features
    typer.echo(f"wrote {out}: {f.duration:.2f} s, {f.frames} frames at {f.fps} fps, "
               f"{f.tempo:.1f} bpm, {len(f.beats)} beats, {len(f.bars)} bars, "
               f"{len(f.sections) + 1} sections"
               + (f", {len(s.keyframe_frames)} keyframes, {len(s.reactions)} reactions"
                  if s.keyframe_frames else ""))


@bench_app.command("audio")
def bench_audio(
    minutes: float = typer.Option(5.0, min=0.1, help="Length of the synthetic track to "
                                  "analyse."),
    mux_minutes: float = typer.Option(10.0, min=0.1, help="Length of the render whose sound "
                                      "and picture lengths are compared."),
    frames: int = typer.Option(300, min=10, help="Frames to render for the speed ratio."),
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
) -> None:
    """Analysis time of a synthetic song, reactive vs plain render speed, muxed lengths."""
    from latentreel.bench.common import write_json
    from latentreel.bench.music import run_music_bench

    write_json(json_out, run_music_bench(minutes=minutes, mux_minutes=mux_minutes,
                                         frames=frames, log=typer.echo))
