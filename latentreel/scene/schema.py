"""The scene file format, as field specs (validation, defaults and JSON Schema come from here)."""

from __future__ import annotations

from latentreel.audio.drives import DRIVES
from latentreel.audio.features import FEATURES
from latentreel.audio.load import sound_problem
from latentreel.audio.pins import parse_at
from latentreel.latents.easing import EASINGS
from latentreel.latents.interpolate import INTERPOLATIONS
from latentreel.models.bend import BEND_OPS
from latentreel.models.registry import DEFAULT_MODEL
from latentreel.spec.fields import REQUIRED, Spec
from latentreel.scene.controls import CONTROLS
from latentreel.scene.kinds import KINDS
from latentreel.upscale.registry import CHOICES as UPSCALERS
from latentreel.video.audio import audio_problem
from latentreel.video.formats import suffix_problem

SPACES = ("z", "w", "w+")
FITS = ("pad", "crop", "extend", "grid")
MAX_CLASSES = 4096  # models/stylegan2/limits.py MAX_LABELS
TIMINGS = ("uniform", "perceptual")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")


def camera_spec() -> Spec:
    """Where the camera looks: StyleGAN3 models move, turn and zoom the picture in their
    input layer."""
    return Spec(
        "mapping",
        help="StyleGAN3 only: move the picture by x, y (fractions of the image; +x right, "
             "+y down), turn it by angle degrees (counter-clockwise) and zoom into it",
        fields={
            "x": Spec("number", help="fraction of the image width, + moves the picture right",
                      min=-10, max=10),
            "y": Spec("number", help="fraction of the image height, + moves the picture down",
                      min=-10, max=10),
            "angle": Spec("number", help="degrees, + turns the picture counter-clockwise",
                          min=-3600, max=3600),
            "zoom": Spec("number", help="magnification about the centre (1: none, 2: twice "
                                        "as close, 0.5: twice as far); eases geometrically",
                         min=0.1, max=10),
        },
    )


def bend_spec() -> Spec:
    """Network bending: transforms of feature maps inside the generator (models/bend.py)."""
    number = lambda lo, hi, text: Spec("number", min=lo, max=hi, help=text)  # noqa: E731
    return Spec("list", help="bends of the generator's feature maps, eased between keyframes",
                item=Spec("mapping", help="{layer, op, ...}: one bend", fields={
                    "layer": Spec("string", default=REQUIRED,
                                  help="a layer `latentreel models --layers MODEL` lists"),
                    "op": Spec("enum", choices=tuple(BEND_OPS), default=REQUIRED,
                               help="what happens to the layer's maps"),
                    "x": number(-4, 4, "translate: fraction of the map's width, + right"),
                    "y": number(-4, 4, "translate: fraction of the map's height, + down"),
                    "angle": number(-3600, 3600, "rotate: degrees counter-clockwise"),
                    "factor": number(0.05, 20, "zoom: 2 shows the middle twice as large"),
                    "gain": number(-20, 20, "scale: the chosen channels' gain"),
                    "fraction": number(0, 1, "drop: the fraction of channels zeroed"),
                    "channels": number(0, 1, "scale: the fraction of channels scaled "
                                             "(seeded; default all)"),
                    "seed": Spec("int", min=0, max=2**31 - 1,
                                 help="scale, drop: which channels (default 0)"),
                }))


def transition_spec(with_defaults: bool) -> Spec:
    """A transition: a number (its duration in seconds) or a mapping."""
    d = (lambda v: v) if with_defaults else (lambda v: None)
    return Spec(
        "mapping",
        help="the move to the next keyframe: seconds, or {duration, interpolation, easing, timing}",
        shorthand="duration",
        fields={
            "duration": Spec("number", help="seconds", default=d(2.0), min=0, max=3600),
            "interpolation": Spec("enum", choices=tuple(INTERPOLATIONS), default=d("slerp"),
                                  help="path between keyframes"),
            "easing": Spec("enum", choices=tuple(EASINGS), default=d("ease-in-out"),
                           help="speed profile within the transition"),
            "timing": Spec("enum", choices=TIMINGS, default=d("uniform"),
                           help="perceptual: re-time so the picture changes evenly"),
            "turns": Spec("number", default=d(0.0), min=-100, max=100,
                          help="StyleGAN3: whole camera turns on the way (1: a full spin)"),
            "sweep": Spec("mapping", help="push along a direction during the transition",
                          fields={
                              "direction": Spec(
                                  "string", default=REQUIRED, os_name=True,
                                  help="a direction from `latentreel directions list`"),
                              "from": Spec("number", default=-3.0, min=-20, max=20),
                              "to": Spec("number", default=3.0, min=-20, max=20),
                              "keep": Spec("list", item=Spec("string", os_name=True),
                                           default=None,
                                           help="directions to hold still"),
                          }),
        },
    )


