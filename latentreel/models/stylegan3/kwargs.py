"""NVIDIA's recorded StyleGAN3 Generator constructor arguments -> StyleGAN3Config.

The stylegan3 repository records ``Generator(z_dim, c_dim, w_dim, img_resolution,
img_channels, mapping_kwargs={...}, **synthesis_kwargs)``; its training script passes
channel_base/channel_max, num_fp16_res, conv_clamp, magnitude_ema_beta and, for config R,
conv_kernel=1 and use_radial_filters=True. Options that change the images are mapped; the
training-only ones below are ignored; anything else is refused by name.
"""

from __future__ import annotations

from latentreel.models.stylegan3.network import StyleGAN3Config

_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
_TOP = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
# Training-only: the decay of the magnitude EMA (its value is a buffer in the file).
_IGNORED = frozenset({"magnitude_ema_beta"})
_NUMBER = (int, float)
# Synthesis keywords -> (config field, accepted types).
_SYNTHESIS = {
    "channel_base": int, "channel_max": int, "num_layers": int, "num_critical": int,
    "first_cutoff": _NUMBER, "first_stopband": _NUMBER, "last_stopband_rel": _NUMBER,
    "margin_size": int, "output_scale": _NUMBER, "num_fp16_res": int,
    "conv_clamp": _NUMBER, "conv_kernel": int, "filter_size": int, "lrelu_upsampling": int,
    "use_radial_filters": (bool, int),
}
_MAPPING = {"num_layers": ("mapping_layers", int),
            "lr_multiplier": ("mapping_lr_multiplier", _NUMBER),
            "w_avg_beta": ("w_avg_beta", _NUMBER)}


# What a real network could record; a file claiming more is refused before anything is
# built (a few hundred bytes must not make the loader allocate gigabytes).
_BOUNDS = {"img_resolution": 8192, "z_dim": 4096, "w_dim": 4096, "img_channels": 4,
           "mapping_layers": 64, "channel_base": 1 << 20, "channel_max": 4096,
           "num_layers": 64, "margin_size": 256, "conv_kernel": 15, "filter_size": 64,
           "lrelu_upsampling": 8}


def _check_bounds(fields: dict) -> None:
    for key, limit in _BOUNDS.items():
        value = fields.get(key)
        if value is not None and not 0 <= value <= limit:
            raise ValueError(f"{key}={value} is outside what a StyleGAN3 network uses "
                             f"(0-{limit})")


def _plain(d) -> dict:
    return {} if d is None else {str(k): v for k, v in dict(d).items()}


def _checked(key: str, value, kind):
    if value is not None and (not isinstance(value, kind) or isinstance(value, str)):
        raise ValueError(f"option {key}={value!r} has the wrong type")
    return value


def config_from_init(init_args, init_kwargs) -> StyleGAN3Config:
    """Map a recorded ``Generator(*args, **kwargs)`` call onto a StyleGAN3Config.

    Raises:
        ValueError: conditional networks, unknown or badly typed options (named).
    """
    kw = dict(zip(_POSITIONAL, tuple(init_args or ())))
    kw.update(_plain(init_kwargs))
    mapping = _plain(kw.pop("mapping_kwargs", None))
    missing = [k for k in ("z_dim", "w_dim", "img_resolution") if k not in kw]
    if missing:
        raise ValueError(f"the recorded constructor arguments lack {', '.join(missing)}")
    if int(kw.get("c_dim", 0) or 0):
        raise ValueError(f"conditional generators (c_dim={kw['c_dim']}) are not supported; "
                         "use an unconditional model")
    fields: dict = {}
    for key, value in mapping.items():
        if key not in _MAPPING:
            raise ValueError(f"unknown mapping option {key}")
        name, kind = _MAPPING[key]
        fields[name] = _checked(key, value, kind)
    unknown = []
    for key, value in kw.items():
        if key in _TOP or key in _IGNORED:
            continue
        if key not in _SYNTHESIS:
            unknown.append(key)
            continue
        fields[key] = _checked(key, value, _SYNTHESIS[key])
    if unknown:
        raise ValueError(f"unknown generator option(s) {', '.join(sorted(unknown))}")
    for key in ("first_cutoff", "first_stopband", "last_stopband_rel", "output_scale",
                "conv_clamp", "mapping_lr_multiplier", "w_avg_beta"):
        if fields.get(key) is not None:
            fields[key] = float(fields[key])
    if "use_radial_filters" in fields:
        fields["use_radial_filters"] = bool(fields["use_radial_filters"])
    fields.update(img_resolution=int(kw["img_resolution"]), z_dim=int(kw["z_dim"]),
                  w_dim=int(kw["w_dim"]), img_channels=int(kw.get("img_channels", 3)))
    _check_bounds(fields)
    return StyleGAN3Config(**fields)
