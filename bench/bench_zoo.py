# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Frame time of every detector x segmenter pair of the zoo (and SAM 3 alone); prints a table, writes JSON.

    flock /tmp/gsr-heavy.lock python -m bench.bench_zoo            # CPU, default dtype, 2 timed frames per row
    python -m bench.bench_zoo --device cuda --frames 10 --out zoo-cuda.json   # on a GPU: every row, SAM 3 too
    python -m bench.bench_zoo --only owlv2+sam sam3 --merge         # re-measure rows into the existing JSON

Models: the published architectures at full size with RANDOM weights (``grounded_sam_ros.models.architectures`` and
``architectures_zoo``, built once under ~/.cache/grounded_sam_ros/random-models, their weights created on the
benchmark's device; same compute as the real ones, meaningless outputs). Workload: one 640x480 photo, 4 phrases,
the 8 best boxes kept (thresholds 0 + top-k, so every pair segments the same number of boxes).

On a CPU, the first frame of each row runs with the subnormal check's hooks and is the untimed warm-up: each
model's activations on the frame are checked for subnormal values (they slow CPU matmuls ~10x; STYLE.md), the
fraction is reported per row. On a GPU (which handles subnormals at full speed) the check is skipped (reported as
null) and the first frame is a plain warm-up. GPU stage times are not synchronised per stage (the frame time is).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
from PIL import Image

from bench.machine import load_average, machine_info
from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.models import LoadOptions, build_detector, build_one_stage, build_segmenter
from grounded_sam_ros.models.architectures import build_default_models, default_models_cache
from grounded_sam_ros.models.architectures_zoo import build_zoo_models, subnormal_fraction
from grounded_sam_ros.pipeline import GroundedSamPipeline, resolve_device, resolve_dtype

RESULTS = Path(__file__).resolve().parent / "results"
QUERY = "cup . person . cat . plate"
BOXES = 8
DETECTORS = ("grounding_dino", "owlv2", "omdet_turbo")
SEGMENTERS = ("sam", "slimsam", "sam_hq")
DIRS = {
    "owlv2": "random-owlv2-base-patch16",
    "omdet_turbo": "random-omdet-turbo-swin-tiny",
    "slimsam": "random-slimsam-77",
    "sam_hq": "random-sam-hq-vit-base",
    "sam3": "random-sam3",
}
FAMILY = {"slimsam": "sam"}
STAGES = ("detector", "segmenter_encoder", "segmenter_decoder", "masks")
_RUN_DATE = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _log(message: str) -> None:
    print(f"[bench_zoo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _frame() -> np.ndarray:
    return np.asarray(Image.fromarray(load_image(sample_image("coffee"))).resize((640, 480), Image.BILINEAR))


def _sync(device: str) -> Callable[[], None]:
    """Waits for the device's queued work (CUDA); nothing to wait for on a CPU."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _time(
    pipe: GroundedSamPipeline, image: np.ndarray, frames: int, warmup: int, sync: Callable[[], None]
) -> Dict[str, Any]:
    for _ in range(warmup):
        pipe(image, QUERY)
    walls: List[float] = []
    stages: Dict[str, List[float]] = {s: [] for s in STAGES}
    for _ in range(frames):
        sync()
        start = time.perf_counter()
        result = pipe(image, QUERY)
        sync()
        walls.append(time.perf_counter() - start)
        for stage in STAGES:
            stages[stage].append(result.timings.get(stage, 0.0))
    return {
        "frame_ms": round(1000 * statistics.median(walls), 1),
        "frame_ms_all": [round(1000 * w, 1) for w in walls],
        "stages_ms": {s: round(1000 * statistics.median(v), 1) for s, v in stages.items()},
        "detections": len(result.detections),
    }


def _subnormal(pipe: GroundedSamPipeline, image: np.ndarray) -> float:
    models = [pipe.detector.model] + ([pipe.segmenter.model] if pipe.segmenter is not None else [])
    worst = 0.0
    for model in models:
        worst = max(worst, subnormal_fraction(model, lambda: pipe(image, QUERY)))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=0, help="untimed frames after the subnormal check's frame")
    parser.add_argument(
        "--sam3-frames", type=int, default=None, help="timed frames of SAM 3 (default: 1 on a CPU, --frames elsewhere)"
    )
    parser.add_argument("--only", nargs="*", default=None, help="row names to run (e.g. owlv2+sam sam3)")
    parser.add_argument("--tiny", action="store_true", help="smoke run on tiny random models (seconds, not timings)")
    parser.add_argument("--out", default=None, help="JSON path (default: bench/results/zoo-<device>.json)")
    parser.add_argument("--merge", action="store_true", help="keep the other rows already in --out")
    parser.add_argument(
        "--no-subnormal-check", action="store_true", help="skip the CPU's subnormal check (always skipped on a GPU)"
    )
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    options = LoadOptions(device=device, dtype=resolve_dtype(args.dtype, device))
    config = PipelineConfig(device=device, dtype=args.dtype).replace(
        box_threshold=0.0, text_threshold=0.0, max_detections=BOXES
    )
    info = machine_info(device)
    on_cpu = device == "cpu"
    check_subnormals = on_cpu and not args.no_subnormal_check
    sam3_frames = args.sam3_frames if args.sam3_frames is not None else (1 if on_cpu else args.frames)
    _log(f"building/finding the random full-size models (once, when first needed) under {default_models_cache()}")
    if args.tiny:
        from grounded_sam_ros.models import tiny_zoo
        from grounded_sam_ros.models.tiny import build_tiny_models, local_cache

        root = local_cache("tiny-zoo")
        gd, sam = build_tiny_models(root)
        tiny_builders = {
            "owlv2": tiny_zoo.build_tiny_owlv2,
            "omdet_turbo": tiny_zoo.build_tiny_omdet_turbo,
            "slimsam": tiny_zoo.build_tiny_slimsam,
            "sam_hq": tiny_zoo.build_tiny_sam_hq,
            "sam3": tiny_zoo.build_tiny_sam3,
        }
        tiny = {k: root / k if (root / k / "config.json").is_file() else b(root / k) for k, b in tiny_builders.items()}
    else:
        gd, sam = build_default_models(device=device)
    dirs: Dict[str, Any] = {"grounding_dino": gd, "sam": sam, **(tiny if args.tiny else {})}
    image = _frame()
    out = Path(args.out) if args.out else RESULTS / f"zoo-{'cpu' if device == 'cpu' else 'cuda'}.json"
    if args.tiny and not args.out:
        out = Path("/tmp/zoo-tiny.json")
    rows = [(d, s) for d in DETECTORS for s in SEGMENTERS] + [("sam3", None)]
    wanted = set(args.only) if args.only else None

    loaded: Dict[str, Any] = {}

    def adapter(name: str, kind: str) -> Any:
        if name not in loaded:
            if name not in dirs:
                _log(f"finding or building {DIRS[name]}")
                dirs[name] = build_zoo_models(default_models_cache(), [DIRS[name]], device=device)[DIRS[name]]
            _log(f"loading {name} ({kind}) from {dirs[name]}")
            build = {"detector": build_detector, "segmenter": build_segmenter, "one-stage": build_one_stage}[kind]
            loaded[name] = build(FAMILY.get(name, name), str(dirs[name]), options)
        return loaded[name]

    results = []
    for detector, segmenter in rows:
        name = detector if segmenter is None else f"{detector}+{segmenter}"
        if wanted and name not in wanted:
            continue
        if segmenter is None:  # one-stage: free the two-stage models first (SAM 3 alone is 3.4 GB in float32)
            loaded.clear()
            gc.collect()
            pipe = GroundedSamPipeline(adapter(detector, "one-stage"), None, config)
        else:
            pipe = GroundedSamPipeline(adapter(detector, "detector"), adapter(segmenter, "segmenter"), config)
        if check_subnormals:
            subnormal = _subnormal(pipe, image)
            _log(f"{name}: subnormal activations {subnormal:.2e} (that frame was the warm-up); timing")
        else:  # subnormals slow CPUs only (GPUs handle them at full speed): a plain warm-up frame
            subnormal = None
            pipe(image, QUERY)
        load = load_average()[0]
        frames = sam3_frames if segmenter is None else args.frames
        row = {"row": name, "subnormal_fraction": subnormal, **_time(pipe, image, frames, args.warmup, _sync(device))}
        row["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        row["load_average_1min"] = [round(load, 2), round(load_average()[0], 2)]
        results.append(row)
        _log(f"{name}: {row['frame_ms']} ms/frame {row['stages_ms']}")
        _write(out, results, info, options, args)  # after every row: an interrupted run keeps what it measured

    _print(_read_rows(out) if args.merge else results, info, options)
    return 0


def _read_rows(path: Path) -> List[Dict[str, Any]]:
    return json.loads(path.read_text())["rows"] if path.is_file() else []


def _write(out: Path, results: List[Dict[str, Any]], info: Dict[str, Any], options: LoadOptions, args) -> None:
    machine = {**info, "load_average_end": [round(v, 2) for v in load_average()]}
    run = {"date": _RUN_DATE, "machine": machine, "frames": args.frames, "warmup": args.warmup}
    rows, runs = list(results), [{**run, "rows": [r["row"] for r in results]}]
    if args.merge and out.is_file():
        # Rows of earlier runs stay (in the bench's row order, each with its run's date) unless measured again now
        earlier = json.loads(out.read_text())
        old_runs = earlier.get("runs") or [
            {k: earlier[k] for k in ("date", "machine", "frames", "warmup")}
            | {"rows": [r["row"] for r in earlier["rows"]]}
        ]
        runs = [r for r in old_runs if r["date"] != _RUN_DATE] + runs
        measured = {r["row"] for r in results}
        rows += [{**r, "date": r.get("date", earlier["date"])} for r in earlier["rows"] if r["row"] not in measured]
        order = [f"{d}+{s}" for d in DETECTORS for s in SEGMENTERS] + ["sam3"]
        rows.sort(key=lambda r: order.index(r["row"]) if r["row"] in order else len(order))
    payload = {
        "what": "zoo frame times, RANDOM WEIGHTS (full-size published architectures), "
        f"640x480, query {QUERY!r}, top {BOXES} boxes",
        **run,
        "dtype": str(options.dtype).replace("torch.", ""),
        "rows": rows,
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    _log(f"wrote {out} ({len(rows)} row(s))")


def _print(results: List[Dict[str, Any]], info: Dict[str, Any], options: LoadOptions) -> None:
    print(
        f"\nZoo on {info.get('gpu') or info['cpu']} ({info['cores']} cores), dtype "
        f"{str(options.dtype).replace('torch.', '')}, RANDOM WEIGHTS, 640x480, 4 phrases, top {BOXES} boxes"
    )
    header = ("pair", "frame ms", "detector", "seg encoder", "seg decoder", "masks", "subnormal", "load 1m")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in results:
        s = r["stages_ms"]
        cells = (
            r["row"],
            f"{r['frame_ms']:.0f}",
            f"{s['detector']:.0f}",
            f"{s['segmenter_encoder']:.0f}" if s["segmenter_encoder"] else "-",
            f"{s['segmenter_decoder']:.0f}" if s["segmenter_decoder"] else "-",
            f"{s['masks']:.0f}",
            "-" if r["subnormal_fraction"] is None else f"{r['subnormal_fraction']:.0e}",
            "/".join(f"{v:.1f}" for v in r["load_average_1min"]),
        )
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
