"""`latentreel models`: the generator backends, where their weights come from, installed?
`latentreel models pull NAME`: download a published network (or any --url) into the cache."""

from __future__ import annotations

import typer

from latentreel.cli.app import app

models_app = typer.Typer(help="Generator backends and their weights.",
                         invoke_without_command=True)
app.add_typer(models_app, name="models")


@models_app.callback()
def models(ctx: typer.Context, layers: str = typer.Option(
        None, "--layers", metavar="MODEL",
        help="List the layers of MODEL (a registry name or model file) that `bend:` names, "
             "with each one's map size.")) -> None:
    """List generator backends, where their weights come from and whether they are installed."""
    if layers is not None:
        _list_layers(layers)
    elif ctx.invoked_subcommand is None:
        list_models()


def _list_layers(model: str) -> None:
    from pathlib import Path

    from latentreel.device import pick_device
    from latentreel.models.bend import BEND_OPS, layer_shapes
    from latentreel.models.registry import load_generator

    g = load_generator(model, pick_device("auto"), base=Path.cwd())
    typer.echo(f"{g.name}: layers for `bend: [{{layer, op: "
               f"{' | '.join(BEND_OPS)}}}]` (channels x height x width)")
    for name, (c, h, w) in layer_shapes(g).items():
        typer.echo(f"  {name:<16} {c} x {h} x {w}")


@models_app.command("list")
def list_models() -> None:
    """The same list as `latentreel models` (as `directions list` lists directions)."""
    from latentreel.models.registry import DEFAULT_MODEL, MODELS
    from latentreel.models.stylegan2.pull import models_dir

    for info in MODELS.values():
        state = "installed" if info.installed() else "NOT installed"
        default = " (default)" if info.name == DEFAULT_MODEL else ""
        typer.echo(f"{info.name}{default}: {info.description}\n  weights: {info.source} "
                   f"[{state}]")
    extra = sorted(p.name for p in models_dir().iterdir()
                   if p.suffix in (".pkl", ".pt") and p.stem not in MODELS)
    for name in extra:
        typer.echo(f"{name.rsplit('.', 1)[0]}: pulled with --url\n  weights: "
                   f"{models_dir() / name} [installed]")
    typer.echo(f"Downloads go to {models_dir()}; any .pkl/.pt path also works as 'model:'.")
    _list_upscalers()


def _list_upscalers() -> None:
    from latentreel.upscale.registry import FAMILIES, INSTALL, UPSCALERS, installed

    typer.echo("\nUpscalers (output.upscale / --upscale; none and lanczos need nothing):")
    for info in UPSCALERS.values():
        state = "installed" if installed(info.name) else f"NOT installed: {INSTALL}"
        typer.echo(f"{info.name}: {info.description} [{state}]")
    for family, names in FAMILIES.items():
        typer.echo(f"{family}: picks {' / '.join(n.rsplit('-', 1)[1] for n in names)} by the "
                   "output size")


@models_app.command("pull")
def pull(
    name: str = typer.Argument(..., help="A published network (see `latentreel models`) or a "
                                         "new name for --url."),
    url: str = typer.Option(None, "--url", help="Download this address under NAME instead."),
    sha256: str = typer.Option(None, "--sha256", help="Expected SHA-256 of the file (hex)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Download a network into the cache, resuming a partial download, verifying SHA-256."""
    from latentreel.models.stylegan2.pull import pull_model

    result = pull_model(name, url=url, sha256=sha256, progress=progress)
    if result.downloaded == 0 and result.resumed_from == 0:
        typer.echo(f"{name}: already installed at {result.path}")
    else:
        resumed = f", resumed after {result.resumed_from} bytes" if result.resumed_from else ""
        typer.echo(f"{name}: downloaded {result.downloaded} bytes to {result.path}{resumed}")
    typer.echo(f"sha256 {result.sha256}")


@models_app.command("convert")
def convert(
    src: str = typer.Argument(..., help="A StyleGAN2 file: TensorFlow- or PyTorch-era .pkl, or "
                                        "a rosinality .pt."),
    out: str = typer.Option(..., "-o", "--output", help="Where to write the converted .pkl."),
) -> None:
    """Convert a StyleGAN2 network once into a code-free PyTorch-era pickle."""
    from pathlib import Path

    from latentreel.models.stylegan2.convert import convert_network_file

    net = convert_network_file(Path(src), Path(out))
    typer.echo(f"{out}: StyleGAN2 generator, {net.img_resolution} px, written")
