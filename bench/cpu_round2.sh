#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# Issue 14's CPU measurements at full size (run from the repository root, on a machine shared with other heavy jobs
# under the lock): flock /tmp/gsr-heavy.lock bash bench/cpu_round2.sh
# 1) every variant but compiled side by side, interleaved (naive, ours fp32/auto, openvino fp32/auto; the openvino
#    warm-up frames are their cold starts, the cache being empty) -> bench/results/cpu-variants.json;
# 2) openvino warm starts (auto = bf16, and float32) in fresh processes, the cache filled by 1)
#    -> bench/results/cpu-startup.json;
# 3) with COMPILED=1 only (long: a full-size inductor cold start): the compiled path's cold then warm start.
# Logs and the start-up JSON go to $OUT (default /tmp/gsr-round2).
set -uo pipefail
OUT=${OUT:-/tmp/gsr-round2}
CACHE=${CACHE:-$OUT/cache}
REPEATS=${REPEATS:-3}
mkdir -p "$OUT"
rm -rf "$CACHE"
echo "== variants $(date +%T) $(uptime)" >> "$OUT/full.log"
env -u TORCHINDUCTOR_CACHE_DIR timeout 3000 python -m bench.variants --cache-dir "$CACHE" --repeats "$REPEATS" \
  --skip compiled --out bench/results/cpu-variants.json > "$OUT/variants.txt" 2> "$OUT/variants.err"
echo "== variants rc $? $(date +%T) $(uptime)" >> "$OUT/full.log"
runs="openvino-auto-warm openvino-float32-warm"
[ "${COMPILED:-0}" = 1 ] && runs="$runs compiled-auto-cold compiled-auto-warm"
for run in $runs; do
  IFS=- read -r variant dtype _ <<< "$run"
  echo "== $run $(date +%T) $(uptime)" >> "$OUT/full.log"
  env -u TORCHINDUCTOR_CACHE_DIR timeout 2400 python -m bench.startup --variant "$variant" --dtype "$dtype" \
    --cache-dir "$CACHE" > "$OUT/$run.json" 2>> "$OUT/$run.err"
  cat "$OUT/$run.json" >> "$OUT/full.log"
done
# The start-up lines, with the load they ran under, as one JSON list
python -c 'import json, sys; print(json.dumps([json.load(open(p)) for p in sys.argv[1:]], indent=1))' \
  $(for run in $runs; do echo "$OUT/$run.json"; done) > bench/results/cpu-startup.json
echo "== done $(date +%T)" >> "$OUT/full.log"
