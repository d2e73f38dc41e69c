"""NVIDIA's recorded Generator constructor arguments -> our typed StyleGAN2Config.

stylegan2-ada-pytorch records ``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels,
mapping_kwargs={...}, synthesis_kwargs={...})``; stylegan3's StyleGAN2 passes the synthesis
options as top-level keywords instead. Both are accepted. Options that change what the
network computes are mapped or refused; a few that only affect training speed or bookkeeping
are ignored (listed below). Any other option is refused by name rather than guessed at.
"""

from __future__ import annotations

from latentreel.errors import quote
from latentreel.models.stylegan2.limits import MAX_FILTER_TAPS, check_config
from latentreel.models.stylegan2.network import StyleGAN2Config
from latentreel.models.stylegan2.ops import MAPPING_ACTIVATIONS

_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
               "synthesis_kwargs")
_TOP = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
# Speed/bookkeeping options with no effect on the images.
_IGNORED = frozenset({"fp16_channels_last", "fused_modconv_default", "epochs"})


def _plain(d, what: str) -> dict:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ValueError(f"{what} is {quote(d)}, not a dict")
    bad = next((k for k in d if not isinstance(k, str)), None)
    if bad is not None:
        raise ValueError(f"{what} has an option named by {quote(bad)}, not a string")
    return dict(d)


def _take(opts: dict, key: str, default, kind=None):
    value = opts.pop(key, default)
    if kind is int and isinstance(value, bool):  # bool is an int subclass; never a size
        raise ValueError(f"option {key}={quote(value)} is not an int")
    if kind is not None and value is not None and not isinstance(value, kind):
        name = {int: "an int", str: "a string", (int, float): "a number",
                (bool, int): "a bool"}.get(kind, "of the right type")
        raise ValueError(f"option {key}={quote(value)} is not {name}")
    return value


def _taps(value) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_FILTER_TAPS or \
            not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in value):
        raise ValueError(f"option resample_filter={quote(value)} is not a list of 1 to "
                         f"{MAX_FILTER_TAPS} numbers")
    return tuple(float(t) for t in value)


def _mapping_fields(m: dict) -> dict:
    activation = _take(m, "activation", "lrelu", str)
    if activation not in MAPPING_ACTIVATIONS:
        raise ValueError(f"mapping activation {quote(activation)} is not one of "
                         f"{', '.join(MAPPING_ACTIVATIONS)}")
    return {
        "mapping_layers": int(_take(m, "num_layers", 8, int)),
        "mapping_features": _take(m, "layer_features", None, int),
        "embed_features": _take(m, "embed_features", None, int),  # conditional networks only
        "mapping_activation": activation,
        "mapping_lr_multiplier": float(_take(m, "lr_multiplier", 0.01, (int, float))),
        "w_avg_beta": _take(m, "w_avg_beta", 0.995, (int, float)),
    }


def _synthesis_fields(s: dict) -> dict:
    if _take(s, "activation", "lrelu", str) != "lrelu":
        raise ValueError("only lrelu synthesis layers are supported")
    if int(_take(s, "kernel_size", 3, int)) != 3:
        raise ValueError("only 3x3 synthesis convolutions are supported")
    clamp = _take(s, "conv_clamp", None, (int, float))
    return {
        "channel_base": int(_take(s, "channel_base", 32768, int)),
        "channel_max": int(_take(s, "channel_max", 512, int)),
        "num_fp16_res": int(_take(s, "num_fp16_res", 0, int)),
        "conv_clamp": None if clamp is None else float(clamp),
        "architecture": str(_take(s, "architecture", "skip", str)),
        "resample_filter": _taps(_take(s, "resample_filter", [1, 3, 3, 1])),
        "use_noise": bool(_take(s, "use_noise", True, (bool, int))),
    }


def config_from_init(init_args, init_kwargs) -> StyleGAN2Config:
    """Map a recorded ``Generator(*args, **kwargs)`` call onto a StyleGAN2Config.

    Raises:
        ValueError: unsupported, unknown, mistyped or out-of-bounds options (named,
            file-supplied text quoted).
    """
    if not isinstance(init_args, (tuple, list)) or len(init_args) > len(_POSITIONAL):
        raise ValueError(f"the recorded constructor arguments are {quote(init_args)}")
    kw = dict(zip(_POSITIONAL, init_args))
    kw.update(_plain(init_kwargs, "the recorded constructor keywords"))
    mapping = _plain(kw.pop("mapping_kwargs", None), "mapping_kwargs")
    synthesis = _plain(kw.pop("synthesis_kwargs", None), "synthesis_kwargs")
    for key in [k for k in kw if k not in _TOP]:
        synthesis[key] = kw.pop(key)  # stylegan3 layout: synthesis options at the top level
    missing = [k for k in ("z_dim", "w_dim", "img_resolution") if k not in kw]
    if missing:
        raise ValueError(f"the recorded constructor arguments lack {', '.join(missing)}")
    top = {k: _take(kw, k, None, int) for k in _TOP}
    unset = [k for k in ("z_dim", "w_dim", "img_resolution") if top[k] is None]
    if unset:
        raise ValueError(f"the recorded constructor arguments leave {', '.join(unset)} unset")
    fields = _mapping_fields(mapping)
    fields.update(_synthesis_fields(synthesis))
    unknown = sorted((set(mapping) | set(synthesis)) - _IGNORED)
    if unknown:
        raise ValueError("unknown generator option(s) "
                         f"{', '.join(quote(k, 40) for k in unknown[:5])}")
    channels = 3 if top["img_channels"] is None else top["img_channels"]
    cfg = StyleGAN2Config(img_resolution=top["img_resolution"], z_dim=top["z_dim"],
                          w_dim=top["w_dim"], img_channels=channels, c_dim=top["c_dim"] or 0,
                          **fields)
    check_config(cfg)
    return cfg
