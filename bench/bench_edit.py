# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Seconds per edit of the inpainting step with full-size SD 1.5 inpainting (random weights); prints a table.

    flock /tmp/gsr-heavy.lock python -m bench.bench_edit                    # CPU, float32 (the CPU default)
    python -m bench.bench_edit --device cuda --steps 30                     # on a GPU (float16, the CUDA default)

Random weights with SD 1.5 inpainting's exact architecture (860M-parameter 9-channel UNet, the VAE, CLIP ViT-L/14's
text encoder), built in memory (nothing is downloaded): the compute per step is the real model's. Workloads:

- ``512x512 full frame``: the image is the model's size (no crop, no resize);
- ``1280x720 crop``: a 90x120 object in a 720p frame, repainted in a 512x512 crop around it and pasted back.

Each workload runs once (after a 1-step warm-up). Every UNet call is timed (wall and process CPU seconds): one call
is one denoising step (batch 2 for classifier-free guidance); the rest of the edit is the fixed cost (text encoder,
VAE encode + decode, crop, resize, blend). CPU seconds are what the timing is worth on a shared machine: wall time
there depends on the other load. Writes ``bench/results/edit-<device>.json``.
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


class _TimedUNet:
    """Wraps the UNet's forward to record (wall, CPU) seconds of each call: one call = one denoising step."""

    def __init__(self, unet, sync) -> None:
        self.calls: List[tuple] = []
        self._forward, self._sync = unet.forward, sync
        unet.forward = self

    def __call__(self, *args, **kwargs):
        self._sync()
        wall, cpu = time.perf_counter(), time.process_time()
        out = self._forward(*args, **kwargs)
        self._sync()
        self.calls.append((time.perf_counter() - wall, time.process_time() - cpu))
        return out


def run(device: str, dtype: str, steps: int) -> Dict[str, Any]:
    import torch

    from grounded_sam_ros.editing import EditConfig
    from grounded_sam_ros.editing.editor import ImageEditor
    from grounded_sam_ros.editing.inpainter import Inpainter, resolve_edit_dtype
    from grounded_sam_ros.editing.tiny import make_sd_inpainting

    machine = machine_info(device)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pipe = make_sd_inpainting(Path(tmp) / "tokenizer", seed=0, full_size=True)
    torch_dtype = resolve_edit_dtype(dtype, device)
    pipe = pipe.to(device=device, dtype=torch_dtype)
    build_s = time.perf_counter() - started
    params = sum(p.numel() for p in pipe.unet.parameters())
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    timed = _TimedUNet(pipe.unet, sync)
    inpainter = Inpainter(pipe, "random SD 1.5 inpainting", device)
    # Warm-up: one 1-step edit (allocator, kernels)
    image, mask = _scene(*WORKLOADS["1280x720 crop"][:2], WORKLOADS["1280x720 crop"][3])
    ImageEditor(inpainter, EditConfig(steps=1)).edit(image, mask, "a red sofa", seed=0)
    rows = []
    for name, (height, width, crop, box) in WORKLOADS.items():
        image, mask = _scene(height, width, box)
        editor = ImageEditor(inpainter, EditConfig(steps=steps, crop=crop, dilate=10, feather=8))
        timed.calls.clear()
        sync()
        wall, cpu = time.perf_counter(), time.process_time()
        result = editor.edit(image, mask, "a red sofa, high quality", seed=0)
        sync()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        step_wall = sorted(c[0] for c in timed.calls)[len(timed.calls) // 2]
        step_cpu = sorted(c[1] for c in timed.calls)[len(timed.calls) // 2]
        fixed_wall = wall - sum(c[0] for c in timed.calls)
        fixed_cpu = cpu - sum(c[1] for c in timed.calls)
        region = result.region
        rows.append(
            {
                "workload": name,
                "image": [width, height],
                "model_input": [region.model_width, region.model_height],
                "region": [region.x0, region.y0, region.x1, region.y1],
                "steps": steps,
                "edit_s": round(wall, 2),
                "edit_cpu_s": round(cpu, 2),
                "per_step_s": round(step_wall, 2),
                "per_step_cpu_s": round(step_cpu, 2),
                "fixed_s": round(fixed_wall, 2),
                "fixed_cpu_s": round(fixed_cpu, 2),
                "edit_s_at_30_steps": round(fixed_wall + 30 * step_wall, 1),
                "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
            }
        )
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "dtype": str(torch_dtype).replace("torch.", ""),
        "weights": "random, SD 1.5 inpainting architecture",
        "unet_parameters": params,
        "build_s": round(build_s, 1),
        "rows": rows,
        "load_average_end": [round(v, 2) for v in load_average()],
        "peak_rss_mb": round(peak_rss_mb()),
    }


def print_table(report: Dict[str, Any]) -> None:
    print(
        f"{'workload':<20} {'model input':>11} {'steps':>5} {'edit':>8} {'per step':>9} {'fixed':>8} "
        f"{'30 steps*':>9}   CPU-s: {'edit':>7} {'per step':>8} {'fixed':>7}"
    )
    for row in report["rows"]:
        size = "x".join(map(str, row["model_input"]))
        print(
            f"{row['workload']:<20} {size:>11} {row['steps']:>5} {row['edit_s']:>7.1f}s {row['per_step_s']:>8.2f}s "
            f"{row['fixed_s']:>7.1f}s {row['edit_s_at_30_steps']:>8.0f}s          {row['edit_cpu_s']:>7.1f} "
            f"{row['per_step_cpu_s']:>8.2f} {row['fixed_cpu_s']:>7.1f}"
        )
    machine = report["machine"]
    print(
        f"* fixed + 30 x per step. {report['dtype']} on {machine['device']} ({machine.get('gpu', machine['cpu'])}, "
        f"{machine['torch_threads']} threads); load average start {machine['load_average_start']}, "
        f"end {report['load_average_end']}; peak RSS {report['peak_rss_mb']} MiB. Per step = one UNet call "
        "(batch 2: classifier-free guidance); fixed = text encoder, VAE encode + decode, crop, resize, blend."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", help="auto: float16 on CUDA, float32 on CPU")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per edit (default: 4)")
    parser.add_argument("--out", default="", help="JSON path (default: bench/results/edit-<device>.json)")
    args = parser.parse_args(argv)
    report = run(args.device, args.dtype, args.steps)
    print_table(report)
    out = Path(args.out or Path(__file__).parent / "results" / f"edit-{args.device.split(':')[0]}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
