"""`latentreel analyze` and `latentreel bench feedback`."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.bench import bench_app
from latentreel.cli.options import DEVICE_HELP, MODEL_HELP, QUIET_HELP, checked_name


@app.command()
def analyze(
    scene: Path = typer.Argument(..., help="The scene YAML file."),
    out: Path = typer.Option(None, "-o", "--out", callback=checked_name,
                             help="Folder for plots and analysis.json."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """FaceNet distance matrix, per-frame change, transitions, feedback chains: PNGs + JSON."""
    from latentreel.analysis.identity import analyze_scene
    from latentreel.scene import load_scene

    s = load_scene(scene)
    out = out or scene.parent / "out" / f"{scene.stem}-analysis"
    summary = analyze_scene(s, out, device=device, progress=not quiet)
    t = summary["timing"]
    typer.echo(f"wrote {out}/analysis.json and plots; worst per-transition max/median change "
               f"{t['worst_max_over_median'] or 0:.2f}"
               + (f", loop seam {t['seam_over_median']:.2f} x median"
                  if "seam_over_median" in t else ""))
    off = summary["off_shell"]
    if off["frames"]:
        runs = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in off["ranges"][:5])
        more = ", ..." if len(off["ranges"]) > 5 else ""
        typer.echo(f"warning: {off['frames']} frames leave the face shell (latent norm more "
                   f"than {off['tolerance']:.0%} off their keyframes'): frames {runs}{more}; "
                   "they may show texture, not a face (try interpolation: slerp there)")


@bench_app.command("feedback")
def bench_feedback(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    steps: int = typer.Option(50, min=5, help="Feedback iterations to time."),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
) -> None:
    """Feedback iterations/s at batch 1, the cost split, and timing evenness before/after."""
    from latentreel.bench.common import write_json
    from latentreel.bench.feedback import run_feedback_bench

    write_json(json_out, run_feedback_bench(model=model, steps=steps, log=typer.echo))


@app.command()
def play(
    scene: Path = typer.Argument(..., help="The scene YAML file."),
    fullscreen: bool = typer.Option(False, "--fullscreen", help="Fill the screen."),
    size: int = typer.Option(None, min=16, max=4096, help="Window size (default: output size)."),
    frames: int = typer.Option(None, "--frames", min=1, help="Stop after this many frames."),
    screenshot: Path = typer.Option(None, help="Save the last frame shown as a PNG."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    upscale: str = typer.Option(None, help="Override output.upscale: none | lanczos | an "
                                "upscaler from `latentreel models`."),
) -> None:
    """Show a scene live in a window, looping forever (Esc or q to quit), with its sound."""
    from latentreel.play import play_scene
    from latentreel.scene import load_scene

    shown = play_scene(load_scene(scene), fullscreen=fullscreen, size=size, max_frames=frames,
                       screenshot=screenshot, device=device, upscale=upscale, log=typer.echo)
    typer.echo(f"showed {shown} frames")
