"""Errors latentreel reports to people.

Every error that a user can fix (a bad scene, photo, model file or option) is a
``BadInputError``: the CLI prints its one-line message and exits with code 2, with no
traceback unless ``--debug`` is given. Anything else is a bug or an environment problem
and exits with code 1.
"""

from __future__ import annotations


class LatentreelError(Exception):
    """Base class for errors that carry a message meant for a person."""

    exit_code = 1


class BadInputError(LatentreelError):
    """Input the user can fix: scene, photo, model file, latent file or option."""

    exit_code = 2


class SceneError(BadInputError):
    """One or more problems in a scene file; ``problems`` holds every line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ModelError(BadInputError):
    """A model that cannot be loaded: missing weights, corrupt or hostile file."""


class PhotoError(BadInputError):
    """A photo that cannot be used: unreadable, no face, bad mask."""


class LatentFileError(BadInputError):
    """A latent or direction file that is missing, corrupt or of the wrong shape."""


class RenderError(LatentreelError):
    """Rendering or encoding failed for a reason that is not the user's input (ffmpeg died)."""
