"""`latentreel bench load`: seconds to load a legit StyleGAN2 network pickle, this loader
against another checkout's (``--baseline DIR``), side by side, as ratios.

The pickles are written here in NVIDIA's snapshot layout (G, D, G_ema and augment_pipe, each
network a ``torch_utils.persistence`` record with its module source and state), with random
FFHQ config-f-shaped weights: at 1024 px about 360 MB, like NVIDIA's ffhq.pkl. Each loader
runs in its own child process (imports excluded from the timing), alternating between the
two, and reports the median of its warm loads (the second load in each child: the file is in
the page cache and the loader's modules are imported).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import types
from collections import OrderedDict
from pathlib import Path

import torch

from latentreel.bench.common import machine_info

_PLAIN = (int, float, str, bool, type(None), list, tuple)

_CHILD = """
import json, os, sys, time, torch
torch.set_num_threads({threads})
from latentreel.models.stylegan2.backend import load_stylegan2_file
import latentreel.models.stylegan2.load, latentreel.models.stylegan2.tf_load  # noqa: imports
start_mb = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
times = []
for _ in range(2):
    t0 = time.perf_counter()
    g = load_stylegan2_file(sys.argv[1], "cpu")
    times.append(time.perf_counter() - t0)
    del g
# VmHWM, not getrusage's ru_maxrss: that one keeps the parent's high-water mark across
# fork and exec, so a child of a big parent reports the parent's peak.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith("VmHWM:"))
peak_mb = hwm_kb / 1024 - start_mb
print(json.dumps({{"first_s": times[0], "warm_s": times[1], "peak_mb": peak_mb}}))
"""


class _Persistent:
    """Pickles as NVIDIA's persistence does: reconstructor(meta with class name + state)."""

    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __reduce__(self):
        meta = {"type": "class", "version": 6, "module_src": "# source (never run)\n",
                "class_name": self.class_name, "state": self.state}
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (meta,))


def _as_persistent(module: torch.nn.Module, extra: dict | None = None) -> _Persistent:
    state = {k: v for k, v in module.__dict__.items()
             if k.startswith("_") or isinstance(v, _PLAIN)}
    state["_modules"] = OrderedDict((n, _as_persistent(c)) for n, c in module._modules.items())
    state.update(extra or {})
    return _Persistent(type(module).__name__, state)


