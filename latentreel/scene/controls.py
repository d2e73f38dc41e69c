"""The scene's `controls:` section: what a performance may steer, and from which knobs.

A scene that is played live names the directions a performer may push (their vectors are
loaded once, before the first frame, never while frames are due) and binds MIDI controls and
live audio features to the same parameters OSC's `/latentreel/set` reaches:

    controls:
      directions: [sefa0, sefa1]
      midi:
        - {cc: 1, param: truncation, range: [0.4, 1.4], curve: ease-in}
        - {note: 36, param: pulse}                  # velocity -> pulse amount
        - {cc: 2, param: react.0.amount}            # the first `react:` entry's amount
      listen:
        - {feature: onsets, param: pulse}
        - {feature: loudness, param: direction.sefa0, range: [0, 3], release: 0.4}

The parameter names live here, below the live player, so a scene is checked without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentreel.latents.easing import EASINGS, ease
from latentreel.spec.fields import REQUIRED, Problems, Spec, closest
from latentreel.spec.yamlpos import Located

# Live parameters: name -> (lowest, highest, value before any control moves it).
PARAMS: dict[str, tuple[float, float, float]] = {
    "truncation": (-3.0, 3.0, 1.0),  # psi on top of each keyframe's own
    "speed": (-8.0, 8.0, 1.0),  # scene frames per shown frame (negative: backwards)
    "pulse": (0.0, 4.0, 0.0),  # a kick that decays over pulse_decay seconds
    "pulse_decay": (0.01, 10.0, 0.25),  # seconds for a pulse to halve
    "camera.x": (-10.0, 10.0, 0.0),  # added to the scene's camera (StyleGAN3)
    "camera.y": (-10.0, 10.0, 0.0),
    "camera.angle": (-3600.0, 3600.0, 0.0),
    "camera.zoom": (0.1, 10.0, 1.0),  # times the scene's zoom
    "paused": (0.0, 1.0, 0.0),  # > 0.5: the walk stands still
}
DIRECTION_PREFIX = "direction."  # direction.NAME: amount along a direction in `directions:`
DIRECTION_RANGE = (-20.0, 20.0)
REACT_PREFIX, REACT_SUFFIX = "react.", ".amount"  # react.KEY.amount: a `react:` entry's amount
REACT_RANGE = (-100.0, 100.0)  # as the scene's own `amount:` may be
REACT_KNOB = (0.0, 1.0)  # a knob bound to a reaction's amount, unless its range says otherwise
FEATURES = ("loudness", "bass", "mid", "high", "onsets")  # what `listen:` measures (the
# names of the file-driven `react:` features, issue #20, so a binding reads the same in both)


@dataclass(frozen=True)
class Binding:
    """One knob (a MIDI CC or note, or a live audio feature) driving one live parameter."""

    source: str  # "cc", "note", or a feature from FEATURES
    number: int | None  # the CC or note number (None for audio features)
    channel: int | None  # MIDI channel 1-16 (None: any)
    param: str  # a name from PARAMS, or direction.NAME
    low: float  # the value at the knob's bottom (CC 0, velocity 0, feature 0)
    high: float  # the value at its top (CC 127, velocity 127, feature 1)
    curve: str  # an easing from latents.easing, bending the knob's travel
    attack: float  # seconds a feature takes to rise (listen only; 0: at once)
    release: float  # seconds it takes to fall back
    where: str  # file:line:col, for messages about this binding

    def value(self, fraction: float) -> float:
        """The parameter's value with the knob at ``fraction`` (0-1) of its travel."""
        import torch

        bent = float(ease(self.curve, torch.tensor([fraction], dtype=torch.float64))[0])
        return self.low + (self.high - self.low) * bent


@dataclass(frozen=True)
class Controls:
    directions: tuple[str, ...] = ()  # directions a performer may push (direction.NAME)
    midi: tuple[Binding, ...] = ()
    listen: tuple[Binding, ...] = ()


def _binding_spec(knob: dict[str, Spec]) -> Spec:
    return Spec("mapping", help="a knob bound to a live parameter", fields={
        **knob,
        "param": Spec("string", default=REQUIRED,
                      help="truncation, speed, pulse, camera.x/y/angle/zoom, paused, "
                      "direction.NAME, react.KEY.amount"),
        "range": Spec("list", item=Spec("number", min=-3600, max=3600),
                      help="[low, high]: the parameter at the knob's bottom and top"),
        "curve": Spec("enum", choices=tuple(EASINGS), default="linear",
                      help="how the knob's travel bends on the way"),
        "attack": Spec("number", default=0.0, min=0, max=60, help="seconds to rise (listen)"),
        "release": Spec("number", default=0.0, min=0, max=60, help="seconds to fall (listen)"),
    })


