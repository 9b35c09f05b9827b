#!/usr/bin/env bash
# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# Issue 14's CPU measurements at full size (run from the repository root, on a machine shared with other heavy jobs
# under the lock): flock /tmp/gsr-heavy.lock bash bench/cpu_round2.sh
# 1) every variant but compiled side by side (openvino's warm-up frame = its cold start, the cache being empty) ->
#    bench/results/cpu-variants.json; 2) openvino warm start in a fresh process; 3) compiled cold then warm start.
# Logs and the start-up JSON go to $OUT (default /tmp/gsr-round2).
set -uo pipefail
OUT=${OUT:-/tmp/gsr-round2}
CACHE=${CACHE:-$OUT/cache}
mkdir -p "$OUT"
rm -rf "$CACHE"
echo "== variants $(date +%T) $(uptime)" >> "$OUT/full.log"
env -u TORCHINDUCTOR_CACHE_DIR timeout 3000 python -m bench.variants --cache-dir "$CACHE" --repeats 2 \
  --skip compiled --out bench/results/cpu-variants.json > "$OUT/variants.txt" 2> "$OUT/variants.err"
echo "== variants rc $? $(date +%T) $(uptime)" >> "$OUT/full.log"
for run in openvino-warm compiled-cold compiled-warm; do
  echo "== $run $(date +%T) $(uptime)" >> "$OUT/full.log"
  env -u TORCHINDUCTOR_CACHE_DIR timeout 2400 python -m bench.startup --variant "${run%-*}" --cache-dir "$CACHE" \
    > "$OUT/$run.json" 2>> "$OUT/$run.err"
  cat "$OUT/$run.json" >> "$OUT/full.log"
done
echo "== done $(date +%T)" >> "$OUT/full.log"
