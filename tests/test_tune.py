"""Pivotal tuning, its weight deltas and tuned latent files; the average face and truncation
on the sphere."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from latentreel.errors import LatentFileError
from latentreel.invert.delta import WeightDelta, apply_delta, base_nbytes
from latentreel.invert.tune import Pivot, TuneSettings, tune_generator
from latentreel.latentfile import load_latent, save_latent
from latentreel.latents.truncation import sphere_truncate
from latentreel.models.base import seed_latent, truncate
from latentreel.models.dcgan import DCGANGenerator, DCGANNet

FAST = TuneSettings(steps=12, lr=5e-3, locality_batch=2, locality_pool=64)


def _z(seed: int) -> torch.Tensor:
    return torch.from_numpy(seed_latent(seed, 100))


@pytest.fixture(scope="module")
def small() -> DCGANGenerator:
    """A seeded DCGAN with an eighth of the embedded one's width: the same code, 1/60 the work."""
    torch.manual_seed(0)
    g = DCGANGenerator(DCGANNet(ngf=8), torch.device("cpu"))
    g.name = "dcgan-test-small"  # its own inversion cache entries
    return g


@pytest.fixture(scope="module")
def pivot(small) -> Pivot:
    # The pivot is seed 0; its "photo" is seed 0's image with its colours shifted, which no
    # latent near seed 0 draws exactly: only the weights can close the gap.
    with torch.no_grad():
        target = (small.synthesize(_z(0)[None])[0] * 0.7 + 0.2).clamp(-1, 1)
    return Pivot(latent=_z(0), space="z", target=target)


@pytest.fixture(scope="module")
def tuning(small, pivot):
    return tune_generator(small, [pivot], FAST)


def test_sphere_truncation_keeps_meaning():
    z, m = _z(1).double(), _z(2).double()
    torch.testing.assert_close(sphere_truncate(z, m, 1.0), z)
    torch.testing.assert_close(sphere_truncate(z, m, 0.0), m)
    anti = sphere_truncate(z, m, -1.0)
    torch.testing.assert_close(anti.norm(), z.norm())  # stays where faces live
    torch.testing.assert_close(sphere_truncate(anti, m, -1.0), z)  # anti of anti is the face
    half = sphere_truncate(z, m, 0.5)  # on the great circle: no dip towards the origin
    assert half.norm() == pytest.approx(float((z.norm() + m.norm()) / 2))
    batch = truncate(torch.stack([z, anti]), m, -1.0, "z")
    torch.testing.assert_close(batch[1], z)
    torch.testing.assert_close(truncate(z, m, -1.0, "w"), 2 * m - z)  # W stays a line


def test_dcgan_average_is_a_face_latent_not_the_origin(dcgan):
    mean = dcgan.mean_latent("z")
    assert mean.norm() == pytest.approx(10.0, rel=1e-3)  # on the sphere samples live on
    other = DCGANGenerator(DCGANNet(), torch.device("cpu"))  # other weights: no shipped average
    assert torch.equal(other.mean_latent("z"), torch.zeros(100))


def test_delta_is_compact(dcgan):
    import copy

    from latentreel.invert.delta import attach

    factors = attach(copy.deepcopy(dcgan).tunable_module(), TuneSettings().rank)
    assert sum(f.numel() * 4 for f in factors) <= 0.1 * base_nbytes(dcgan)  # not a model copy


def test_tuning_redraws_the_pivot_and_keeps_seeds(small, pivot, tuning):
    assert tuning.psnr_after[0] > tuning.psnr_before[0] + 3, (tuning.psnr_before,
                                                              tuning.psnr_after)
    z = torch.stack([_z(s) for s in range(100, 116)])
    with torch.no_grad():
        before, after = small.synthesize(z), tuning.generator.synthesize(z)
    mse = (before - after).square().flatten(1).mean(1)
    assert float((10 * torch.log10(4 / mse)).median()) > 25  # random seeds stay themselves
    # The base generator is untouched.
    with torch.no_grad():
        torch.testing.assert_close(small.synthesize(z[:2]), before[:2])


def test_delta_round_trips_through_a_latent_file(small, pivot, tuning, tmp_path):
    from latentreel.latentfile import LatentFile

    path = save_latent(tmp_path / "me.npz", LatentFile(
        pivot.latent.numpy(), "z", small.name, {}, tuning.delta.to_arrays()))
    delta = WeightDelta.from_arrays(load_latent(path).arrays)
    with torch.no_grad():
        a = apply_delta(small, delta).synthesize(pivot.latent[None])
        b = tuning.generator.synthesize(pivot.latent[None])
    torch.testing.assert_close(a, b)


def test_delta_refused_on_other_weights(dcgan, tuning):
    other = dcgan  # the delta was tuned on the small model
    with pytest.raises(LatentFileError, match="tuned for other model weights") as e:
        apply_delta(other, tuning.delta, "me.npz")
    assert "\n" not in str(e.value)


