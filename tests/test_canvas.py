"""Frames of any shape (issue #22): `output.size: [W, H]`, `fit: pad | crop | extend | grid`.

Frames are compared as the prepared scene draws them (uint8, before the encoder's resize), so
"the same picture" can be checked to the bit.
"""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import SceneError
from latentreel.models.stylegan2.backend import StyleGAN2Generator
from latentreel.models.stylegan2.network import Generator, StyleGAN2Config
from latentreel.render.prepared import prepare_scene
from latentreel.scene import load_scene

runner = CliRunner()

WALK = """
output: {{fps: 4, {output}}}
keyframes:
  - {{seed: 3, hold: 0, transition: 1}}
  - {{seed: 8, hold: 0}}
"""


def frames(path, generator) -> torch.Tensor:
    """Every frame [N, H, W, 3] uint8 of the scene at ``path``, as drawn (no encoder)."""
    prepared = prepare_scene(load_scene(path), generator=generator, progress=False)
    return torch.cat(list(prepared.batches()))


def scene(write_scene, output: str, name: str = "scene.yaml"):
    return write_scene(WALK.format(output=output), name)


@pytest.fixture(scope="module")
def sg3():
    """A tiny random StyleGAN3 (16 px): its input grid grows a sample each side per step."""
    from latentreel.models.stylegan3.backend import StyleGAN3Generator
    from latentreel.models.stylegan3.network import Generator as Generator3
    from tests.stylegan3_nets import TINY_T

    torch.manual_seed(0)
    return StyleGAN3Generator(Generator3(TINY_T), "cpu")


# --- sizes and their validation ---------------------------------------------------------------

@pytest.mark.parametrize("size", ["[96, 64]", "96x64", "'96 x 64'"])
def test_a_size_is_width_by_height_in_any_spelling(write_scene, size):
    out = load_scene(scene(write_scene, f"size: {size}")).output
    assert out.frame == (96, 64) and out.size == 64


def test_one_number_still_means_a_square(write_scene):
    out = load_scene(scene(write_scene, "size: 96")).output
    assert out.frame == (96, 96) and out.width is None and out.square


BAD = [
    ("odd", "size: 321x180", "1:", "odd side", "322x180"),
    ("range", "size: [8, 64]", "1:", "out of range", "[16, 4096]"),
    ("spelling", "size: 96by64", "1:", "[width, height]", "WIDTHxHEIGHT"),
    ("grid-too-big", "size: 320x180, fit: grid, grid: {cols: 40, rows: 2}", "1:",
     "8x90 px", "fewer cells"),
    ("grid-without-fit", "size: 320x180, grid: {cols: 2, rows: 2}", "1:", "fit: grid",
     "add `fit: grid`"),
    ("fit-grid-without-grid", "size: 320x180, fit: grid", "1:", "needs `grid:", "cols, rows"),
    ("colour", "size: 320x180, background: reddish", "1:", "not a colour", "#rrggbb"),
    ("background-not-pad", "size: 320x180, fit: crop, background: blur", "1:", "only fit pad",
     "remove `background:`"),
    ("unknown-fit", "size: 320x180, fit: stretch", "1:", "pad, crop, extend, grid", ""),
]


