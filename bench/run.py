# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Benchmark of the Grounded-SAM pipeline against the naive transformers baseline; prints one table, writes JSON.

    python -m bench.run --quick                  # minutes: 640x480, 4 phrases, 8 boxes
    python -m bench.run                          # the scaling workloads and every optimisation experiment
    python -m bench.run --quick --device cuda    # on a GPU (no ROS needed there)

Models: the default architectures (Grounding-DINO-T, SAM ViT-B) with real weights when both are in the local Hugging
Face cache, otherwise with random weights (built once under ~/.cache/grounded_sam_ros; same compute). Nothing is
downloaded. Variants, run interleaved on the same frames so that other load on the machine hits them alike:

- ``naive fp32``: plain transformers usage as in its docs (:mod:`bench.naive`)
- ``ours fp32``: the pipeline in float32, whose outputs must equal the naive ones
- ``ours auto``: the pipeline with its default ``dtype=auto`` (what a user gets)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from bench import experiments
from bench.machine import current_rss_mb, find_models, load_average, machine_info, matmul_peak, peak_rss_mb
from bench.measure import (
    STAGES,
    Samples,
    agreement,
    count_flops,
    load_pipeline,
    merge_agreement,
    message_converter,
    run_naive,
    run_pipeline,
    synchronising,
    write_report,
)
from bench.naive import NaiveGroundedSam
from bench.workloads import CENTRE, FULL, QUICK, Workload, frame
from grounded_sam_ros.models.grounding_dino import GroundingDinoDetector
from grounded_sam_ros.models.sam import SamSegmenter
from grounded_sam_ros.pipeline import GroundedSamPipeline

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VARIANTS = ("naive fp32", "ours fp32", "ours auto")
BOX_COUNTS = (1, 8, 32)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="centre workload only, fewer repeats (a few minutes)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--repeats", type=int, default=0, help="timed frames per workload and variant")
    parser.add_argument("--out", default="", help="JSON file to write (default: bench/results/<date>-<mode>.json)")
    parser.add_argument("--random", action="store_true", help="random weights even when real ones are cached")
    parser.add_argument("--detector", default="", help="detector model directory or Hub id (default: see above)")
    parser.add_argument("--segmenter", default="", help="segmenter model directory or Hub id (default: see above)")
    parser.add_argument("--no-ros", action="store_true", help="skip the end-to-end measurement through the node")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile on the SAM encoder (slow)")
    parser.add_argument("--render", default="", metavar="JSON", help="only print the report of a saved JSON file")
    return parser.parse_args(argv)


def _peaks(device: str) -> Dict[str, float]:
    """Achieved GFLOPS of a square matmul per dtype: 2048 on CPU (as in the issue), 8192 on a GPU."""
    import torch

    size = 8192 if device.startswith("cuda") else 2048
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if device.startswith("cuda"):
        dtypes["float16"] = torch.float16
    return {name: matmul_peak(device, dtype, size) for name, dtype in dtypes.items()}


