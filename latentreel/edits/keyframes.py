"""Keyframe kinds from latent edits: ``edit: {of, direction, amount, keep}``."""

from __future__ import annotations

import numpy as np
import torch

from latentreel.scene.fields import REQUIRED, Spec
from latentreel.scene.kind_base import KeyframeKind, ResolveContext


def edit_vector(ctx: ResolveContext, direction: str, keep: list[str], where: str) -> torch.Tensor:
    """The unit direction for an edit, with the kept attributes projected out."""
    from latentreel.edits.directions import DirectionStore, conditional
    from latentreel.errors import BadInputError

    if ctx.space != "z":
        # Directions are fitted and stored in z; a z vector added to a w latent of the same
        # size would run without error and mean nothing.
        raise BadInputError(f"{where}: directions live in z, but this scene moves in "
                            f"{ctx.space!r}; use `space: z` for scenes with edits or sweeps")
    store = ctx.shared.setdefault(("directions", ctx.generator.name),
                                  DirectionStore(ctx.generator.name))
    vec = store.get(direction, where).vector
    if keep:
        vec = conditional(vec, [store.get(k, where).vector for k in keep])
    shape = ctx.generator.latent_shape(ctx.space)
    if vec.shape != shape:
        from latentreel.errors import LatentFileError

        raise LatentFileError(f"{where}: direction '{direction}' has shape {list(vec.shape)} "
                              f"but the scene's {ctx.space!r} latents are {list(shape)}")
    return torch.from_numpy(np.ascontiguousarray(vec)).to(ctx.generator.device)


def _resolve_edit(params: dict, ctx: ResolveContext, where: str) -> torch.Tensor:
    vec = edit_vector(ctx, params["direction"], params["keep"] or [], where)
    return (ctx.named[params["of"]] + params["amount"] * vec)[None]


KEYFRAME_KINDS = [
    KeyframeKind(
        name="edit",
        spec=Spec("mapping", help="a named keyframe moved along an attribute direction", fields={
            "of": Spec("string", help="name of the keyframe to edit", default=REQUIRED),
            "direction": Spec("string", help="a direction from `latentreel directions list`",
                              default=REQUIRED),
            "amount": Spec("number", help="how far, in standard deviations of the prior",
                           default=1.0, min=-20, max=20),
            "keep": Spec("list", item=Spec("string"), default=None,
                         help="directions to hold still (projected out of the edit)"),
        }),
        help="a keyframe pushed along a direction (smile, yaw, ...)",
        resolve=_resolve_edit,
        refs=lambda p: [("of", p["of"])],
    ),
]
