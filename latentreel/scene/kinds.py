"""The closed registry of keyframe kinds: ``seed``, ``latent``, ``anti``, ``photo`` here,
``edit`` from edits, ``feedback`` and ``search`` from feedback.

Kinds from other parts of the package live beside their code and are imported here by name:
the list below is every kind a scene can name, written here, never in YAML.

Each kind declares the Spec of its value (for validation and the JSON Schema), the names of
other keyframes it refers to (so references resolve in order and cycles are caught), and how
it turns into latents. A scene can only name kinds listed here; nothing in YAML is imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.edits.keyframes import KEYFRAME_KINDS as EDIT_KINDS
from latentreel.edits.keyframes import SCENE_CHECKS as EDIT_CHECKS
from latentreel.errors import LatentFileError
from latentreel.faces.photo import photo_problem
from latentreel.feedback.keyframes import KEYFRAME_KINDS as FEEDBACK_KINDS
from latentreel.models.base import (
    average_space_problem,
    check_average_space,
    seed_latent,
    truncate,
)
from latentreel.spec.fields import REQUIRED, Spec
from latentreel.spec.kind import KeyframeKind, ModelCheck, ResolveContext, SceneCheck


def _resolve_seed(seed: int, ctx: ResolveContext, where: str) -> torch.Tensor:
    z = torch.from_numpy(seed_latent(seed, ctx.generator.z_dim))[None].to(ctx.generator.device)
    return ctx.map_z(z, where)


def convert_latent(latent: torch.Tensor, from_space: str, ctx: ResolveContext, where: str,
                   label: str, model: str | None = None) -> torch.Tensor:
    """One latent from ``from_space`` into the scene's space, shape-checked: [1, *S]."""
    g = ctx.generator
    if from_space != ctx.space:
        if from_space == "z":
            latent = ctx.map_z(latent.reshape(1, -1), where)[0]
        elif from_space == "w" and ctx.space == "w+":
            latent = latent.reshape(1, -1).expand(g.latent_shape("w+")[0], -1)
        else:
            raise LatentFileError(
                f"{where}: {label} holds a {from_space!r} latent but the scene renders in "
                f"{ctx.space!r}; set `space: {from_space}` in the scene"
            )
    expected = g.latent_shape(ctx.space)
    if tuple(latent.shape) != expected and latent.numel() == int(np.prod(expected)):
        latent = latent.reshape(expected)
    if tuple(latent.shape) != expected:
        raise LatentFileError(
            f"{where}: {label} holds a latent of shape {list(latent.shape)} but "
            f"{g.name} needs {list(expected)} in {ctx.space!r}; was it made for another model"
            f"{' (' + model + ')' if model else ''}?"
        )
    return latent[None]


def _resolve_latent(path: Path, ctx: ResolveContext, where: str) -> torch.Tensor:
    from latentreel.latentfile import load_latent

    lf = load_latent(path)
    latent = torch.from_numpy(lf.latent).to(ctx.generator.device)
    _add_tuned_pivot(lf, latent, ctx, f"{where}: {path.name}")
    return convert_latent(latent, lf.space, ctx, where, path.name, lf.model)


def _add_tuned_pivot(lf, latent: torch.Tensor, ctx: ResolveContext, source: str) -> None:
    """A latent file from a tuned inversion carries a weight delta and the crop it redraws:
    the scene renders through a generator tuned for it (render.prepared)."""
    from latentreel.invert.delta import WeightDelta, check_fingerprint
    from latentreel.invert.tune import Pivot

    delta = WeightDelta.from_arrays(lf.arrays)
    if delta is None:
        return
    check_fingerprint(delta, ctx.generator, source)
    if "target" not in lf.arrays:
        raise LatentFileError(f"{source}: holds a tuned delta but not the photo crop it was "
                              "tuned on; write it again with `latentreel invert`")
    target = torch.from_numpy(lf.arrays["target"]).permute(2, 0, 1).float() / 127.5 - 1
    ctx.state.pivots.append(Pivot(latent=latent, space=lf.space, target=target, delta=delta,
                                  source=source))


