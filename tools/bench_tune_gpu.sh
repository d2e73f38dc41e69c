#!/usr/bin/env bash
# Pivotal tuning at 1024 px on a GPU (issue #26's second target: under 60 s a photo), today's
# settings beside the device's defaults (on CUDA they are today's: compare the step count
# you pass with --steps). Needs only torch (and the packages latentreel imports) on the GPU
# machine; run from the repository root:  bash tools/bench_tune_gpu.sh [OUT_DIR]
# Writes OUT_DIR/tune-1024.json and OUT_DIR/tune-1024-fast.json; prints the tables.
set -euo pipefail
out="${1:-${OUT:-/tmp}}"
mkdir -p "$out"
py="${PYTHON:-python}"
export PYTHONPATH="${PYTHONPATH:-}:$(pwd)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
uptime
# 1. Today's settings (300 steps, 4 locality latents a step) at 1024 px, measured in full.
"$py" -m latentreel bench tune --resolution 1024 --device cuda --budget 400 \
    --json "$out/tune-1024.json"
# 2. The CPU's cheaper recipe (100 steps, 1 locality latent every 4th step) on the GPU.
"$py" - "$out/tune-1024-fast.json" <<'PY'
import json, sys
from dataclasses import replace
from latentreel.bench.tune_speed import bench_generator, bench_pivot, locality_psnr
from latentreel.device import pick_device
from latentreel.invert.tune import TuneSettings, cpu_settings, tune_generator
g = bench_generator(None, 1024, pick_device("cuda"))
pivot = bench_pivot(g)
rows = {}
for name, s in (("today", TuneSettings()), ("cpu recipe", cpu_settings(1024, bf16=True))):
    tune_generator(g, [pivot], replace(s, steps=2))  # warm-up (cuDNN autotuning)
    r = tune_generator(g, [pivot], s)
    rows[name] = {"seconds": r.seconds, "psnr_after": r.psnr_after[0],
                  "locality_psnr": locality_psnr(g, r.generator)}
    print(f"{name}: {r.seconds:.1f} s per photo, PSNR {r.psnr_before[0]:.2f} -> "
          f"{r.psnr_after[0]:.2f} dB, locality {rows[name]['locality_psnr']:.2f} dB", flush=True)
json.dump(rows, open(sys.argv[1], "w"), indent=2)
PY
uptime
