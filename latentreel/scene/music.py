"""A scene's music: `audio:`, `react:` and keyframes pinned with `at:`, checked up front.

Every problem is reported with the others (file:line:col): unknown stems, drives given the
wrong feature or target, a camera drive on a model without a camera, pins past the song's
end or out of order. Pins to beats and bars need the song's beats, so a scene that uses them
is analysed while it loads (once: the features are cached for the render).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from latentreel.audio.drives import CAMERA_MOVES, DRIVES
from latentreel.audio.pins import pin_frame
from latentreel.errors import BadInputError
from latentreel.models.bend import BendSlot
from latentreel.scene.controls import FEATURES as LIVE_FEATURES
from latentreel.scene.model import Keyframe, Music, Pin, Reaction
from latentreel.spec.fields import Problems, closest


def build_music(clean: dict) -> Music | None:
    """The typed `audio:` (None without one, or when its path was refused)."""
    audio = clean.get("audio")
    if not audio or audio.get("path") is None:
        return None
    stems = {k: v for k, v in (audio.get("stems") or {}).items() if v is not None}
    return Music(path=audio["path"], stems=stems, length=audio.get("length") or "song")


def pin_of(item: dict, index: int, located) -> Pin | None:
    at = item.get("at")
    if at is None:
        return None
    return Pin(unit=at[0], value=at[1], where=located.where(("keyframes", index, "at")))


def build_reactions(clean: dict, located, problems: Problems, music: Music | None,
                    keyframes: list[Keyframe], camera_problem: str | None
                    ) -> tuple[Reaction, ...]:
    """Typed `react:` entries, each checked against the music, the keyframes and the model.

    ``camera_problem``: why the scene's model cannot take a camera (None: it can, or it is
    a model file, checked once loaded)."""
    items = clean.get("react") or []
    if items and "audio" in clean and clean["audio"] is None:
        # Without a song only `play --listen` can feed them (render says so, in one line):
        # each must follow a feature the live input measures.
        for i, item in enumerate(items):
            if item and item.get("feature") and (item["feature"] not in LIVE_FEATURES
                                                 or item.get("stem")
                                                 or item.get("drive") in ("chroma", "bend")):
                problems.add(("react", i, "feature"), (
                    f"{item['feature']}{' of a stem' if item.get('stem') else ''} needs a "
                    "song; add `audio: {path: song.wav}` (without one, only "
                    f"{', '.join(LIVE_FEATURES)} of `play --listen` feed reactions)"))
    names = [kf.name for kf in keyframes if kf.name]
    out = []
    for i, item in enumerate(items):
        if not item or item.get("feature") is None or item.get("drive") is None:
            continue  # already reported
        where = ("react", i)
        for field_path, problem in _reaction_problems(item, music, names, camera_problem):
            problems.add(where + field_path, problem)
        defaults = DRIVES[item["drive"]].shaping
        own = {k: item[k] for k in ("gain", "threshold", "compress", "attack", "release")
               if item.get(k) is not None}
        out.append(Reaction(feature=item["feature"], drive=item["drive"],
                            amount=item["amount"], shaping=replace(defaults, **own),
                            stem=item.get("stem"), target=item.get("target"), index=i,
                            bend=_bend_slot(item), where=located.where(where)))
    return tuple(out)


def _bend_slot(item: dict) -> BendSlot | None:
    """A bend drive's slot: the same (layer, op, seed, channels) as a keyframe's bend moves
    that bend's number (the layer is checked once the model is loaded)."""
    if item["drive"] != "bend" or not item.get("layer") or not item.get("op"):
        return None
    return BendSlot(layer=item["layer"], op=item["op"],
                    seed=0 if item.get("seed") is None else item["seed"],
                    channels=1.0 if item.get("channels") is None else item["channels"])


def _reaction_problems(item: dict, music: Music | None, names: list[str],
                       camera_problem: str | None):
    drive, feature, target = item["drive"], item["feature"], item.get("target")
    if drive == "bend":
        for key in ("layer", "op"):
            if item.get(key) is None:
                yield (), (f"a bend drive needs `{key}:` (e.g. {{feature: onsets, drive: bend, "
                           "layer: conv2, op: rotate, amount: 30}; `latentreel models --layers` "
                           "lists the layers)")
    else:
        for key in ("layer", "op", "seed", "channels"):
            if item.get(key) is not None:
                yield (key,), f"only a bend drive takes `{key}:`; remove it or use drive: bend"
    if drive == "bend" and item.get("op") is not None:
        own = ("seed", "channels") if item["op"] == "scale" else \
            ("seed",) if item["op"] == "drop" else ()
        for key in ("seed", "channels"):
            if item.get(key) is not None and key not in own:
                yield (key,), f"op {item['op']} takes no `{key}:`; remove it"
    stem = item.get("stem")
    if stem is not None and music is not None and stem not in music.stems:
        hint = closest(stem, music.stems) if music.stems else "; list it under `audio.stems`"
        yield ("stem",), f"no stem is named {stem!r}{hint}"
    if (feature == "chroma") != (drive == "chroma"):
        yield ("feature",), ("chroma (12 pitch classes) goes with `drive: chroma`, and that "
                             "drive takes only it; pair them, or pick another feature")
    if drive == "direction" and not target:
        yield (), "a direction drive needs `target:`, a direction from `latentreel directions"
    if drive == "camera":
        if camera_problem:
            yield ("drive",), camera_problem
        if target is not None and target not in CAMERA_MOVES:
            yield ("target",), (f"the camera can {', '.join(CAMERA_MOVES)}; got "
                                f"{target!r}{closest(target, CAMERA_MOVES)}")
    if drive in ("speed", "truncation", "chroma", "bend") and target is not None:
        yield ("target",), f"a {drive} drive takes no target; remove it"
    if drive == "pulse" and target is not None and target != "random" and " " in target:
        yield ("target",), (f"{target!r} is neither random, a keyframe ({', '.join(names)}) "
                            "nor a direction name")


def check_pins(keyframes: list[Keyframe], music: Music | None, fps: int,
               problems: Problems) -> None:
    """Pins land inside the song, in keyframe order, and the first keyframe starts at 0."""
    pinned = [kf for kf in keyframes if kf.at is not None]
    if not pinned:
        return
    features = _features_for(pinned, music, fps)
    last: tuple[int, Keyframe] | None = None
    for kf in pinned:
        frame = pin_frame(kf.at.unit, kf.at.value, fps, features)
        path = ("keyframes", kf.index, "at")
        if isinstance(frame, str):
            problems.add(path, frame)
            continue
        if kf.index == keyframes[0].index and frame != 0:
            problems.add(path, "the first keyframe opens the video at 0 s; pin it at 0 or "
                         "pin a later keyframe")
        elif last is not None and frame <= last[0]:
            problems.add(path, f"lands on frame {frame}, not after keyframes[{last[1].index}] "
                         f"(frame {last[0]}); pinned times must increase down the list")
        last = (frame, kf)


def _features_for(pinned: list[Keyframe], music: Music | None, fps: int):
    """The mix's features when a pin needs them (beats, bars, the song's end), else None."""
    if music is None:
        return None
    from latentreel.audio.cache import song_features

    try:
        return song_features(Path(music.path), fps)
    except BadInputError:
        return None  # the path's own check reported it
