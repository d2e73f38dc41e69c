"""Scene file -> typed Scene, reporting every problem at once.

Steps: 1. read YAML with positions; 2. check fields against the spec; 3. build keyframes with
defaults; 4. check references between keyframes (names exist, no cycles); 5. check the model
and what depends on it (spaces, directions) from its metadata, before any weights load.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from latentreel.errors import ModelError, SceneError, quote
from latentreel.latents.camera import CAMERA_FIELDS, ZOOM
from latentreel.models.base import default_space
from latentreel.models.bend import BEND_OPS, BendSlot
from latentreel.models.registry import find_model
from latentreel.spec.fields import Problems, closest, validate
from latentreel.spec.kind import ModelCheck
from latentreel.scene.controls import build_controls, react_keys
from latentreel.scene.kinds import KINDS, SCENE_CHECKS
from latentreel.scene.model import Bend, ClassLabel, Keyframe, Output, Scene, Transition
from latentreel.scene.music import build_music, build_reactions, check_pins, pin_of
from latentreel.scene.schema import scene_spec
from latentreel.spec.yamlpos import Located, format_path, load_located


def load_scene(path: str | Path) -> Scene:
    """Read and validate a scene file.

    Raises:
        SceneError: with one ``file:line:col: field: problem`` line per problem found.
    """
    # 1. Read YAML, keeping positions for messages.
    path = Path(path)
    located = load_located(path)
    problems = Problems(located)
    _report_duplicates(located, problems)
    if not isinstance(located.data, dict):
        raise SceneError([f"{path}:1:1: a scene must be a mapping with a 'keyframes' list"])
    # 2. Check every field.
    clean = validate(scene_spec(), located.data, (), problems, path.parent)
    # 3. Build typed keyframes (defaults filled in).
    keyframes = _build_keyframes(clean, located, problems)
    # 4. Cross-keyframe checks, and a camera only where the named model has one.
    _check_references(keyframes, located, problems)
    _check_camera_model(clean["model"], clean, problems)
    controls = build_controls(clean.get("controls"), located, problems, react_keys(
        [(i, r.get("feature"), r.get("drive")) for i, r in enumerate(clean.get("react") or [])
         if r]))
    # 5. The model and the fields that depend on it.
    _check_model(clean, keyframes, path.parent, problems)
    # 6. The music: reactions, and keyframes pinned to it.
    music = build_music(clean)
    react = build_reactions(clean, located, problems, music, keyframes,
                            _registry_camera_problem(clean.get("model")))
    _check_output(clean.get("output") or {}, problems)
    output = _build_output(clean.get("output") or {}, path, located, music)
    if music is not None or not clean.get("audio"):  # a refused audio path is said once
        check_pins(keyframes, music, output.fps, problems)
    if problems.lines:
        raise SceneError(problems.lines)
    return Scene(
        file=path,
        model=clean["model"],
        space=clean["space"],
        seed=clean["seed"],
        output=output,
        loop=clean["loop"],
        keyframes=keyframes,
        controls=controls,
        audio=music,
        react=react,
    )


def _report_duplicates(located: Located, problems: Problems) -> None:
    for key_path, first, again in located.duplicates:
        problems.add_at(again, f"{format_path(key_path)}: given twice (first at "
                        f"{located.file}:{first[0]}:{first[1]}); keys must be unique: "
                        "keep one")


def _check_model(clean: dict, keyframes: list[Keyframe], base: Path, problems: Problems) -> None:
    if clean.get("model") is None:
        return  # not a string: already reported
    try:
        model = find_model(clean["model"], base)
    except ModelError as e:
        problems.add(("model",), str(e))
        return
    space = clean.get("space") or default_space(model)
    if space not in model.latent_spaces:
        problems.add(("space",), f"{model.name} has no {space!r} space; use one of "
                     f"{', '.join(model.latent_spaces)}")
        return
    check = ModelCheck(model=model, space=space)
    for scene_check in SCENE_CHECKS:
        for field_path, problem in scene_check(keyframes, check):
            problems.add(field_path, problem)


def _build_output(out: dict[str, Any], scene_file: Path, located: Located,
                  music=None) -> Output:
    """The output settings; the scene's music is the soundtrack unless output.audio is set."""
    default_path = scene_file.parent / "out" / f"{scene_file.stem}.mp4"
    kw = {k: v for k, v in out.items()
          if v is not None and k not in ("path", "size", "grid")}
    width, height = _sides(out.get("size") or 512)
    grid = out.get("grid")
    if grid:
        kw.update(grid=(grid["cols"], grid["rows"]), grid_seed_step=grid["seed_step"])
    raw = located.data.get("output") if isinstance(located.data, dict) else None
    if isinstance(raw, dict) and "fit" in raw:
        kw["fit_where"] = located.where(("output", "fit"))
    if music is not None and kw.get("audio") is None:
        kw["audio"] = music.path
    return Output(path=out.get("path") or default_path.resolve(), size=height,
                  width=None if width == height else width, **kw)


