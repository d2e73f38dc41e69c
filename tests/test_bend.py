"""Network bending (issue #22): each op moves what it should, zero bends are exact, bends
ease between keyframes, and bad bends are refused where the scene names them."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import SceneError
from latentreel.models.bend import Bender, BendSlot, apply_bend
from latentreel.render.prepared import prepare_scene
from latentreel.scene import load_scene

runner = CliRunner()


def frames(path, generator) -> torch.Tensor:
    prepared = prepare_scene(load_scene(path), generator=generator, progress=False)
    return torch.cat(list(prepared.batches()))


# --- the ops ----------------------------------------------------------------------------------

@pytest.mark.parametrize("r,k", [(8, 1), (16, 3), (32, 5)])
def test_translate_by_k_pixels_at_resolution_r_shifts_the_map_by_k(r, k):
    x = torch.randn(2, 4, r, r)
    moved = apply_bend(x, BendSlot("any", "translate"), torch.tensor([[k / r, 0.0]] * 2))
    assert torch.allclose(moved[..., k:], x[..., :-k], atol=1e-5)
    assert moved[..., :k].abs().max() == 0  # what comes in from outside is empty
    down = apply_bend(x, BendSlot("any", "translate"), torch.tensor([[0.0, k / r]] * 2))
    assert torch.allclose(down[..., k:, :], x[..., :-k, :], atol=1e-5)


def test_translate_at_a_stylegan2_layer_shifts_that_layers_features(sg2):
    """Through the hooks, inside the network: b16.conv1's output moves by 2 px of 16."""
    layer = sg2.bend_layers()["b16.conv1"]
    bender = Bender(sg2.bend_layers(), (BendSlot("b16.conv1", "translate"),))
    seen = []
    capture = layer.register_forward_hook(lambda m, a, out: seen.append(out.clone()))
    z = torch.randn(2, 16)
    try:
        with torch.inference_mode():
            sg2.synthesize(z, "z")
            with bender.bending(torch.tensor([[2 / 16, 0.0]] * 2)):
                sg2.synthesize(z, "z")
    finally:
        capture.remove()
        bender.remove()
    plain, bent = seen
    assert torch.allclose(bent[..., 2:], plain[..., :-2], atol=1e-4)


def test_rotate_a_quarter_turn_is_rot90_and_zoom_one_is_nothing():
    x = torch.randn(1, 3, 8, 8)
    turned = apply_bend(x, BendSlot("any", "rotate"), torch.tensor([[90.0]]))
    assert torch.allclose(turned, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5)
    assert torch.allclose(apply_bend(x, BendSlot("any", "zoom"), torch.tensor([[1.0]])), x,
                          atol=1e-6)
    zoomed = apply_bend(x, BendSlot("any", "zoom"), torch.tensor([[2.0]]))
    # twice as large: the middle 4x4 fills the map, each pixel over 2x2
    assert zoomed[..., 3:5, 3:5].std() < x.std()


def test_scale_and_drop_pick_seeded_channels_and_drop_grows():
    x = torch.ones(3, 10, 4, 4)
    gains = apply_bend(x, BendSlot("any", "scale", channels=0.3), torch.tensor([[2.0]] * 3))
    assert (gains[0, :, 0, 0] == 2).sum() == 3 and (gains[0, :, 0, 0] == 1).sum() == 7
    rows = torch.tensor([[0.2], [0.5], [1.0]])
    dropped = apply_bend(x, BendSlot("any", "drop", seed=4), rows)[:, :, 0, 0]
    assert dropped.eq(0).sum(1).tolist() == [2, 5, 10]
    # a larger fraction drops the same channels and more
    assert (dropped[1] <= dropped[0]).all()
    again = apply_bend(x, BendSlot("any", "drop", seed=4), rows)[:, :, 0, 0]
    other = apply_bend(x, BendSlot("any", "drop", seed=5), rows)[:, :, 0, 0]
    assert torch.equal(again, dropped) and not torch.equal(other, dropped)


# --- bends in scenes --------------------------------------------------------------------------

BENT = """
output: {{fps: 4, size: 64}}
defaults: {{bend: [{default}]}}
keyframes:
  - {{seed: 3, hold: 0.5, transition: 1}}
  - {{seed: 8, hold: 0.5, transition: 1, bend: [{own}]}}
  - {{seed: 9, hold: 0.5}}
"""
PLAIN = BENT.replace("defaults: {{bend: [{default}]}}\n", "").replace(", bend: [{own}]", "")


