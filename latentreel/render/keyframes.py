"""Turn a scene's keyframes into latent tensors on the generator's device."""

from __future__ import annotations

import torch

from latentreel.models.base import Generator, check_average_space, truncate
from latentreel.scene.kinds import KINDS, ResolveContext
from latentreel.scene.load import resolution_order
from latentreel.scene.model import Keyframe, Scene


def default_space(generator: Generator) -> str:
    """w+ where the model has it: seeds move exactly as in w, and photos keep their per-layer
    inversions (and truncation happens around w_avg); z otherwise (the DCGAN)."""
    return "w+" if "w+" in generator.latent_spaces else generator.latent_spaces[0]


def scene_space(scene: Scene, generator: Generator) -> str:
    """The latent space a scene moves in: its `space:` or the model's default."""
    from latentreel.errors import SceneError

    space = scene.space or default_space(generator)
    if space not in generator.latent_spaces:
        raise SceneError([f"{scene.file}: space: {generator.name} has no {space!r} space; "
                          f"use one of {', '.join(generator.latent_spaces)}"])
    return space


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
    ctx = ResolveContext(generator=generator, space=space, scene_seed=scene.seed,
                         scene_file=scene.file, progress=progress,
                         shared=shared if shared is not None else {})
    resolved: dict[int, torch.Tensor] = {}
    for kf in resolution_order(scene.keyframes):
        latents = KINDS[kf.kind].resolve(kf.params, ctx, kf.where)  # [M, *S]
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


def scene_generator(generator: Generator, shared: dict, *, progress: bool = True) -> Generator:
    """The generator to render with after ``resolve_keyframes(..., shared=shared)``: tuned
    for the scene's photos and tuned latent files (jointly when there are several, cached by
    content), or ``generator`` itself when the scene has none."""
    pivots = shared.get("pivots", [])
    if not pivots:
        return generator
    from latentreel.invert.tuned import generator_for_pivots

    return generator_for_pivots(generator, pivots, progress=progress)
