"""Photo commands: invert a photo, train the encoder."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.options import DEVICE_HELP, MODEL_HELP, QUIET_HELP, checked_name


@app.command()
def invert(
    photo: Path = typer.Argument(..., help="A photo with a face."),
    out: Path = typer.Option(..., "-o", "--out", callback=checked_name,
                             help="Latent file to write (.npz)."),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
    method: str = typer.Option("auto", help="auto | optimize | encoder | hybrid"),
    steps: int = typer.Option(300, min=1, help="Optimiser steps; the L-BFGS polish (60) "
                              "and the FaceNet stage (80) take at most as many."),
    restarts: int = typer.Option(8, min=1, max=256, help="Random starts, kept: the best."),
    no_align: bool = typer.Option(False, "--no-align", help="Centre-crop instead of aligning."),
    face: int = typer.Option(None, "--face", min=0, help="Which face (0 = largest)."),
    video: Path = typer.Option(None, "--video", help="Also write the optimisation as a video."),
    identity: float = typer.Option(1.0, help="Weight of the FaceNet identity loss."),
    space: str = typer.Option("auto", help="z | w | w+ (auto: w+ for StyleGAN, z otherwise)."),
    w_noise: float = typer.Option(0.0, "--w-noise", min=0, max=1,
                                  help="W/W+: NVIDIA's latent noise ramp, x w_std (e.g. 0.05)."),
    lpips: float = typer.Option(0.0, "--lpips", min=0, help="Weight of an LPIPS-VGG loss "
                                "(needs torchvision's VGG16 weights in the torch hub cache)."),
    tune: bool = typer.Option(True, "--tune/--no-tune", help="Pivotal tuning: also store a "
                              "small weight delta so the latent redraws the photo exactly."),
    tune_steps: int = typer.Option(None, "--tune-steps", min=1, help="Tuning steps (default: "
                                   "300 up to 128 px and on StyleGAN3; 180 with the "
                                   "curvature penalty from 256 px up: see README)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Find the latent that redraws the face in PHOTO; also writes a comparison PNG."""
    from latentreel.invert.cli_run import run_invert

    result, png = run_invert(photo, out, model=model, method=method, steps=steps,
                             restarts=restarts, align=not no_align, face=face, video=video,
                             identity=identity, device=device, progress=not quiet, space=space,
                             w_noise=w_noise, lpips=lpips, tune=tune, tune_steps=tune_steps)
    m = result.metrics
    extra = f", FaceNet distance {m['identity_distance']:.3f}" if "identity_distance" in m else ""
    if "pivot_psnr" in m:
        extra += f"; tuned from {m['pivot_psnr']:.1f} dB"
    typer.echo(f"wrote {result.path} (method {m['method']}, PSNR {m['psnr']:.1f} dB{extra}); "
               f"comparison: {png}" + (f"; video: {video}" if video else ""))


@app.command("train-encoder")
def train_encoder_cmd(
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
    steps: int = typer.Option(1500, min=1, help="Training steps."),
    batch: int = typer.Option(32, min=1, help="Pairs per step."),
    perceptual: float = typer.Option(0.0, help="FaceNet perceptual loss weight (slow on CPU)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Train the image -> latent encoder on (z, G(z)) pairs; saved to the user cache."""
    from latentreel.invert.encoder import EncoderTraining, encoder_path, train_encoder
    from latentreel.models.registry import load_generator
    from latentreel.device import pick_device

    g = load_generator(model, pick_device(device))
    facenet = None
    if perceptual > 0:
        from latentreel.faces.facenet import load_facenet

        facenet = load_facenet(device=g.device)
    summary = train_encoder(g, EncoderTraining(steps=steps, batch=batch,
                                               perceptual_weight=perceptual),
                            facenet=facenet, progress=not quiet)
    typer.echo(f"trained in {summary['seconds'] / 60:.1f} min, final losses {summary['final']}; "
               f"saved {encoder_path(g.name)}")
