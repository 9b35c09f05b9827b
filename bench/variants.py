# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Every speed variant side by side in one run, interleaved frame by frame; prints a table, writes JSON.

    flock /tmp/gsr-heavy.lock python -m bench.variants --cache-dir DIR [--repeats 3] [--skip openvino]

Variants: naive fp32 (transformers as documented), ours fp32, ours auto (the default dtype), compiled auto
(``compile=True``), openvino fp32 (``backend=openvino``, float32, exact input sizes) and openvino auto (bf16 hint,
size buckets). Each optimised variant's outputs are compared with ours fp32 on the same frames (top-k boxes matched
by IoU, mask IoU) and, on one frame, at the model level (``bench.model_agreement``: all 900 queries' scores and
boxes, SAM's embedding, SAM's masks for the same boxes). FLOP utilisation per model stage is against the bf16 and
fp32 matmul peaks measured in the same run. Also: the ``detector_max_size`` speed sweep (detector stage alone,
interleaved), a ``torch.profiler`` table of eager auto's detector and SAM encoder and, for openvino auto, the CPU
plugin's per-operation counters.

Compile and convert ahead (``python -m bench.startup``, or ``grounded-sam warmup``) into ``--cache-dir``; otherwise
the warm-up frame pays it (reported as ``first_frame_s``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from bench.machine import find_models, load_average, machine_info, matmul_peak
from bench.measure import (
    Samples,
    agreement,
    count_flops,
    forced_top_k,
    merge_agreement,
    run_naive,
    run_pipeline,
    write_report,
)
from bench.model_agreement import compare, openvino_profile, raw_outputs
from bench.naive import NaiveGroundedSam
from bench.profile_table import profile_stages
from bench.workloads import CENTRE, frame

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VARIANTS = {
    "naive fp32": None,
    "ours fp32": {"dtype": "float32"},
    "ours auto": {"dtype": "auto"},
    "compiled auto": {"dtype": "auto", "compile": True},
    "openvino fp32": {"dtype": "float32", "backend": "openvino"},  # exact sizes (shape_buckets auto = off in fp32)
    "openvino auto": {"dtype": "auto", "backend": "openvino"},  # bf16 hint, size buckets
}
STAGES = ("preprocess", "detector", "select", "sam_encoder", "sam_decoder", "masks", "total")
MAX_SIZES = (800, 640, 512, 400)


def _log(message: str) -> None:
    print(f"[variants {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(detector: str, segmenter: str, cache_dir: str, options: Dict[str, Any]):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    config = PipelineConfig(detector_model=detector, segmenter_model=segmenter, device="cpu", local_files_only=True,
                            compile_cache_dir=cache_dir, **options)  # fmt: skip
    return build_pipeline(forced_top_k(config, CENTRE.boxes))


def interleaved_frames(runners: Dict[str, Any], repeats: int) -> Dict[str, Any]:
    """Every variant on the same frames, one after the other per frame; medians and agreement with ours fp32."""
    samples = {name: Samples() for name in runners}
    agree: Dict[str, List[Dict[str, float]]] = {name: [] for name in runners if name != "ours fp32"}
    for r in range(repeats):
        photo, image = frame(r, CENTRE.size)
        outputs = {name: run(image) for name, run in runners.items()}
        for name, out in outputs.items():
            samples[name].add(out.seconds)
            if name in agree:
                agree[name].append(agreement(outputs["ours fp32"], out))
        _log(f"[{photo}] {r + 1}/{repeats}: " + ", ".join(f"{n} {o.seconds['total']:.2f}s" for n, o in outputs.items()))
    return {
        "medians_ms": {name: s.medians_ms() for name, s in samples.items()},
        "frames_s": {name: [round(f["total"], 3) for f in s.frames] for name, s in samples.items()},
        "agreement_vs_ours_fp32": {name: merge_agreement(values) for name, values in agree.items()},
    }


def model_agreement(pipes: Dict[str, Any], image: np.ndarray) -> Dict[str, Dict[str, float]]:
    """Each pipeline's raw outputs on ``image`` against ours fp32's (see ``bench.model_agreement``)."""
    reference_pipe = pipes["ours fp32"]
    boxes = np.array([d.box for d in reference_pipe(image, CENTRE.query).detections], dtype=np.float32)
    reference = raw_outputs(reference_pipe, image, CENTRE.query, boxes)
    return {name: compare(reference, raw_outputs(pipe, image, CENTRE.query, boxes))
            for name, pipe in pipes.items() if name != "ours fp32"}  # fmt: skip


def max_size_sweep(pipe, repeats: int) -> Dict[str, float]:
    """Detector stage ms (preprocess + forward) at each short side, interleaved; the pipeline's own size restored."""
    prompt = pipe.text_prompt(CENTRE.query)
    _, image = frame(0, CENTRE.size)
    detector = pipe.detector
    times: Dict[int, List[float]] = {size: [] for size in MAX_SIZES}
    for size in MAX_SIZES:  # untimed first call per size
        detector.set_max_size(size)
        detector.forward(detector.preprocess(image), prompt)
    for _ in range(repeats):
        for size in MAX_SIZES:
            detector.set_max_size(size)
            start = time.perf_counter()
            detector.forward(detector.preprocess(image), prompt)
            times[size].append(time.perf_counter() - start)
    detector.set_max_size(0)
    return {str(size): 1000.0 * float(np.median(values)) for size, values in times.items()}


def utilisation(flops: Dict[str, float], medians: Dict[str, Dict[str, float]], peaks: Dict[str, float]) -> Dict:
    """GFLOPS per model stage and variant, and the fraction of the bf16 (and fp32) matmul peak."""
    out: Dict[str, Any] = {}
    for stage, count in flops.items():
        row: Dict[str, Any] = {"gflop": count / 1e9}
        for name, med in medians.items():
            if med.get(stage):
                rate = count / 1e9 / (med[stage] / 1000.0)
                row[name] = {"gflops": rate, "of_bf16_peak": rate / peaks["bfloat16"],
                             "of_fp32_peak": rate / peaks["float32"]}  # fmt: skip
        out[stage] = row
    return out


def render(report: Dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"grounded_sam_ros speed variants, {report['date']}; {m['cpu']}, {m['cores']} cores, bf16 hardware "
             f"{', '.join(m['bf16_hardware']) or 'none'}; torch {m['torch']}; weights {report['weights']}",
             f"load average start {m['load_average_start']} end {report['load_average_end']}; matmul peak "
             + ", ".join(f"{k} {v:.0f} GFLOPS" for k, v in report["matmul_peak_gflops"].items()), ""]  # fmt: skip
    med = report["frames"]["medians_ms"]
    naive = med["naive fp32"]["total"]
    header = ["variant", *("prep", "detector", "select", "sam enc", "sam dec", "masks", "total"), "x naive",
              "det %bf16", "enc %bf16", "agreement vs ours fp32"]  # fmt: skip
    rows = []
    for name, stages in med.items():
        util = report["utilisation"]
        det, enc = util.get("detector", {}).get(name), util.get("sam_encoder", {}).get(name)
        a = report["frames"]["agreement_vs_ours_fp32"].get(name)
        agree = (
            "reference"
            if a is None
            else (
                f"{a['matched']:.0%} matched, drift max {a['box_drift_max_px']:.2f}px, "
                f"mask IoU min {a['mask_iou_min']:.3f}"
            )
        )
        rows.append(
            [name]
            + [f"{stages.get(s, 0):.0f}" for s in STAGES]
            + [
                f"{naive / stages['total']:.2f}",
                f"{det['of_bf16_peak']:.0%}" if det else "-",
                f"{enc['of_bf16_peak']:.0%}" if enc else "-",
                agree,
            ]
        )
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [header, ["-" * w for w in widths]]
              + rows]  # fmt: skip
    lines.append("stage medians in ms; %bf16 = achieved GFLOPS (FlopCounterMode count) / bf16 matmul peak")
    for name, info in report.get("startup", {}).items():
        lines.append(f"{name}: warm-up frame {info['first_frame_s']:.1f}s, cache {info['status']}")
    if report.get("max_size_ms"):
        lines.append("detector_max_size (detector preprocess + forward, ours auto, ms): "
                     + ", ".join(f"{k}: {v:.0f}" for k, v in report["max_size_ms"].items()))  # fmt: skip
    for name, a in report.get("model_agreement_vs_ours_fp32", {}).items():
        lines.append(
            f"model-level vs ours fp32, {name}: queries matched (score 1e-3, box 0.5 px) {a['queries_matched']:.1%}, "
            f"same slot: scores max diff {a['score_diff_max']:.2e}, boxes max "
            f"{a['box_diff_max_px']:.3f} px (median {a['box_diff_median_px']:.3f}), embedding rel. err "
            f"{a['embedding_rel_err']:.2e}, same-box mask IoU min {a['same_box_mask_iou_min']:.4f}"
        )
    for stage, ops in report.get("profile", {}).items():
        lines.append(f"profile {stage} (ours auto), top ops by self CPU time: "
                     + "; ".join(f"{o['op']} {o['share']:.0%}" for o in ops[:8]))  # fmt: skip
    for stage, ops in report.get("profile_openvino", {}).items():
        lines.append(f"profile {stage} (openvino auto), top op types by plugin time: "
                     + "; ".join(f"{o['op']} {o['share']:.0%}" for o in ops[:8]))  # fmt: skip
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default="", help="compile / IR cache (default ~/.cache/grounded_sam_ros/...)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[],
                        help="variant to leave out, or 'max-size' (the sweep) (repeatable)")  # fmt: skip
    parser.add_argument("--detector", default="", help="detector directory (default: as bench.run)")
    parser.add_argument("--segmenter", default="", help="segmenter directory (default: as bench.run)")
    parser.add_argument("--out", default="", help="JSON file (default bench/results/<date>-cpu-variants.json)")
    args = parser.parse_args(argv)
    report: Dict[str, Any] = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "machine": machine_info("cpu"), "repeats": args.repeats}  # fmt: skip
    import torch

    _log("matmul peaks")
    report["matmul_peak_gflops"] = {n: matmul_peak("cpu", d, 2048) for n, d in
                                    (("float32", torch.float32), ("bfloat16", torch.bfloat16))}  # fmt: skip
    if args.detector and args.segmenter:
        detector, segmenter, random_weights = args.detector, args.segmenter, True
    else:
        detector, segmenter, random_weights = find_models()
    report["weights"] = "RANDOM (full-size)" if random_weights else "real"
    naive = NaiveGroundedSam.load(detector, segmenter, "cpu")
    runners, pipes, startup = {}, {}, {}
    for name, options in VARIANTS.items():
        if any(skip in name for skip in args.skip):
            continue
        if options is None:
            runners[name] = lambda image: run_naive(naive, image, CENTRE.caption, CENTRE.boxes)
        else:
            _log(f"loading {name}")
            pipe = pipes[name] = build(detector, segmenter, args.cache_dir, options)
            runners[name] = lambda image, pipe=pipe: run_pipeline(pipe, image, CENTRE.query, None)
        start = time.perf_counter()
        runners[name](frame(0, CENTRE.size)[1])
        _log(f"warm-up {name}: {time.perf_counter() - start:.1f}s")
        if options and (options.get("compile") or options.get("backend")):
            adapters = (pipes[name].detector, pipes[name].segmenter)
            runners_of = [(a.family, a.compiled or a.openvino) for a in adapters]
            status = {family: {"x".join(map(str, k)): v for k, v in r.status.items()} for family, r in runners_of}
            startup[name] = {"first_frame_s": time.perf_counter() - start, "status": status}
    report["startup"] = startup
    report["frames"] = interleaved_frames(runners, args.repeats)
    # Peaks again after the frames: on a shared machine either measurement can be depressed by other jobs; the
    # larger one (closer to the hardware's) is the one utilisation is reported against
    late = {n: matmul_peak("cpu", d, 2048) for n, d in (("float32", torch.float32), ("bfloat16", torch.bfloat16))}
    report["matmul_peak_measurements"] = [report["matmul_peak_gflops"], late]
    report["matmul_peak_gflops"] = {n: max(v, late[n]) for n, v in report["matmul_peak_gflops"].items()}

    _log("FLOPs, detector_max_size sweep, profile")
    from grounded_sam_ros.models.grounding_dino import GroundingDinoDetector
    from grounded_sam_ros.models.sam import SamSegmenter
    from grounded_sam_ros.pipeline import GroundedSamPipeline

    as_published = GroundedSamPipeline(GroundingDinoDetector(naive.gd_model, naive.gd_processor, "cpu"),
                                       SamSegmenter(naive.sam_model, naive.sam_processor, "cpu"),
                                       pipes["ours auto"].config)  # fmt: skip
    flops = count_flops(as_published, frame(0, CENTRE.size)[1], CENTRE.query)
    report["utilisation"] = utilisation(flops, report["frames"]["medians_ms"], report["matmul_peak_gflops"])
    report["model_agreement_vs_ours_fp32"] = model_agreement(pipes, frame(0, CENTRE.size)[1])
    if "max-size" not in args.skip:
        report["max_size_ms"] = max_size_sweep(pipes["ours auto"], args.repeats)
    report["profile"] = profile_stages(pipes["ours auto"], frame(0, CENTRE.size)[1], CENTRE.query)
    if "openvino auto" in pipes:
        report["profile_openvino"] = openvino_profile(pipes["openvino auto"], frame(0, CENTRE.size)[1], CENTRE.query)
    report["load_average_end"] = [round(v, 2) for v in load_average()]
    out = Path(args.out) if args.out else RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M')}-cpu-variants.json"
    write_report(report, render(report), out, _log)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
