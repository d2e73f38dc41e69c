"""Keyframe kinds from latent edits: ``edit: {of, direction, amount, keep}``."""

from __future__ import annotations

import torch

from latentreel.spec.fields import REQUIRED, Spec
from latentreel.spec.kind import KeyframeKind, ModelCheck, ResolveContext


def edit_vector(ctx: ResolveContext, direction: str, keep: list[str], where: str) -> torch.Tensor:
    """The offset for one unit of ``amount`` in the scene's space, kept attributes projected out."""
    from latentreel.edits.directions import DirectionStore, edit_step

    # Read afresh for each keyframe: a store is one small file, and its directions may change
    # between scenes (`directions fit`).
    step = edit_step(DirectionStore(ctx.generator.name), direction, keep, ctx.space,
                     ctx.generator.latent_shape(ctx.space), where)
    return torch.from_numpy(step).to(ctx.generator.device)


def _resolve_edit(params: dict, ctx: ResolveContext, where: str) -> torch.Tensor:
    vec = edit_vector(ctx, params["direction"], params["keep"] or [], where)
    return (ctx.named[params["of"]] + params["amount"] * vec)[None]


KEYFRAME_KINDS = [
    KeyframeKind(
        name="edit",
        spec=Spec("mapping", help="a named keyframe moved along an attribute direction", fields={
            "of": Spec("string", help="name of the keyframe to edit", default=REQUIRED),
            "direction": Spec("string", help="a direction from `latentreel directions list`",
                              default=REQUIRED, os_name=True),
            "amount": Spec("number", help="how far, in standard deviations of the latents "
                           "along the direction",
                           default=1.0, min=-20, max=20),
            "keep": Spec("list", item=Spec("string", os_name=True), default=None,
                         help="directions to hold still (projected out of the edit)"),
        }),
        help="a keyframe pushed along a direction (smile, yaw, ...)",
        resolve=_resolve_edit,
        refs=lambda p: [("of", p["of"])],
    ),
]


def _check_directions(keyframes: list, check: ModelCheck) -> list:
    """Every direction an edit or a sweep names (and keeps) is stored for the model and fits
    the scene's space: read from the directions' metadata, before any vector or model loads."""
    from latentreel.edits.directions import space_mismatch, stored_spaces, unknown_direction

    spaces = stored_spaces(check.model.name)
    found = []
    for kf in keyframes:
        uses = [(("keyframes", kf.index, "edit"), kf.params)] if kf.kind == "edit" else []
        if kf.transition.sweep:
            uses.append((("keyframes", kf.index, "transition", "sweep"), kf.transition.sweep))
        for at, params in uses:
            named = [(("direction",), params.get("direction"))]
            named += [(("keep", j), k) for j, k in enumerate(params.get("keep") or [])]
            for sub, name in named:
                if name is None:
                    continue  # already reported by the field check
                problem = (unknown_direction(name, spaces, check.model.name)
                           if name not in spaces else
                           space_mismatch(name, spaces[name], check.space))
                if problem:
                    found.append((at + sub, problem))
    return found


SCENE_CHECKS = [_check_directions]
