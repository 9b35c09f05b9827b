# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""GPU speed variants side by side (issue 14), interleaved frame by frame on the same frames; table + JSON.

    python -m bench.bench_gpu --cache-dir /tmp/compile --repeats 20 --out gpu-variants.json

Variants (640x480, 4 phrases, 8 boxes forced as in ``bench.run``): naive fp32 (transformers as documented), ours fp32
(host processors: the exact path), ours fp16 with the host processors, ours fp16 (the default on CUDA: ``dtype=auto``
with pre-processing on the GPU), ours bf16, and compiled fp16 (``compile=True``: CUDA graphs of the heavy regions; its
first frames pay the compile and fill ``--cache-dir``, reported as the cold start). Every variant is compared with
ours fp32 on the same frames. Then ``torch.profiler`` (CPU + CUDA) on the default variant's detector and SAM encoder:
kernel count, GPU busy time against wall time (launch-bound when far below), top kernels. FLOP rates are against the
fp16/bf16 matmul peak measured in the same run. Models: as ``bench.run`` (full-size random weights unless real ones
are cached). A variant that fails is reported with its reason; the others still run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench.machine import find_models, machine_info, matmul_peak
from bench.measure import (
    Samples,
    agreement,
    count_flops,
    forced_top_k,
    merge_agreement,
    run_naive,
    run_pipeline,
    synchronise_encoder,
    synchronising,
    write_report,
)
from bench.naive import NaiveGroundedSam
from bench.workloads import CENTRE, frame

VARIANTS = {
    "naive fp32": None,
    "ours fp32": {"dtype": "float32"},
    "ours fp16 host-prep": {"dtype": "float16", "preprocess": "host"},
    "ours fp16 (default)": {"dtype": "auto"},
    "ours bf16": {"dtype": "bfloat16"},
    "compiled fp16": {"dtype": "auto", "compile": True},
}
STAGES = ("preprocess", "detector", "select", "sam_encoder", "sam_decoder", "masks", "total")


def _log(message: str) -> None:
    print(f"[bench_gpu {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(detector: str, segmenter: str, device: str, cache_dir: str, options: Dict[str, Any]):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    config = PipelineConfig(detector_model=detector, segmenter_model=segmenter, device=device, local_files_only=True,
                            compile_cache_dir=cache_dir, **options)  # fmt: skip
    pipe = build_pipeline(forced_top_k(config, CENTRE.boxes))
    synchronise_encoder(pipe, device)
    return pipe


def profile_gpu(run, sync, top: int = 12) -> Dict[str, Any]:
    """One call of ``run`` under torch.profiler (CPU + CUDA): wall time, summed kernel time, kernel count, top ops."""
    import torch
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    run()
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        run()
        sync()
        wall = time.perf_counter() - start
    kernels = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
    kernel_us = float(sum(e.time_range.elapsed_us() for e in kernels))
    ops = sorted(prof.key_averages(), key=lambda e: e.self_device_time_total, reverse=True)
    return {
        "wall_ms": wall * 1000.0,
        "kernel_ms": kernel_us / 1000.0,
        "gpu_busy": kernel_us / 1e6 / wall if wall else 0.0,
        "kernels": len(kernels),
        "top_ops": [
            {
                "op": e.key,
                "device_ms": e.self_device_time_total / 1000.0,
                "calls": e.count,
                "cpu_ms": e.self_cpu_time_total / 1000.0,
            }
            for e in ops[:top]
        ],
    }


def profile_tracking(device: str, sync, tiny: str = "", boxes: int = 3) -> Dict[str, Any]:
    """One propagated frame of the sam2 tracker (GDINO-T + SAM 2.1-tiny, ``boxes`` live tracks) under the profiler."""
    from bench.bench_tracking import build, frames
    from grounded_sam_ros.models.architectures import build_default_models, default_models_cache
    from grounded_sam_ros.models.tiny_sam2 import RANDOM_SAM2_TINY_DIR, build_random_sam2_tiny, tiny_sam2

    if tiny:
        from grounded_sam_ros.models.tiny import build_tiny_models

        (detector, _), sam2 = build_tiny_models(tiny), tiny_sam2(Path(tiny))
    else:
        detector, _ = build_default_models()
        sam2 = default_models_cache() / RANDOM_SAM2_TINY_DIR
        if not (sam2 / "model.safetensors").exists():
            build_random_sam2_tiny(sam2)
    tracker = build(str(detector), str(sam2), "sam2", str(sam2), boxes, 1000, device=device)
    images = frames(6)
    for image in images[:4]:  # a key frame, then propagated ones
        tracker(image, CENTRE.query)
    assert tracker.stats.last_kind == "propagated"
    state = {"i": 4}

    def step():
        tracker(images[state["i"] % 6], CENTRE.query)
        state["i"] += 1

    out = profile_gpu(step, sync)
    out["tracks"] = boxes
    return out


