"""What several commands' options share: a check of names that become files, and help text."""

from __future__ import annotations

import typer

from latentreel.errors import BadInputError


def checked_name(value: object, param: typer.CallbackParam):
    """A typer callback for options that name files (-o/--out, --model): a name the OS
    refuses (too long, NUL bytes) is bad input here, in one line, rather than an OSError
    once the work is done."""
    from latentreel.errors import quote
    from latentreel.osnames import name_problem

    problem = None if value is None else name_problem(str(value))
    if problem:
        flag = "/".join(sorted(param.opts, key=len))
        raise BadInputError(f"{flag} {quote(str(value))} {problem}")
    return value


MODEL_HELP = "Model name or file."


# Help shared by every command that has the option, so each reads the same way.
DEVICE_HELP = "Where to compute: auto (a GPU when there is one), cpu, cuda or mps."
QUIET_HELP = "No progress bars (only the closing line and errors)."
