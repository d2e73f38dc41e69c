"""A tuned generator wherever a scene is drawn: `render` (plain and segmented), tuned latent
files from `latentreel invert`, Ray's workers, `analyze` and `play`; one joint tuning per scene,
cached by content; seeds unchanged.

Real photos, the embedded DCGAN and real MP4s (lossless, so frames can be measured), kept cheap
by ``cheap_photos``: photo inversions skip their FaceNet stage and tuning takes few steps.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.invert.tune import TuneSettings
from latentreel.video.probe import read_frames

runner = CliRunner()
FAST = TuneSettings(steps=20, locality_pool=16)  # ~4 dB on the pivot in a few seconds
PHOTO = "method: optimize, steps: 10"  # the photo keyframe's inversion settings here
SCENE = """
output: {{fps: 5, size: 64, crf: 0}}
defaults: {{hold: 0.4, transition: 0.4}}
keyframes:
  - photo: {{path: {photo}, {settings}, tune: {tune}}}
  - seed: 7
"""  # frames: 0-1 the photo, 2-3 the move, 4-5 seed 7


@contextmanager
def cheap_photos():
    """Inversions without their FaceNet stage (pixels only) and FAST tuning; yields the
    number of pivots of each tuning that really ran (cache hits add nothing)."""
    import latentreel.faces.facenet as facenet
    import latentreel.invert.tuned as tuned

    calls: list[int] = []
    real_tune, real_delta = tuned.tune_generator, tuned.tuned_delta

    def counted(generator, pivots, settings, **kw):
        calls.append(len(pivots))
        return real_tune(generator, pivots, settings, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tuned, "tune_generator", counted)
        mp.setattr(tuned, "tuned_delta", lambda g, pivots, settings=None, **kw:
                   real_delta(g, pivots, FAST, **kw))
        mp.setattr(facenet, "load_facenet", lambda *a, **kw: None)
        yield calls


@pytest.fixture(scope="module")
def tunings():
    with cheap_photos() as calls:
        yield calls


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """The astronaut and her mirror image (another photo to the inversion cache)."""
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.astronaut()).save(folder / "me.png")
    Image.fromarray(np.ascontiguousarray(data.astronaut()[:, ::-1])).save(folder / "you.png")
    return folder


def _scene(photos: Path, tune: str = "true", photo: str = "me.png") -> str:
    return SCENE.format(photo=photos / photo, settings=PHOTO, tune=tune)


def _render(scene: Path, out: Path, *args: str) -> np.ndarray:
    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out), *args])
    assert r.exit_code == 0, r.output
    return read_frames(out)


def _image(g, latent: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        x = g.synthesize(latent[None].to(g.device))[0]
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / max(mse, 1e-10)))


def _resolve(scene: Path, generator):
    from dataclasses import replace

    from latentreel.render.prepared import prepare_scene
    from latentreel.scene import load_scene

    s = load_scene(scene)
    return prepare_scene(s, output=replace(s.output, fps=5), generator=generator, loop=False,
                         progress=False)


@pytest.fixture(scope="module")
def photo_render(tunings, photos, dcgan, tmp_path_factory):
    """The photo scene rendered tuned and untuned, and the pivot it resolves to."""
    folder = tmp_path_factory.mktemp("photo-render")
    (folder / "tuned.yaml").write_text(_scene(photos))
    (folder / "untuned.yaml").write_text(_scene(photos, tune="false"))
    tuned = _render(folder / "tuned.yaml", folder / "tuned.mp4")
    untuned = _render(folder / "untuned.yaml", folder / "untuned.mp4")
    before = len(tunings)
    resolved = _resolve(folder / "tuned.yaml", dcgan)
    assert len(tunings) == before  # resolved again from the caches: not tuned again
    return folder, tuned, untuned, resolved


def test_photo_keyframe_renders_the_tuned_reconstruction(photo_render, dcgan):
    _, frames, untuned_frames, resolved = photo_render
    pivot = resolved.state.pivots[0]
    crop = ((pivot.target.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    pivot_image = _image(dcgan, pivot.latent)
    assert _psnr(frames[0], _image(resolved.generator, pivot.latent)) > 35  # codec only
    # Closer to the photo than the untuned pivot's image, and than `tune: false` renders.
    assert _psnr(frames[0], crop) > _psnr(pivot_image, crop) + 2
    assert _psnr(frames[0], crop) > _psnr(untuned_frames[0], crop) + 2


def test_seeds_in_a_tuned_scene_stay_themselves(photo_render):
    _, frames, untuned_frames, _ = photo_render
    assert _psnr(frames[4], untuned_frames[4]) > 30  # seed 7, tuned vs untuned generator
    assert _psnr(frames[0], untuned_frames[0]) < 30  # while the photo did change


def test_segmented_render_is_tuned_too(photo_render, tmp_path):
    folder, frames, _, _ = photo_render
    segmented = _render(folder / "tuned.yaml", tmp_path / "seg.mp4", "--segment-seconds", "0.4")
    assert np.array_equal(segmented, frames)


def test_two_photos_share_one_joint_tuning_and_rerender_does_not_retune(
        tunings, photos, dcgan, write_scene, tmp_path):
    scene = write_scene(f"""
        output: {{fps: 5, size: 64, crf: 0}}
        defaults: {{hold: 0.4, transition: 0.4}}
        keyframes:
          - photo: {{path: {photos / 'me.png'}, {PHOTO}}}
          - photo: {{path: {photos / 'you.png'}, {PHOTO}}}
    """)
    before = len(tunings)
    frames = _render(scene, tmp_path / "a.mp4")
    assert tunings[before:] == [2]  # one generator tuned on both pivots
    again = _render(scene, tmp_path / "b.mp4")
    assert len(tunings) == before + 1 and np.array_equal(again, frames)  # a cache hit
    resolved = _resolve(scene, dcgan)
    for frame, pivot in zip((frames[0], frames[4]), resolved.state.pivots):
        crop = ((pivot.target.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
        assert _psnr(frame, crop) > _psnr(_image(dcgan, pivot.latent), crop) + 1


@pytest.fixture(scope="module")
def me_npz(tunings, photos, tmp_path_factory) -> Path:
    """`latentreel invert` with the photo keyframe's settings: a tuned latent file."""
    out = tmp_path_factory.mktemp("invert") / "me.npz"
    r = runner.invoke(app, ["invert", str(photos / "me.png"), "-o", str(out), "-q",
                            "--method", "optimize", "--steps", "10", "--space", "z"])
    assert r.exit_code == 0, r.output
    return out


