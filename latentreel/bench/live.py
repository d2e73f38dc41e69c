"""`latentreel bench live`: how fast a control shows, how even the frames are, and a soak.

Latency is measured end to end over real OSC on loopback: from the moment the OSC thread
has a message (Control.received) to the moment the first frame drawn with it is shown.
Jitter is the spread of the intervals between frames shown. The soak plays headless under
a control storm and compares the process's memory, threads and open files at its start and
end (a performance runs for weeks; none of the three may grow).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from latentreel.live.session import Hooks, LiveOptions, perform
from latentreel.scene import load_scene

SCENE = """\
model: {model}
output: {{fps: {fps}, size: 64}}
defaults: {{hold: 0.5, transition: 1.5}}
loop: true
keyframes: [{{seed: 1, name: a}}, {{seed: 2, name: b}}, {{seed: 3}}]
"""


def uptime() -> str:
    """`uptime`'s line (the load average goes beside every figure)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _scene(tmp: Path, model: str, fps: int) -> Path:
    path = tmp / f"live-{fps}.yaml"
    path.write_text(SCENE.format(model=model, fps=fps))
    return path


def _client(port: int):
    from pythonosc.udp_client import SimpleUDPClient

    return SimpleUDPClient("127.0.0.1", port)


def measure_latency(scene: Path, *, seconds: float, device: str, latch: bool = True) -> dict:
    """Send /latentreel/set truncation at irregular moments; time each to its frame."""
    hooks, latencies, stop = Hooks(), [], threading.Event()
    shown: list[float] = []

    def on_ready(result, inbox):
        def send():
            client, rng, k = _client(result.osc_port), np.random.default_rng(0), 0
            while not stop.wait(float(rng.uniform(0.1, 0.25))):  # not locked to the frames
                client.send_message("/latentreel/set", ["truncation", 0.7 + 0.1 * (k % 3)])
                k += 1
        threading.Thread(target=send, daemon=True, name="bench-osc-client").start()
        hooks.result = result

    def on_frame(index, applied):
        at = hooks.result.frame_times[-1]
        shown.append(at)
        latencies.extend(at - c.received for c in applied)

    hooks.on_ready, hooks.on_frame = on_ready, on_frame
    scene_obj = load_scene(scene)
    fps = scene_obj.output.fps
    result = perform(scene_obj, LiveOptions(headless=True, seconds=seconds, osc_port=0,
                                            device=device, latch=latch), hooks=hooks)
    stop.set()
    lat = np.asarray(latencies) * 1000
    gaps = np.diff(np.asarray(shown)) * 1000
    period = 1000 / fps
    return {
        "fps": fps, "messages": int(len(lat)), "frames": result.shown,
        "dropped": result.dropped,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "p50_frames": float(np.percentile(lat, 50) / period),
        "p95_frames": float(np.percentile(lat, 95) / period),
        "interval_mean_ms": float(gaps.mean()), "jitter_std_ms": float(gaps.std()),
        "interval_p95_ms": float(np.percentile(gaps, 95)),
    }


def _process() -> dict:
    """This process's resident memory (MB), threads and open files (Linux /proc)."""
    status = Path("/proc/self/status").read_text()
    field = {k: v.strip() for k, _, v in (ln.partition(":") for ln in status.splitlines())}
    return {"rss_mb": int(field["VmRSS"].split()[0]) / 1024, "threads": int(field["Threads"]),
            "files": len(os.listdir("/proc/self/fd"))}


