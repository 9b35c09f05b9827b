#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# The prepared GPU check (issues 9, 10, 14): one script for a machine with a CUDA GPU and a Python that already has
# CUDA torch, torchvision and timm (this workplace's GPU image), run from the repository root:
#
#   OUT=/tmp/gpu-out DEADLINE_S=470 bash bench/gpu_check.sh            # all steps, most valuable first
#   STEPS="bench startup" bash bench/gpu_check.sh                      # some of them
#   GPU_TESTS=test/test_gpu.py BENCH_ARGS="--skip naive --tracking" ...  # fewer tests, bench_gpu flags
#
# Nothing is downloaded: wheels the image lacks (transformers of requirements.txt) are carried in .whl/ and
# installed with --no-index into /tmp/site. Steps, each time-boxed; a failing step is logged and the next one runs;
# a step that no longer fits before DEADLINE_S (seconds after the start) is skipped and logged:
#   setup    versions, nvidia-smi, carried wheels; random full-size models built in the background (CPU)
#   bench    bench.bench_gpu: naive / fp32 / fp16 host-prep / fp16 default / bf16 / compiled fp16, profile
#   startup  bench.startup: warm start of the compiled path from the cache the bench step filled, and eager
#   tracking bench.bench_tracking on CUDA: stream fps at detect_every 1/5/10/30
#   tests    the GPU-only tests (CUDA compiled path, official processors of SAM 2 / SAM 3 / OmDet-Turbo, EdgeTAM)
#   zoo      bench.bench_zoo on CUDA: every detector x segmenter pair and SAM 3
#   syncs    bench.sync_audit: every host synchronisation of one default frame, with the line that caused it
# Results: $OUT/*.json (one per step), log.txt (every step's output), steps.log: at most 8 files come back from the
# GPU machine, so keep it that way.
set -uo pipefail
OUT=${OUT:-/tmp/gsr-gpu-out}
STEPS=${STEPS:-setup tests syncs bench startup tracking zoo}
DEADLINE_S=${DEADLINE_S:-470}
PY=${PY:-python3}
CACHE=/tmp/gsr-compile-cache
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
log() { echo "[gpu_check $(date +%T) +${SECONDS}s] $*" | tee -a "$OUT/steps.log"; }

# run NAME SECONDS CMD...: time-boxed, output appended to $OUT/log.txt, skipped when it cannot start in time
run() {
  local name=$1 limit=$2
  shift 2
  local left=$((DEADLINE_S - SECONDS))
  if ((left < 20)); then log "$name: skipped ($left s left before the deadline)"; return; fi
  ((limit > left)) && limit=$left
  log "$name: start (limit ${limit}s)"
  printf '\n===== %s: %s\n' "$name" "$*" >> "$OUT/log.txt"
  timeout "$limit" "$@" >> "$OUT/log.txt" 2>&1
  local rc=$?
  log "$name: rc=$rc"
}

setup() {
  if ls .whl/*.whl > /dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      >> "$OUT/log.txt" 2>&1 || log "setup: carried wheels failed to install (see log.txt)"
  fi
  { nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; nproc; free -g | head -2
    $PY -c "import torch, torchvision, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'torchvision', torchvision.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name(0))"
    $PY -c "import timm; print('timm', timm.__version__)"; } >> "$OUT/log.txt" 2>&1
  # Random full-size models (CPU work) while the GPU steps that need none of them run
  OMP_NUM_THREADS=8 nohup $PY -c "
from bench.machine import find_models; print('random models:', find_models(allow_real=False))
" >> "$OUT/log.txt" 2>&1 &
  log "setup: done, models building in the background (pid $!)"
}

bench() {
  wait  # the default models
  # shellcheck disable=SC2086
  run bench 240 $PY -m bench.bench_gpu --cache-dir "$CACHE" --repeats 20 --warmup 3 --out "$OUT/gpu-variants.json" \
    ${BENCH_ARGS:-}
}

startup() {
  run startup 120 bash -c "$PY -m bench.startup --variant compiled --device cuda --cache-dir $CACHE --frames 10 \
    > $OUT/startup.json; $PY -m bench.startup --variant eager --device cuda --cache-dir $CACHE --frames 10 \
    >> $OUT/startup.json"
  du -sh "$CACHE" >> "$OUT/steps.log" 2>&1
}

tracking() {
  run tracking 120 $PY -m bench.bench_tracking --device cuda --frames 20 --boxes 3 --out "$OUT/tracking-gpu.json"
}

tests() {
  # shellcheck disable=SC2046
  run tests 150 $PY -m pytest -q -p no:cacheprovider -m "slow or not slow" -o addopts="-ra" \
    ${GPU_TESTS:-$(ls test/test_gpu.py test/test_device_preprocess.py test/test_official_*.py 2> /dev/null)}
}

syncs() {
  wait  # the default models
  run syncs 90 $PY -m bench.sync_audit --out "$OUT/syncs.json"
}

zoo() {
  run zoo 150 $PY -m bench.bench_zoo --device cuda --frames 10 --warmup 2 --out "$OUT/zoo-gpu.json"
}

log "steps: $STEPS (deadline ${DEADLINE_S}s)"
for step in $STEPS; do "$step"; done
wait
log "done"