def _resolve_anti(params: dict, ctx: ResolveContext, where: str) -> torch.Tensor:
    # Reflect through the average face: StyleGAN paper fig. 8 (psi = -1 is the "anti-face").
    check_average_space(ctx.generator, ctx.space, "an anti-face", where)
    source = ctx.named[params["of"]]
    mean = ctx.generator.mean_latent(ctx.space).to(source.device)
    return truncate(source, mean, params["psi"], ctx.space)[None]


def _resolve_photo(params: dict, ctx: ResolveContext, where: str) -> torch.Tensor:
    from latentreel.faces.detect import MIN_FACE
    from latentreel.faces.photo import check_photo
    from latentreel.invert.photo import InvertSettings, invert_photo, stage_steps

    # Invert straight into the scene's space when the model has it (W+ for StyleGAN).
    space = ctx.space if ctx.space in ctx.generator.latent_spaces else "z"
    settings = InvertSettings(method=params["method"], steps=params["steps"],
                              align=params["align"], face=params["face"], space=space,
                              tune=False,  # the scene tunes all its photos at once
                              **stage_steps(params["steps"]))  # as `invert --steps`
    # A photo too small to hold a face fails before FaceNet loads (align: true needs one).
    check_photo(params["path"], min_side=MIN_FACE if params["align"] else 0)
    result = invert_photo(params["path"], ctx.generator, settings, facenet=ctx.facenet(),
                          progress=ctx.progress)
    if params["tune"]:
        from latentreel.invert.photo import pivot_of

        ctx.state.pivots.append(pivot_of(result, f"{where}: photo"))
    return convert_latent(result.latent, result.space, ctx, where, params["path"].name)


CORE_KINDS = [
    KeyframeKind(
        name="seed",
        spec=Spec("int", help="random seed: the same seed gives the same face on any device",
                  min=0, max=2**32 - 1),
        help="a face from a random seed",
        resolve=_resolve_seed,
    ),
    KeyframeKind(
        name="latent",
        spec=Spec("path", help="a .npz/.npy latent file written by latentreel", must_exist=True),
        help="a saved latent (from `latentreel invert` or the Python API)",
        resolve=_resolve_latent,
    ),
    KeyframeKind(
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
    KeyframeKind(
        name="photo",
        spec=Spec(
            "mapping",
            help="a photo inverted into the latent space (cached by content)",
            shorthand="path",
            fields={
                "path": Spec("path", help="the photo file", default=REQUIRED, must_exist=True,
                             check=photo_problem),
                "method": Spec("enum", choices=("auto", "optimize", "encoder", "hybrid"),
                               default="auto", help="auto: hybrid once an encoder is trained"),
                "steps": Spec("int", default=300, min=1, max=100000, help="optimiser steps (the "
                              "polish and the FaceNet stage take at most as many)"),
                "align": Spec("bool", default=True, help="false: centre crop, no face detection"),
                "face": Spec("int", min=0, max=1000, help="which face, 0 = largest"),
                "tune": Spec("bool", default=True, help="pivotal tuning: the scene's generator "
                             "is tuned so the inverted latent redraws the photo"),
            },
        ),
        help="a photo of a face, inverted into the latent space",
        resolve=_resolve_photo,
    ),
]


def _check_average_space(keyframes: list, check: ModelCheck) -> list:
    """Anti-faces and truncation where the model's average face is not (StyleGAN's z)."""
    found = []
    for kf in keyframes:
        uses = ([("anti", "an anti-face")] if kf.kind == "anti" else []) + (
            [("truncation", "truncation")] if kf.truncation != 1.0 else [])
        for field_name, what in uses:
            problem = average_space_problem(check.model, check.space, what)
            if problem:
                found.append((("keyframes", kf.index, field_name), problem))
    return found


# Every kind a scene can name, and the checks of a scene against its model's metadata, run
# before anything loads (scene.load).
KINDS: dict[str, KeyframeKind] = {k.name: k for k in (*CORE_KINDS, *EDIT_KINDS, *FEEDBACK_KINDS)}
SCENE_CHECKS: list[SceneCheck] = [_check_average_space, *EDIT_CHECKS]
