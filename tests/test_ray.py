"""Renders on Ray: the same frames as a plain render, lost workers and drivers, bounded errors.

Ray is slow to start on a small machine, so the tests that need a cluster share one (module
scope, two CPUs, shut down at the end) and use a tiny scene: 36 frames of 64 px in four
segments, lossless (crf 0), so decoded frames must equal the plain render's exactly.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.video.probe import read_frames

ROOT = Path(__file__).resolve().parents[1]
SCENE = """
output: {fps: 10, size: 64, crf: 0}
defaults: {hold: 0.2, transition: 1.0}
loop: true
keyframes: [{seed: 1}, {seed: 2}, {seed: 3}]
"""
SEGMENTS = ["--segment-seconds", "1", "--batch-size", "2"]  # 4 segments of 5 batches
# Test harness for the cluster's worker processes only: each batch takes 0.1 s longer to
# encode, so a test can act while a segment is half done.
SLOW_WORKERS = """
import sys
if any(a.endswith("default_worker.py") for a in sys.argv):
    import time
    from latentreel.video import writer
    _write = writer.FrameWriter.write
    def _slow_write(self, frames):
        time.sleep(0.1)
        return _write(self, frames)
    writer.FrameWriter.write = _slow_write
"""
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_processes() -> set[int]:
    """PIDs of Ray's own servers and workers on this machine."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in out.splitlines()
            if any(k in line for k in ("raylet", "gcs_server", "ray::"))}


