"""The package's import graph reads top to bottom (docs/architecture.md), with no circles.

Reads every module's imports with ``ast`` (lazy imports inside functions included), so it
costs milliseconds and imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "latentreel"

# Top to bottom; a room may import rooms on its own layer or below, never above.
LAYERS = [
    {"__main__", "cli"},
    {"bench", "analysis", "play", "window", "live"},  # window: the display `play` opens;
    # live: performances (OSC, MIDI, live sound, recording) that `play` and `render` run
    {"render", "distributed"},  # distributed: the Ray runner beside render
    {"scene"},  # the registry of every keyframe kind, scene loading and checking
    {"edits", "feedback"},  # each defines keyframe kinds of its own
    {"invert", "spec"},  # spec: the vocabulary kinds are described in (Spec, located YAML)
    {"faces", "models", "video", "upscale", "audio"},  # upscale: learned upscalers beside the
    # models; audio: sound files and their per-frame features, beside video
    {"latents", "latentfile"},
    {"errors", "cache", "device", "osnames", "__init__"},  # osnames: names the OS refuses
]

# Upward imports are refused: move the shared piece down to the layer both rooms use instead.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    mods = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """latentreel modules that ``path`` imports (``from pkg import mod`` counts as mod)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out.update(n for n in names if n in known)
    return out


MODULES = _modules()
GRAPH = {m: _imports(f, MODULES) - {m} for m, f in MODULES.items()}


def _layer(module: str) -> int:
    room = module.split(".")[1] if "." in module else "__init__"
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(
        f"{module}: room {room!r} has no layer; add it to LAYERS (and docs/architecture.md)")


def test_every_room_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_lower_layer_imports_a_higher_one():
    upward = {(a, b) for a, deps in GRAPH.items() for b in deps if _layer(b) < _layer(a)}
    assert upward - KNOWN_UPWARD == set(), "move the shared piece down to a layer both can use"
    assert KNOWN_UPWARD - upward == set(), "fixed: remove it from KNOWN_UPWARD"


def _cycle_from(start: str) -> list[str] | None:
    """An import path from ``start`` back to itself through larger names, or None."""
    stack, on_path, seen = [iter(sorted(GRAPH[start]))], [start], {start}
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            on_path.pop()
        elif nxt == start:
            return on_path + [start]
        elif nxt not in seen and nxt > start:  # each circle is found from its smallest name
            seen.add(nxt)
            stack.append(iter(sorted(GRAPH[nxt])))
            on_path.append(nxt)
    return None


def test_no_import_circle():
    circles = [c for c in map(_cycle_from, sorted(MODULES)) if c]
    assert circles == [], "; ".join(" -> ".join(c) for c in circles)


def test_the_safe_loader_imports_no_backend():
    """models/pickles serves StyleGAN2, StyleGAN3 and .pt files alike, so it imports none."""
    room = "latentreel.models.pickles"
    shared = {m: deps for m, deps in GRAPH.items() if m.startswith(room)}
    backends = {(m, d) for m, deps in shared.items() for d in deps
                if d.startswith("latentreel.models.") and not d.startswith(room)}
    assert shared and backends == set()
