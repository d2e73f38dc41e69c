"""The drives a feature can be bound to (`react:`), and how each shapes its feature by default.

A closed table: the scene names a drive, latentreel.render.react builds it. Defaults are
what makes the minimal form look right (`{feature: onsets, drive: pulse, amount: 1.0}`): a
pulse ignores the small onsets between hits and decays over a quarter second, continuous
drives rise and fall smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentreel.audio.shaping import Shaping


@dataclass(frozen=True)
class DriveInfo:
    help: str  # one line for the README and error messages
    shaping: Shaping  # defaults; a reaction's own fields replace them
    target: str  # what `target:` names for this drive ("" when it takes none)


PULSE_THRESHOLD = 0.3  # of the song's hardest hit: a pulse ignores hits weaker than this

DRIVES = {
    "pulse": DriveInfo(
        "each hit jumps the latent `amount` of the way towards the target, then decays",
        Shaping(threshold=PULSE_THRESHOLD, release=0.25),
        "random (a fresh seeded latent per hit of onsets, beats, bars or sections, one for "
        "a continuous feature; the default), a keyframe's name or a "
        "direction from `latentreel directions list`"),
    "speed": DriveInfo(
        "the walk between keyframes speeds up with the feature (`amount` 1: up to twice as "
        "fast) and slows without it; pinned keyframes still land on time",
        Shaping(attack=0.05, release=0.3), ""),
    "direction": DriveInfo(
        "an attribute direction is applied by `amount` times the feature",
        Shaping(attack=0.05, release=0.3), "a direction from `latentreel directions list`"),
    "truncation": DriveInfo(
        "psi = 1 + `amount` times the feature: positive pushes away from the average face, "
        "negative pulls towards it", Shaping(attack=0.05, release=0.3), ""),
    "camera": DriveInfo(
        "StyleGAN3: the picture shakes (x, y by `amount` of the image), pans (x), turns "
        "(`amount` times 45 degrees) or zooms (2 to the power `amount`: 1 doubles) with the "
        "feature", Shaping(release=0.2), "shake (the default), pan, turn or zoom"),
    "chroma": DriveInfo(
        "the 12 pitch classes blend up to 12 keyframes (C: the first, C#: the second, ...), "
        "`amount` of the way", Shaping(), ""),
    "bend": DriveInfo(
        "a bend's number moves by `amount` times the feature, on top of the keyframes' bends "
        "(`layer:` and `op:` say which; translate: x, rotate: degrees, zoom: factor, scale: "
        "gain, drop: fraction)", Shaping(release=0.2), ""),
}
CAMERA_MOVES = ("shake", "pan", "turn", "zoom")