def test_zero_bends_draw_exactly_the_unbent_frames(write_scene, dcgan):
    plain = frames(write_scene(PLAIN.format(), "a.yaml"), dcgan)
    zero = BENT.format(default="{layer: conv2, op: rotate, angle: 0}",
                       own="{layer: conv3, op: translate, x: 0, y: 0}, "
                           "{layer: conv1, op: drop, fraction: 0}, "
                           "{layer: conv2, op: zoom, factor: 1}")
    assert torch.equal(frames(write_scene(zero, "b.yaml"), dcgan), plain)


def test_a_bend_eases_in_and_out_and_unbent_holds_stay_exact(write_scene, dcgan):
    plain = frames(write_scene(PLAIN.format(), "a.yaml"), dcgan)
    bent = frames(write_scene(BENT.format(default="{layer: conv2, op: rotate, angle: 0}",
                                          own="{layer: conv2, op: rotate, angle: 90}"),
                              "b.yaml"), dcgan)
    assert len(bent) == len(plain) == 2 + 4 + 2 + 4 + 2
    assert torch.equal(bent[:2], plain[:2])  # first hold: no bend
    assert torch.equal(bent[-2:], plain[-2:])  # last hold: eased back to none
    assert not torch.equal(bent[6:8], plain[6:8])  # second hold: turned
    change = [(bent[i].float() - plain[i].float()).abs().mean().item() for i in range(2, 6)]
    assert change[0] == 0 and min(change[1:]) > 0  # the transition starts unbent, then turns


def test_the_bend_track_follows_the_transition_easing(write_scene, dcgan):
    path = write_scene(BENT.format(default="{layer: conv2, op: rotate, angle: 0}",
                                   own="{layer: conv2, op: rotate, angle: 90}"))
    prepared = prepare_scene(load_scene(path), generator=dcgan, progress=False)
    track = prepared.tracks["bend"][:, 0]
    assert track[:2].tolist() == [0, 0] and track[6:8].tolist() == [90, 90]
    assert 0 < track[3] < 45 < track[5] < 90  # ease-in-out: slow start, faster middle
    other = write_scene(BENT.format(default="{layer: conv2, op: rotate, angle: 0}",
                                    own="{layer: conv2, op: rotate, angle: 80}"), "c.yaml")
    assert prepare_scene(load_scene(other), generator=dcgan,
                         progress=False).fingerprint() != prepared.fingerprint()


BAD = [
    ("unknown-layer", "{layer: conv9, op: rotate, angle: 10}", "no layer 'conv9'", "did you mean"),
    ("unknown-op", "{layer: conv2, op: twist}", "expected one of translate", ""),
    ("wrong-number", "{layer: conv2, op: zoom, angle: 10}", "op zoom takes factor, not angle",
     "remove it"),
    ("missing-layer", "{op: zoom, factor: 2}", "missing required key 'layer'", ""),
]


@pytest.mark.parametrize("own,problem,hint", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_bends_are_located(write_scene, dcgan, own, problem, hint):
    path = write_scene(BENT.format(default="{layer: conv2, op: rotate}", own=own))
    with pytest.raises(SceneError) as e:
        prepare_scene(load_scene(path), generator=dcgan, progress=False)
    text = str(e.value)
    assert f"{path}:5:" in text and problem in text and hint in text, text


def test_models_layers_lists_what_bend_names(dcgan):
    r = runner.invoke(app, ["models", "--layers", "dcgan-digiface"])
    assert r.exit_code == 0, r.output
    assert "conv2            256 x 8 x 8" in r.output


def test_sheet_bend_draws_a_sweep_and_refuses_a_bad_layer(tmp_path):
    out = tmp_path / "bend.png"
    r = runner.invoke(app, ["sheet", "--bend", "conv2:rotate", "--seeds", "1-2", "-o",
                            str(out), "--cell", "48"])
    assert r.exit_code == 0 and out.is_file(), r.output
    r = runner.invoke(app, ["sheet", "--bend", "conv7:rotate", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "no layer 'conv7'" in r.output
