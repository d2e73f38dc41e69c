"""Turn a scene's keyframes into latent tensors on the generator's device."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentreel.errors import PhotoError, SceneError
from latentreel.models.base import Generator, check_average_space, default_space, truncate
from latentreel.scene.kinds import KINDS
from latentreel.scene.load import camera_problem, resolution_order
from latentreel.scene.model import Keyframe, Scene
from latentreel.spec.kind import ResolveContext, SceneState


@dataclass(frozen=True)
class ResolvedKeyframes:
    """A scene's keyframes as latents, and what resolving them left behind."""

    keyframes: list[Keyframe]  # expanded: a feedback chain contributes several
    latents: torch.Tensor  # [K, *S], one row per expanded keyframe, truncated
    state: SceneState  # pivots to tune for, kinds' reports, FaceNet if it was loaded


def scene_space(scene: Scene, generator: Generator) -> str:
    """The latent space a scene moves in: its `space:` or the model's default."""
    space = scene.space or default_space(generator)
    if space not in generator.latent_spaces:
        raise SceneError([f"{scene.file}: space: {generator.name} has no {space!r} space; "
                          f"use one of {', '.join(generator.latent_spaces)}"])
    return space


def check_camera(scene: Scene, generator: Generator) -> None:
    """Refuse `camera:` / `turns:` for a model without an input transform (a model file's
    kind is only known once it is loaded; registry names are refused by load_scene)."""
    where = scene.camera_where
    if where is not None and not generator.has_camera:
        raise SceneError([f"{where}: {camera_problem(generator.name)}"])


# What a conditional generator can draw: its seeds (in a class), latent files and
# reflections of those. Photos, edits and FaceNet searches work from unconditional z.
CONDITIONAL_KINDS = ("seed", "latent", "anti")


def check_classes(scene: Scene, generator: Generator) -> None:
    """`class:` fields against the loaded model (a file's classes are only known once it is
    loaded): every problem, one located line each.

    Raises:
        SceneError: a class on an unconditional model, a class out of range or with the
            wrong number of labels, a conditional model's seed keyframe without a class, a
            keyframe kind a conditional model cannot draw.
    """
    lines, c_dim = [], generator.c_dim
    for kf in scene.keyframes:
        if kf.label is not None:
            problem = kf.label.problem(c_dim, generator.name)
            if problem and f"{kf.label.where}: {problem}" not in lines:  # defaults: once
                lines.append(f"{kf.label.where}: {problem}")
        if c_dim and kf.kind not in CONDITIONAL_KINDS:
            lines.append(f"{kf.where}: {kf.kind}: {generator.name} is a conditional "
                         f"generator; it draws only {', '.join(CONDITIONAL_KINDS)} keyframes")
        elif c_dim and kf.kind == "seed" and kf.label is None:
            lines.append(f"{kf.where}: seed: {generator.name} is a conditional generator "
                         f"with {c_dim} classes; give this keyframe a `class:` (0 to "
                         f"{c_dim - 1}) or set defaults.class")
    if c_dim and scene.space == "z":
        lines.append(f"{scene.file}: space: a conditional generator's z has no class; move "
                     "in w or w+ (the default)")
    if lines:
        raise SceneError(lines)


def resolve_keyframes(scene: Scene, generator: Generator, *,
                      progress: bool = True) -> ResolvedKeyframes:
    """Resolve every keyframe to latents.

    A kind that expands into a chain (feedback) contributes several entries, each carrying
    its keyframe's hold and transition. Truncation is applied per keyframe; references see
    the untruncated latents.
    """
    space = scene_space(scene, generator)
    check_camera(scene, generator)
    check_classes(scene, generator)
    ctx = ResolveContext(generator=generator, space=space, scene_seed=scene.seed,
                         scene_file=scene.file, progress=progress)
    resolved: dict[int, torch.Tensor] = {}
    for kf in resolution_order(scene.keyframes):
        ctx.labels = None if kf.label is None or not generator.c_dim else \
            torch.tensor(kf.label.vector(generator.c_dim), device=generator.device)
        try:
            latents = KINDS[kf.kind].resolve(kf.params, ctx, kf.where)  # [M, *S]
        except PhotoError as e:  # the photo's problem, at the keyframe that names it
            raise PhotoError(f"{kf.where}: {e}") from None
        resolved[kf.index] = latents
        if kf.name:
            ctx.named[kf.name] = latents[-1]
    mean = generator.mean_latent(space)
    expanded, rows = [], []
    for kf in scene.keyframes:
        if kf.truncation != 1.0:
            check_average_space(generator, space, "truncation", kf.where)
        for latent in resolved[kf.index]:
            expanded.append(kf)
            rows.append(truncate(latent, mean, kf.truncation, space) if kf.truncation != 1.0
                        else latent)
    return ResolvedKeyframes(expanded, torch.stack(rows), ctx.state)
