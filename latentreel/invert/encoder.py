"""A learned encoder image -> latent (seed 001): a small ResNet trained on (z, G(z)) pairs.

Pairs are sampled on the fly, so there is no data set to store. The loss mixes latent error,
pixel error of the re-generated image and, optionally, FaceNet perceptual error. One forward
pass gives a guess that optimisation ("hybrid") can polish in a fraction of the steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from latentreel.cache import atomic_write, cache_dir
from latentreel.errors import ModelError
from latentreel.models.base import Generator, refuse_conditional


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                   nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


class LatentEncoder(nn.Module):
    """[N, 3, R, R] in [-1, 1] -> [N, *latent_shape]; halves the size down to 4x4."""

    def __init__(self, resolution: int, latent_numel: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(True)]
        c, r = width, resolution
        while r > 4:
            nxt = min(c * 2, 256)
            layers.append(_ResBlock(c, nxt, 2))
            c, r = nxt, r // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * 16, latent_numel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


@dataclass(frozen=True)
class EncoderTraining:
    steps: int = 2000  # optimiser steps
    batch: int = 64  # (z, G(z)) pairs per step, sampled fresh
    lr: float = 2e-3  # peak AdamW learning rate (cosine decay)
    z_weight: float = 1.0  # latent MSE
    pixel_weight: float = 1.0  # MSE of G(E(x)) against x, ramped in over the first third
    perceptual_weight: float = 0.0  # FaceNet feature MSE of G(E(x)) against x (slow on CPU)
    width: int = 32  # channels of the first layer
    seed: int = 0


def encoder_path(model_name: str) -> Path:
    return cache_dir("encoders") / f"{model_name}.pt"


def train_encoder(generator: Generator, settings: EncoderTraining = EncoderTraining(), *,
                  facenet=None, progress: bool = True, out: Path | None = None) -> dict:
    """Train an encoder for ``generator``'s z space and save it; returns a summary."""
    refuse_conditional(generator, "encoder training")
    dev = generator.device
    enc = LatentEncoder(generator.resolution, generator.z_dim, settings.width).to(dev)
    opt = torch.optim.AdamW(enc.parameters(), lr=settings.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / settings.steps)))
    rng = torch.Generator().manual_seed(settings.seed)
    t0, log = time.perf_counter(), {}
    bar = tqdm(range(settings.steps), desc="training encoder", unit="step", disable=not progress,
               dynamic_ncols=True)
    for step in bar:
        z = torch.randn(settings.batch, generator.z_dim, generator=rng).to(dev)
        with torch.no_grad():
            x = generator.synthesize(z)
        z_hat = enc(x)
        loss_z = F.mse_loss(z_hat, z)
        ramp = min(1.0, step / max(1, settings.steps / 3))
        loss = settings.z_weight * loss_z
        if settings.pixel_weight > 0 and ramp > 0:
            x_hat = generator.synthesize(z_hat)
            loss_px = F.mse_loss(x_hat, x)
            loss = loss + ramp * settings.pixel_weight * loss_px
            log["pixel"] = float(loss_px.detach())
            if settings.perceptual_weight > 0 and facenet is not None:
                up = lambda t: F.interpolate(t, size=(160, 160), mode="bilinear")  # noqa: E731
                perc = sum(F.mse_loss(a, b) for a, b in
                           zip(facenet.features(up(x_hat)), facenet.features(up(x))))
                loss = loss + ramp * settings.perceptual_weight * perc
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        log["z"] = float(loss_z.detach())
        if step % 20 == 0:
            bar.set_postfix({k: f"{v:.4f}" for k, v in log.items()})
    summary = {"model": generator.name, "steps": settings.steps,
               "seconds": time.perf_counter() - t0, "final": log, "settings": asdict(settings)}
    save_encoder(enc, summary, out or encoder_path(generator.name))
    return summary


def save_encoder(enc: LatentEncoder, summary: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        torch.save({"state": enc.state_dict(), "summary": summary}, tmp)


def load_encoder(generator: Generator, path: Path | None = None) -> LatentEncoder | None:
    """The trained encoder for ``generator`` (None when none has been trained)."""
    path = path or encoder_path(generator.name)
    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        width = ckpt["summary"]["settings"]["width"]
        enc = LatentEncoder(generator.resolution, generator.z_dim, width)
        enc.load_state_dict(ckpt["state"])
    except Exception as e:  # a foreign or damaged file: say which and how to fix it
        raise ModelError(f"{path}: not a usable encoder checkpoint ({type(e).__name__}); "
                         "delete it and run `latentreel train-encoder`") from None
    return enc.to(generator.device).eval().requires_grad_(False)


@torch.no_grad()
def encode(enc: LatentEncoder, images: torch.Tensor) -> torch.Tensor:
    """Latent guesses [N, z_dim] for images [N, 3, R, R] in [-1, 1]."""
    return enc(images)
