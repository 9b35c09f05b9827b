# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Streaming benchmark: tracking (GDINO-T + SAM 2.1-tiny, mode sam2) against per-frame GDINO-T + SAM-B.

    PYTHONPATH=$PWD python -m bench.bench_tracking                 # stream fps table, full-size models
    PYTHONPATH=$PWD python -m bench.bench_tracking --rss-frames 2000   # + RSS over a long stream (tiny models)
    PYTHONPATH=$PWD python -m bench.bench_tracking --device cuda --frames 8 --out /tmp/tracking-cuda.json

Models: the default architectures with RANDOM weights (built once under ~/.cache/grounded_sam_ros/random-models;
real weights are never downloaded): Grounding-DINO-T, SAM ViT-B, and SAM 2.1 Hiera-T (``Sam2VideoConfig()``, the
layers of ``facebook/sam2.1-hiera-tiny``). Random detections are meaningless, so the workload is forced: every key
frame keeps exactly ``--boxes`` boxes (thresholds 0, top-k), and ``max_age=0`` ends the previous key frame's tracks
(random masks never match), so ``--boxes`` tracks are propagated on every frame, as in a scene with that many
objects. Before timing, one frame runs with hooks that count subnormal activations (they make CPU matmuls ~10x
slower and do not happen with trained weights); the run stops if more than 1 % of any layer's outputs are subnormal.

Frames: 640x480, a photo panning by 2 px per frame. Costs are per kind of frame (key: detector + SAM 2 image
segmenter + video step + memory refresh; propagated: video step only), each the median over ``--frames`` frames of a
stream with ``detect_every=5``; the stream fps at ``detect_every`` = N is ``N / (key + (N - 1) * propagated)``, and
one stream of ``2 * 5`` frames is also timed end to end to check that formula.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from bench.machine import current_rss_mb, load_average, machine_info
from bench.workloads import frame

SIZE = (640, 480)
DETECT_EVERY = (1, 5, 10, 30)
RESULTS = Path(__file__).resolve().parent / "results"


def frames(count: int, start: int = 0) -> List[np.ndarray]:
    """``count`` 640x480 frames of a photo panning right by 2 px per frame."""
    _, wide = frame(0, (SIZE[0] + 2 * (start + count), SIZE[1]))
    return [np.ascontiguousarray(wide[:, 2 * t : 2 * t + SIZE[0]]) for t in range(start, start + count)]


def subnormal_report(tracker: Any, image: np.ndarray, query: str) -> Dict[str, float]:
    """Largest fraction of subnormal values in any module output of the video and segmenter models on one frame."""
    import torch

    worst: Dict[str, float] = {}
    tiny = torch.finfo(torch.float32).tiny

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.is_floating_point() and output.numel():
            values = output.detach().float().abs()
            fraction = float(((values > 0) & (values < tiny)).float().mean())
            name = type(module).__name__
            worst[name] = max(worst.get(name, 0.0), fraction)

    models = [tracker._tracks._video.model, tracker.pipeline.segmenter.model]
    handles = [m.register_forward_hook(hook) for model in models for m in model.modules()]
    try:
        tracker(image, query)
        tracker(image, query)  # a propagated frame too
    finally:
        for handle in handles:
            handle.remove()
        tracker.reset()
    return worst


def build(
    detector: str,
    segmenter: str,
    family: str,
    video: str,
    boxes: int,
    detect_every: int,
    memory_frames: int = 0,
    device: str = "cpu",
    dtype: str = "auto",
) -> Any:
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline
    from grounded_sam_ros.tracking import StreamTracker, TrackerConfig, build_tracker

    config = PipelineConfig(
        detector_model=detector,
        segmenter_model=segmenter,
        segmenter_family=family,
        device=device,
        dtype=dtype,
        box_threshold=0.0,
        text_threshold=0.0,
        max_detections=boxes,
    )
    pipeline = build_pipeline(config)
    if not video:
        return pipeline
    tracking = TrackerConfig(
        mode="sam2", detect_every=detect_every, max_age=0, video_model=video, memory_frames=memory_frames
    )
    tracker = build_tracker(pipeline, tracking)
    assert isinstance(tracker, StreamTracker)
    return tracker


