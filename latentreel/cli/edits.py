"""Latent edits: `latentreel directions ...` and `latentreel sheet`."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.options import MODEL_HELP, checked_name

directions_app = typer.Typer(help="Named latent directions (smile, yaw, ...) per model.",
                             no_args_is_help=True)
app.add_typer(directions_app, name="directions")

MODEL = typer.Option("dcgan-digiface", "--model", callback=checked_name, help=MODEL_HELP)
FORCE = typer.Option(False, "--force", help="Replace a direction of that name if one exists.")
K = typer.Option(10, "--k", min=1, max=100, help="How many components to keep (the first k).")
SPACE = typer.Option(None, "--space", help="Latent space of the directions: z, or w (the "
                     "default for StyleGAN models; w directions also work in w+ scenes).")


def _store_name(model: str) -> str:
    """The name directions are stored under: a model file's stem, as its generator's name is."""
    return Path(model).stem if Path(model).suffix.lower() in (".pkl", ".pt") else model


def _generator(model: str):
    from latentreel.models.registry import load_generator
    from latentreel.device import pick_device

    return load_generator(model, pick_device("auto"))


@directions_app.command("list")
def list_cmd(model: str = MODEL) -> None:
    """Directions stored for a model, with where they came from and how well they fit."""
    from latentreel.edits.directions import DirectionStore

    store = DirectionStore(_store_name(model))
    if not store.directions:
        typer.echo(f"no directions for {model} yet; try `latentreel directions fit yaw zoom` "
                   "or `latentreel directions sefa`")
        return
    for row in store.summary():
        extra = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in row.items() if k not in ("name", "source"))
        typer.echo(f"{row['name']:16s} {row['source']:8s} {extra}")


@directions_app.command("fit")
def fit_cmd(
    attributes: list[str] = typer.Argument(..., help="yaw roll zoom brightness skin_tone "
                                           "background similarity"),
    model: str = MODEL,
    samples: int = typer.Option(2000, min=50, help="Generated faces to measure."),
    photo: Path = typer.Option(None, help="Target photo for the `similarity` attribute."),
    sheets: Path = typer.Option(None, help="Folder for a -3..+3 sheet per direction."),
    space: str = SPACE,
) -> None:
    """Fit directions to attributes measured on generated faces (InterFaceGAN-style)."""
    from latentreel.edits.run import fit_attributes

    for d in fit_attributes(_generator(model), attributes, samples=samples, photo=photo,
                            sheets=sheets, space=space):
        typer.echo(f"{d.name} ({d.space}): held-out R^2 {d.stats['r2']:.3f} on "
                   f"{d.stats['samples']} faces")


@directions_app.command("from-photos")
def from_photos_cmd(
    name: str = typer.Argument(..., help="Name of the new direction, e.g. smile."),
    positive: list[Path] = typer.Option(..., "--positive", help="Photos with the attribute."),
    negative: list[Path] = typer.Option(..., "--negative", help="Photos without it."),
    model: str = MODEL,
    steps: int = typer.Option(300, min=1, help="Inversion steps per photo."),
) -> None:
    """A direction from example photos: mean latent difference after inversion."""
    from latentreel.edits.run import direction_from_photos
    from latentreel.invert.photo import InvertSettings

    d = direction_from_photos(_generator(model), name, positive, negative,
                              settings=InvertSettings(steps=steps, tune=False))
    typer.echo(f"{d.name}: from {d.stats['positive']} + {d.stats['negative']} photos")


@directions_app.command("pca")
def pca_cmd(model: str = MODEL, k: int = K,
            sheets: Path = typer.Option(None, help="Folder for a -3..+3 sheet per component.")):
    """GANSpace-style components pc0.. (PCA of the first layer's activations)."""
    from latentreel.edits.run import unsupervised

    for d in unsupervised(_generator(model), "pca", k, sheets):
        typer.echo(f"{d.name}: explained variance {d.stats['explained_variance']:.3f}")


@directions_app.command("sefa")
def sefa_cmd(model: str = MODEL, k: int = K,
             sheets: Path = typer.Option(None, help="Folder for a -3..+3 sheet per component.")):
    """SeFa components sefa0.. (closed-form factorisation of the first layer's weight)."""
    from latentreel.edits.run import unsupervised

    for d in unsupervised(_generator(model), "sefa", k, sheets):
        typer.echo(f"{d.name}: eigenvalue share {d.stats['eigenvalue_share']:.3f}")


@directions_app.command("name")
def name_cmd(
    old: str = typer.Argument(..., help="The direction's current name, e.g. pc3."),
    new: str = typer.Argument(..., help="Its new name, e.g. light."),
    model: str = MODEL,
    force: bool = FORCE,
) -> None:
    """Give a direction a name people understand: `directions name pc3 light`."""
    from latentreel.edits.directions import DirectionStore

    store = DirectionStore(_store_name(model))
    store.rename(old, new, force=force)
    store.save()
    typer.echo(f"{old} is now {new}")


@directions_app.command("import")
def import_cmd(
    name: str = typer.Argument(..., help="Name to store the direction under, e.g. smile."),
    file: Path = typer.Argument(..., help="A .npy vector of the model's latent shape."),
    model: str = MODEL,
    space: str = typer.Option(None, "--space", help="Space the vector lives in: "
                              "z, w or w+ (default: w for StyleGAN, z otherwise)."),
    force: bool = FORCE,
) -> None:
    """Add a .npy direction from elsewhere (checked against the model's latent shape)."""
    from latentreel.edits.run import import_direction

    d = import_direction(_generator(model), name, file, space, force=force)
    typer.echo(f"imported {name} ({d.space}) from {file}")


AMOUNTS = "-3,-2,-1,0,1,2,3"  # --amounts' default: a direction's sweep


@app.command()
def sheet(
    out: Path = typer.Option(Path("sheet.png"), "-o", "--out", callback=checked_name,
                             help="PNG to write."),
    seeds: str = typer.Option("0-3", help="Seeds for the rows."),
    psi: str = typer.Option(None, help="A psi row per seed, e.g. 1,0.7,0.5,0,-0.5,-1."),
    direction: str = typer.Option(None, help="A direction row per seed (-3..+3)."),
    amounts: str = typer.Option(AMOUNTS, help="Amounts for --direction or --bend (--bend "
                                              "defaults to a sweep of its op)."),
    bend: str = typer.Option(None, metavar="LAYER:OP",
                             help="A bend sweep row per seed, e.g. conv2:rotate (layers: "
                                  "`latentreel models --layers MODEL`)."),
    plane: bool = typer.Option(False, help="A grid on the plane through the first 3 seeds."),
    axes: str = typer.Option(None, help="The mean latent and one-hot axes, e.g. 0-7."),
    model: str = MODEL,
    cell: int = typer.Option(96, min=32, max=512, help="Size of each picture in pixels."),
) -> None:
    """Labelled montages for choosing keyframes (one batched generator call each)."""
    from latentreel.edits.run import make_sheet

    path = make_sheet(_generator(model), out, seeds=seeds, psi=psi, direction=direction,
                      amounts=amounts, plane=plane, axes=axes, cell=cell, bend=bend,
                      default_amounts=amounts == AMOUNTS)
    typer.echo(f"wrote {path}")


def _register_bench() -> None:
    from latentreel.cli.bench import bench_app

    @bench_app.command("directions")
    def bench_directions(
        json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
        samples: int = typer.Option(2000, min=100, help="Faces to fit on."),
        sheets: Path = typer.Option(None, help="Folder for a picture of each direction."),
        model: str = MODEL,
    ) -> None:
        """Fitted directions: sweep monotonicity (Spearman) and conditional edits."""
        from latentreel.bench.common import write_json
        from latentreel.bench.directions import run_directions_bench

        write_json(json_out, run_directions_bench(_generator(model), samples=samples,
                                                  sheets=sheets, log=typer.echo))


_register_bench()