def render(report: Dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"grounded_sam_ros GPU variants, {report['date']}; {m.get('gpu', '?')}; torch {m['torch']}; "
             f"weights {report['weights']}; {report['repeats']} frames per variant, interleaved",
             "matmul peak: " + ", ".join(f"{k} {v / 1000:.0f} TFLOP/s" for k, v in report["peak_gflops"].items()),
             ""]  # fmt: skip
    med = report["medians_ms"]
    naive = med.get("naive fp32", {}).get("total")
    header = ["variant", "prep", "detector", "select", "sam enc", "sam dec", "masks", "total ms", "fps", "x naive",
              "agreement vs ours fp32"]  # fmt: skip
    rows = []
    for name, stages in med.items():
        a = report["agreement"].get(name)
        agree = "reference" if name == "ours fp32" else "-"
        if a:
            agree = (f"{a['matched']:.0%} matched, drift max {a['box_drift_max_px']:.1f}px, "
                     f"mask IoU min {a['mask_iou_min']:.3f}")  # fmt: skip
        total = stages["total"]
        rows.append([name, *(f"{stages.get(s, 0):.1f}" for s in STAGES[:-1]), f"{total:.1f}", f"{1000 / total:.1f}",
                     f"{naive / total:.2f}" if naive else "-", agree])  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [header, ["-" * w for w in widths]]
              + rows]  # fmt: skip
    lines.append("stage medians in ms (asynchronous stages land in the next synchronising one)")
    for name, reason in report["failed"].items():
        lines.append(f"{name}: FAILED: {reason}")
    for name, info in report["startup"].items():
        first = ", ".join(f"{s:.2f}" for s in info["warmup_s"])
        cache = f", cache {json.dumps(info['status'])}" if info.get("status") else ""
        lines.append(f"{name}: load {info['load_s']:.1f} s, first frames {first} s{cache}")
    for stage, rate in report.get("flop_rate", {}).items():
        parts = [f"{n} {v['tflops']:.1f} TFLOP/s ({v['of_peak']:.1%} of peak)" for n, v in rate["variants"].items()]
        lines.append(f"{stage}: {rate['gflop']:.0f} GFLOP; " + ", ".join(parts))
    for stage, p in report.get("profile", {}).items():
        top = "; ".join(f"{o['op'][:40]} {o['device_ms']:.2f} ms x{o['calls']}" for o in p["top_ops"][:6])
        lines.append(f"profile {stage} (default settings): wall {p['wall_ms']:.1f} ms, {p['kernels']} kernels "
                     f"summing {p['kernel_ms']:.1f} ms (GPU busy {p['gpu_busy']:.0%}); top: {top}")  # fmt: skip
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed frames per variant (CUDA graphs record late)")
    parser.add_argument("--cache-dir", default="", help="compile cache (default ~/.cache/grounded_sam_ros/compile)")
    parser.add_argument("--skip", action="append", default=[], help="variant to leave out (substring, repeatable)")
    parser.add_argument("--out", default="", help="JSON file (default bench/results/gpu-variants.json)")
    parser.add_argument("--tracking", action="store_true", help="also profile a propagated frame of the tracker")
    parser.add_argument("--tiny", default="", metavar="DIR", help="smoke run on tiny random models built under DIR")
    args = parser.parse_args(argv)
    import torch

    device, sync = args.device, synchronising(args.device)
    report: Dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "machine": machine_info(device), "repeats": args.repeats, "workload": CENTRE.name,
                              "failed": {}, "startup": {}}  # fmt: skip
    size = 8192 if device.startswith("cuda") else 1024
    dtypes = (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16))
    report["peak_gflops"] = {n: matmul_peak(device, d, size, 0.5) for n, d in dtypes}
    started = time.perf_counter()
    if args.tiny:
        from grounded_sam_ros.models.tiny import build_tiny_models

        (detector, segmenter), random_weights = (str(p) for p in build_tiny_models(args.tiny)), True
    else:
        detector, segmenter, random_weights = find_models()
    report["weights"] = "RANDOM (full-size)" if random_weights else "real"
    report["models_ready_s"] = time.perf_counter() - started
    runners: Dict[str, Any] = {}
    pipes: Dict[str, Any] = {}
    for name, options in VARIANTS.items():
        if any(skip in name for skip in args.skip):
            continue
        try:
            start = time.perf_counter()
            if options is None:
                naive = NaiveGroundedSam.load(detector, segmenter, device)
                runners[name] = lambda image, naive=naive: run_naive(naive, image, CENTRE.caption, CENTRE.boxes)
            else:
                pipe = pipes[name] = build(detector, segmenter, device, args.cache_dir, options)
                runners[name] = lambda image, pipe=pipe: run_pipeline(pipe, image, CENTRE.query, None)
            loaded, warmup = time.perf_counter() - start, []
            for r in range(args.warmup):
                t0 = time.perf_counter()
                runners[name](frame(r, CENTRE.size)[1])
                warmup.append(time.perf_counter() - t0)
            info: Dict[str, Any] = {"load_s": loaded, "warmup_s": warmup}
            if options and options.get("compile"):
                info["status"] = {a.family: {"x".join(map(str, k)): v for k, v in a.compiled.status.items()}
                                  for a in (pipe.detector, pipe.segmenter)}  # fmt: skip
            report["startup"][name] = info
            _log(f"{name}: load {loaded:.1f}s, warm-up {', '.join(f'{s:.2f}' for s in warmup)} s")
        except Exception as exc:  # noqa: BLE001 - one variant's failure is reported, the others run
            report["failed"][name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            _log(f"{name} FAILED:\n{traceback.format_exc()}")
            runners.pop(name, None)
    samples = {name: Samples() for name in runners}
    agree: Dict[str, List[Dict[str, float]]] = {name: [] for name in runners if name != "ours fp32"}
    for r in range(args.repeats):
        _, image = frame(r, CENTRE.size)
        outputs = {}
        for name, run in runners.items():
            sync()
            outputs[name] = run(image)
            samples[name].add(outputs[name].seconds)
        for name in agree:
            if "ours fp32" in outputs:
                agree[name].append(agreement(outputs["ours fp32"], outputs[name]))
    report["medians_ms"] = {name: s.medians_ms() for name, s in samples.items()}
    report["frames_ms"] = {name: [round(1000 * f["total"], 2) for f in s.frames] for name, s in samples.items()}
    report["agreement"] = {name: merge_agreement(values) for name, values in agree.items()}
    default = pipes.get("ours fp16 (default)")
    if default is not None:
        try:
            _, image = frame(0, CENTRE.size)
            flops = count_flops(default, image, CENTRE.query)
            report["flop_rate"] = {}
            for stage, count in flops.items():
                rates = {}
                for name, dtype in (("ours fp16 (default)", "float16"), ("ours bf16", "bfloat16"),
                                    ("compiled fp16", "float16"), ("ours fp32", "float32")):  # fmt: skip
                    ms = report["medians_ms"].get(name, {}).get(stage)
                    if ms:
                        tflops = count / 1e12 / (ms / 1000.0)
                        rates[name] = {"tflops": tflops, "of_peak": tflops * 1000 / report["peak_gflops"][dtype]}
                report["flop_rate"][stage] = {"gflop": count / 1e9, "variants": rates}
            prompt = default.text_prompt(CENTRE.query)
            det_in = default.detector.preprocess(image)
            sam_in = default.segmenter.preprocess(image)
            report["profile"] = {
                "detector": profile_gpu(lambda: default.detector.forward(det_in, prompt), sync),
                "sam_encoder": profile_gpu(lambda: default.segmenter.embed(sam_in), sync),
            }
        except Exception as exc:  # noqa: BLE001
            report["failed"]["profile"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            _log(f"profile FAILED:\n{traceback.format_exc()}")
    if args.tracking:
        try:
            report.setdefault("profile", {})["tracking_propagated_frame"] = profile_tracking(device, sync, args.tiny)
        except Exception as exc:  # noqa: BLE001
            report["failed"]["tracking profile"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            _log(f"tracking profile FAILED:\n{traceback.format_exc()}")
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / "gpu-variants.json"
    write_report(report, render(report), out, _log)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
