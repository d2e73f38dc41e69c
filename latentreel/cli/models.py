"""`latentreel models`: the generator backends, where their weights come from, installed?"""

from __future__ import annotations

import typer

from latentreel.cli.app import app


@app.command()
def models() -> None:
    """List generator backends, where their weights come from and whether they are installed."""
    from latentreel.models.registry import DEFAULT_MODEL, MODELS

    for info in MODELS.values():
        state = "installed" if info.installed() else "NOT installed"
        default = " (default)" if info.name == DEFAULT_MODEL else ""
        typer.echo(f"{info.name}{default}: {info.description}\n  weights: {info.source} "
                   f"[{state}]")
