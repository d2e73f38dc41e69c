"""Shared test fixtures: a private cache folder, the embedded generator, scene writing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the user's cache untouched; share one cache across the session (converted weights)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LATENTREEL_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def dcgan():
    from latentreel.models.registry import load_generator

    return load_generator("dcgan-digiface", "cpu")


@pytest.fixture(scope="module")
def sg2():
    """A small random StyleGAN2 (32 px: 8 px per cell of its 4x4 constant), one per module."""
    from latentreel.models.stylegan2.backend import StyleGAN2Generator
    from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

    torch.manual_seed(0)
    cfg = StyleGAN2Config(img_resolution=32, z_dim=16, w_dim=16, mapping_layers=2,
                          channel_base=256, channel_max=16)
    return StyleGAN2Generator(Generator(cfg), "cpu")


@pytest.fixture
def write_scene(tmp_path):
    """write_scene(yaml_text, name="scene.yaml") -> path, dedenting the text."""

    def write(text: str, name: str = "scene.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write
