"""The closed registry of keyframe kinds: ``seed``, ``latent``, ``anti``, ...

Each kind declares the Spec of its value (for validation and the JSON Schema), the names of
other keyframes it refers to (so references resolve in order and cycles are caught), and how
it turns into latents. A scene can only name kinds listed here; nothing in YAML is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentreel.errors import LatentFileError
from latentreel.models.base import Generator, seed_latent, truncate
from latentreel.scene.fields import REQUIRED, Spec


@dataclass
class ResolveContext:
    """What resolving a keyframe may use."""

    generator: Generator
    space: str  # the scene's latent space
    scene_seed: int
    scene_file: Path
    named: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> latent [*S]
    progress: bool = True  # show progress bars for slow kinds (photo inversion, feedback)


@dataclass(frozen=True)
class KeyframeKind:
    name: str
    spec: Spec  # what the kind's value looks like
    help: str
    # -> [M, *S] latents (M > 1 when a kind expands into a chain, e.g. feedback)
    resolve: Callable[[Any, ResolveContext, str], torch.Tensor]
    refs: Callable[[Any], list[tuple[str, str]]] = lambda params: []  # (field, name) it needs


def _resolve_seed(seed: int, ctx: ResolveContext, where: str) -> torch.Tensor:
    z = torch.from_numpy(seed_latent(seed, ctx.generator.z_dim))[None].to(ctx.generator.device)
    return ctx.generator.to_space(z, ctx.space)


def _resolve_latent(path: Path, ctx: ResolveContext, where: str) -> torch.Tensor:
    from latentreel.latentfile import load_latent

    lf = load_latent(path)
    g = ctx.generator
    latent = torch.from_numpy(lf.latent).to(g.device)
    if lf.space != ctx.space:
        if lf.space == "z":
            latent = g.to_space(latent.reshape(1, -1), ctx.space)[0]
        elif lf.space == "w" and ctx.space == "w+":
            latent = latent.reshape(1, -1).expand(g.latent_shape("w+")[0], -1)
        else:
            raise LatentFileError(
                f"{where}: {path.name} holds a {lf.space!r} latent but the scene renders in "
                f"{ctx.space!r}; set `space: {lf.space}` in the scene"
            )
    expected = g.latent_shape(ctx.space)
    if tuple(latent.shape) != expected and latent.numel() == int(np.prod(expected)):
        latent = latent.reshape(expected)
    if tuple(latent.shape) != expected:
        raise LatentFileError(
            f"{where}: {path.name} holds a latent of shape {list(latent.shape)} but "
            f"{g.name} needs {list(expected)} in {ctx.space!r}; was it made for another model"
            f"{' (' + lf.model + ')' if lf.model else ''}?"
        )
    return latent[None]


def _resolve_anti(params: dict, ctx: ResolveContext, where: str) -> torch.Tensor:
    # Reflect through the average face: StyleGAN paper fig. 8 (psi = -1 is the "anti-face").
    source = ctx.named[params["of"]]
    mean = ctx.generator.mean_latent(ctx.space).to(source.device)
    return truncate(source, mean, params["psi"])[None]


KINDS: dict[str, KeyframeKind] = {
    "seed": KeyframeKind(
        name="seed",
        spec=Spec("int", help="random seed: the same seed gives the same face on any device",
                  min=0, max=2**32 - 1),
        help="a face from a random seed",
        resolve=_resolve_seed,
    ),
    "latent": KeyframeKind(
        name="latent",
        spec=Spec("path", help="a .npz/.npy latent file written by latentreel", must_exist=True),
        help="a saved latent (from `latentreel invert` or the Python API)",
        resolve=_resolve_latent,
    ),
    "anti": KeyframeKind(
        name="anti",
        spec=Spec(
            "mapping",
            help="reflect a named keyframe through the average face (psi -1: its anti-face)",
            shorthand="of",
            fields={
                "of": Spec("string", help="name of the keyframe to reflect", default=REQUIRED),
                "psi": Spec("number", help="mean + psi*(latent - mean); -1 is the anti-face",
                            default=-1.0, min=-3.0, max=3.0),
            },
        ),
        help="the anti-face of another keyframe (StyleGAN fig. 8)",
        resolve=_resolve_anti,
        refs=lambda p: [("of", p["of"])],
    ),
}