def _file_scene(write_scene, latent: Path, size: int = 64) -> Path:
    return write_scene(f"output: {{fps: 5, size: {size}, crf: 0}}\n"
                       f"keyframes: [{{latent: {latent}, hold: 0.4}}]\n")


def _tuned_of(path: Path, dcgan):
    """(latent, crop, the file's own tuned generator) of a tuned latent file."""
    from latentreel.invert.delta import WeightDelta, apply_delta
    from latentreel.latentfile import load_latent

    lf = load_latent(path)
    return (torch.from_numpy(lf.latent), lf.arrays["target"],
            apply_delta(dcgan, WeightDelta.from_arrays(lf.arrays)))


def test_a_tuned_latent_file_alone_shows_the_tuned_face(me_npz, dcgan, write_scene, tmp_path):
    frames = _render(_file_scene(write_scene, me_npz), tmp_path / "me.mp4")
    latent, crop, tuned = _tuned_of(me_npz, dcgan)
    assert len(frames) == 2 and _psnr(frames[0], _image(tuned, latent)) > 35
    assert _psnr(frames[0], crop) > _psnr(_image(dcgan, latent), crop) + 2


def test_a_tuned_file_for_other_weights_is_refused(me_npz, write_scene, tmp_path):
    with np.load(me_npz) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["tune:fingerprint"] = np.array("0123456789abcdef")  # as if tuned on another model
    np.savez(tmp_path / "other.npz", **arrays)
    r = runner.invoke(app, ["render", str(_file_scene(write_scene, tmp_path / "other.npz")),
                            "-q", "-o", str(tmp_path / "x.mp4")])
    assert r.exit_code == 2, r.output
    assert "tuned for other model weights" in r.output and "other.npz" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "x.mp4").exists()


def test_upscaled_render_wraps_the_tuned_generator_and_keeps_smoothing(me_npz, dcgan,
                                                                        write_scene):
    from latentreel.render.pipeline import RenderOptions, plan_render
    from latentreel.scene import load_scene

    plan = plan_render(load_scene(_file_scene(write_scene, me_npz, size=256)),
                       RenderOptions(upscale="realesr-animevideov3", upscale_smooth=True,
                                     progress=False), generator=dcgan)
    latent, _, tuned = _tuned_of(me_npz, dcgan)
    assert plan.delta is not None and plan.source.smooth_radius > 0
    assert plan.source.generator is plan.generator
    np.testing.assert_array_equal(_image(plan.generator, latent), _image(tuned, latent))


