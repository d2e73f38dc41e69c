"""A model file -> the backend for what it holds: NVIDIA network pickles (StyleGAN2 or
StyleGAN3, told apart by their records, read once with the allow-listed unpickler; TensorFlow-era
StyleGAN2 pickles too) and
rosinality StyleGAN2 checkpoints.

This sits above both backends so that neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

import torch

from latentreel.models.stylegan2.backend import StyleGAN2Generator, load_stylegan2_file


def load_network_file(path: Path, device: str | torch.device = "cpu", *,
                      name: str | None = None, precision: str = "auto") -> StyleGAN2Generator:
    """Load a ``.pkl`` or ``.pt`` network safely; a StyleGAN3 pickle gives a
    StyleGAN3Generator (a StyleGAN2Generator with a camera).

    Raises:
        ModelError: a missing, hostile, damaged or unsupported file.
    """
    path = Path(path)
    if path.suffix.lower() != ".pkl" or not path.is_file():
        return load_stylegan2_file(path, device, name=name, precision=precision)
    from latentreel.models.pickles.tfnetwork import is_tf_pickle
    from latentreel.models.pickles.unpickle import find_generator, is_stylegan3, read_network_pickle
    from latentreel.models.stylegan2.load import load_network_pickle

    obj = read_network_pickle(path)
    if is_tf_pickle(obj) or not is_stylegan3(find_generator(obj, path)):
        net = load_network_pickle(path, obj)
        return StyleGAN2Generator(net, device, name=name or path.stem, precision=precision)
    from latentreel.models.stylegan3.backend import StyleGAN3Generator
    from latentreel.models.stylegan3.load import network_from_record

    net = network_from_record(find_generator(obj, path), path)
    return StyleGAN3Generator(net, device, name=name or path.stem, precision=precision)
