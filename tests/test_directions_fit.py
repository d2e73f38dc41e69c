"""Directions found on small samples: measured attributes do what their names say, conditional
edits leave the kept attribute alone, GANSpace components carry their own variance, and photo
directions are the mean inverted-latent difference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentreel.bench.directions import kept_change, sweep_spearman
from latentreel.edits.directions import DirectionStore, conditional
from latentreel.edits.fit import fit_measured, pca_directions

SEEDS = range(100, 106)


@pytest.fixture(scope="module")
def pixel_directions(dcgan):
    """Brightness, skin tone and background fitted on 256 faces (pixels only: no MTCNN)."""
    found = fit_measured(dcgan, ("brightness", "skin_tone", "background"), samples=256)
    return {d.name: d for d in found}


def test_fit_on_256_faces_generalises(pixel_directions):
    for d in pixel_directions.values():
        assert d.source == "fitted" and d.stats["samples"] == 256
        assert d.stats["r2"] > 0.3, (d.name, d.stats)  # held out; a random direction gets ~0
        assert abs(np.linalg.norm(d.vector) - 1) < 1e-5 and d.vector.shape == (100,)


@pytest.mark.parametrize("name", ["brightness", "background"])
def test_sweep_moves_the_attribute_monotonically(dcgan, pixel_directions, name):
    assert sweep_spearman(dcgan, pixel_directions[name].vector, name, SEEDS, steps=9) > 0.9


def test_conditional_edit_leaves_the_kept_attribute(dcgan, pixel_directions):
    edit, keep = pixel_directions["brightness"].vector, pixel_directions["background"].vector
    assert float(edit @ keep) > 0.5  # correlated: a plain brightness edit lights the background
    plain = kept_change(dcgan, edit, "background", SEEDS)
    cond = kept_change(dcgan, conditional(edit, [keep]), "background", SEEDS)
    assert plain > 0.1 and cond < 0.5 * plain, (plain, cond)


def test_pca_components_carry_their_feature_variance(dcgan):
    dirs = pca_directions(dcgan, k=3, samples=256)
    shares = [d.stats["explained_variance"] for d in dirs]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) < 1
    block = dcgan.net.main[:3]  # the features the PCA was taken on

    def feature_shift(v: np.ndarray) -> float:
        z = torch.randn(64, 100, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            a = block((z + 2 * torch.from_numpy(v))[:, :, None, None]).flatten(1)
            b = block((z - 2 * torch.from_numpy(v))[:, :, None, None]).flatten(1)
        return float((a - b).norm(dim=1).mean())

    random = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    # pc0 moves the first layer's features more than a random unit direction does.
    assert feature_shift(dirs[0].vector) > 2 * feature_shift(random / np.linalg.norm(random))


def test_from_photos_is_the_mean_latent_difference(dcgan, tmp_path, monkeypatch):
    from PIL import Image
    from skimage import data

    import latentreel.invert.photo as photo_mod
    from latentreel.edits.run import direction_from_photos
    from latentreel.faces.template import generator_template
    from latentreel.invert.photo import InvertSettings

    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path / "cache"))
    generator_template(dcgan, n=32)  # a rough template measured quickly in the private cache
    face = Image.fromarray(data.astronaut()).resize((256, 256))
    face.save(tmp_path / "a.png")
    face.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "b.png")
    inverted = {}
    original = photo_mod.invert_photo

    def recording(photo, *args, **kwargs):
        inverted[photo.name] = original(photo, *args, **kwargs).latent.numpy()
        return original(photo, *args, **kwargs)  # the second call is served by the cache

    monkeypatch.setattr(photo_mod, "invert_photo", recording)
    cheap = InvertSettings(method="optimize", steps=10, restarts=2, polish_steps=0,
                           facenet_steps=0)
    d = direction_from_photos(dcgan, "turn", [tmp_path / "a.png"], [tmp_path / "b.png"],
                              settings=cheap, progress=False)
    diff = inverted["a.png"] - inverted["b.png"]
    expected = diff / np.linalg.norm(diff)
    stored = DirectionStore(dcgan.name).get("turn")
    assert stored.source == "photos" and stored.stats["positive"] == 1
    assert np.allclose(stored.vector, expected, atol=1e-5) and np.allclose(d.vector, expected)
