#!/usr/bin/env bash
# Pivotal tuning of one photo at 1024 px on a GPU (issue #26: under 60 s a photo): today's
# settings (CUDA's default) beside the curvature recipe (the CPU's default from 256 px up) in fp32 and bf16, on a random
# FFHQ-shaped StyleGAN2 built in memory (no weights needed, nothing written but the JSON).
# Needs torch and latentreel's own imports only; run from the repository root:
#   bash tools/bench_tune_gpu.sh [OUT_DIR]      (about 3-5 min on an H100)
set -euo pipefail
out="${1:-${OUT:-/tmp}}"
mkdir -p "$out"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
uptime
timeout 540 "${PYTHON:-python}" - "$out/tune-1024.json" <<'PY'
import json, sys, time
from dataclasses import replace
from latentreel.bench.tune_speed import bench_generator, bench_pivot, locality_psnr
from latentreel.device import pick_device
from latentreel.invert.tune import TuneSettings, recipe_settings, tune_generator

g = bench_generator(None, 1024, pick_device("cuda"))
pivot = bench_pivot(g)
rows = {}
for name, s in (("today", TuneSettings()), ("recipe fp32", recipe_settings(bf16=False)),
                ("recipe bf16", recipe_settings(bf16=True))):
    tune_generator(g, [pivot], replace(s, steps=2))  # warm-up: cuDNN picks its algorithms
    r = tune_generator(g, [pivot], s)
    rows[name] = {"steps": s.steps, "seconds": r.seconds, "psnr_before": r.psnr_before[0],
                  "psnr_after": r.psnr_after[0], "locality_psnr": locality_psnr(g, r.generator)}
    print(f"{name}: {s.steps} steps, {r.seconds:.1f} s per photo, PSNR {r.psnr_before[0]:.2f} -> "
          f"{r.psnr_after[0]:.2f} dB, locality {rows[name]['locality_psnr']:.2f} dB", flush=True)
t = rows["today"]
for name, r in rows.items():
    print(f"{name} vs today: {t['seconds'] / r['seconds']:.1f}x faster, PSNR "
          f"{r['psnr_after'] - t['psnr_after']:+.2f} dB, locality "
          f"{r['locality_psnr'] - t['locality_psnr']:+.2f} dB")
json.dump(rows, open(sys.argv[1], "w"), indent=2)
PY
uptime