@pytest.fixture(scope="module", autouse=True)
def _ray_env():
    """One token for every Ray process of this module; nothing written to ~/.ray."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield


@pytest.fixture(scope="module")
def cluster():
    """host:port of a two-CPU Ray head started for this module; stopped, every process, after."""
    pytest.importorskip("ray")
    harness = Path(tempfile.mkdtemp(prefix="lr-ray-"))  # short: Ray's socket paths are limited
    (harness / "sitecustomize.py").write_text(SLOW_WORKERS)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(harness), str(ROOT)])}
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
         "--port", str(port), "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard",
         "false", "--disable-usage-stats", "--temp-dir", str(harness / "t")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _accepts(port):
            assert head.poll() is None, "ray start --head failed"
            assert time.monotonic() < deadline, "the Ray head did not start in 120 s"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_group(head)
        shutil.rmtree(harness, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _stop_group(head: subprocess.Popen) -> None:
    """SIGTERM lets `ray start --block` stop its servers; SIGKILL whatever is left of them."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(grace)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> np.ndarray:
    """Decoded frames of the scene rendered without Ray (one encode, lossless)."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "scene.yaml").write_text(SCENE.lstrip())
    r = runner.invoke(app, ["render", str(folder / "scene.yaml"), "-q", "-o",
                            str(folder / "plain.mp4")])
    assert r.exit_code == 0, r.output
    return read_frames(folder / "plain.mp4")


# ---------------------------------------------------------------- errors, no cluster needed

def test_without_ray_says_how_to_install(write_scene, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    r = runner.invoke(app, ["render", str(write_scene(SCENE)), "--ray", "local"])
    assert r.exit_code == 2
    assert "pip install 'latentreel[ray]'" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("address, message", [
    ("nonsense", "not a Ray address"),
    ("ray://", "not a Ray address"),
    ("10.0.0.1:99999", "not a Ray address"),
    (f"127.0.0.1:{_free_port()}", "cannot reach 127.0.0.1"),
    ("auto", "--ray auto:"),
], ids=["no-port", "empty-client", "port-range", "refused", "auto-without-cluster"])
def test_bad_addresses_are_one_line(write_scene, address, message):
    pytest.importorskip("ray")
    t0 = time.monotonic()
    r = runner.invoke(app, ["render", str(write_scene(SCENE)), "-q", "--ray", address,
                            "--ray-timeout", "5"])
    assert r.exit_code == 2, r.output
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 30


def test_a_port_that_is_not_ray_fails_within_the_timeout(write_scene):
    """Ray retries a silent port for minutes; the render gives up after --ray-timeout."""
    pytest.importorskip("ray")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        stop = threading.Event()
        threading.Thread(target=lambda: [server.accept() for _ in iter(stop.is_set, True)],
                         daemon=True).start()
        port = server.getsockname()[1]
        # A child process: the abandoned connection attempt must not keep it alive either.
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "latentreel", "render",
                               str(write_scene(SCENE)), "-q", "--ray", f"127.0.0.1:{port}",
                               "--ray-timeout", "4"], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        stop.set()
    assert proc.returncode == 2, proc.stderr
    assert "no Ray cluster answered within 4 s" in proc.stderr
    assert time.monotonic() - t0 < 60


def test_workers_only_with_ray(write_scene):
    r = runner.invoke(app, ["render", str(write_scene(SCENE)), "--workers", "2"])
    assert r.exit_code == 2 and "only with --ray" in r.output


def test_a_worker_loads_a_shipped_model_file_without_the_drivers_path(tmp_path):
    """The actor class itself, without Ray: a model file arrives as bytes, not as a path."""
    import torch

    from latentreel.distributed.worker import SegmentWorker, WorkerSpec
    from tests.test_stylegan2_rosinality import as_rosinality, random_net

    net = random_net()
    model = tmp_path / "tiny.pt"
    torch.save({"g_ema": as_rosinality(net), "latent_avg": net.mapping.w_avg.clone()}, model)
    spec = WorkerSpec(model="tiny.pt", base=str(tmp_path / "not-on-this-worker"), device="cpu",
                      precision="fp32", batch_size=4, count=1, num_gpus=0, num_cpus=1)
    threads = torch.get_num_threads()
    try:
        message, code = SegmentWorker(spec).ready()["error"]
        assert code == 2 and "does not exist" in message
        worker = SegmentWorker(spec, model.read_bytes())
    finally:
        torch.set_num_threads(threads)
    assert worker.ready()["error"] is None and worker.generator.name == "tiny"


# ---------------------------------------------------------------- rendering

def test_local_instance_renders_and_shuts_down(write_scene, tmp_path, plain):
    pytest.importorskip("ray")
    before = _ray_processes()
    out = tmp_path / "local.mp4"
    r = runner.invoke(app, ["render", str(write_scene(SCENE)), "-q", "-o", str(out),
                            "--ray", "local", "--workers", "1", *SEGMENTS])
    assert r.exit_code == 0, r.output
    assert "36 frames" in r.output and "1 Ray worker, 0 segments retried" in r.output
    assert np.array_equal(read_frames(out), plain)
    deadline = time.monotonic() + 20
    while _ray_processes() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_processes() - before, "the private Ray instance outlived the render"


def test_too_many_workers_is_one_line(write_scene, cluster):
    r = runner.invoke(app, ["render", str(write_scene(SCENE)), "-q", "--ray", cluster,
                            "--workers", "3"])
    assert r.exit_code == 2, r.output
    assert "--workers 3 needs 3 CPUs, the cluster has 2" in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("cpus, gpus, workers, device, expect", [
    (8, 0, None, "auto", (1, 0, 8)),  # CPU cluster: one worker with every CPU
    (8, 0, 3, "cpu", (3, 0, 2)),
    (16, 4, None, "auto", (4, 1, 1)),  # one worker per GPU
    (16, 4, 2, "cpu", (2, 0, 8)),  # --device cpu leaves the GPUs alone
    (16, 4, 5, "auto", "--workers 5 needs 5 GPUs, the cluster has 4"),
    (8, 0, 1, "cuda", "the cluster has no GPUs for --device cuda"),
], ids=["cpu-default", "cpu-split", "gpu-default", "gpu-cluster-cpu-device", "too-few-gpus",
        "cuda-without-gpus"])
def test_worker_placement(cpus, gpus, workers, device, expect):
    from latentreel.distributed.cluster import Cluster, RayOptions
    from latentreel.distributed.worker import plan_workers
    from latentreel.errors import BadInputError

    cluster = Cluster(address="head:6379", cpus=cpus, gpus=gpus, largest_node_cpus=8)
    plan = lambda: plan_workers(cluster, RayOptions("head:6379", workers), model="m",  # noqa: E731
                                base=Path("."), device=device, precision="fp32",
                                batch_size=None)
    if isinstance(expect, str):
        with pytest.raises(BadInputError, match=expect):
            plan()
    else:
        spec = plan()
        assert (spec.count, spec.num_gpus, spec.num_cpus) == expect


def test_a_killed_worker_costs_only_its_segment(write_scene, tmp_path, cluster, plain):
    from latentreel.distributed.cluster import RayOptions
    from latentreel.distributed.runner import render_scene_ray
    from latentreel.render.pipeline import RenderOptions
    from latentreel.scene import load_scene

    killed = []

    def kill_once(event, **info):
        if event == "progress" and not killed:  # the first batch of a segment is done
            os.kill(info["pid"], signal.SIGKILL)
            killed.append(info["segment"])

    out = tmp_path / "killed.mp4"
    result = render_scene_ray(
        load_scene(write_scene(SCENE)),
        RenderOptions(out=out, progress=False, segment_seconds=1, batch_size=2),
        RayOptions(address=cluster, workers=2), on_event=kill_once)
    assert killed and result.retried == 1 and result.workers == 2
    assert np.array_equal(read_frames(out), plain)  # the re-run segment is the same


# The real CLI as a driver that the test kills outright once two segments are in.
def test_resume_after_the_driver_dies(write_scene, tmp_path, cluster, plain):
    from latentreel.distributed.cluster import RayOptions
    from latentreel.distributed.runner import render_scene_ray
    from latentreel.render.pipeline import RenderOptions
    from latentreel.scene import load_scene

    scene, out = write_scene(SCENE), tmp_path / "driver.mp4"
    work = tmp_path / "driver.mp4.segments"
    driver = subprocess.Popen(
        [sys.executable, "-m", "latentreel", "render", str(scene), "-q", "-o", str(out),
         "--ray", cluster, "--workers", "1", *SEGMENTS],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not (work / "segment_00001.mp4").exists():
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no segment appeared in time"
        time.sleep(0.02)
    driver.kill()
    driver.wait()
    done = sorted(p.name for p in work.glob("segment_*.mp4"))
    assert not out.exists() and 2 <= len(done) < 4

    result = render_scene_ray(load_scene(scene),
                              RenderOptions(out=out, progress=False, resume=True, batch_size=2),
                              RayOptions(address=cluster, workers=1))
    assert result.rendered == 36 - 10 * len(done)  # finished segments are not rendered again
    assert np.array_equal(read_frames(out), plain)
    assert not work.exists()


def test_a_scene_with_a_photo_renders_the_tuned_generator_on_workers(tmp_path, cluster):
    """The driver tunes once; workers add the shipped weight delta to their own model."""
    from PIL import Image
    from skimage import data

    from tests.test_tuned_scenes import SCENE, PHOTO, cheap_photos

    Image.fromarray(data.astronaut()).save(tmp_path / "me.png")
    scene = tmp_path / "photo.yaml"
    scene.write_text(SCENE.format(photo=tmp_path / "me.png", settings=PHOTO, tune="true"))
    with cheap_photos():
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "plain.mp4")])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(tmp_path / "ray.mp4"),
                                "--ray", cluster, "--workers", "1", "--segment-seconds", "0.4",
                                "--batch-size", "2"])
        assert r.exit_code == 0, r.output
    assert np.array_equal(read_frames(tmp_path / "ray.mp4"), read_frames(tmp_path / "plain.mp4"))


def test_a_bent_scene_draws_the_same_frames_on_workers(write_scene, tmp_path, cluster):
    """Workers hook their own model's layers with the shipped bend slots and track (eased
    keyframe bends and a click track's bend reaction): the same bent frames as a one-file
    render (and as a local segmented one)."""
    from tests.music_tracks import click_track

    click_track(tmp_path / "clicks.wav", [0.52, 1.27, 2.13], 3.6)
    bent = SCENE.replace("{seed: 2}", "{seed: 2, bend: [{layer: conv2, op: rotate, angle: 60}]}")
    scene = write_scene(bent + f"audio: {{path: {tmp_path / 'clicks.wav'}, length: keyframes}}\n"
                        "react: [{feature: onsets, drive: bend, layer: conv3, op: zoom, "
                        "amount: 1, release: 0}]\n")
    videos = {}
    for name, extra in (("plain", []), ("segments", SEGMENTS),
                        ("ray", ["--ray", cluster, "--workers", "1", *SEGMENTS])):
        videos[name] = tmp_path / f"{name}.mp4"
        r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(videos[name]), *extra])
        assert r.exit_code == 0, r.output
    frames = {name: read_frames(path) for name, path in videos.items()}
    assert np.array_equal(frames["segments"], frames["plain"])
    assert np.array_equal(frames["ray"], frames["plain"])
    unbent = tmp_path / "unbent.mp4"
    assert runner.invoke(app, ["render", str(write_scene(SCENE, "u.yaml")), "-q", "-o",
                               str(unbent)]).exit_code == 0
    assert not np.array_equal(frames["ray"], read_frames(unbent))  # the bend was drawn