def soak(scene: Path, *, seconds: float, device: str, rate: float = 3000.0,
         log: Callable[[str], None] = print) -> dict:
    """Headless play for ``seconds`` under a storm of ``rate`` messages a second."""
    hooks, stop, sent = Hooks(), threading.Event(), [0]
    marks: dict[str, dict] = {}

    def storm(port):
        client, rng, batch = _client(port), np.random.default_rng(1), max(1, int(rate / 100))
        start = time.perf_counter()
        while not stop.is_set():
            for _ in range(batch):
                r = rng.integers(4)
                if r == 0:
                    client.send_message("/latentreel/set", ["truncation", float(rng.uniform(
                        0.4, 1.2))])
                elif r == 1:
                    client.send_message("/latentreel/set", ["speed", float(rng.uniform(0, 2))])
                elif r == 2:
                    client.send_message("/latentreel/pulse", [float(rng.uniform(0, 1))])
                else:
                    client.send_message("/latentreel/nonsense", [1])  # refused, counted
                sent[0] += 1
            ahead = start + sent[0] / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)

    def on_ready(result, inbox):
        hooks.result = result
        threading.Thread(target=storm, args=(result.osc_port,), daemon=True,
                         name="bench-storm").start()

    def on_frame(index, applied):
        if index == 30:  # warmed up: the storm is running, the model is loaded
            marks["start"] = _process()
        elif index > 30 and index % 30 == 0:  # the latest sample while everything runs
            marks["end"] = _process()

    hooks.on_ready, hooks.on_frame = on_ready, on_frame
    result = perform(load_scene(scene), LiveOptions(headless=True, seconds=seconds,
                                                    osc_port=0, device=device), hooks=hooks,
                     log=lambda line: None)
    after = _process()  # the performance over: its threads and files should be gone
    stop.set()
    start, end = marks.get("start", after), marks.get("end", after)
    gaps = np.diff(np.asarray(result.frame_times)) * 1000
    return {"seconds": seconds, "sent": sent[0], "applied": result.applied,
            "refused": sum(result.refused.values()), "frames": result.shown,
            "dropped": result.dropped, "start": start, "end": end, "after": after,
            "interval_p95_ms": float(np.percentile(gaps, 95)) if len(gaps) else 0.0,
            "interval_max_ms": float(gaps.max()) if len(gaps) else 0.0}


def run_live_bench(*, model: str = "dcgan-digiface", seconds: float = 10.0,
                   soak_seconds: float | None = None, device: str = "cpu",
                   log: Callable[[str], None] = print) -> dict:
    """Latency and jitter at 30 and 60 fps, then the soak if asked; prints as it goes."""
    out: dict = {"model": model, "device": device, "uptime_before": uptime()}
    log(f"bench live: {model} on {device}, 64 px, {seconds:g} s per rate; {out['uptime_before']}")
    with tempfile.TemporaryDirectory() as tmp:
        log(f"{'fps':>4} {'latch':>5} {'msgs':>5} {'p50 ms':>7} {'p95 ms':>7} {'p50 fr':>6} "
            f"{'p95 fr':>6} {'frames':>6} {'dropped':>7} {'gap mean':>8} {'jitter sd':>9} "
            f"{'gap p95':>7}")
        for fps in (30, 60):
            for latch in (True, False):  # side by side: controls taken late vs at once
                r = measure_latency(_scene(Path(tmp), model, fps), seconds=seconds,
                                    device=device, latch=latch)
                out[f"fps{fps}" + ("" if latch else "_nolatch")] = r
                log(f"{fps:>4} {'late' if latch else 'none':>5} {r['messages']:>5} "
                    f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p50_frames']:>6.2f} "
                    f"{r['p95_frames']:>6.2f} {r['frames']:>6} {r['dropped']:>7} "
                    f"{r['interval_mean_ms']:>8.1f} {r['jitter_std_ms']:>9.1f} "
                    f"{r['interval_p95_ms']:>7.1f}")
        target = all(out[f"fps{f}"]["p95_frames"] <= 2 for f in (30, 60))
        ratios = ", ".join(f"{out[f'fps{f}']['p95_ms'] / out[f'fps{f}_nolatch']['p95_ms']:.2f} x "
                           f"at {f} fps" for f in (30, 60))
        log(f"target p95 within two frames: {'met' if target else 'NOT met'} "
            f"({out['fps30']['p95_frames']:.2f} at 30 fps, {out['fps60']['p95_frames']:.2f} "
            f"at 60 fps); p95 with the late latch / without: {ratios}")
        if soak_seconds:
            s = soak(_scene(Path(tmp), model, 30), seconds=soak_seconds, device=device, log=log)
            out["soak"] = s
            a, b = s["start"], s["end"]
            log(f"soak {soak_seconds:g} s at 30 fps: {s['sent']} messages sent "
                f"({s['sent'] / soak_seconds:.0f}/s), {s['applied']} applied, {s['refused']} "
                f"refused; {s['frames']} frames, {s['dropped']} dropped; frame gap p95 "
                f"{s['interval_p95_ms']:.1f} ms, max {s['interval_max_ms']:.1f} ms")
            log(f"soak start -> end: RSS {a['rss_mb']:.1f} -> {b['rss_mb']:.1f} MB, threads "
                f"{a['threads']} -> {b['threads']}, open files {a['files']} -> {b['files']} "
                f"(after the performance: {s['after']['threads']} threads, "
                f"{s['after']['files']} files)")
    out["uptime_after"] = uptime()
    log(out["uptime_after"])
    return out