def time_per_frame(pipeline: Any, images: List[np.ndarray], query: str) -> List[float]:
    out = []
    for image in images:
        start = time.perf_counter()
        pipeline(image, query)
        out.append(time.perf_counter() - start)
    return out


def time_stream(tracker: Any, images: List[np.ndarray], query: str) -> Dict[str, List[float]]:
    """Seconds per frame, by kind (key / propagated)."""
    out: Dict[str, List[float]] = {"key": [], "propagated": []}
    for image in images:
        start = time.perf_counter()
        tracker(image, query)
        out[tracker.stats.last_kind].append(time.perf_counter() - start)
    return out


def rss_run(frames_total: int) -> Dict[str, Any]:
    """RSS of a long sam2 stream on the TINY models (full size is too slow here for thousands of frames)."""
    import tempfile

    import torch

    from grounded_sam_ros.models.tiny import build_tiny_models
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    torch.set_num_threads(1)  # tiny models are per-op overhead bound; one thread is faster and steadier
    root = Path(tempfile.mkdtemp(prefix="gsr-bench-tiny-"))
    detector, _ = build_tiny_models(root)
    video = tiny_sam2(root)
    tracker = build(str(detector), str(video), "sam2", str(video), 2, 10)
    images = frames(50)
    marks = {}
    start = time.perf_counter()
    for t in range(frames_total):
        tracker(images[t % 50], "cup . person")
        if t + 1 in (200, frames_total) or (t + 1) % 500 == 0:
            marks[t + 1] = round(current_rss_mb(), 1)
            print(f"  rss after {t + 1} frames: {marks[t + 1]} MiB", flush=True)
    return {
        "models": "tiny random GDINO + tiny random SAM 2 (256 px input), 2 boxes per key frame, detect_every 10, "
        "1 torch thread",
        "frames": frames_total,
        "seconds": round(time.perf_counter() - start, 1),
        "rss_mib": marks,
        "growth_200_to_end_pct": round(100.0 * (marks[frames_total] / marks[200] - 1.0), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4, help="timed frames per kind (default 4)")
    parser.add_argument("--boxes", type=int, default=3, help="boxes kept per key frame = tracks propagated")
    parser.add_argument("--rss-frames", type=int, default=0, help="also run a tiny-model stream this long for RSS")
    parser.add_argument("--skip-full", action="store_true", help="only the RSS run")
    parser.add_argument(
        "--memory-frames", type=int, default=2, help="also time propagation with this many recent memories (0: no)"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny random models: a smoke test of this script")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    parser.add_argument("--dtype", default="auto", help="auto (CPU: bf16 where native, CUDA: fp16) | float32 | ...")
    parser.add_argument("--out", default="", help="results JSON (default bench/results/tracking-<device>.json)")
    args = parser.parse_args()
    device = args.device
    out = Path(args.out or RESULTS / f"tracking-{device.split(':')[0]}.json")

    from grounded_sam_ros.models.architectures import build_default_models, default_models_cache
    from grounded_sam_ros.models.tiny_sam2 import RANDOM_SAM2_TINY_DIR, build_random_sam2_tiny

    query = "cup . person . table"
    report: Dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "dtype": args.dtype,
        "weights": "RANDOM (full-size architectures)",
        "frame": f"{SIZE[0]}x{SIZE[1]}",
        "boxes_per_key_frame": args.boxes,
    }
    if not args.skip_full:
        if args.tiny:  # a smoke test of this script: tiny random models, numbers meaningless
            import tempfile

            from grounded_sam_ros.models.tiny import build_tiny_models
            from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

            root = Path(tempfile.mkdtemp(prefix="gsr-bench-tiny-"))
            (detector, sam_b), sam2 = build_tiny_models(root), tiny_sam2(root)
            report["weights"] = "TINY RANDOM (smoke test, not a measurement)"
        else:
            detector, sam_b = build_default_models()
            sam2 = default_models_cache() / RANDOM_SAM2_TINY_DIR
            if not (sam2 / "model.safetensors").exists():
                build_random_sam2_tiny(sam2)

        print("per-frame GDINO-T + SAM-B ...", flush=True)
        baseline = build(str(detector), str(sam_b), "sam", "", args.boxes, 1, device=device, dtype=args.dtype)
        time_per_frame(baseline, frames(1), query)  # warm-up
        per_frame = time_per_frame(baseline, frames(args.frames, 1), query)
        del baseline

        print("tracking GDINO-T + SAM 2.1-tiny ...", flush=True)
        tracker = build(str(detector), str(sam2), "sam2", str(sam2), args.boxes, 5, device=device, dtype=args.dtype)
        worst = subnormal_report(tracker, frames(1)[0], query)
        report["subnormal_fraction_max"] = round(max(worst.values()), 6)
        if max(worst.values()) > 0.01:
            raise SystemExit(f"subnormal activations in random weights, timings would be wrong: {worst}")
        # Enough frames for --frames key frames at detect_every=5, the first stream timed end to end
        total = 5 * args.frames
        start = time.perf_counter()
        kinds = time_stream(tracker, frames(total, 1), query)
        stream_10 = 10 / sum(kinds["key"][:2] + kinds["propagated"][:8])
        elapsed = time.perf_counter() - start
        key, prop = statistics.median(kinds["key"]), statistics.median(kinds["propagated"])
        base = statistics.median(per_frame)
        rows = []
        for n in DETECT_EVERY:
            fps = n / (key + (n - 1) * prop)
            rows.append({"detect_every": n, "fps": round(fps, 3), "speedup_vs_per_frame": round(fps * base, 2)})
        variant = {}
        if args.memory_frames:
            del tracker
            light = build(
                str(detector), str(sam2), "sam2", str(sam2), args.boxes, 1000, args.memory_frames, device, args.dtype
            )
            cheap = time_stream(light, frames(1 + 9, 1), query)["propagated"][-3:]  # once the memory is full
            variant = {"memory_frames": args.memory_frames, "propagated_frame_s": round(statistics.median(cheap), 3)}
            for n in DETECT_EVERY:
                variant[f"fps_detect_every_{n}"] = round(n / (key + (n - 1) * statistics.median(cheap)), 3)
        report.update(
            memory_frames_variant=variant,
            per_frame_gdino_t_sam_b_s=round(base, 3),
            per_frame_fps=round(1.0 / base, 3),
            key_frame_s=round(key, 3),
            propagated_frame_s=round(prop, 3),
            measured_stream_fps_detect_every_5=round(stream_10, 3),
            stream_seconds=round(elapsed, 1),
            streams=rows,
            samples={"per_frame": per_frame, **kinds},
        )
        print(f"\n{report['weights']}, {device} dtype {args.dtype}, {SIZE[0]}x{SIZE[1]}, {args.boxes} tracks")
        print(f"{'':<34}{'s/frame':>9}{'fps':>8}")
        print(f"{'per-frame GDINO-T + SAM-B':<34}{base:>9.3f}{1 / base:>8.3f}")
        print(f"{'tracking key frame':<34}{key:>9.3f}")
        print(f"{'tracking propagated frame':<34}{prop:>9.3f}")
        for row in rows:
            label = f"tracking detect_every={row['detect_every']}"
            print(f"{label:<34}{1 / row['fps']:>9.3f}{row['fps']:>8.3f}   x{row['speedup_vs_per_frame']}")
        print(f"measured stream, detect_every=5 (10 frames): {stream_10:.3f} fps")
        if variant:
            print(f"memory_frames={variant['memory_frames']}: propagated {variant['propagated_frame_s']:.3f} s/frame, ")
            print(
                "  fps by detect_every: " + ", ".join(f"{n}: {variant[f'fps_detect_every_{n}']}" for n in DETECT_EVERY)
            )
    if args.rss_frames:
        print(f"RSS over {args.rss_frames} frames (tiny models) ...", flush=True)
        report["rss"] = rss_run(args.rss_frames)
    report["load_average_end"] = [round(v, 2) for v in load_average()]
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(report)
    out.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
