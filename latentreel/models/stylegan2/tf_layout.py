"""How a TensorFlow-era StyleGAN2 generator (NVlabs stylegan2 / stylegan2-ada, ``Gs``) maps onto
our network: its static kwargs -> StyleGAN2Config, and each of our tensors -> the TensorFlow
variable it comes from, with that variable's shape and the conversion of its layout.

TensorFlow's layouts: dense weights [in, out], conv weights [k, k, in, out], the 4x4 constant
[1, C, 4, 4], noise inputs [1, 1, r, r] numbered by layer; the style affines' biases are stored
without the +1 the TensorFlow graph adds at run time, and the upsampling convolutions run as a
transposed convolution, so their kernels are flipped here. The equalised-lr gains are the same
as ours (weights stored unscaled, scaled at run time), so values copy over unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latentreel.errors import quote
from latentreel.models.stylegan2.limits import MAX_FILTER_TAPS, check_config, expected_shapes
from latentreel.models.stylegan2.network import ARCHITECTURES, StyleGAN2Config
from latentreel.models.stylegan2.ops import MAPPING_ACTIVATIONS

# Static kwargs that only steer the TensorFlow graph at run time or in training (truncation
# in Gs's graph, style mixing, progressive-growing structure): no effect on the weights.
# NVIDIA's own converter ignores the same ones, so images match theirs.
_IGNORED = frozenset({"truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure"})
_INTS = {"latent_size": 512, "label_size": 0, "dlatent_size": 512, "resolution": 1024,
         "num_channels": 3, "mapping_layers": 8, "fmap_base": 16384, "fmap_max": 512,
         "num_fp16_res": 0}
_OPTIONAL_INTS = ("mapping_fmaps", "label_fmaps")
_NUMBERS = {"mapping_lrmul": 0.01, "w_avg_beta": 0.995, "conv_clamp": None}
_STRINGS = {"architecture": "skip", "mapping_nonlinearity": "lrelu", "nonlinearity": "lrelu"}
_KNOWN = frozenset({*_IGNORED, *_INTS, *_OPTIONAL_INTS, *_NUMBERS, *_STRINGS,
                    "resample_kernel", "use_noise"})


def _number(kw: dict, key: str, default, kinds):
    value = kw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"static kwarg {key}={quote(value)} is not "  # noqa: TRY004
                         f"{'an int' if kinds is int else 'a number'}")
    return value


def config_from_tf_kwargs(kw: dict) -> StyleGAN2Config:
    """Gs's static kwargs -> our config (NVIDIA's defaults for the ones a file leaves out).

    Raises:
        ValueError: unknown, mistyped, unsupported or out-of-bounds kwargs (named).
    """
    unknown = sorted(k for k in kw if k not in _KNOWN)
    if unknown:
        raise ValueError(f"unknown TensorFlow generator option(s) "
                         f"{', '.join(quote(k, 40) for k in unknown[:5])}")
    ints = {k: _number(kw, k, d, int) for k, d in _INTS.items()}
    ints.update({k: _number(kw, k, None, int) for k in _OPTIONAL_INTS})
    nums = {k: _number(kw, k, d, (int, float)) for k, d in _NUMBERS.items()}
    strings = {k: d if kw.get(k) is None else kw[k] for k, d in _STRINGS.items()}
    bad = next((k for k, v in strings.items() if not isinstance(v, str)), None)
    if bad is not None:
        raise ValueError(f"static kwarg {bad}={quote(strings[bad])} is not a string")
    if strings["mapping_nonlinearity"] not in MAPPING_ACTIVATIONS:
        raise ValueError(f"mapping_nonlinearity {quote(strings['mapping_nonlinearity'])} is "
                         f"not one of {', '.join(MAPPING_ACTIVATIONS)}")
    if strings["nonlinearity"] != "lrelu":
        raise ValueError(f"nonlinearity {quote(strings['nonlinearity'])} is not supported "
                         "(synthesis layers: lrelu only)")
    if strings["architecture"] not in ARCHITECTURES:
        raise ValueError(f"architecture {quote(strings['architecture'])} is not supported "
                         f"(only {', '.join(ARCHITECTURES)})")
    taps = kw.get("resample_kernel", [1, 3, 3, 1])
    if not isinstance(taps, (list, tuple)) or not 1 <= len(taps) <= MAX_FILTER_TAPS or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) for t in taps):
        raise ValueError(f"static kwarg resample_kernel={quote(taps)} is not a list of 1 to "
                         f"{MAX_FILTER_TAPS} numbers")
    use_noise = kw.get("use_noise", True)
    if not isinstance(use_noise, (bool, int)):
        raise ValueError(f"static kwarg use_noise={quote(use_noise)} is not a bool")  # noqa: TRY004
    beta = nums["w_avg_beta"]
    cfg = StyleGAN2Config(
        img_resolution=ints["resolution"], z_dim=ints["latent_size"],
        w_dim=ints["dlatent_size"], img_channels=ints["num_channels"],
        c_dim=ints["label_size"], embed_features=ints["label_fmaps"],
        mapping_activation=strings["mapping_nonlinearity"],
        mapping_layers=ints["mapping_layers"], mapping_features=ints["mapping_fmaps"],
        mapping_lr_multiplier=float(nums["mapping_lrmul"] if nums["mapping_lrmul"] is not None
                                    else 0.01),
        w_avg_beta=None if beta is None else float(beta),
        channel_base=ints["fmap_base"] * 2, channel_max=ints["fmap_max"],
        num_fp16_res=ints["num_fp16_res"],
        conv_clamp=None if nums["conv_clamp"] is None else float(nums["conv_clamp"]),
        architecture=strings["architecture"],
        resample_filter=tuple(float(t) for t in taps), use_noise=bool(use_noise))
    check_config(cfg)
    return cfg


@dataclass(frozen=True)
class TFSource:
    """Where one of our tensors comes from in a TensorFlow-era generator."""

    tf_name: str  # e.g. 'synthesis/8x8/Conv0_up/weight'
    tf_shape: tuple[int, ...]  # its shape there
    convert: Callable[[np.ndarray], np.ndarray]  # TensorFlow layout -> ours


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _dense(a: np.ndarray) -> np.ndarray:  # [in, out] -> [out, in]
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:  # [k, k, in, out] -> [out, in, k, k]
    return a.transpose(3, 2, 0, 1)


def _conv_up(a: np.ndarray) -> np.ndarray:  # transposed conv: flip the kernel too
    return a[::-1, ::-1].transpose(3, 2, 0, 1)


def _style_bias(a: np.ndarray) -> np.ndarray:  # TensorFlow adds the 1 at run time
    return a + 1


def _first(a: np.ndarray) -> np.ndarray:  # [1, C, 4, 4] -> [C, 4, 4]
    return a[0]


def _noise(a: np.ndarray) -> np.ndarray:  # [1, 1, r, r] -> [r, r]
    return a[0, 0]


_LEAVES = {  # our leaf name -> (TensorFlow leaf name, conversion, our shape -> theirs)
    "weight": ("weight", _conv, lambda s: (s[2], s[3], s[1], s[0])),
    "bias": ("bias", _same, lambda s: s),
    "noise_strength": ("noise_strength", _same, lambda s: s),
    "affine.weight": ("mod_weight", _dense, lambda s: (s[1], s[0])),
    "affine.bias": ("mod_bias", _style_bias, lambda s: s),
}
_LAYERS = {"conv0": "Conv0_up", "conv1": "Conv1", "torgb": "ToRGB"}


def _synthesis_source(name: str, shape: tuple[int, ...]) -> TFSource | None:
    """'synthesis.b{res}.{layer}.{leaf}' -> its TensorFlow source (None: resample filters,
    which TensorFlow files do not store; ours come from the resample_kernel kwarg)."""
    _, block, rest = name.split(".", 2)
    res = int(block[1:])
    if rest == "const":
        return TFSource("synthesis/4x4/Const/const", (1, *shape), _first)
    if rest.endswith("resample_filter"):
        return None
    if rest == "skip.weight":  # resnet's shortcut: upsampling like Conv0_up, so flipped
        return TFSource(f"synthesis/{res}x{res}/Skip/weight", (1, 1, shape[1], shape[0]),
                        _conv_up)
    layer, leaf = rest.split(".", 1)
    if leaf == "noise_const":  # TensorFlow numbers noise inputs by layer: 0 at 4x4
        index = 2 * int(math.log2(res)) - (5 if layer == "conv0" else 4)
        return TFSource(f"synthesis/noise{index}", (1, 1, *shape), _noise)
    scope = "Conv" if res == 4 and layer == "conv1" else _LAYERS[layer]
    tf_leaf, convert, tf_shape = _LEAVES[leaf]
    if layer == "conv0" and leaf == "weight":
        convert = _conv_up
    return TFSource(f"synthesis/{res}x{res}/{scope}/{tf_leaf}", tf_shape(shape), convert)


def tf_sources(cfg: StyleGAN2Config) -> dict[str, TFSource]:
    """Our tensor name -> its TensorFlow source, for every tensor TensorFlow files store."""
    out: dict[str, TFSource] = {}
    for name, shape in expected_shapes(cfg).items():
        if name == "mapping.w_avg":
            out[name] = TFSource("dlatent_avg", shape, _same)
        elif name.startswith("mapping.embed"):  # conditional networks' label embedding
            leaf = name.split(".")[-1]
            tf_shape = (shape[1], shape[0]) if leaf == "weight" else shape
            out[name] = TFSource(f"mapping/LabelEmbed/{leaf}", tf_shape,
                                 _dense if leaf == "weight" else _same)
        elif name.startswith("mapping.fc"):
            layer, leaf = name.split(".")[1:]
            tf_shape = (shape[1], shape[0]) if leaf == "weight" else shape
            out[name] = TFSource(f"mapping/Dense{layer[2:]}/{leaf}", tf_shape,
                                 _dense if leaf == "weight" else _same)
        else:
            source = _synthesis_source(name, shape)
            if source is not None:
                out[name] = source
    return out


# TensorFlow variables that exist in real files but hold nothing our network uses: stylegan2's
# G_main keeps the progressive-growing level of detail (always 0 in StyleGAN2).
IGNORED_VARIABLES = {"lod": ()}
