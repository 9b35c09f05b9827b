#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# The prepared GPU check of issue 14: one script for a machine with a CUDA GPU (run from the repository root).
# Installs CUDA torch and the pipeline's dependencies from PyPI (versions from requirements.txt) into a venv, runs
# the GPU tests, the quick benchmark on CUDA (naive / eager fp32 / fp16) and the compiled path's (CUDA graphs) cold
# and warm start, and writes everything under $OUT (JSON + logs). Each step is time-boxed; a failing step is logged
# and the next one still runs. STEPS picks steps (to split the work over several calls of a 10-minute limit):
#
#   OUT=/tmp/gpu-out bash bench/gpu_check.sh                       # install tests bench compiled
#   STEPS="install tests" bash bench/gpu_check.sh; STEPS="bench compiled" bash bench/gpu_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/gsr-gpu-out}
VENV=${GSR_GPU_VENV:-/tmp/gsr-gpu-venv}
STEPS=${STEPS:-install tests bench compiled}
mkdir -p "$OUT"
log() { echo "[gpu_check $(date +%T)] $*" | tee -a "$OUT/steps.log"; }
pin() { grep -E "^($(echo "$@" | tr ' ' '|'))==" requirements.txt; }

install() {
  { nvidia-smi; uptime; nproc; free -g; } > "$OUT/machine.txt" 2>&1
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # torch==2.13.0 from PyPI is the CUDA build on Linux x86-64
  timeout 900 "$VENV/bin/pip" install -q $(pin torch transformers safetensors tokenizers huggingface_hub numpy \
    pillow scipy PyYAML pycocotools opencv-python-headless) pytest pytest-timeout > "$OUT/pip.log" 2>&1 \
    || log "pip failed (see pip.log)"
}

tests() {
  timeout 900 python -m pytest test/test_gpu.py test/test_compiled.py -q -m "slow or not slow" \
    -p no:cacheprovider > "$OUT/tests.txt" 2>&1 || log "tests failed (see tests.txt)"
}

bench() {
  timeout 900 python -m bench.run --quick --device cuda --no-ros --repeats 10 --out "$OUT/bench-quick-cuda.json" \
    > "$OUT/bench-quick-cuda.txt" 2>&1 || log "bench failed (see bench-quick-cuda.txt)"
}

compiled() {
  for run in cold warm; do
    env -u TORCHINDUCTOR_CACHE_DIR timeout 900 python -m bench.startup --variant compiled --device cuda \
      --cache-dir "$OUT/compile-cache" --frames 20 > "$OUT/startup-compiled-$run.json" \
      2> "$OUT/startup-compiled-$run.err" || log "compiled $run failed (see startup-compiled-$run.err)"
  done
  timeout 600 python -m bench.startup --variant eager --device cuda --cache-dir "$OUT/compile-cache" --frames 20 \
    > "$OUT/startup-eager.json" 2> "$OUT/startup-eager.err" || log "eager start failed"
  du -sh "$OUT/compile-cache" >> "$OUT/steps.log" 2>&1
  rm -rf "$OUT/compile-cache"  # large: only its size comes back
}

for step in $STEPS; do
  log "$step"
  if [ "$step" != install ]; then
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
    python -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" \
      >> "$OUT/torch.txt" 2>&1 || log "torch sees no GPU (see torch.txt)"
    export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
  fi
  "$step"
done
log "done"