def _sides(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else size


BACKGROUND_WORDS = {"black": "#000000", "white": "#ffffff"}


def background_problem(text: str) -> str | None:
    """Why ``text`` is not a pad background (a colour or blur), or None."""
    if text == "blur" or text in BACKGROUND_WORDS:
        return None
    digits = text[1:]
    if text.startswith("#") and len(digits) in (3, 6) and all(
            c in "0123456789abcdefABCDEF" for c in digits):
        return None
    return (f"{quote(text)} is not a colour; use #rrggbb, #rgb, black, white, or blur "
            "(the picture blurred behind itself)")


def _check_output(out: dict[str, Any], problems: Problems) -> None:
    """What the output's fields mean together: a background only for pad, a grid exactly
    for fit grid and no larger than the frame allows."""
    fit, size, grid = out.get("fit"), out.get("size"), out.get("grid")
    background = out.get("background")
    if background is not None:
        if fit not in ("pad", None):
            problems.add(("output", "background"), f"only fit pad shows a background, this "
                         f"output has fit {fit}; remove `background:` or use `fit: pad`")
        elif background_problem(background):
            problems.add(("output", "background"), background_problem(background))
    if fit == "grid" and grid is None:
        problems.add(("output", "fit"), "fit grid needs `grid: {cols, rows}` in output")
    if grid and fit != "grid":
        problems.add(("output", "grid"), f"a grid is drawn only with `fit: grid` (this output "
                     f"has fit {fit}); add `fit: grid` or remove `grid:`")
    if grid and fit == "grid" and size is not None and grid.get("cols") and grid.get("rows"):
        (w, h), cols, rows = _sides(size), grid["cols"], grid["rows"]
        if w // cols < MIN_CELL or h // rows < MIN_CELL:
            problems.add(("output", "grid"), f"{cols}x{rows} cells of a {w}x{h} frame are "
                         f"{w // cols}x{h // rows} px, smaller than {MIN_CELL} px; use fewer "
                         f"cells or a larger `size:`")


MIN_CELL = 16  # px: the smallest grid cell (the smallest frame `size:` takes)


def _defaults(clean: dict) -> dict[str, Any]:
    from latentreel.scene.schema import DEFAULTS

    given = clean.get("defaults") or {}
    return {k: (given.get(k) if given.get(k) is not None else spec.default)
            for k, spec in DEFAULTS.fields.items()}


def _build_keyframes(clean: dict, located: Located, problems: Problems) -> list[Keyframe]:
    items = clean.get("keyframes") or []
    raw_items = located.data.get("keyframes") if isinstance(located.data, dict) else None
    d = _defaults(clean)
    default_class = (clean.get("defaults") or {}).get("class")
    if default_class and default_class["index"] is not None and \
            default_class["labels"] is not None:
        problems.add(("defaults", "class"), _ONE_CLASS)
    keyframes = []
    if (clean.get("defaults") or {}).get("bend"):
        _check_bend_fields(clean["defaults"]["bend"], ("defaults", "bend"), problems)
    for i, item in enumerate(items):
        if item is None:
            continue
        kinds = [k for k in KINDS if k in (raw_items[i] if isinstance(raw_items[i], dict) else {})]
        if len(kinds) != 1:
            what = "none" if not kinds else ", ".join(kinds)
            problems.add(("keyframes", i), f"needs exactly one kind key ({', '.join(KINDS)}); "
                         f"found {what}")
            continue
        kind = kinds[0]
        if item[kind] is None:
            continue  # already reported
        t = item.get("transition") or {}
        transition = Transition(
            duration=_pick(t.get("duration"), d["transition"]),
            interpolation=_pick(t.get("interpolation"), d["interpolation"]),
            easing=_pick(t.get("easing"), d["easing"]),
            timing=_pick(t.get("timing"), d["timing"]),
            sweep=t.get("sweep"),
            turns=_pick(t.get("turns"), 0.0),
        )
        camera, camera_path = _camera(item, i, clean)
        if item.get("bend") is not None:
            _check_bend_fields(item["bend"], ("keyframes", i, "bend"), problems)
        label = _label(item, i, clean, located, problems)
        keyframes.append(Keyframe(
            index=i,
            kind=kind,
            params=item[kind],
            name=item.get("name"),
            hold=_pick(item.get("hold"), d["hold"]),
            transition=transition,
            truncation=_pick(item.get("truncation"), d["truncation"]),
            where=located.where(("keyframes", i)),
            camera=camera,
            camera_where=None if camera_path is None else
            f"{located.where(camera_path)}: {format_path(camera_path)}",
            at=pin_of(item, i, located),
            bend=_bends(item, i, clean, located),
            label=label,
        ))
    return keyframes


BEND_NUMBERS = ("x", "y", "angle", "factor", "gain", "fraction", "channels")


def _check_bend_fields(entries: list, base: tuple, problems: Problems) -> None:
    """Each bend gives only its own op's numbers (a zoom with an angle is a mistake)."""
    for j, entry in enumerate(entries):
        if not entry or entry.get("op") is None:
            continue
        op = entry["op"]
        own = BEND_OPS[op][0] + (("channels",) if op == "scale" else ())
        for name in BEND_NUMBERS:
            if entry.get(name) is not None and name not in own:
                problems.add(base + (j, name), f"op {op} takes {', '.join(own)}, not {name}; "
                             f"remove it or use an op that takes it")


def _bends(item: dict, index: int, clean: dict, located: Located) -> tuple[Bend, ...]:
    """A keyframe's bends: its own `bend:` list, else the defaults' (checked already)."""
    own, default = item.get("bend"), (clean.get("defaults") or {}).get("bend")
    entries, base = (own, ("keyframes", index, "bend")) if own is not None else \
        (default, ("defaults", "bend"))
    bends = []
    for j, entry in enumerate(entries or []):
        if not entry or entry.get("op") is None or entry.get("layer") is None:
            continue  # already reported
        fields, neutral = BEND_OPS[entry["op"]]
        values = tuple(_pick(entry.get(f), n) for f, n in zip(fields, neutral))
        slot = BendSlot(layer=entry["layer"], op=entry["op"], seed=_pick(entry.get("seed"), 0),
                        channels=_pick(entry.get("channels"), 1.0))
        path = base + (j,)
        bends.append(Bend(slot, values, f"{located.where(path)}: {format_path(path)}"))
    return tuple(bends)


def _camera(item: dict, index: int, clean: dict
            ) -> tuple[tuple[float, float, float, float] | None, tuple | None]:
    """A keyframe's camera: its own fields, else the scene default's, else 0 (zoom: 1, kept
    as its log2); and the path of the field that asked for a camera (None, None when nothing
    did)."""
    own, default = item.get("camera"), (clean.get("defaults") or {}).get("camera")
    turns = (item.get("transition") or {}).get("turns")
    if own is None and default is None and not turns:
        return None, None
    rest = {"zoom": 1.0}
    camera = tuple(float(_pick((own or {}).get(f), (default or {}).get(f) or rest.get(f, 0.0)))
                   for f in CAMERA_FIELDS)
    camera = camera[:ZOOM] + (math.log2(camera[ZOOM]),)  # the schema keeps zoom > 0
    path = (("keyframes", index, "camera") if own is not None else ("defaults", "camera")
            if default is not None else ("keyframes", index, "transition", "turns"))
    return camera, path


def _registry_camera_problem(model) -> str | None:
    """Why a registry model cannot take a camera (None: it can, or it is a model file)."""
    from latentreel.models.registry import MODELS

    if not isinstance(model, str) or model not in MODELS or MODELS[model].camera:
        return None
    return camera_problem(model)


_ONE_CLASS = "give a class number or labels: [...], not both"


def _label(item: dict, index: int, clean: dict, located: Located, problems: Problems
           ) -> ClassLabel | None:
    """A keyframe's class: its own `class:`, else the scene default's (None: neither)."""
    own, default = item.get("class"), (clean.get("defaults") or {}).get("class")
    value, path = (own, ("keyframes", index, "class")) if own is not None else \
        (default, ("defaults", "class"))
    if value is None:
        return None
    if value["index"] is not None and value["labels"] is not None:
        if own is not None:  # the default's problem is reported once, by _build_keyframes
            problems.add(path, _ONE_CLASS)
        return None
    if value["index"] is None and value["labels"] is None:
        return None  # an invalid value: already reported
    labels = None if value["labels"] is None else tuple(float(x) for x in value["labels"])
    return ClassLabel(index=value["index"], labels=labels,
                      where=f"{located.where(path)}: {format_path(path)}")


def camera_problem(model: str) -> str:
    return (f"{model} has no input transform to move (only StyleGAN3 networks have one); "
            "remove `camera:` and `turns:`, or use a StyleGAN3 model")


def _check_camera_model(model: str, clean: dict, problems: Problems) -> None:
    """A registry model known to lack a camera refuses every camera field now; model files
    are checked once loaded (render.keyframes.check_camera)."""
    from latentreel.models.registry import MODELS

    if model not in MODELS or MODELS[model].camera:
        return
    paths = [("defaults", "camera")] if (clean.get("defaults") or {}).get("camera") else []
    for i, item in enumerate(clean.get("keyframes") or []):
        if not isinstance(item, dict):
            continue
        if item.get("camera") is not None:
            paths.append(("keyframes", i, "camera"))
        if (item.get("transition") or {}).get("turns"):
            paths.append(("keyframes", i, "transition", "turns"))
    for path in paths:
        problems.add(path, camera_problem(model))


def _pick(value, default):
    return default if value is None else value


def _check_references(keyframes: list[Keyframe], located: Located, problems: Problems) -> None:
    names: dict[str, int] = {}
    for kf in keyframes:
        if kf.name is None:
            continue
        if kf.name in names:
            problems.add(("keyframes", kf.index, "name"),
                         f"name '{kf.name}' is already used by keyframes[{names[kf.name]}]; "
                         "names must be unique")
        names[kf.name] = kf.index
    deps: dict[str, list[str]] = {}
    for kf in keyframes:
        for field_name, ref in KINDS[kf.kind].refs(kf.params):
            if ref not in names:
                hint = closest(ref, names) if names else "; give that keyframe a `name:` first"
                problems.add(("keyframes", kf.index, kf.kind, field_name),
                             f"no keyframe is named '{ref}'{hint}")
            elif kf.name is not None:
                deps.setdefault(kf.name, []).append(ref)
            elif names[ref] == kf.index:
                problems.add(("keyframes", kf.index, kf.kind, field_name), "refers to itself")
    for kf in keyframes:
        if kf.name and _in_cycle(kf.name, deps):
            problems.add(("keyframes", kf.index, kf.kind),
                         f"'{kf.name}' depends on itself through a cycle of references; "
                         "refer only to keyframes that do not refer back")


def _in_cycle(start: str, deps: dict[str, list[str]]) -> bool:
    stack, seen = list(deps.get(start, [])), set()
    while stack:
        n = stack.pop()
        if n == start:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(deps.get(n, []))
    return False


def resolution_order(keyframes: list[Keyframe]) -> list[Keyframe]:
    """Keyframes ordered so every referenced keyframe resolves before those that use it."""
    by_name = {kf.name: kf for kf in keyframes if kf.name}
    done: set[int] = set()
    order: list[Keyframe] = []

    def visit(kf: Keyframe) -> None:
        if kf.index in done:
            return
        done.add(kf.index)
        for _, ref in KINDS[kf.kind].refs(kf.params):
            visit(by_name[ref])
        order.append(kf)

    for kf in keyframes:
        visit(kf)
    return order