def measure_workloads(models, device: str, workloads: List[Workload], repeats: int, to_msg) -> Dict[str, Any]:
    """Every variant on every workload, interleaved per frame. Returns per-workload samples and agreement."""
    detector, segmenter = models
    _log(f"loading the naive baseline and the pipeline (fp32, auto) on {device}")
    naive = NaiveGroundedSam.load(detector, segmenter, device)
    pipes = {
        "ours fp32": load_pipeline(detector, segmenter, device, "float32", CENTRE.boxes),
        "ours auto": load_pipeline(detector, segmenter, device, "auto", CENTRE.boxes),
    }

    def run(variant: str, image: np.ndarray, workload: Workload):
        if variant == "naive fp32":
            return run_naive(naive, image, workload.caption, workload.boxes)
        pipes[variant].update(max_detections=workload.boxes)
        return run_pipeline(pipes[variant], image, workload.query, to_msg)

    # One untimed frame per variant: first calls allocate and pick kernels
    _, image = frame(0, workloads[0].size)
    for variant in VARIANTS:
        started = time.perf_counter()
        run(variant, image, workloads[0])
        _log(f"warm-up {variant}: {time.perf_counter() - started:.1f} s")

    results = []
    for workload in workloads:
        samples = {v: Samples() for v in VARIANTS}
        exact, default = [], []
        for r in range(repeats):
            photo, image = frame(r, workload.size)
            outputs = {}
            for variant in VARIANTS:
                outputs[variant] = run(variant, image, workload)
                samples[variant].add(outputs[variant].seconds)
            exact.append(agreement(outputs["naive fp32"], outputs["ours fp32"]))
            default.append(agreement(outputs["ours fp32"], outputs["ours auto"]))
            if r == 0 and workload == workloads[0]:
                masks_only = same_boxes_agreement(pipes["ours auto"], image, outputs["ours fp32"])
            totals = ", ".join(f"{v} {outputs[v].seconds['total']:.2f} s" for v in VARIANTS)
            _log(f"{workload.name} [{photo}] {r + 1}/{repeats}: {totals}")
        results.append(
            {
                "workload": workload.name,
                "size": list(workload.size),
                "phrases": workload.phrases,
                "boxes": workload.boxes,
                "query": workload.query,
                "medians_ms": {v: samples[v].medians_ms() for v in VARIANTS},
                "frames_s": {v: [round(f["total"], 4) for f in samples[v].frames] for v in VARIANTS},
                "agreement": {
                    "ours fp32 vs naive fp32": merge_agreement(exact),
                    "ours auto vs ours fp32": merge_agreement(default),
                },
            }
        )
    results[0]["agreement"]["ours auto SAM vs ours fp32, same boxes"] = masks_only
    return {"naive": naive, "pipes": pipes, "workloads": results}


