"""What a keyframe kind is: its value's Spec, its references, and how it becomes latents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from latentreel.models.base import Generator
from latentreel.models.registry import ModelMeta
from latentreel.scene.fields import Spec
from latentreel.scene.yamlpos import FieldPath


@dataclass
class ResolveContext:
    """What resolving a keyframe may use."""

    generator: Generator
    space: str  # the scene's latent space
    scene_seed: int
    scene_file: Path
    named: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> latent [*S]
    progress: bool = True  # show progress bars for slow kinds (photo inversion, feedback)
    shared: dict[str, Any] = field(default_factory=dict)  # loaded once per scene (FaceNet)


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
