"""`latentreel bench ...`: benchmarks that print ratios and write JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app

bench_app = typer.Typer(help="Benchmarks: speed and memory, side by side, as ratios.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("render")
def bench_render(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    frames: int = typer.Option(900, min=60, help="Frames per measurement."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
    model: str = typer.Option("dcgan-digiface", help="Model name or file."),
    memory: bool = typer.Option(True, help="Also measure peak memory, 300 vs 3,000 frames."),
) -> None:
    """Generator, encoder, full render and the naive way: frames/s and ratios."""
    from latentreel.bench.common import write_json
    from latentreel.bench.render import run_render_bench

    results = run_render_bench(frames=frames, device=device, model=model, memory=memory,
                               log=typer.echo)
    write_json(json_out, results)
