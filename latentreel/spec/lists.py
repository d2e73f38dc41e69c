"""Lists of numbers as options write them: '0-3,7' and '1,0.5,-1'."""

from __future__ import annotations

import re

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
        raise BadInputError(
            f"{option} {text!r}: write comma-separated numbers like 1,0.5,0,-1") from None
    if not values:
        raise BadInputError(f"{option} is empty; write comma-separated numbers like 1,0.5,0,-1")
    return values