def same_boxes_agreement(pipe, image: np.ndarray, reference) -> Dict[str, float]:
    """Masks of ``pipe``'s segmenter for ``reference``'s boxes, against ``reference``'s masks (isolates SAM's
    precision from the detector's)."""
    from bench.measure import Frame

    segmenter = pipe.segmenter
    height, width = image.shape[:2]
    state = segmenter.embed(segmenter.preprocess(image))
    logits, _ = segmenter.decode(state, reference.boxes, False)
    upsample = pipe._upsampler(logits.shape[-2:], segmenter.pad_size, state.resized_size, state.original_size)
    masks = []
    for mask_logits in logits:
        crop, x, y = upsample(mask_logits)
        full = np.zeros((height, width), dtype=bool)
        full[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        masks.append(full)
    return agreement(reference, Frame(reference.boxes, np.array(masks).reshape(-1, height, width), {}))


def box_scaling(pipe, image: np.ndarray, query: str, to_msg, repeats: int) -> Dict[str, Any]:
    """Per-frame cost that grows with the box count: select + SAM decoder + masks + message, for 1, 8, 32 boxes."""
    from grounded_sam_ros.postprocess import select_boxes
    from grounded_sam_ros.results import Detection, FrameResult

    height, width = image.shape[:2]
    prompt = pipe.text_prompt(query)
    raw = pipe.detector.forward(pipe.detector.preprocess(image), prompt)
    segmenter = pipe.segmenter
    state = segmenter.embed(segmenter.preprocess(image))
    sync = synchronising(str(segmenter.device))
    rows = {}
    for k in BOX_COUNTS:

        def per_box_work(k=k):
            selection = select_boxes(
                raw.token_probs, raw.boxes_cxcywh, prompt.spans.spans, (height, width), 0.0, 0.0, 1.0, k
            )
            logits, scores = segmenter.decode(state, selection.boxes, False)
            upsample = pipe._upsampler(logits.shape[-2:], segmenter.pad_size, state.resized_size, state.original_size)
            detections = []
            for box, mask_logits in zip(selection.boxes, logits):
                crop, x, y = upsample(mask_logits)
                detections.append(Detection("x", 1.0, box, crop, x, y))
            if to_msg is not None:
                to_msg(FrameResult(width, height, query, detections))

        per_box_work()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            per_box_work()
            sync()
            times.append(time.perf_counter() - start)
        rows[k] = 1000.0 * statistics.median(times)
    slope = float(np.polyfit(list(rows), list(rows.values()), 1)[0])
    return {"ms_by_boxes": rows, "ms_per_box": slope}


def scaling_from_workloads(workloads: List[Dict[str, Any]], variant: str) -> Dict[str, Any]:
    """Total ms of ``variant`` against box count, phrase count and resolution (one factor changed at a time)."""
    centre = CENTRE
    table: Dict[str, Dict[str, float]] = {"boxes": {}, "phrases": {}, "resolution": {}}
    for entry in workloads:
        total = entry["medians_ms"][variant]["total"]
        size, phrases, boxes = tuple(entry["size"]), entry["phrases"], entry["boxes"]
        if size == centre.size and phrases == centre.phrases:
            table["boxes"][str(boxes)] = total
        if size == centre.size and boxes == centre.boxes:
            table["phrases"][str(phrases)] = total
        if phrases == centre.phrases and boxes == centre.boxes:
            table["resolution"][f"{size[0]}x{size[1]}"] = total
    return {k: v for k, v in table.items() if len(v) > 1}


def _fmt_ms(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def render(report: Dict[str, Any]) -> str:
    """The printed report: header, the table, then derived lines."""
    m = report["machine"]
    lines = [
        f"grounded_sam_ros benchmark ({report['mode']}), {report['date']}",
        f"machine: {m['cpu']}, {m['cores']} cores ({m['torch_threads']} torch threads), bf16 hardware: "
        f"{', '.join(m['bf16_hardware']) or 'none'}" + (f", GPU {m['gpu']}" if m.get("gpu") else ""),
        f"software: python {m['python']}, torch {m['torch']}, transformers {m['transformers']}; device {m['device']}",
        f"load average at start {m['load_average_start']}, at end {m['load_average_end']} (other work on the machine)",
        f"weights: {report['weights']}; ours auto = dtype {report['auto_dtype']}",
        "matmul peak: " + ", ".join(f"{k} {v:.0f} GFLOPS" for k, v in report["matmul_peak_gflops"].items()),
        "",
    ]
    headers = ["workload", "variant", "text", "prep", "detector", "select", "sam enc", "sam dec", "masks", "msg",
               "total ms", "fps", "x naive", "agreement"]  # fmt: skip
    rows = []
    for entry in report["workloads"]:
        naive_total = entry["medians_ms"]["naive fp32"]["total"]
        for variant in VARIANTS:
            med = entry["medians_ms"][variant]
            if variant == "ours fp32":
                a = entry["agreement"]["ours fp32 vs naive fp32"]
                agree = f"vs naive: drift {a['box_drift_max_px']:.3f} px, mask IoU min {a['mask_iou_min']:.4f}"
            elif variant == "ours auto":
                a = entry["agreement"]["ours auto vs ours fp32"]
                agree = (
                    f"vs fp32: {a['matched']:.0%} matched, drift max {a['box_drift_max_px']:.2f} px "
                    f"(median {a['box_drift_median_px']:.2f}), mask IoU min {a['mask_iou_min']:.3f} "
                    f"mean {a['mask_iou_mean']:.3f}"
                )
                same = entry["agreement"].get("ours auto SAM vs ours fp32, same boxes")
                if same:
                    agree += f"; SAM alone (same boxes): mask IoU min {same['mask_iou_min']:.3f}"
            else:
                agree = "reference"
            rows.append(
                [entry["workload"], variant]
                + [_fmt_ms(med.get(s)) for s in STAGES]
                + [_fmt_ms(med["total"]), f"{1000.0 / med['total']:.2f}", f"{naive_total / med['total']:.2f}", agree]
            )
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i in (0, 1, 13) else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))  # fmt: skip
    lines += [fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    lines.append("stage medians in ms; prep = detector + SAM preprocessing; msg = result_to_msg (not in total)")
    lines.append("")

    flops = report.get("flops", {})
    if flops:
        parts = []
        for stage, item in flops["stages"].items():
            parts.append(
                f"{stage} {item['gflop']:.0f} GFLOP -> {item['ours auto_gflops']:.0f} GFLOPS auto "
                f"({item['ours auto_utilisation']:.0%} of {flops['peak_auto']} peak), "
                f"{item['ours fp32_gflops']:.0f} fp32 ({item['ours fp32_utilisation']:.0%})"
            )
        lines.append("FLOPs (FlopCounterMode on the unmodified models, centre workload): " + "; ".join(parts))
    sc = report.get("box_scaling")
    if sc:
        boxes = ", ".join(f"{k} boxes {v:.0f} ms" for k, v in sc["ms_by_boxes"].items())
        lines.append(
            f"per-box cost (select + SAM decoder + masks + msg, ours auto): {boxes}; slope {sc['ms_per_box']:.1f} "
            f"ms/box = {sc['per_box_share_of_frame']:.1%} of a {sc['frame_ms']:.0f} ms frame"
        )
    for factor, values in report.get("scaling", {}).items():
        pairs = ", ".join(f"{k}: {v:.0f}" for k, v in values.items())
        lines.append(f"scaling by {factor} (ours auto total ms): {pairs}")
    ros = report.get("ros", {})
    if "skipped" in ros:
        lines.append(f"ROS end-to-end: skipped: {ros['skipped']}")
    elif ros:
        lines.append(
            f"ROS end-to-end (publish -> DetectionArray, {ros['frames']} frames, ours auto, centre workload): median "
            f"{ros['ros_median_ms']:.0f} ms vs pipeline alone {ros['pipeline_median_ms']:.0f} ms -> ratio "
            f"{ros['ratio']:.3f}; fastest frames {ros['ros_min_ms']:.0f} vs {ros['pipeline_min_ms']:.0f} ms -> ratio "
            f"{ros['ratio_of_minima']:.3f}; node RSS {ros['node_rss_mb']:.0f} MiB"
        )
        if "node_latency_ms" in ros:
            transport = statistics.median(r - n for r, n in zip(ros["ros_ms"], ros["node_latency_ms"]))
            lines.append(
                f"  inside the node: pipeline + result_to_msg + publish median {ros['node_inference_median_ms']:.0f} "
                f"ms; publish -> DetectionArray minus the node's receive -> publish: median {transport:.0f} ms "
                "(DDS both ways, image_msg_to_rgb)"
            )
    lines.append(
        f"memory: bench process peak RSS {report['peak_rss_mb']:.0f} MiB (all three variants loaded; "
        f"{report['rss_after_load_mb']:.0f} MiB after loading)"
    )
    if report.get("experiments"):
        lines.append("optimisations (A -> B, medians, interleaved):")
        for e in report["experiments"]:
            if "a_ms" in e:
                extra = f", cold start {e['cold_start_s']:.1f} s" if "cold_start_s" in e else ""
                lines.append(f"  {e['name']}: {e['a']} {e['a_ms']:.1f} ms -> {e['b']} {e['b_ms']:.1f} ms "
                             f"(x{e['speedup']:.2f}){extra}")  # fmt: skip
            else:
                lines.append(f"  {e['name']}: {e['ms']:.1f} ms ({e['note']})")
    lines.append("targets: " + "; ".join(f"{k}: {v}" for k, v in report["targets"].items()))
    return "\n".join(lines)


def targets(report: Dict[str, Any]) -> Dict[str, str]:
    centre = report["workloads"][0]
    med = centre["medians_ms"]
    out = {}
    ros = report.get("ros", {})
    if "ratio" in ros:
        for key, what in (("ratio", "medians"), ("ratio_of_minima", "fastest frames")):
            out[f"ROS <= 1.03x pipeline ({what})"] = f"{ros[key]:.3f} ({'met' if ros[key] <= 1.03 else 'missed'})"
    exact = med["naive fp32"]["total"] / med["ours fp32"]["total"]
    out[">= 2x naive, fp32"] = f"{exact:.2f}x ({'met' if exact >= 2 else 'missed'})"
    fast = med["naive fp32"]["total"] / med["ours auto"]["total"]
    out[">= 4x naive, default dtype"] = f"{fast:.2f}x ({'met' if fast >= 4 else 'missed'})"
    for stage, item in report.get("flops", {}).get("stages", {}).items():
        if stage in ("detector", "sam_encoder"):
            u = item["ours auto_utilisation"]
            out[f"{stage} >= 50% of peak"] = f"{u:.0%} ({'met' if u >= 0.5 else 'missed'})"
    sc = report.get("box_scaling")
    if sc:
        share = sc["per_box_share_of_frame"]
        out["per box <= 5% of frame"] = f"{share:.1%} ({'met' if share <= 0.05 else 'missed'})"
    return out


def main(argv: Optional[List[str]] = None) -> int:
    from grounded_sam_ros.pipeline import resolve_device, resolve_dtype

    args = parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    device = resolve_device(args.device)
    repeats = args.repeats or (2 if args.quick else 3)
    workloads = QUICK if args.quick else FULL
    mode = "quick" if args.quick else "full"
    report: Dict[str, Any] = {
        "mode": mode,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(device),
        "repeats": repeats,
        "auto_dtype": str(resolve_dtype("auto", device)).replace("torch.", ""),
    }
    _log("measuring the matmul peak")
    report["matmul_peak_gflops"] = _peaks(device)
    if args.detector and args.segmenter:
        from grounded_sam_ros.models.tiny import has_random_weights

        detector, segmenter = args.detector, args.segmenter
        random_weights = has_random_weights(detector) or has_random_weights(segmenter)
    else:
        detector, segmenter, random_weights = find_models(allow_real=not args.random)
    report["weights"] = "RANDOM (full-size architectures, same compute)" if random_weights else "real (local cache)"
    report["models"] = {"detector": detector, "segmenter": segmenter}
    to_msg, no_msg = message_converter()
    if to_msg is None:
        _log(f"message conversion skipped: {no_msg}")
        report["message_conversion"] = f"skipped: {no_msg}"

    measured = measure_workloads((detector, segmenter), device, workloads, repeats, to_msg)
    report["workloads"] = measured["workloads"]
    report["rss_after_load_mb"] = current_rss_mb()
    pipe = measured["pipes"]["ours auto"]

    # FLOPs of the centre workload on the unmodified transformers models (the naive baseline's, float32:
    # FlopCounterMode does not compose with autocast, and the count does not depend on the dtype), and the rate each
    # variant achieved on them
    _log("counting FLOPs")
    _, image = frame(0, CENTRE.size)
    naive = measured["naive"]
    as_published = GroundedSamPipeline(
        GroundingDinoDetector(naive.gd_model, naive.gd_processor, device),
        SamSegmenter(naive.sam_model, naive.sam_processor, device),
        pipe.config.replace(max_detections=CENTRE.boxes),
    )
    flops = count_flops(as_published, image, CENTRE.query)
    # Free the naive and fp32 models before the experiments and the node load their own
    measured = naive = as_published = None
    pipe.update(max_detections=CENTRE.boxes)
    peaks = report["matmul_peak_gflops"]
    peak_auto = report["auto_dtype"] if report["auto_dtype"] in peaks else "float32"
    centre_medians = report["workloads"][0]["medians_ms"]
    stages = {}
    for stage, count in flops.items():
        item = {"gflop": count / 1e9}
        for variant, peak in (("ours auto", peaks[peak_auto]), ("ours fp32", peaks["float32"])):
            rate = count / 1e9 / (centre_medians[variant][stage] / 1000.0)
            item[f"{variant}_gflops"] = rate
            item[f"{variant}_utilisation"] = rate / peak
        stages[stage] = item
    report["flops"] = {"stages": stages, "peak_auto": peak_auto}

    _log("per-box cost")
    sc = box_scaling(pipe, image, CENTRE.query, to_msg, max(repeats, 3))
    sc["frame_ms"] = centre_medians["ours auto"]["total"]
    sc["per_box_share_of_frame"] = sc["ms_per_box"] / sc["frame_ms"]
    report["box_scaling"] = sc
    report["scaling"] = scaling_from_workloads(report["workloads"], "ours auto")

    # Optimisations, each an interleaved A/B
    _log("optimisation experiments")
    ex: List[Dict[str, Any]] = []
    ex += experiments.text_cache(pipe, CENTRE.query, 20)
    ex += experiments.crop_upsampling(pipe, image, CENTRE.query, (8, 32), 5)
    ex.append(experiments.skip_sam_when_empty(pipe, image, CENTRE.query, centre_medians["ours auto"]["total"]))
    if device == "cpu":
        ex.append(experiments.gather_deformable_attention(pipe, image, CENTRE.query, detector, 1 if args.quick else 2))
        ex.append(experiments.folded_rel_pos_attention(pipe, image, segmenter, 1 if args.quick else 2))
    auto_vs_fp32 = {
        stage: centre_medians["ours fp32"][stage] / centre_medians["ours auto"][stage]
        for stage in ("detector", "sam_encoder", "total")
    }
    ex.append({"name": f"dtype auto ({report['auto_dtype']}) vs float32, centre workload", "a": "float32",
               "b": report["auto_dtype"], "a_ms": centre_medians["ours fp32"]["total"],
               "b_ms": centre_medians["ours auto"]["total"], "speedup": auto_vs_fp32["total"],
               "stage_speedups": auto_vs_fp32})  # fmt: skip
    if not args.quick:
        ex += experiments.sam_encoder_variants(pipe, image, segmenter, 2)
        ex += experiments.detector_weight_cast(pipe, image, CENTRE.query, detector, 2)
        if device == "cpu":
            ex.append(experiments.threads(pipe, image, 2))
    if args.compile:
        ex.append(experiments.compile_sam_encoder(pipe, image, 2))
    report["experiments"] = ex

    if args.no_ros:
        report["ros"] = {"skipped": "--no-ros"}
    elif device != "cpu":
        report["ros"] = {"skipped": "the node is measured on CPU only (run without --device)"}
    else:
        from bench.ros_e2e import ros_end_to_end

        _log("end to end through the ROS node")
        frames = [frame(r, CENTRE.size)[1] for r in range(max(repeats, 5 if args.quick else 8) + 3)]
        parameters = {
            "detector_model": detector,
            "segmenter_model": segmenter,
            "device": device,
            "dtype": "auto",
            "local_files_only": True,
            "box_threshold": 0.0,
            "text_threshold": 0.0,
            "max_detections": CENTRE.boxes,
        }

        def pipeline_seconds(image: np.ndarray) -> float:
            start = time.perf_counter()
            pipe(image, CENTRE.query)
            return time.perf_counter() - start

        pipe.update(box_threshold=0.0, text_threshold=0.0, max_detections=CENTRE.boxes)
        report["ros"] = ros_end_to_end(parameters, frames, CENTRE.query, pipeline_seconds)

    report["peak_rss_mb"] = peak_rss_mb()
    report["machine"]["load_average_end"] = [round(v, 2) for v in load_average()]
    report["targets"] = targets(report)
    out = Path(args.out) if args.out else RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M')}-{mode}-{device}.json"
    write_report(report, render(report), out, _log)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # real weights only when already cached: never download
    sys.exit(main())
