"""Scene files: YAML -> validated, typed Scene."""

from latentreel.scene.load import load_scene
from latentreel.scene.model import Keyframe, Output, Scene, Transition

__all__ = ["Keyframe", "Output", "Scene", "Transition", "load_scene"]