def class_spec() -> Spec:
    """A conditional generator's class: an index, or a label vector (soft or mixed classes)."""
    return Spec(
        "mapping",
        help="conditional models only: the class seed keyframes are drawn in; a class "
             "number, or {labels: [...]} with one weight per class",
        shorthand="index",
        fields={
            "index": Spec("int", help="class number, 0 to the model's classes - 1",
                          min=0, max=MAX_CLASSES - 1),
            "labels": Spec("list", item=Spec("number", min=-100, max=100), min_items=1,
                           help="one weight per class (one-hot is the class itself)"),
        },
    )


OUTPUT = Spec(
    "mapping",
    help="where and how to write the video",
    default=None,
    fields={
        "path": Spec("path", help="the MP4 to write, relative to the scene file", default=None,
                     name_check=suffix_problem),
        "fps": Spec("int", help="frames per second", default=30, min=1, max=240),
        "size": Spec("size", help="frame size in pixels: one number for a square, "
                     "[width, height] or WIDTHxHEIGHT (even sides)", default=512, min=16,
                     max=4096, even=True),
        "fit": Spec("enum", choices=FITS, default="pad",
                    help="a non-square frame: pad (the square picture centred), crop (the "
                         "picture covers the frame), extend (the network paints the whole "
                         "frame), grid (several walks side by side)"),
        "background": Spec("string", help="fit pad: the fill around the picture, a colour "
                                          "(#rrggbb, #rgb, black, white) or blur"),
        "grid": Spec("mapping", help="fit grid: cells across and down, each its own walk",
                     fields={
                         "cols": Spec("int", default=REQUIRED, min=1, max=64,
                                      help="cells across"),
                         "rows": Spec("int", default=REQUIRED, min=1, max=64,
                                      help="cells down"),
                         "seed_step": Spec("int", default=1, min=-10**6, max=10**6,
                                           help="cell i walks every seed keyframe's seed "
                                                "+ i * seed_step"),
                     }),
        "crf": Spec("int", help="x264 quality, 0 (lossless) to 51; 18 looks lossless",
                    default=18, min=0, max=51),
        "preset": Spec("enum", choices=PRESETS, default="medium", help="x264 speed vs size"),
        "audio": Spec("path", help="soundtrack, trimmed or looped to the video", must_exist=True,
                      check=audio_problem),
        "upscale": Spec("enum", choices=UPSCALERS, default="none",
                        help="learned upscaling before the resize to size (none: lanczos only)"),
        "upscale_smooth": Spec("bool", default=True,
                               help="steady the learned detail over neighbouring frames so "
                                    "it does not flicker"),
    },
)

DEFAULTS = Spec(
    "mapping",
    help="values every keyframe uses unless it sets its own",
    default=None,
    fields={
        "hold": Spec("number", help="seconds each keyframe stays still", default=0.5,
                     min=0, max=3600),
        "transition": Spec("number", help="seconds each transition lasts", default=2.0,
                           min=0, max=3600),
        "interpolation": Spec("enum", choices=tuple(INTERPOLATIONS), default="slerp"),
        "easing": Spec("enum", choices=tuple(EASINGS), default="ease-in-out"),
        "timing": Spec("enum", choices=TIMINGS, default="uniform"),
        "truncation": Spec("number", help="psi towards the average face", default=1.0,
                           min=-3, max=3),
        "camera": camera_spec(),
        "bend": bend_spec(),
        "class": class_spec(),
    },
)


LENGTHS = ("song", "keyframes")

AUDIO = Spec(
    "mapping",
    help="the music the scene reacts to; it is also the soundtrack unless output.audio is set",
    shorthand="path",
    default=None,
    fields={
        "path": Spec("path", default=REQUIRED, must_exist=True, check=sound_problem,
                     help="WAV, FLAC, MP3, OGG or M4A, relative to the scene file"),
        "stems": Spec("mapping", values=Spec("path", must_exist=True, check=sound_problem),
                      help="named parts of the song (drums: drums.wav) that reactions can "
                           "listen to with `stem:`; only the mix is heard"),
        "length": Spec("enum", choices=LENGTHS, default="song",
                       help="song: the video lasts as long as the music; keyframes: as long "
                            "as the keyframes' holds and transitions"),
    },
)