def test_joint_tuning_is_cached_by_content(small, pivot):
    from latentreel.invert.tuned import tuned_delta

    second = Pivot(latent=_z(5), space="z", target=pivot.target.flip(-1))
    settings = TuneSettings(steps=3, locality_batch=2, locality_pool=8)
    _, first = tuned_delta(small, [pivot, second], settings)
    _, again = tuned_delta(small, [pivot, second], settings)
    assert not first.get("cached") and again["cached"]
    assert again["psnr_after"] == first["psnr_after"] and len(first["psnr_after"]) == 2


@pytest.fixture(scope="module")
def tuned_file(small, tmp_path_factory):
    """`invert` on a tiny photo (centre crop, few steps): a latent file with a delta."""
    from latentreel.invert.photo import InvertSettings, invert_photo

    folder = tmp_path_factory.mktemp("tuned")
    with torch.no_grad():
        face = ((small.synthesize(_z(3)[None])[0].permute(1, 2, 0) + 1) * 127.5).byte().numpy()
    Image.fromarray(np.ascontiguousarray(face[:, ::-1])).save(folder / "me.png")
    settings = InvertSettings(method="optimize", steps=5, restarts=1, polish_steps=0,
                              facenet_steps=0, align=False, tune_steps=10)
    result = invert_photo(folder / "me.png", small, settings, out=folder / "me.npz",
                          progress=False)
    return result


def test_invert_writes_a_tuned_latent_file(tuned_file):
    m = tuned_file.metrics
    assert m["psnr"] > m["pivot_psnr"] + 1
    lf = load_latent(tuned_file.path)
    assert WeightDelta.from_arrays(lf.arrays) is not None and "target" in lf.arrays


def test_scene_with_the_tuned_file_renders_the_tuned_face(small, tuned_file, write_scene):
    from latentreel.render.prepared import prepare_scene
    from latentreel.scene import load_scene

    path = write_scene(f"""
        keyframes:
          - latent: {tuned_file.path}
          - seed: 4
    """)
    prepared = prepare_scene(load_scene(path), generator=small, progress=False)
    latents, g = prepared.latents, prepared.generator
    with torch.no_grad():
        frame = ((g.synthesize(latents[:1])[0].clamp(-1, 1) + 1) * 127.5).round()
    recon = torch.from_numpy(tuned_file.reconstruction).permute(2, 0, 1).float()
    assert (frame - recon).abs().max() <= 1


def test_independent_recogniser_knows_a_face_from_its_mirror_image():
    from skimage import data

    from latentreel.faces.dlib_rec import DlibRecognizer

    rec = DlibRecognizer()
    photo = data.astronaut()
    a, b = rec.embed(photo), rec.embed(np.ascontiguousarray(photo[:, ::-1]))
    assert a.shape == (128,)
    assert np.linalg.norm(a - b) < 0.6  # dlib's "same person" threshold
    noise = np.random.RandomState(0).randint(0, 255, (64, 64, 3), dtype=np.uint8)
    assert np.linalg.norm(a - rec.embed(noise)) > 0.6
    # Shifted, her mission patch's box (a false face) is a pixel larger than her face: the
    # most confident detection is hers.
    moved = np.asarray(Image.fromarray(photo).transform(
        (512, 512), Image.AFFINE, (1, 0, -90, 0, 1, 40), fillcolor=(40, 40, 40)))
    assert np.linalg.norm(a - rec.embed(moved)) < 0.3


def test_locality_latents_are_mostly_random_faces(small, pivot):
    from latentreel.invert.tune import locality_latents

    near = locality_latents(small, pivot, 40, torch.Generator().manual_seed(0), 0.75)
    draw = torch.Generator().manual_seed(0)  # the same draw: the faces the lines lead to
    far = torch.randn(40, small.z_dim, generator=draw)
    torch.testing.assert_close(near[:30], far[:30])  # 75 %: random faces themselves
    on_line = (near[30:] - pivot.latent) / (far[30:] - pivot.latent)
    assert bool((on_line.std(1) < 1e-4).all()) and bool((on_line.mean(1) < 1).all())


def test_locality_without_a_pool_draws_fresh_latents(small, pivot, monkeypatch):
    """Where the pool's images would not fit (StyleGAN at 1024 px), each step draws its own
    locality latents: tuning still keeps the seeds and redraws the pivot."""
    import latentreel.invert.tune as tune

    monkeypatch.setattr(tune, "POOL_BYTES", 0)
    region = tune._Locality(small, pivot, FAST, torch.Generator().manual_seed(0))
    assert region.pool is None
    near, keep = region.sample()
    with torch.no_grad():
        torch.testing.assert_close(small.synthesize(near), keep)
    result = tune_generator(small, [pivot], FAST)
    assert result.psnr_after[0] > result.psnr_before[0] + 3


def test_cli_tune_steps_default_is_the_scenes():
    """`invert` and a scene's photo tune with the same settings (the device's defaults, by
    resolution), so they share a cache entry."""
    import inspect

    from latentreel.cli.faces import invert
    from latentreel.invert.photo import InvertSettings

    default = inspect.signature(invert).parameters["tune_steps"].default.default
    assert default is None and InvertSettings().tune_steps is None  # default_settings decide
