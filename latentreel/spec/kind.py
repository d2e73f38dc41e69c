"""What a keyframe kind is: its value's Spec, its references, and how it becomes latents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from latentreel.models.base import Generator
from latentreel.models.registry import ModelMeta
from latentreel.spec.fields import Spec
from latentreel.spec.yamlpos import FieldPath

if TYPE_CHECKING:
    from latentreel.faces.facenet import FaceNet
    from latentreel.invert.tune import Pivot


@dataclass(frozen=True)
class KindReport:
    """What a kind found out while resolving one keyframe (a feedback chain's report, a
    search's result): printed by `analyze`, which knows each report's type."""

    where: str  # file:line:col of the keyframe
    value: object


@dataclass
class SceneState:
    """What resolving a scene's keyframes leaves for the steps after it, field by field."""

    pivots: list[Pivot] = field(default_factory=list)  # what the generator is tuned to redraw
    reports: list[KindReport] = field(default_factory=list)  # for `analyze`
    facenet: FaceNet | None = None  # loaded by the first kind that needs it


@dataclass
class ResolveContext:
    """What resolving a keyframe may use."""

    generator: Generator
    space: str  # the scene's latent space
    scene_seed: int
    scene_file: Path
    named: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> latent [*S]
    progress: bool = True  # show progress bars for slow kinds (photo inversion, feedback)
    state: SceneState = field(default_factory=SceneState)
    # The class of the keyframe being resolved ([c_dim] label vector), for conditional models.
    labels: torch.Tensor | None = None

    def map_z(self, z: torch.Tensor, where: str) -> torch.Tensor:
        """z [N, z_dim] -> the scene's space, in the keyframe's class on conditional models.

        Raises:
            SceneError: a conditional model and a keyframe without a class (located).
        """
        g = self.generator
        if g.c_dim and self.labels is None:
            from latentreel.errors import SceneError

            raise SceneError([f"{where}: {g.name} is a conditional generator with {g.c_dim} "
                              "classes; give this keyframe a `class:` (or set defaults.class)"])
        labels = None if self.labels is None else \
            self.labels.to(z.device)[None].expand(z.shape[0], -1)
        return g.to_space(z, self.space, labels=labels)

    def facenet(self) -> FaceNet:
        """FaceNet on the generator's device, loaded once per scene."""
        if self.state.facenet is None:
            from latentreel.faces.facenet import load_facenet

            self.state.facenet = load_facenet(device=self.generator.device)
        return self.state.facenet


@dataclass(frozen=True)
class KeyframeKind:
    name: str
    spec: Spec  # what the kind's value looks like
    help: str
    # -> [M, *S] latents (M > 1 when a kind expands into a chain, e.g. feedback)
    resolve: Callable[[Any, ResolveContext, str], torch.Tensor]
    refs: Callable[[Any], list[tuple[str, str]]] = lambda params: []  # (field, name) it needs


@dataclass(frozen=True)
class ModelCheck:
    """What checking a scene against its model may use: metadata only, no weights."""

    model: ModelMeta  # the model's name (its directions are stored under it) and spaces
    space: str  # the latent space the scene moves in


# A check of keyframes against the model: (field path, problem) for each problem found.
SceneCheck = Callable[[list, ModelCheck], list[tuple[FieldPath, str]]]