@pytest.mark.parametrize("output,line,problem,fix", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_outputs_are_located(write_scene, output, line, problem, fix):
    path = scene(write_scene, output)
    with pytest.raises(SceneError) as e:
        load_scene(path)
    text = str(e.value)
    assert f"{path}:{line}" in text and problem in text and fix in text, text


def test_every_output_problem_is_reported_at_once_with_exit_2(write_scene):
    path = scene(write_scene, "size: 97x64, background: nope")
    r = runner.invoke(app, ["render", str(path), "-q"])
    assert r.exit_code == 2
    assert "odd side" in r.output and "not a colour" in r.output
    assert "Traceback" not in r.output


def test_extend_on_a_backend_that_cannot_is_located(write_scene, dcgan):
    class Flat(type(dcgan)):
        extend_step = None  # a backend without the capability

    flat = Flat(dcgan.net, dcgan.device)
    path = scene(write_scene, "size: 96x64, fit: extend")
    with pytest.raises(SceneError) as e:
        prepare_scene(load_scene(path), generator=flat, progress=False)
    assert f"{path}:1:" in str(e.value) and "cannot paint a wider canvas" in str(e.value)


# --- what each fit draws ----------------------------------------------------------------------

def test_pad_frames_hold_the_square_render_in_the_picture_area(write_scene, dcgan):
    square = frames(scene(write_scene, "size: 64", "a.yaml"), dcgan)
    wide = frames(scene(write_scene, "size: [112, 64], background: '#102030'", "b.yaml"),
                  dcgan)
    assert wide.shape == (len(square), 64, 112, 3)
    assert torch.equal(wide[:, :, 24:88], square)
    assert (wide[:, :, :24] == torch.tensor([16, 32, 48], dtype=torch.uint8)).all()
    tall = frames(scene(write_scene, "size: [64, 112], background: blur", "c.yaml"), dcgan)
    assert torch.equal(tall[:, 24:88], square)
    assert tall[:, :24].float().std() > 1  # a blurred fill, not one colour


def test_crop_frames_are_the_middle_of_the_square_render(write_scene, dcgan):
    square = frames(scene(write_scene, "size: 64", "a.yaml"), dcgan)
    wide = frames(scene(write_scene, "size: [64, 36], fit: crop", "b.yaml"), dcgan)
    assert torch.equal(wide, square[:, 14:50])


def test_grid_cells_walk_seed_stepped_scenes_in_one_batch(write_scene, dcgan):
    grid = frames(scene(write_scene, "size: 128, fit: grid, grid: {cols: 2, rows: 2, "
                                     "seed_step: 5}", "g.yaml"), dcgan)
    assert grid.shape[1:] == (128, 128, 3)
    first = frames(scene(write_scene, "size: 64", "a.yaml"), dcgan)
    assert torch.equal(grid[:, :64, :64], first)
    moved = write_scene(WALK.format(output="size: 64").replace("seed: 3", "seed: 18")
                        .replace("seed: 8", "seed: 23"), "m.yaml")  # cell 3: seeds + 3 * 5
    assert torch.equal(grid[:, 64:, 64:], frames(moved, dcgan))


def _centre_error(wide: torch.Tensor, square: torch.Tensor) -> float:
    """Mean |difference| (in 0-255 levels) between the square render and the extended
    render's columns over the square's place, over the middle half of the picture."""
    r = square.shape[2]
    left = (wide.shape[2] - r) // 2
    q = r // 4
    return (wide[:, q:-q, left + q:left + r - q].float()
            - square[:, q:-q, q:-q].float()).abs().mean().item()


@pytest.mark.parametrize("backend", ["dcgan", "sg2", "sg3"])
def test_extend_paints_a_wider_frame_whose_middle_is_the_square_render(
        write_scene, dcgan, sg2, sg3, backend, capsys):
    g = {"dcgan": dcgan, "sg2": sg2, "sg3": sg3}[backend]
    r = g.resolution
    square = frames(scene(write_scene, f"size: {r}", "a.yaml"), g)
    wide = frames(scene(write_scene, f"size: [{r * 16 // 9 // 2 * 2}, {r}], fit: extend",
                        "b.yaml"), g)
    assert wide.shape[1:] == (r, r * 16 // 9 // 2 * 2, 3)
    error = _centre_error(wide, square)
    unrelated = (square.float() - square.flip(0).float()).abs().mean().item()
    with capsys.disabled():
        print(f"\n  extend {backend}: centre differs from the square render by {error:.1f} "
              f"levels on average (two different faces: {unrelated:.1f})")
    assert error < unrelated / 2


def test_stylegan2_margin_keeps_the_middle_of_its_constant(sg2):
    """The widened constant holds the original 4x4 in its middle, so the layers that see
    only the constant's middle columns agree exactly with the square network."""
    block = sg2.net.synthesis.b4
    seen = []

    def keep(module, args, out):
        seen.append(out[0])  # x, the block's features (returns None: output unchanged)

    hook = block.register_forward_hook(keep)
    z = torch.randn(2, 16)
    with torch.inference_mode():
        sg2.synthesize(z, "z")
        sg2.synthesize(z, "z", margin=(0, 2))
    hook.remove()
    square, wide = seen
    assert wide.shape[-1] == 8 and wide.shape[-2] == 4
    # conv1 is 3x3: columns 1-2 of the square see only the constant; they match.
    assert torch.allclose(wide[..., 3:5], square[..., 1:3], atol=1e-5)


def test_every_fit_is_in_the_resume_fingerprint(write_scene, dcgan):
    prints = set()
    for i, out in enumerate(["size: [96, 64]", "size: [96, 64], fit: crop",
                             "size: [96, 64], fit: extend", "size: [96, 64], background: blur",
                             "size: [96, 64], fit: grid, grid: {cols: 2, rows: 1}"]):
        path = scene(write_scene, out, f"s{i}.yaml")
        prints.add(prepare_scene(load_scene(path), generator=dcgan,
                                 progress=False).fingerprint())
    assert len(prints) == 5


def test_a_wide_render_writes_a_wide_video(write_scene, tmp_path):
    from latentreel.video.probe import read_frames

    out = tmp_path / "wide.mp4"
    path = scene(write_scene, "size: 96x54, fit: extend")
    r = runner.invoke(app, ["render", str(path), "-q", "-o", str(out)])
    assert r.exit_code == 0, r.output
    video = read_frames(out)
    assert video.shape == (4, 54, 96, 3)


def test_segments_and_preview_keep_the_frame_shape(write_scene, tmp_path):
    from latentreel.video.probe import read_frames

    path = scene(write_scene, "size: 96x54, fit: grid, grid: {cols: 2, rows: 1}")
    out = tmp_path / "seg.mp4"
    r = runner.invoke(app, ["render", str(path), "-q", "-o", str(out), "--segment-seconds",
                            "0.5"])
    assert r.exit_code == 0, r.output
    assert read_frames(out).shape == (4, 54, 96, 3)
    r = runner.invoke(app, ["render", str(path), "-q", "-o", str(tmp_path / "p.mp4"),
                            "--preview"])
    assert r.exit_code == 0, r.output
    preview = read_frames(next(tmp_path.glob("p*.mp4")))
    assert preview.shape[1:] == (128, 228, 3)  # 16:9 kept at the preview's height


def test_stylegan2_trims_what_the_frame_cuts_and_keeps_the_middle_exact():
    """`keep`: the highest resolutions draw only the kept middle (plus the receptive field),
    and that middle is what the untrimmed network draws."""
    torch.manual_seed(1)
    cfg = StyleGAN2Config(img_resolution=256, z_dim=8, w_dim=8, mapping_layers=1,
                          channel_base=256, channel_max=8)
    g = StyleGAN2Generator(Generator(cfg), "cpu")
    z, keep = torch.randn(2, 8), (256, 456)  # 16:9 at 256 px
    with torch.inference_mode():
        whole = g.synthesize(z, "z", margin=(0, 2))
        trimmed = g.synthesize(z, "z", margin=(0, 2), keep=keep)
    assert whole.shape[-1] == 512 and keep[1] <= trimmed.shape[-1] < 512

    def middle(x):
        left = (x.shape[-1] - keep[1]) // 2
        return x[..., left:left + keep[1]]
    assert torch.equal(middle(trimmed), middle(whole))
