# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Frame time of every detector x segmenter pair of the zoo (and SAM 3 alone); prints a table, writes JSON.

    flock /tmp/gsr-heavy.lock python -m bench.bench_zoo            # CPU, default dtype, 2 timed frames per row
    python -m bench.bench_zoo --device cuda --frames 10             # on a GPU

Models: the published architectures at full size with RANDOM weights (``grounded_sam_ros.models.architectures`` and
``architectures_zoo``, built once under ~/.cache/grounded_sam_ros/random-models; same compute as the real ones,
meaningless outputs). The first frame of each row runs with the subnormal check's hooks and is the untimed
warm-up. Workload: one 640x480 photo, 4 phrases, the 8 best boxes kept (thresholds 0 + top-k, so every
pair segments the same number of boxes). Before timing, each model's activations on the frame are checked for
subnormal values (they slow CPU matmuls ~10x; STYLE.md): the fraction is reported per row.
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
from typing import Any, Dict, List

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


def _log(message: str) -> None:
    print(f"[bench_zoo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _frame() -> np.ndarray:
    return np.asarray(Image.fromarray(load_image(sample_image("coffee"))).resize((640, 480), Image.BILINEAR))


def _time(pipe: GroundedSamPipeline, image: np.ndarray, frames: int, warmup: int) -> Dict[str, Any]:
    for _ in range(warmup):
        pipe(image, QUERY)
    walls: List[float] = []
    stages: Dict[str, List[float]] = {s: [] for s in STAGES}
    for _ in range(frames):
        start = time.perf_counter()
        result = pipe(image, QUERY)
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
    parser.add_argument("--sam3-frames", type=int, default=1, help="timed frames of SAM 3 (slow on a CPU)")
    parser.add_argument("--only", nargs="*", default=None, help="row names to run (e.g. owlv2+sam sam3)")
    parser.add_argument("--tiny", action="store_true", help="smoke run on tiny random models (seconds, not timings)")
    parser.add_argument("--out", default=None, help="JSON path (default: bench/results/zoo-<device>.json)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    options = LoadOptions(device=device, dtype=resolve_dtype(args.dtype, device))
    config = PipelineConfig(device=device, dtype=args.dtype).replace(
        box_threshold=0.0, text_threshold=0.0, max_detections=BOXES
    )
    info = machine_info(device)
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
        gd, sam = build_default_models()
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
                dirs[name] = build_zoo_models(default_models_cache(), [DIRS[name]])[DIRS[name]]
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
        subnormal = _subnormal(pipe, image)
        _log(f"{name}: subnormal activations {subnormal:.2e} (that frame was the warm-up); timing")
        load = load_average()[0]
        frames = args.sam3_frames if segmenter is None else args.frames
        row = {"row": name, "subnormal_fraction": subnormal, **_time(pipe, image, frames, args.warmup)}
        row["load_average_1min"] = [round(load, 2), round(load_average()[0], 2)]
        results.append(row)
        _log(f"{name}: {row['frame_ms']} ms/frame {row['stages_ms']}")
        _write(out, results, info, options, args)  # after every row: an interrupted run keeps what it measured

    _print(results, info, options)
    return 0


def _write(out: Path, results: List[Dict[str, Any]], info: Dict[str, Any], options: LoadOptions, args) -> None:
    payload = {
        "what": "zoo frame times, RANDOM WEIGHTS (full-size published architectures), "
        f"640x480, query {QUERY!r}, top {BOXES} boxes",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {**info, "load_average_end": [round(v, 2) for v in load_average()]},
        "dtype": str(options.dtype).replace("torch.", ""),
        "frames": args.frames,
        "warmup": args.warmup,
        "rows": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    _log(f"wrote {out} ({len(results)} row(s))")


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
            f"{r['subnormal_fraction']:.0e}",
            "/".join(f"{v:.1f}" for v in r["load_average_1min"]),
        )
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
