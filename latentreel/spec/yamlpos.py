"""YAML with source positions: values from ``yaml.safe_load`` plus a line:col for every field.

Error messages must point at ``scene.yaml:LINE:COL``; PyYAML's ``safe_load`` drops positions, so
we compose the node tree with the safe loader and walk it beside the loaded values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from latentreel.errors import SceneError

FieldPath = tuple  # e.g. ("keyframes", 2, "seed")


@dataclass
class Located:
    """Loaded YAML data with the position of every mapping key and value."""

    data: Any
    file: Path
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    # keys given twice in one mapping: (path of the key, first line:col, second line:col)
    duplicates: list[tuple[FieldPath, tuple[int, int], tuple[int, int]]] = \
        field(default_factory=list)

    def where(self, path: FieldPath) -> str:
        """``file:line:col`` of ``path``, or of its nearest located parent."""
        line, col = self.line_col(path)
        return f"{self.file}:{line}:{col}"

    def line_col(self, path: FieldPath) -> tuple[int, int]:
        """(line, col) of ``path``, or of its nearest located parent."""
        p = tuple(path)
        while p not in self.positions and p:
            p = p[:-1]
        return self.positions.get(p, (1, 1))


def format_path(path: FieldPath) -> str:
    """("keyframes", 2, "seed") -> "keyframes[2].seed"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_located(path: Path) -> Located:
    """Read ``path`` as YAML, keeping positions. Syntax errors become a SceneError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SceneError([f"{path}: no such scene file; check the path"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SceneError([f"{path}: cannot read the scene file ({e})"]) from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise SceneError(
            [f"{path}:{line}:{col}: invalid YAML: {problem}; check indentation and quoting"]
        ) from None
    except yaml.YAMLError as e:
        raise SceneError([f"{path}:1:1: invalid YAML: {e}"]) from None
    located = Located(data=data, file=path)
    if node is not None:
        _walk(node, (), located.positions, located.duplicates)
    return located


def _walk(node: yaml.Node, path: FieldPath, out: dict, duplicates: list) -> None:
    out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        # YAML keys are unique, but PyYAML keeps the last of two silently: remember both.
        first: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in first:
                duplicates.append((path + (key,), first[key], at))
            first.setdefault(key, at)
            _walk(value_node, path + (key,), out, duplicates)
            # The key's own position is the better place to point at for unknown keys.
            out[path + (key, "__key__")] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), out, duplicates)