def test_ray_worker_draws_with_the_shipped_tuning(me_npz, dcgan, tmp_path):
    """The actor class itself, without Ray: the delta arrives as arrays, is checked against
    the worker's own model, and the upscaled generator wraps the tuned one."""
    from latentreel.errors import LatentFileError
    from latentreel.invert.delta import WeightDelta
    from latentreel.latentfile import load_latent
    from latentreel.scene.model import Output
    from tests.test_upscale import dcgan_worker

    worker = dcgan_worker(tmp_path)
    delta = WeightDelta.from_arrays(load_latent(me_npz).arrays)
    latent, _, tuned = _tuned_of(me_npz, dcgan)
    output = Output(path=tmp_path / "x.mp4", size=64)
    drawn = worker._source(output, (delta.digest(), delta.to_arrays()))
    np.testing.assert_array_equal(_image(drawn.generator, latent), _image(tuned, latent))
    assert worker._source(output, None).generator is worker.generator
    sharp = Output(path=tmp_path / "x.mp4", size=256, upscale="realesr-animevideov3",
                   upscale_smooth=True)
    up = worker._source(sharp, (delta.digest(), delta.to_arrays()))
    assert up.upscaler is not None and up.smooth_radius > 0
    np.testing.assert_array_equal(_image(up.generator, latent), _image(tuned, latent))
    delta.fingerprint = "0123456789abcdef"
    with pytest.raises(LatentFileError, match="tuned for other model weights"):
        worker._source(output, (delta.digest(), delta.to_arrays()))


def test_play_shows_the_tuned_face(me_npz, dcgan, write_scene, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    shot = tmp_path / "shot.png"
    r = runner.invoke(app, ["play", str(_file_scene(write_scene, me_npz)), "--frames", "1",
                            "--screenshot", str(shot), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    shown = np.asarray(Image.open(shot).convert("RGB"))
    latent, _, tuned = _tuned_of(me_npz, dcgan)
    assert _psnr(shown, _image(tuned, latent)) > 40
    assert _psnr(shown, _image(dcgan, latent)) < 35


def test_analyze_measures_the_tuned_face(me_npz, dcgan, write_scene, tmp_path, monkeypatch):
    """FaceNet replaced by a recorder: what analyze embeds is what render draws."""
    import latentreel.faces.facenet as facenet
    from latentreel.analysis.identity import analyze_scene
    from latentreel.scene import load_scene

    seen = []

    class Recorder:
        def embed(self, images):
            seen.append(images.detach().clone())
            return torch.nn.functional.normalize(images.flatten(1)[:, :16] + 2, dim=1)

    monkeypatch.setattr(facenet, "load_facenet", lambda *a, **kw: Recorder())
    scene = write_scene(f"output: {{fps: 5, size: 64}}\n"
                        f"keyframes: [{{latent: {me_npz}, hold: 0.4}}, {{seed: 7}}]\n")
    analyze_scene(load_scene(scene), tmp_path / "analysis", device="cpu", progress=False)
    latent, _, tuned = _tuned_of(me_npz, dcgan)
    keyframe_images = seen[0]  # the first embedding: the keyframes
    with torch.no_grad():
        torch.testing.assert_close(keyframe_images[0], tuned.synthesize(latent[None])[0])
        assert not torch.allclose(keyframe_images[0], dcgan.synthesize(latent[None])[0],
                                  atol=1e-2)


def test_resume_never_splices_tuned_and_untuned_segments(me_npz, dcgan, write_scene, tmp_path):
    from dataclasses import replace

    from latentreel.render.prepared import prepare_scene
    from latentreel.render.segments import prepare_segments
    from latentreel.scene import load_scene

    scene = load_scene(write_scene(f"output: {{fps: 5, size: 64}}\n"
                                   f"keyframes: [{{latent: {me_npz}, hold: 2}}]\n"))
    tuned = prepare_scene(scene, generator=dcgan, progress=False)
    untuned = replace(tuned, generator=dcgan, delta=None)  # the same latents, the base model
    assert tuned.delta is not None

    def reopen(prepared):
        return prepare_segments(replace(prepared.output, path=tmp_path / "x.mp4"),
                                prepared.path.total_frames, prepared.fingerprint(),
                                segment_seconds=0.4, resume=True, progress=False)

    reopen(tuned).names[0].write_bytes(b"a finished segment")
    assert reopen(tuned).pending() == [1, 2, 3, 4]  # the same render continues
    assert reopen(untuned).pending() == [0, 1, 2, 3, 4]  # the untuned one starts afresh