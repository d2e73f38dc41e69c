"""Parsers for option values shared by several commands."""

from __future__ import annotations

import re

import typer

from latentreel.errors import BadInputError


def parse_int_list(text: str, option: str = "--seeds") -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11] (non-negative numbers and ranges)."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (1, 0)
        if hi < lo or hi - lo > 10000:
            raise BadInputError(
                f"{option} {text!r}: cannot read {part!r}; write numbers and ranges like 0-15,42"
            )
        out.extend(range(lo, hi + 1))
    return out


def parse_float_list(text: str, option: str) -> list[float]:
    """'1,0.5,-1' -> [1.0, 0.5, -1.0]."""
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise BadInputError(f"{option} {text!r}: write comma-separated numbers like 1,0.5,0,-1") from None
    if not values:
        raise BadInputError(f"{option} is empty; write comma-separated numbers like 1,0.5,0,-1")
    return values


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
