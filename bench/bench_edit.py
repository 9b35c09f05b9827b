# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Seconds per edit of the inpainting step with full-size SD 1.5 inpainting (random weights); prints a table.

    flock /tmp/gsr-heavy.lock python -m bench.bench_edit                    # CPU, float32 (the CPU default)
    python -m bench.bench_edit --device cuda --steps 1 30                     # on a GPU (float16, the CUDA default)

Random weights with SD 1.5 inpainting's exact architecture (860M-parameter 9-channel UNet, the VAE, CLIP ViT-L/14's
text encoder), built in memory (nothing is downloaded): the compute per step is the real model's. Workloads:

- ``512x512 full frame``: the image is the model's size (no crop, no resize);
- ``1280x720 crop``: a 90x120 object in a 720p frame, repainted in a 512x512 crop around it and pasted back.

Each runs with two step counts; the difference gives the cost per denoising step (UNet x2 for classifier-free
guidance), the rest is the fixed cost (text encoder, VAE encode + decode, crop/resize/blend). Writes
``bench/results/edit-<device>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from bench.machine import load_average, machine_info, peak_rss_mb

WORKLOADS = {
    # name: (height, width, crop, object box x0, y0, x1, y1)
    "512x512 full frame": (512, 512, False, (180, 160, 330, 360)),
    "1280x720 crop": (720, 1280, True, (600, 300, 690, 420)),
}


def _scene(height: int, width: int, box) -> tuple:
    rng = np.random.default_rng(0)
    # A smooth picture (gradients + noise): what a VAE sees is not uniform
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height)], axis=-1)
    image = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return image, mask


def run(device: str, dtype: str, step_counts: List[int], repeats: int) -> Dict[str, Any]:
    import torch

    from grounded_sam_ros.editing import EditConfig
    from grounded_sam_ros.editing.editor import ImageEditor
    from grounded_sam_ros.editing.inpainter import Inpainter, resolve_edit_dtype
    from grounded_sam_ros.editing.tiny import make_sd_inpainting

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pipe = make_sd_inpainting(Path(tmp) / "tokenizer", seed=0, full_size=True)
    torch_dtype = resolve_edit_dtype(dtype, device)
    pipe = pipe.to(device=device, dtype=torch_dtype)
    build_s = time.perf_counter() - started
    params = sum(p.numel() for p in pipe.unet.parameters())
    inpainter = Inpainter(pipe, "random SD 1.5 inpainting", device)
    rows = []
    for name, (height, width, crop, box) in WORKLOADS.items():
        image, mask = _scene(height, width, box)
        times = {}
        for steps in step_counts:
            editor = ImageEditor(inpainter, EditConfig(steps=steps, crop=crop, dilate=10, feather=8))
            editor.edit(image, mask, "a red sofa, high quality", seed=0)  # warm-up
            samples = []
            for _ in range(repeats):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                result = editor.edit(image, mask, "a red sofa, high quality", seed=0)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                samples.append(time.perf_counter() - t0)
            times[steps] = min(samples)
        low, high = min(step_counts), max(step_counts)
        per_step = (times[high] - times[low]) / (high - low)
        region = result.region
        rows.append(
            {
                "workload": name,
                "image": [width, height],
                "model_input": [region.model_width, region.model_height],
                "region": [region.x0, region.y0, region.x1, region.y1],
                "seconds_by_steps": {str(k): round(v, 3) for k, v in times.items()},
                "per_step_s": round(per_step, 3),
                "fixed_s": round(times[low] - per_step * low, 3),
                "seconds_at_30_steps": round(times[low] + per_step * (30 - low), 2),
            }
        )
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "dtype": str(torch_dtype).replace("torch.", ""),
        "weights": "random, SD 1.5 inpainting architecture",
        "unet_parameters": params,
        "build_s": round(build_s, 1),
        "repeats": repeats,
        "rows": rows,
        "load_average_end": [round(v, 2) for v in load_average()],
        "peak_rss_mb": round(peak_rss_mb()),
    }


def print_table(report: Dict[str, Any]) -> None:
    steps = sorted(int(k) for k in report["rows"][0]["seconds_by_steps"])
    head = f"{'workload':<22} {'model input':>11} " + " ".join(f"{f'{s} steps':>9}" for s in steps)
    print(f"{head} {'per step':>9} {'fixed':>7} {'30 steps*':>9}")
    for row in report["rows"]:
        size = "x".join(map(str, row["model_input"]))
        cells = " ".join(f"{row['seconds_by_steps'][str(s)]:>8.2f}s" for s in steps)
        print(
            f"{row['workload']:<22} {size:>11} {cells} {row['per_step_s']:>8.2f}s {row['fixed_s']:>6.2f}s "
            f"{row['seconds_at_30_steps']:>8.1f}s"
        )
    machine = report["machine"]
    print(
        f"* extrapolated. {report['dtype']} on {machine['device']} ({machine.get('gpu', machine['cpu'])}, "
        f"{machine['torch_threads']} threads); load average start {machine['load_average_start']}, "
        f"end {report['load_average_end']}; peak RSS {report['peak_rss_mb']} MiB"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", help="auto: float16 on CUDA, float32 on CPU")
    parser.add_argument("--steps", type=int, nargs=2, default=[1, 4], metavar=("LOW", "HIGH"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default="", help="JSON path (default: bench/results/edit-<device>.json)")
    args = parser.parse_args(argv)
    report = run(args.device, args.dtype, sorted(set(args.steps)), args.repeats)
    print_table(report)
    out = Path(args.out or Path(__file__).parent / "results" / f"edit-{args.device.split(':')[0]}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
