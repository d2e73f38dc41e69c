"""Declarative field specs: one description drives validation, defaults and the JSON Schema.

Validation never stops at the first problem: every problem is collected (with its
``file:line:col`` and field path) so a user fixes a scene in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentreel.errors import did_you_mean, quote
from latentreel.osnames import name_problem
from latentreel.spec.yamlpos import FieldPath, Located, format_path

REQUIRED = object()  # sentinel: the field has no default

_TYPE_WORDS = {
    "int": "an integer",
    "number": "a number",
    "string": "a string",
    "bool": "true or false",
    "path": "a file path (a string)",
    "enum": "one of",
    "mapping": "a mapping of keys to values",
    "list": "a list",
    "size": "a size: one number (a square), [width, height] or \"WIDTHxHEIGHT\"",
}


@dataclass(frozen=True)
class Spec:
    """What one field accepts. ``kind`` is int|number|string|bool|path|enum|mapping|list|size|
    custom (size: a frame size, one int for a square, [W, H] or "WxH", cleaned to a (W, H)
    tuple; custom: a value ``parse`` turns into the typed one, or refuses with None)."""

    kind: str
    help: str = ""
    default: Any = None  # REQUIRED, a value, or None (optional, absent means None)
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()  # for enum
    fields: dict[str, Spec] = field(default_factory=dict)  # for mapping
    shorthand: str | None = None  # a scalar value means {shorthand: value}
    item: Spec | None = None  # for list
    must_exist: bool = False  # for path: the file must exist (relative to the scene)
    check: Callable[[Path], str | None] | None = None  # for path: the problem with the file
    name_check: Callable[[Path], str | None] | None = None  # for path: the problem with its
    # name, whether or not the file exists yet (an output's suffix)
    min_items: int = 0  # for list
    os_name: bool = False  # for string: the value names a file (model, direction): the OS
    # must accept it as a name (paths always must)
    values: Spec | None = None  # for mapping: keys are free names, every value is this
    parse: Callable[[Any], Any] | None = None  # for custom: value -> typed value or None
    expects: str = ""  # for custom: what it accepts, for the message and the JSON Schema
    even: bool = False  # for size: both sides even (H.264 in yuv420p halves the colour planes)


class Problems:
    """Collects every problem in a scene with its location."""

    def __init__(self, located: Located):
        self.located = located
        self._found: list[tuple[tuple[int, int], str]] = []

    def add(self, path: FieldPath, message: str, at_key: bool = False) -> None:
        at = tuple(path) + ("__key__",) if at_key else tuple(path)
        self.add_at(self.located.line_col(at), f"{format_path(path)}: {message}")

    def add_at(self, line_col: tuple[int, int], message: str) -> None:
        """A problem at ``line:col`` of the scene file (``message`` names the field)."""
        line, col = line_col
        self._found.append(((line, col), f"{self.located.file}:{line}:{col}: {message}"))

    @property
    def lines(self) -> list[str]:
        """Every problem, in the order of the file (a reader fixes them top to bottom)."""
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def closest(word: str, options) -> str:
    """' (did you mean 'x'?)' or a list of valid options."""
    match = did_you_mean(word, options, n=1)
    if match:
        return f"; {match}"
    return f"; valid: {', '.join(sorted(options))}"


def validate(spec: Spec, value: Any, path: FieldPath, problems: Problems, base: Path) -> Any:
    """Check ``value`` against ``spec``; return the cleaned value (defaults filled) or None."""
    if spec.kind == "mapping":
        return _validate_mapping(spec, value, path, problems, base)
    if spec.kind == "list":
        return _validate_list(spec, value, path, problems, base)
    if spec.kind == "size":
        return _validate_size(spec, value, path, problems)
    return _validate_scalar(spec, value, path, problems, base)


def _validate_scalar(spec: Spec, value: Any, path, problems: Problems, base: Path) -> Any:
    kind = spec.kind
    if kind == "custom":
        parsed = spec.parse(value) if spec.parse else None
        if parsed is None:
            problems.add(path, f"expected {spec.expects}, got {describe(value)}")
        return parsed
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "path": isinstance(value, str) and value.strip() != "",
        "enum": isinstance(value, str) and value in spec.choices,
    }[kind]
    if not ok:
        if kind == "enum":
            # The options are listed already: only a close match adds anything.
            hint = closest(value, spec.choices) if isinstance(value, str) else ""
            hint = hint if hint.startswith("; did you mean") else ""
            options = ", ".join(spec.choices)
            problems.add(path, f"expected one of {options}, got {describe(value)}{hint}")
        else:
            problems.add(path, f"expected {_TYPE_WORDS[kind]}, got {describe(value)}")
        return None
    if kind == "path" or kind == "string" and spec.os_name:
        problem = name_problem(value)
        if problem:
            problems.add(path, f"{quote(value)} {problem}")
            return None
    if kind in ("int", "number"):
        if spec.min is not None and value < spec.min or spec.max is not None and value > spec.max:
            problems.add(path, f"{value} is out of range; use a value in [{spec.min}, {spec.max}]")
            return None
        return float(value) if kind == "number" else value
    if kind == "path":
        resolved = (base / value).resolve()
        if spec.must_exist and not resolved.is_file():
            problems.add(
                path, f"file {value!r} not found (looked for {resolved}; paths are relative to "
                "the scene file)"
            )
            return None
        problem = spec.check(resolved) if spec.check and resolved.is_file() else None
        problem = problem or (spec.name_check(resolved) if spec.name_check else None)
        if problem:
            problems.add(path, problem)
            return None
        return resolved
    return value


_SIZE_TEXT = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def _validate_size(spec: Spec, value: Any, path, problems: Problems) -> tuple[int, int] | None:
    """One int (a square), [W, H] or "WxH" -> (W, H), each side in [min, max] (and even)."""
    sides = None
    if isinstance(value, int) and not isinstance(value, bool):
        sides = (value, value)
    elif isinstance(value, str) and _SIZE_TEXT.match(value):
        m = _SIZE_TEXT.match(value)
        sides = (int(m.group(1)), int(m.group(2)))
    elif (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        sides = (value[0], value[1])
    if sides is None:
        problems.add(path, f"expected {_TYPE_WORDS['size']}, got {describe(value)}")
        return None
    w, h = sides
    if any(spec.min is not None and v < spec.min or spec.max is not None and v > spec.max
           for v in sides):
        problems.add(path, f"{w}x{h} is out of range; each side must be in "
                     f"[{spec.min}, {spec.max}]")
        return None
    if spec.even and (w % 2 or h % 2):
        fix = f"{w + w % 2}x{h + h % 2}"
        problems.add(path, f"{w}x{h} has an odd side, which H.264 in yuv420p (what every "
                     f"player decodes) cannot take; use even sides, e.g. {fix}")
        return None
    return sides


def _validate_mapping(spec: Spec, value: Any, path, problems: Problems, base: Path) -> Any:
    if spec.shorthand is not None and not isinstance(value, dict):
        value = {spec.shorthand: value}
    if not isinstance(value, dict):
        problems.add(path, f"expected {_TYPE_WORDS['mapping']}, got {describe(value)}")
        return None
    if spec.values is not None:
        return _validate_free_mapping(spec, value, path, problems, base)
    out: dict[str, Any] = {}
    for key in value:
        if key not in spec.fields:
            problems.add(path + (key,), f"unknown key '{key}'{closest(key, spec.fields)}",
                         at_key=True)
    for name, sub in spec.fields.items():
        if name in value and value[name] is not None:
            out[name] = validate(sub, value[name], path + (name,), problems, base)
        elif sub.default is REQUIRED:
            problems.add(path, f"missing required key '{name}'"
                         + (f" ({sub.help})" if sub.help else ""))
            out[name] = None
        else:
            out[name] = sub.default
    return out


def _validate_free_mapping(spec: Spec, value: dict, path, problems: Problems,
                           base: Path) -> dict:
    """A mapping whose keys are names the file chooses (stems: {drums: drums.wav})."""
    out = {}
    for key, item in value.items():
        problem = name_problem(key) if isinstance(key, str) else "is not a name"
        if problem:
            problems.add(path + (key,), f"{quote(key)} {problem}", at_key=True)
            continue
        out[key] = validate(spec.values, item, path + (key,), problems, base)
    return out


def _validate_list(spec: Spec, value: Any, path, problems: Problems, base: Path) -> Any:
    if not isinstance(value, list):
        problems.add(path, f"expected {_TYPE_WORDS['list']}, got {describe(value)}")
        return None
    if len(value) < spec.min_items:
        problems.add(path, f"needs at least {spec.min_items} item(s), got {len(value)}")
    assert spec.item is not None
    return [validate(spec.item, v, path + (i,), problems, base) for i, v in enumerate(value)]


def json_schema(spec: Spec) -> dict:
    """The JSON Schema (draft 2020-12 subset) equivalent of ``spec``."""
    s: dict[str, Any] = {}
    if spec.help:
        s["description"] = spec.help
    if spec.kind == "mapping" and spec.values is not None:
        s.update(type="object", additionalProperties=json_schema(spec.values))
        return s
    if spec.kind == "custom":
        s.update(type=["number", "string"])
        return s
    if spec.kind == "mapping":
        s.update(
            type="object",
            additionalProperties=False,
            properties={k: json_schema(v) for k, v in spec.fields.items()},
        )
        required = [k for k, v in spec.fields.items() if v.default is REQUIRED]
        if required:
            s["required"] = required
        if spec.shorthand is not None:
            short = json_schema(spec.fields[spec.shorthand])
            one_of = {"oneOf": [short, s]}
            return {"description": spec.help, **one_of} if spec.help else one_of
        return s
    if spec.kind == "list":
        s.update(type="array", items=json_schema(spec.item), minItems=spec.min_items)
        return s
    if spec.kind == "size":
        side = {"type": "integer", "minimum": spec.min, "maximum": spec.max}
        return {**s, "oneOf": [side, {"type": "array", "items": side, "minItems": 2,
                                      "maxItems": 2},
                               {"type": "string", "pattern": _SIZE_TEXT.pattern}]}
    s["type"] = {"int": "integer", "number": "number", "string": "string", "bool": "boolean",
                 "path": "string", "enum": "string"}[spec.kind]
    if spec.kind == "enum":
        s["enum"] = list(spec.choices)
    if spec.min is not None:
        s["minimum"] = spec.min
    if spec.max is not None:
        s["maximum"] = spec.max
    if spec.default not in (None, REQUIRED) and not isinstance(spec.default, Path):
        s["default"] = spec.default
    return s
