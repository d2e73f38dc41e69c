"""Commands that read scenes: render, validate, schema, sample."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.options import DEVICE_HELP, MODEL_HELP, QUIET_HELP, checked_name


@app.command()
def render(
    scene: Path = typer.Argument(..., help="The scene YAML file."),
    out: str = typer.Option(None, "-o", "--out", help="Output MP4 (default: the scene's); "
                            "a folder keeps the scene's file name."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Frames per generator call."),
    fps: int = typer.Option(None, "--fps", min=1, max=240, help="Override output fps."),
    size: int = typer.Option(None, "--size", min=16, max=4096, help="Override output size."),
    preview: bool = typer.Option(False, "--preview", help="Fast low-size, low-fps render "
                                 "(no learned upscaler unless --upscale)."),
    precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16: lower is faster where "
                                  "the hardware supports it, a few pixel levels off."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    segment_seconds: float = typer.Option(None, "--segment-seconds", min=0.1,
                                          help="Write complete segments of this length "
                                          "(--resume alone keeps the interrupted one's)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted "
                                "segmented render from its last complete segment."),
    ray: str = typer.Option(None, "--ray", help="Render segments on Ray: local (a private "
                            "instance here), auto, or the head's host:port / ray://host:port."),
    workers: int = typer.Option(None, "--workers", min=1, help="Ray workers (default: one "
                                "per GPU of the cluster, else one)."),
    ray_timeout: float = typer.Option(120.0, "--ray-timeout", min=1, help="Seconds to wait "
                                      "for the cluster and for its workers to start."),
    upscale: str = typer.Option(None, "--upscale", help="Override output.upscale: none | "
                                "lanczos | an upscaler from `latentreel models`."),
    upscale_smooth: bool = typer.Option(None, "--upscale-smooth/--no-upscale-smooth",
                                        help="Override output.upscale_smooth: steady the "
                                        "learned detail over neighbouring frames."),
    controls: Path = typer.Option(None, "--controls", help="Replay a performance: the "
                                  "NAME.frames.json `play --record` wrote, frame for frame."),
) -> None:
    """Render a scene to an MP4."""
    from latentreel.errors import BadInputError
    from latentreel.render.pipeline import RenderOptions, render_scene
    from latentreel.scene import load_scene

    if controls is not None:
        _replay(scene, controls, out=out, device=device, quiet=quiet,
                others={"--batch-size": batch_size, "--fps": fps, "--size": size,
                        "--preview": preview, "--segment-seconds": segment_seconds,
                        "--resume": resume, "--ray": ray, "--upscale": upscale,
                        "--upscale-smooth": upscale_smooth,
                        "--precision": precision if precision != "fp32" else None})
        return

    options = RenderOptions(
        out=out, device=device, batch_size=batch_size, fps=fps, size=size, preview=preview,
        progress=not quiet, segment_seconds=segment_seconds, resume=resume, precision=precision,
        upscale=upscale, upscale_smooth=upscale_smooth,
    )
    if ray is None and workers is not None:
        raise BadInputError("--workers: only with --ray (e.g. --ray local --workers 2)")
    if ray is not None:
        from latentreel.distributed.cluster import RayOptions
        from latentreel.distributed.runner import render_scene_ray

        r = render_scene_ray(load_scene(scene), options,
                             RayOptions(address=ray, workers=workers, timeout=ray_timeout))
        setup = r.first_frame_seconds or 0.0
        typer.echo(f"wrote {r.path} ({timing_summary(r.frames, r.rendered, r.seconds, setup)}"
                   f"; {r.workers} Ray worker{'s' * (r.workers != 1)}, "
                   f"{r.retried} segment{'s' * (r.retried != 1)} retried)")
        return
    result = render_scene(load_scene(scene), options)
    rendered = result.frames if result.rendered is None else result.rendered
    typer.echo(f"wrote {result.path} ("
               f"{timing_summary(result.frames, rendered, result.seconds, result.setup_seconds)})")


def _replay(scene: Path, controls: Path, *, out: str | None, device: str, quiet: bool,
            others: dict) -> None:
    """`render --controls`: the recording decides fps, size and upscaling; the frames are
    the performance's, drawn one by one (no segments, no Ray: they would not be the same)."""
    from latentreel.errors import BadInputError
    from latentreel.live.replay import replay_controls
    from latentreel.render.outpath import settle_output_path
    from latentreel.scene import load_scene

    given = [flag for flag, value in others.items() if value not in (None, False)]
    if given:
        raise BadInputError(f"--controls replays a recording as it was shown; drop "
                            f"{', '.join(given)}")
    s = load_scene(scene)
    path = settle_output_path(out, s.output.path, s)
    r = replay_controls(s, controls, path, device=device, progress=not quiet)
    typer.echo(f"wrote {r.path} ({r.frames} frames in {r.seconds:.1f} s: {r.setup_seconds:.1f} "
               f"s set-up, {r.drawn} drawn, {r.frames - r.drawn} repeating dropped slots)")


