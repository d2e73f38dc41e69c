"""Parity with NVIDIA's stylegan3 code: the same z, truncation and W+ give the same images.

tests/data/nvidia_parity/*.npz hold, for small random networks built with NVIDIA's
networks_stylegan3 (configs T and R, with and without float16 layers) and networks_stylegan2:
every tensor of the network (all zero- or one-initialised ones randomised, the input
transform a random rotation and shift), the recorded constructor arguments, and the images
NVIDIA's code drew from them on the CPU. make_reference.py beside them says how. Here the
tensors are written back as an NVIDIA-format pickle and loaded with latentreel's own loader.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from latentreel.models.network_file import load_network_file
from latentreel.models.stylegan2.backend import StyleGAN2Generator
from latentreel.models.stylegan3.backend import StyleGAN3Generator
from tests.stylegan3_nets import tree_from_tensors, write_snapshot
from tests.test_stylegan2_pickle import _EasyDict, nvidia_modules  # noqa: F401 - fixture

DATA = Path(__file__).parent / "data" / "nvidia_parity"
NETS = {"sg3t16": "T, 16 px, fp32 layers", "sg3r16": "R, 16 px, fp32 layers",
        "sg3t32": "T, 32 px, 2 fp16 layers", "sg3r32": "R, 32 px, 2 fp16 layers",
        "sg2_16": "StyleGAN2 from the stylegan3 repo, 16 px"}
TOLERANCE = 1e-3  # max |difference| / std of the reference image


def _load(name: str, tmp_path: Path) -> tuple[StyleGAN2Generator, dict]:
    data = np.load(DATA / f"{name}.npz")
    tensors = {k.removeprefix("tensor/"): torch.from_numpy(data[k])
               for k in data.files if k.startswith("tensor/")}
    kwargs = json.loads(str(data["init_kwargs_json"]))
    kwargs["mapping_kwargs"] = _EasyDict(kwargs["mapping_kwargs"])
    path = write_snapshot(tmp_path / f"{name}.pkl", tree_from_tensors(tensors, kwargs))
    refs = {k.removeprefix("ref/"): torch.from_numpy(data[k])
            for k in data.files if k.startswith("ref/")}
    return load_network_file(path, "cpu", precision="fp32"), refs


def _assert_same(image: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    ratio = float((image - ref).abs().max() / ref.std())
    assert ratio <= TOLERANCE, f"{what}: max |diff| / std = {ratio:.2e}"


@pytest.mark.parametrize("name", list(NETS), ids=list(NETS))
def test_images_match_nvidia(tmp_path, nvidia_modules, name):  # noqa: F811
    g, ref = _load(name, tmp_path)
    assert isinstance(g, StyleGAN3Generator) == name.startswith("sg3")
    z = ref["z"]
    with torch.no_grad():
        _assert_same(g.synthesize(z[:1], "z"), ref["img_z"], "z")
        w = g.to_space(z[1:], "w+")
        _assert_same(g.synthesize(g.truncate(w, 0.6, "w+", cutoff=3), "w+"), ref["img_trunc"],
                     "truncation 0.6, cutoff 3")
        _assert_same(g.synthesize(ref["wplus"], "w+"), ref["img_wplus"], "W+")


@pytest.mark.parametrize("name", ["sg3t16", "sg3r32"])
def test_the_camera_is_nvidias_input_transform(tmp_path, nvidia_modules, name):  # noqa: F811
    """NVIDIA's images were drawn with a random input transform in the file; the same picture
    comes from the identity transform and the camera that transform stands for."""
    g, ref = _load(name, tmp_path)
    forward = torch.linalg.inv(g.net.synthesis.input.transform.double())  # the picture's move
    camera = torch.tensor([[float(forward[0, 2]), float(forward[1, 2]),
                            math.degrees(math.atan2(forward[0, 1], forward[0, 0]))]])
    g.net.synthesis.input.transform.copy_(torch.eye(3))
    with torch.no_grad():
        moved = g.synthesize(ref["wplus"], "w+", camera=camera)
        still = g.synthesize(ref["wplus"], "w+")
    _assert_same(moved, ref["img_wplus"], "camera")
    assert float((still - ref["img_wplus"]).abs().max() / ref["img_wplus"].std()) > 0.1
