"""What a keyframe kind is: its value's Spec, its references, and how it becomes latents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from latentreel.models.base import Generator
from latentreel.scene.fields import Spec


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