def timing_summary(frames: int, rendered: int, seconds: float, setup: float) -> str:
    """'40 frames in 3.1 s: 1.2 s set-up, then 40 rendered at 21.1 frames/s' (and how many
    a resume reused): the speed counts only the time spent rendering."""
    busy = seconds - setup
    rate = f"{rendered / busy:.1f} frames/s" if busy > 0 else "no time"
    reused = f"; {frames - rendered} reused" if rendered < frames else ""
    return (f"{frames} frames in {seconds:.1f} s: {setup:.1f} s set-up, then {rendered} "
            f"rendered at {rate}{reused}")


@app.command()
def validate(scene: Path = typer.Argument(..., help="The scene YAML file.")) -> None:
    """Check a scene file; print every problem. Exit 0 when valid, 2 when not."""
    from latentreel.render.schedule import frames_for
    from latentreel.scene import load_scene

    s = load_scene(scene)
    n = len(s.keyframes)
    holds = sum(frames_for(k.hold, s.output.fps) for k in s.keyframes)
    trans = s.keyframes if s.loop and n > 1 else s.keyframes[:-1]
    total = holds + sum(frames_for(k.transition.duration, s.output.fps) for k in trans)
    expands = sum(1 for k in s.keyframes if k.kind == "feedback")
    note = f" before {expands} feedback keyframe(s) expand into chains" if expands else ""
    typer.echo(f"{scene}: valid; {n} keyframes, {total} frames "
               f"({total / s.output.fps:.1f} s at {s.output.fps} fps){note} -> {s.output.path}")
    if s.react and s.audio is None:  # valid, but only a live performance can feed them
        typer.echo(f"{s.react[0].where}: note: react: without `audio:` follows only "
                   "`latentreel play --listen`; render needs `audio: {path: song.wav}`")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scene files (for editor completion and checks)."""
    from latentreel.scene.schema import scene_json_schema

    typer.echo(json.dumps(scene_json_schema(), indent=2))


@app.command()
def sample(
    seeds: str = typer.Option("0-15", help="Seeds: numbers and ranges, e.g. 0-15,42."),
    out: Path = typer.Option(Path("seeds.png"), "-o", "--out", callback=checked_name,
                             help="Contact sheet PNG."),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
    truncation: float = typer.Option(1.0, min=-3, max=3, help="psi towards the average face."),
    cell: int = typer.Option(128, min=32, max=1024, help="Cell size in pixels."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    upscale: str = typer.Option(None, help="A learned upscaler from `latentreel models`, run "
                                "towards the cell size."),
) -> None:
    """Write a labelled contact sheet of seeds, to pick keyframes by eye."""
    from latentreel.spec.lists import parse_int_list
    from latentreel.render.sheets import seed_sheet

    path = seed_sheet(parse_int_list(seeds), out, model=model, truncation=truncation, cell=cell,
                      device=device, upscale=upscale)
    typer.echo(f"wrote {path}")


@app.command()
def strip(
    video: Path = typer.Argument(..., help="An MP4 to sample."),
    out: Path = typer.Option(Path("strip.png"), "-o", "--out", callback=checked_name,
                             help="PNG to write."),
    frames: int = typer.Option(8, min=1, max=64, help="How many evenly spaced frames."),
    cell: int = typer.Option(96, min=16, max=512, help="Height of each frame in pixels."),
) -> None:
    """A horizontal strip of frames from a video (for READMEs and notes)."""
    from latentreel.errors import BadInputError
    from latentreel.video.probe import read_frames, still_image_format
    from latentreel.video.sheet import frame_strip, save_png

    if not video.is_file():
        raise BadInputError(f"{video}: no such video file; check the path")
    picture = still_image_format(video)
    if picture:
        raise BadInputError(f"{video}: is a still picture ({picture.removesuffix('_pipe')}), "
                            "not a video; give an MP4 or another video file")
    save_png(frame_strip(read_frames(video), n=frames, cell=cell), out)
    typer.echo(f"wrote {out}")