CONTROLS = Spec("mapping", default=None, help="live control: `latentreel play --osc/--midi/"
                "--listen`", fields={
    "directions": Spec("list", item=Spec("string", os_name=True), default=None,
                       help="directions a performer may push (direction.NAME)"),
    "midi": Spec("list", default=None, help="MIDI CCs and notes bound to parameters",
                 item=_binding_spec({
                     "cc": Spec("int", min=0, max=127, help="a control change number"),
                     "note": Spec("int", min=0, max=127, help="a note number (velocity)"),
                     "channel": Spec("int", min=1, max=16, help="MIDI channel (default: any)"),
                 })),
    "listen": Spec("list", default=None, help="live audio features bound to parameters",
                   item=_binding_spec({
                       "feature": Spec("enum", choices=FEATURES, default=REQUIRED,
                                       help="what to follow in the sound"),
                   })),
})


def build_controls(clean: dict | None, located: Located, problems: Problems,
                   reactions: dict[str, int] | None = None) -> Controls | None:
    """The typed `controls:` section (None when absent), its cross-field problems added.

    ``reactions``: the scene's `react:` keys (see react_keys), for react.KEY.amount."""
    if not clean:
        return None
    directions = tuple(d for d in clean.get("directions") or [] if d)
    reactions = reactions or {}
    midi = tuple(b for i, item in enumerate(clean.get("midi") or [])
                 if (b := _binding(item, ("controls", "midi", i), directions, located,
                                   problems, reactions)))
    listen = tuple(b for i, item in enumerate(clean.get("listen") or [])
                   if (b := _binding(item, ("controls", "listen", i), directions, located,
                                     problems, reactions)))
    return Controls(directions=directions, midi=midi, listen=listen)


def _binding(item: dict | None, path: tuple, directions: tuple[str, ...], located: Located,
             problems: Problems, reactions: dict[str, int]) -> Binding | None:
    if not item or item.get("param") is None:
        return None  # already reported
    ok = True
    if "feature" in item:
        source, number = item["feature"], None
    else:
        knobs = [k for k in ("cc", "note") if item.get(k) is not None]
        if len(knobs) != 1:
            problems.add(path, "needs exactly one of cc: or note: (the knob to follow)")
            ok = False
        source = knobs[0] if knobs else "cc"
        number = item.get(source)
    problem = param_problem(item["param"], directions, reactions)
    if problem:
        problems.add(path + ("param",), problem)
        ok = False
    knob = item["param"] == "pulse" or item["param"].startswith(REACT_PREFIX)
    low, high = REACT_KNOB if knob or not ok else param_range(item["param"])
    span = item.get("range")
    if span is not None:
        if len(span) != 2 or None in span:
            problems.add(path + ("range",), f"give two numbers [low, high], got {len(span)}")
            ok = False
        else:
            low, high = span
    if not ok:
        return None
    return Binding(source=source, number=number, channel=item.get("channel"),
                   param=item["param"], low=float(low), high=float(high),
                   curve=item.get("curve") or "linear", attack=item.get("attack") or 0.0,
                   release=item.get("release") or 0.0, where=located.where(path))


def react_keys(reactions) -> dict[str, int]:
    """KEY -> index for react.KEY.amount: each entry's index, and a feature (or drive) that
    only one entry uses (react.onsets.amount). ``reactions``: (index, feature, drive)."""
    keys = {str(i): i for i, _, _ in reactions}
    for pos in (1, 2):
        names = [r[pos] for r in reactions]
        keys.update({r[pos]: r[0] for r in reactions
                     if r[pos] and names.count(r[pos]) == 1 and r[pos] not in keys})
    return keys


def react_index(name: str, reactions: dict[str, int]) -> int | None:
    """The `react:` index that react.KEY.amount ``name`` steers (None: not one of those)."""
    if not (name.startswith(REACT_PREFIX) and name.endswith(REACT_SUFFIX)):
        return None
    return reactions.get(name[len(REACT_PREFIX):-len(REACT_SUFFIX)])


def param_problem(name: str, directions: tuple[str, ...],
                  reactions: dict[str, int] | None = None) -> str | None:
    """Why ``name`` is no live parameter of a scene pushing ``directions`` and reacting
    with ``reactions`` (react_keys; None: it is)."""
    if name in PARAMS:
        return None
    if name.startswith(REACT_PREFIX):
        if react_index(name, reactions or {}) is not None:
            return None
        keys = sorted(reactions or {}, key=lambda k: (not k.isdigit(), k.zfill(4)))
        known = f"; the scene's: {', '.join(keys)}" if keys else \
            "; the scene has no `react:` entries"
        return (f"no reaction {name!r}: use react.KEY.amount, KEY an entry's index or a "
                f"feature or drive only that entry has{known}")
    if name.startswith(DIRECTION_PREFIX):
        direction = name[len(DIRECTION_PREFIX):]
        if direction in directions:
            return None
        listed = f"; listed: {', '.join(directions)}" if directions else ""
        return (f"direction {direction!r} is not in controls.directions{listed}; add it "
                "there so its vector loads before the first frame")
    return f"unknown parameter {name!r}{closest(name, list(PARAMS) + ['direction.NAME'])}"


def param_range(name: str) -> tuple[float, float]:
    """(lowest, highest) a live parameter accepts."""
    if name.startswith(DIRECTION_PREFIX):
        return DIRECTION_RANGE
    if name.startswith(REACT_PREFIX):
        return REACT_RANGE
    low, high, _ = PARAMS[name]
    return low, high
