"""Turn a scene's keyframes into latent tensors on the generator's device."""

from __future__ import annotations

import torch

from latentreel.errors import PhotoError
from latentreel.models.base import Generator, check_average_space, default_space, truncate
from latentreel.scene.kinds import KINDS, ResolveContext
from latentreel.scene.load import resolution_order
from latentreel.scene.model import Keyframe, Scene

__all__ = ["resolve_keyframes", "scene_generator", "scene_space", "scene_tuning"]


def scene_space(scene: Scene, generator: Generator) -> str:
    """The latent space a scene moves in: its `space:` or the model's default."""
    from latentreel.errors import SceneError

    space = scene.space or default_space(generator)
    if space not in generator.latent_spaces:
        raise SceneError([f"{scene.file}: space: {generator.name} has no {space!r} space; "
                          f"use one of {', '.join(generator.latent_spaces)}"])
    return space


def check_camera(scene: Scene, generator: Generator) -> None:
    """Refuse `camera:` / `turns:` for a model without an input transform (a model file's
    kind is only known once it is loaded; registry names are refused by load_scene)."""
    where = scene.camera_where
    if where is not None and not getattr(generator, "has_camera", False):
        from latentreel.errors import SceneError
        from latentreel.scene.load import camera_problem

        raise SceneError([f"{where}: {camera_problem(generator.name)}"])


def resolve_keyframes(
    scene: Scene, generator: Generator, *, progress: bool = True, shared: dict | None = None
) -> tuple[list[Keyframe], torch.Tensor]:
    """Resolve every keyframe to latents.

    Returns:
        (expanded keyframes, latents [K, *S]): a kind that expands into a chain (feedback)
        contributes several entries, each carrying its keyframe's hold and transition.
        Truncation is applied per keyframe; references see the untruncated latents.
        ``shared`` receives what kinds leave behind (e.g. feedback reports).
    """
    space = scene_space(scene, generator)
    check_camera(scene, generator)
    ctx = ResolveContext(generator=generator, space=space, scene_seed=scene.seed,
                         scene_file=scene.file, progress=progress,
                         shared=shared if shared is not None else {})
    resolved: dict[int, torch.Tensor] = {}
    for kf in resolution_order(scene.keyframes):
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
    return expanded, torch.stack(rows)


def scene_tuning(generator: Generator, shared: dict, *, progress: bool = True):
    """(the generator to render with, its WeightDelta) after ``resolve_keyframes(...,
    shared=shared)``: tuned for the scene's photos and tuned latent files (jointly when there
    are several, cached by content), or ``(generator, None)`` when the scene has none."""
    from latentreel.invert.tuned import tuned_for_pivots

    return tuned_for_pivots(generator, shared.get("pivots", []), progress=progress)


def scene_generator(generator: Generator, shared: dict, *, progress: bool = True) -> Generator:
    """The generator to render with after ``resolve_keyframes(..., shared=shared)``: tuned
    for the scene's photos and tuned latent files, or ``generator`` itself when it has none."""
    return scene_tuning(generator, shared, progress=progress)[0]