def _nvidia_modules() -> dict[str, types.ModuleType]:
    """Throwaway ``torch_utils.persistence`` and ``dnnlib.util`` so pickle can name them."""

    def _reconstruct_persistent_obj(meta):  # never called: only its name is pickled
        raise AssertionError("never called")

    class EasyDict(dict):
        pass

    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")
    for mod, name, obj in ((persistence, "_reconstruct_persistent_obj",
                            _reconstruct_persistent_obj), (util, "EasyDict", EasyDict)):
        obj.__module__, obj.__qualname__ = mod.__name__, name
        setattr(mod, name, obj)
    return {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence":
            persistence, "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}


def write_snapshot(path: Path, resolution: int) -> int:
    """A random FFHQ-shaped StyleGAN2 snapshot pickle at ``resolution``; returns its size."""
    from latentreel.models.stylegan2.bench import random_generator

    net = random_generator(resolution, num_fp16_res=4 if resolution >= 256 else 0,
                           conv_clamp=256.0 if resolution >= 256 else None)
    return write_net_snapshot(path, net)


def write_net_snapshot(path: Path, net) -> int:
    """``net`` (our StyleGAN2 Generator) as an NVIDIA snapshot pickle; returns its size."""
    cfg = net.cfg
    resolution = cfg.img_resolution
    saved = {name: sys.modules.get(name) for name in _nvidia_modules()}
    sys.modules.update(mods := _nvidia_modules())
    try:
        easy = mods["dnnlib.util"].EasyDict
        kwargs = {"z_dim": cfg.z_dim, "c_dim": 0, "w_dim": cfg.w_dim,
                  "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
                  "mapping_kwargs": easy(num_layers=cfg.mapping_layers),
                  "synthesis_kwargs": easy(channel_base=cfg.channel_base,
                                           channel_max=cfg.channel_max,
                                           num_fp16_res=cfg.num_fp16_res,
                                           conv_clamp=cfg.conv_clamp)}
        extra = {"_init_args": (), "_init_kwargs": kwargs}
        g_ema = _as_persistent(net, extra)
        g = _as_persistent(copy.deepcopy(net), extra)
        d_params = OrderedDict((f"w{i}", torch.nn.Parameter(p.detach().clone(),
                                                            requires_grad=False))
                               for i, p in enumerate(net.synthesis.parameters()))
        d = _Persistent("Discriminator", {"_parameters": d_params, "_buffers": OrderedDict(),
                                          "_modules": OrderedDict(), "training": False})
        snapshot = {"G": g, "D": d, "G_ema": g_ema, "augment_pipe": None,
                    "training_set_kwargs": easy(resolution=resolution)}
        with open(path, "wb") as f:
            pickle.dump(snapshot, f)
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
    return path.stat().st_size


def _load_in_child(root: Path, path: Path, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", _CHILD.format(threads=threads), str(path)],
                         env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"loading with {root} failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_load_bench(*, resolutions=(64, 1024), repeats: int = 3, baseline: Path | None = None,
                   threads: int = 2, log=print) -> dict:
    """Median warm load seconds per resolution for this checkout (and ``baseline``'s).

    Returns:
        {"machine", "rows": [{"resolution", "file_mb", "new_s", "old_s", "new_over_old",
         "new_first_s", "old_first_s"}]}
    """
    here = Path(__file__).resolve().parents[2]
    loaders = {"new": here} | ({"old": Path(baseline).resolve()} if baseline else {})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for res in resolutions:
            path = Path(tmp) / f"ffhq-shaped-{res}.pkl"
            size = write_snapshot(path, res)
            runs: dict[str, list[dict]] = {name: [] for name in loaders}
            for _ in range(repeats):
                for name, root in loaders.items():  # alternate: noise hits both alike
                    runs[name].append(_load_in_child(root, path, threads))
            row = {"resolution": res, "file_mb": round(size / 2 ** 20, 1)}
            for name, results in runs.items():
                row[f"{name}_s"] = statistics.median(r["warm_s"] for r in results)
                row[f"{name}_first_s"] = statistics.median(r["first_s"] for r in results)
            if "old" in runs:
                row["new_over_old"] = row["new_s"] / row["old_s"]
            log(_line(row))
            path.unlink()
            rows.append(row)
    return {"machine": machine_info(), "repeats": repeats, "threads": threads, "rows": rows}


def run_tf_load_bench(*, resolution: int = 1024, repeats: int = 3, threads: int = 2,
                      log=print) -> dict:
    """A TensorFlow-era pickle against the same network as a PyTorch-era one: median warm
    load seconds and peak memory over the child's start, side by side, as ratios.

    The PyTorch-era file is written from what the loader made of the TensorFlow one, so both
    hold the same weights (and each a discriminator of about the same size).

    Returns:
        {"machine", "uptime", "repeats", "threads", "row": {"resolution", "tf_mb",
         "torch_mb", "tf_s", "torch_s", "tf_over_torch", "tf_peak_mb", "torch_peak_mb",
         "peak_ratio", ...}}
    """
    from latentreel.bench.tf_snapshot import write_tf_snapshot
    from latentreel.models.stylegan2.backend import load_stylegan2_file

    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        files = {"tf": Path(tmp) / f"tf-era-{resolution}.pkl",
                 "torch": Path(tmp) / f"torch-era-{resolution}.pkl"}
        sizes = {"tf": write_tf_snapshot(files["tf"], resolution)}
        sizes["torch"] = write_net_snapshot(files["torch"],
                                            load_stylegan2_file(files["tf"], "cpu").net)
        runs: dict[str, list[dict]] = {name: [] for name in files}
        for _ in range(repeats):
            for name, path in files.items():  # alternate: noise hits both alike
                runs[name].append(_load_in_child(here, path, threads))
    row: dict = {"resolution": resolution}
    for name, results in runs.items():
        row[f"{name}_mb"] = round(sizes[name] / 2 ** 20, 1)
        row[f"{name}_s"] = statistics.median(r["warm_s"] for r in results)
        row[f"{name}_first_s"] = statistics.median(r["first_s"] for r in results)
        row[f"{name}_peak_mb"] = statistics.median(r["peak_mb"] for r in results)
    row["tf_over_torch"] = row["tf_s"] / row["torch_s"]
    row["peak_ratio"] = row["tf_peak_mb"] / row["torch_peak_mb"]
    uptime = _uptime()
    log(f"load {resolution} px, warm, median of {repeats}: TF-era {row['tf_s']:.3f} s "
        f"(peak +{row['tf_peak_mb']:.0f} MB, file {row['tf_mb']} MB) vs PyTorch-era "
        f"{row['torch_s']:.3f} s (peak +{row['torch_peak_mb']:.0f} MB, file "
        f"{row['torch_mb']} MB): time {row['tf_over_torch']:.2f}x, peak memory "
        f"{row['peak_ratio']:.2f}x")
    log(f"uptime: {uptime}")
    return {"machine": machine_info(), "uptime": uptime, "repeats": repeats,
            "threads": threads, "row": row}


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        load = os.getloadavg()
        return f"load average: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


def _line(row: dict) -> str:
    text = (f"load {row['resolution']:>4} px ({row['file_mb']} MB): new {row['new_s']:.3f} s "
            f"(first {row['new_first_s']:.3f} s)")
    if "old_s" in row:
        text += (f", old {row['old_s']:.3f} s (first {row['old_first_s']:.3f} s), "
                 f"new/old {row['new_over_old']:.2f}x")
    return text
