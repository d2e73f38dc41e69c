"""Parsers for option values shared by several commands."""

from __future__ import annotations

from latentreel.errors import BadInputError


def parse_int_list(text: str, option: str = "--seeds") -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else ("-" + part[1:].split("-")[0], part[1:].split("-", 1)[1])
                a, b = int(lo), int(hi)
                if b < a or b - a > 10000:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise BadInputError(
                f"{option} {text!r}: cannot read {part!r}; write numbers and ranges like 0-15,42"
            ) from None
    if not out:
        raise BadInputError(f"{option} is empty; write numbers and ranges like 0-15,42")
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