def react_spec() -> Spec:
    """One reaction: a feature (of the mix or a stem) bound to a drive."""
    shaping = {
        "gain": Spec("number", min=0, max=100, help="multiplies the feature"),
        "threshold": Spec("number", min=0, max=1,
                          help="values below it count as 0 (a pulse's default: 0.3)"),
        "compress": Spec("number", min=0, max=1, help="0 keeps, towards 1 lifts quiet parts"),
        "attack": Spec("number", min=0, max=60, help="seconds to rise"),
        "release": Spec("number", min=0, max=60, help="seconds to decay"),
    }
    return Spec("mapping", help="a feature of the music bound to a drive", fields={
        "feature": Spec("enum", choices=tuple(FEATURES), default=REQUIRED,
                        help="what to listen to"),
        "drive": Spec("enum", choices=tuple(DRIVES), default=REQUIRED,
                      help="what it moves"),
        "amount": Spec("number", default=1.0, min=-100, max=100,
                       help="how strongly (0: not at all)"),
        "stem": Spec("string", help="listen to this stem of `audio.stems` instead of the mix"),
        "target": Spec("string", help="pulse: random, a keyframe name or a direction; "
                                      "direction: a direction; camera: shake, pan, turn or zoom"),
        # bend: which bend's number moves (the keyframes' `bend:` entries name slots alike)
        "layer": Spec("string", help="bend: a layer `latentreel models --layers MODEL` lists"),
        "op": Spec("enum", choices=tuple(BEND_OPS), help="bend: the op whose number moves"),
        "seed": Spec("int", min=0, max=2**31 - 1, help="bend (scale, drop): which channels"),
        "channels": Spec("number", min=0, max=1,
                         help="bend (scale): the fraction of channels scaled"),
        **shaping,
    })


def keyframe_spec() -> Spec:
    """A keyframe: exactly one kind key (seed, latent, anti, ...) plus common fields."""
    common = {
        "name": Spec("string", help="a label other keyframes can refer to"),
        "hold": Spec("number", help="seconds shown still before the transition", min=0, max=3600),
        "transition": transition_spec(with_defaults=False),
        "truncation": Spec("number", help="psi towards the average face", min=-3, max=3),
        "camera": camera_spec(),
        "at": Spec("custom", parse=parse_at,
                   expects="seconds (a number >= 0), 'beat N' or 'bar N'",
                   help="pin the keyframe to the music: seconds, 'beat N' or 'bar N' (from 0)"),
        "bend": bend_spec(),
        "class": class_spec(),
    }
    kinds = {name: kind.spec for name, kind in KINDS.items()}
    return Spec("mapping", help="a keyframe: one of " + ", ".join(KINDS),
                fields={**kinds, **common})


def scene_spec() -> Spec:
    return Spec(
        "mapping",
        help="a latentreel scene: keyframes in a generator's latent space and moves between them",
        fields={
            "model": Spec("string", help="registry name or .pkl/.pt file", default=DEFAULT_MODEL,
                          os_name=True),
            "space": Spec("enum", choices=SPACES,
                          help="latent space to move in "
                               "(default: w+ on StyleGAN models, z on the DCGAN)"),
            "seed": Spec("int", help="seeds everything random in the scene", default=0,
                         min=0, max=2**32 - 1),
            "audio": AUDIO,
            "react": Spec("list", item=react_spec(), default=None,
                          help="features of the music bound to drives"),
            "output": OUTPUT,
            "defaults": DEFAULTS,
            "loop": Spec("bool", help="return to the first keyframe seamlessly", default=False),
            "keyframes": Spec("list", item=keyframe_spec(), default=REQUIRED, min_items=1,
                              help="the faces to visit, in order"),
            "controls": CONTROLS,
        },
    )


def scene_json_schema() -> dict:
    """JSON Schema for editors: `latentreel schema > scene.schema.json`."""
    from latentreel.spec.fields import json_schema

    schema = json_schema(scene_spec())
    # Exactly one kind key per keyframe.
    kf = schema["properties"]["keyframes"]["items"]
    kf["oneOf"] = [{"required": [k]} for k in KINDS]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "latentreel scene",
        **schema,
    }
