"""Temporal stabilisation of learned detail: it steadies still texture, leaves moving content
alone, and gives the same frames however a render is cut into segments and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latentreel.models.registry import load_generator
from latentreel.render.pipeline import RenderOptions, render_scene
from latentreel.scene import load_scene
from latentreel.upscale.temporal import stabilise
from latentreel.video.writer import FrameWriter


def _stretch(base: torch.Tensor) -> torch.Tensor:
    return F.interpolate(base, scale_factor=4, mode="bicubic", align_corners=False)


def test_still_frames_get_steady_detail_and_holds_are_untouched():
    torch.manual_seed(0)
    base = (torch.rand(1, 3, 8, 8) * 2 - 1).repeat(9, 1, 1, 1)
    sr = _stretch(base) + 0.1 * torch.randn(9, 3, 32, 32)  # detail that changes every frame
    out = stabilise(base, sr, 0, 9)
    jitter = lambda x: (x[1:] - x[:-1]).abs().mean()  # noqa: E731
    assert jitter(out) < 0.6 * jitter(sr)  # measured 0.45
    held = sr[:1].repeat(5, 1, 1, 1)  # a hold: the same image, the same detail
    assert torch.allclose(stabilise(base[:5], held, 0, 5), held, atol=1e-5)


def test_moving_content_does_not_ghost():
    torch.manual_seed(0)
    base = torch.rand(6, 3, 8, 8) * 2 - 1  # every frame a different picture
    sr = _stretch(base) + 0.2 * torch.randn(6, 3, 32, 32)
    out = stabilise(base, sr, 0, 6)
    # Only pixels whose picture happens to match a neighbour's borrow its detail.
    assert (out - sr).abs().mean() < 0.15 * (sr - _stretch(base)).abs().mean()  # measured 0.11


def test_a_window_with_context_gives_the_frames_of_the_whole_sequence():
    torch.manual_seed(1)
    base = (torch.rand(1, 3, 8, 8) * 2 - 1) + 0.01 * torch.randn(12, 3, 8, 8)
    sr = _stretch(base) + 0.1 * torch.randn(12, 3, 32, 32)
    whole = stabilise(base, sr, 0, 12)
    part = stabilise(base[3:11], sr[3:11], 2, 6)  # frames 5..8 with two of context each side
    assert torch.equal(part, whole[5:9])


@pytest.fixture
def captured(monkeypatch):
    """Every frame batch a render hands its encoders, in order."""
    frames: list[np.ndarray] = []
    write = FrameWriter.write

    def record(self, batch):
        frames.append(np.array(batch))
        return write(self, batch)

    monkeypatch.setattr(FrameWriter, "write", record)
    return frames


@pytest.fixture
def one_thread():
    """Tiny frames: two threads on a busy machine mostly wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("loop", [False, True], ids=["ends-clipped", "loop-wraps"])
def test_segmented_render_equals_one_file_with_smoothing(write_scene, tmp_path, captured,
                                                         one_thread, loop):
    scene = load_scene(write_scene(f"""
        loop: {str(loop).lower()}
        output: {{path: {tmp_path / 'a.mp4'}, fps: 8, size: 128,
                  upscale: realesr-animevideov3, preset: ultrafast}}
        keyframes: [{{seed: 1, hold: 0.25, transition: 1}},
                    {{seed: 2, hold: 0.25, transition: 0.5}}]
    """))
    g = load_generator("dcgan-digiface", torch.device("cpu"))  # loaded once for three renders

    def frames(**kw) -> np.ndarray:
        captured.clear()
        render_scene(scene, RenderOptions(progress=False, **kw), generator=g)
        return np.concatenate(captured)

    whole = frames(batch_size=16)
    # Segments of 5 frames in batches of 3: every window edge falls somewhere new.
    cut = frames(batch_size=3, segment_seconds=5 / 8, out=tmp_path / "b.mp4")
    rough = frames(batch_size=16, upscale_smooth=False, out=tmp_path / "c.mp4")
    assert whole.shape == cut.shape == rough.shape == (len(whole), 128, 128, 3)
    assert np.array_equal(whole, cut)
    assert not np.array_equal(whole, rough)  # the smoothing did something


def test_smoothing_keeps_a_stylegan3_camera_per_frame(tmp_path, captured, one_thread):
    """The smoothed path synthesizes with each frame's camera, as the plain one does."""
    from tests.stylegan3_nets import write_tiny_stylegan3

    write_tiny_stylegan3(tmp_path / "tiny3.pkl")
    g = load_generator(str(tmp_path / "tiny3.pkl"))
    scene_file = tmp_path / "spin.yaml"
    scene_file.write_text(f"model: tiny3.pkl\nloop: true\ndefaults: {{hold: 0, transition: 1}}\n"
                          f"output: {{fps: 5, size: {2 * g.resolution}, "
                          "upscale: realesr-animevideov3, preset: ultrafast}\n"
                          "keyframes: [{seed: 1}, {seed: 1, camera: {angle: 90}}]\n")
    scene = load_scene(scene_file)

    def frames(**kw) -> np.ndarray:
        captured.clear()
        render_scene(scene, RenderOptions(progress=False, **kw), generator=g)
        return np.concatenate(captured)

    smooth, rough = frames(batch_size=3), frames(upscale_smooth=False, out=tmp_path / "r.mp4")
    assert np.abs(smooth.astype(int) - rough).mean() < 1  # the same pictures (measured 0.27)
    # One seed throughout: only the camera moves the picture, and without it nothing would.
    assert np.abs(smooth[1:].astype(int) - smooth[:-1]).max() > 3  # measured 7 (a random net)
