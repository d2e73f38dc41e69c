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


def quote(value: object, limit: int = 60) -> str:
    """Text a file supplied (a global's name, a dict key, a value), safe for a one-line message.

    Strings are quoted with control, format (bidi) and line-separator characters escaped, so
    a file cannot move the cursor, clear the screen or start a new line; anything longer than
    ``limit`` characters is cut, with its full length noted. Numbers print as themselves (cut
    the same way); any other object is named by its type only, never by its ``repr``, which
    could be huge or nested without bound.
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else \
            f"an integer of {value.bit_length()} bits"
        return text if len(text) <= limit else text[:limit] + "..."
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    cut = value[:limit]
    more = f"... ({len(value)} characters)" if len(value) > limit else ""
    return "'" + "".join(_escape(ch) for ch in cut) + "'" + more


def did_you_mean(word: str, options, n: int = 3) -> str:
    """"did you mean 'a', 'b' or 'c'?" naming up to ``n`` of ``options`` close to ``word``
    (difflib's similarity of at least 0.5), or "" when none is."""
    from difflib import get_close_matches

    close = [f"'{c}'" for c in get_close_matches(str(word), list(options), n=n, cutoff=0.5)]
    if not close:
        return ""
    return "did you mean " + (", ".join(close[:-1]) + " or " if len(close) > 1 else "") + \
        close[-1] + "?"


def _escape(ch: str) -> str:
    if ch in "'\\":
        return "\\" + ch
    return _escape_control(ch)


def _escape_control(ch: str) -> str:
    import unicodedata

    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
            else f"\\U{code:08x}"
    return ch


def printable(message: str, limit: int = 1000) -> str:
    """A message made safe to print: control characters escaped (newlines kept only as the
    separators of several problems), each line cut to ``limit`` characters. The CLI applies
    it to every error as a last guard; loaders quote what files supply themselves."""
    lines = []
    for line in message.split("\n"):
        clean = "".join(_escape_control(ch) for ch in line)
        lines.append(clean if len(clean) <= limit else clean[:limit] + "...")
    return "\n".join(lines)


def shown_path(path: object, limit: int = 200) -> str:
    """A file path for a message: unquoted, control characters escaped, long paths cut in
    the middle (a scene from someone else can name a path that is itself a terminal trick)."""
    text = "".join(_escape_control(ch) for ch in str(path))
    return text if len(text) <= limit else text[:limit // 2] + "..." + text[-limit // 2:]
