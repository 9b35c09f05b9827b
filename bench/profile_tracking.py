# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Where a propagated frame of SAM 2.1-tiny tracking goes: seconds and FLOPs per module, against the matmul peak.

    PYTHONPATH=$PWD python -m bench.profile_tracking                   # 3 objects, default dtype, full memory
    PYTHONPATH=$PWD python -m bench.profile_tracking --objects 1 --memory-frames 2 --baseline

Full-size SAM 2.1 Hiera-T video model with RANDOM weights (the bench's cached copy), 640x480 frames. One key frame
gives ``--objects`` disc masks; the stream then runs until the model's memory window is full (``num_maskmem``
frames, so the profiled frame attends to as many memories as in a long stream) and the next propagated frame is
profiled: wall time per top-level module (forward hooks) and FLOPs per module (``torch.utils.flop_counter``, matmuls
and convolutions: 2 FLOPs per multiply-add). The same run measures the matmul peak of this machine in the frame's
compute dtype and float32, so "FLOPs / peak" is the floor for that frame. ``--baseline`` also counts the FLOPs of
one per-frame GDINO-T + SAM-B call (the issue's reference) and of a key frame.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict

import numpy as np

from bench.machine import load_average, machine_info, matmul_peak

MODULES = (
    "vision_encoder",
    "memory_attention",
    "mask_decoder",
    "prompt_encoder",
    "memory_encoder",
    "spatial_perceiver",
)


def discs(count: int, size=(480, 640)) -> Dict[int, np.ndarray]:
    """``count`` disc masks (HxW bool) spread over the frame."""
    height, width = size
    yy, xx = np.mgrid[:height, :width]
    out = {}
    for k in range(count):
        cx, cy = width * (k + 1) / (count + 1), height * (0.35 + 0.3 * (k % 2))
        out[k] = (xx - cx) ** 2 + (yy - cy) ** 2 <= (0.12 * height) ** 2
    return out


class ModuleTimer:
    """Wall seconds and calls per named top-level module of a model (forward pre/post hooks)."""

    def __init__(self, model: Any) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self._start: Dict[str, float] = {}
        self._handles = []
        for name in MODULES:
            module = getattr(model, name, None)
            if module is not None:
                self._handles.append(module.register_forward_pre_hook(self._pre(name)))
                self._handles.append(module.register_forward_hook(self._post(name)))

    def _pre(self, name):
        def hook(module, args):
            self._start[name] = time.perf_counter()

        return hook

    def _post(self, name):
        def hook(module, args, output):
            self.seconds[name] += time.perf_counter() - self._start.pop(name)
            self.calls[name] += 1

        return hook

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def _cpu_sdpa_flops(query: Any, key: Any, value: Any, *args: Any, out_val: Any = None, **kwargs: Any) -> int:
    """FLOPs of the CPU flash-attention kernel, which ``FlopCounterMode`` does not count: QK^T and AV."""
    *batch, s_q, d = query.shape
    s_k, d_v = key.shape[-2], value.shape[-1]
    b = int(np.prod(batch))
    return 2 * b * s_q * s_k * d + 2 * b * s_q * s_k * d_v


_cpu_sdpa_flops._get_raw = True  # type: ignore[attr-defined]  (called with the tensors, not their shapes)


def count_flops(fn: Any) -> Dict[str, float]:
    """GFLOPs of ``fn()`` in total and per top-level module of the model (``FlopCounterMode`` module names)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cpu_sdpa = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}
    with FlopCounterMode(display=False, custom_mapping=cpu_sdpa) as counter:
        fn()
    per_module = counter.get_flop_counts()
    out = {"total": counter.get_total_flops() / 1e9}
    for name, counts in per_module.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[1] in MODULES:
            out[parts[1]] = out.get(parts[1], 0.0) + sum(counts.values()) / 1e9
    return out


def edgetam_hiera_propagator(options: Any, memory_frames: int) -> Any:
    """EdgeTAM's video model at full size (perceiver-compressed memories, 2 memory-attention layers) with SAM 2.1's
    Hiera-T image encoder in place of RepViT-M1 (timm cannot load here), RANDOM weights: measures EdgeTAM's memory
    path; its image encoder cost is Hiera-T's, not RepViT's."""
    import torch
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, Sam2VideoConfig
    from transformers.models.edgetam_video.modeling_edgetam_video import EdgeTamVideoInferenceSession

    from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor
    from grounded_sam_ros.tracking.video import VideoPropagator

    torch.manual_seed(0)
    model = EdgeTamVideoModel(EdgeTamVideoConfig(vision_config=Sam2VideoConfig().vision_config)).eval()
    model.requires_grad_(False)  # the FLOP counter's module tracker trips over parameters used as inputs
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(3.0)  # objects "present"
    return VideoPropagator(model, EdgeTamVideoInferenceSession, Sam2Preprocessor(), "cpu", options.dtype,
                           memory_frames=memory_frames)  # fmt: skip


def propagated_profile(objects: int, dtype_name: str, memory_frames: int, threads: int, family: str) -> Dict:
    import torch

    from bench.bench_tracking import frames
    from grounded_sam_ros.models import LoadOptions
    from grounded_sam_ros.models.architectures import default_models_cache
    from grounded_sam_ros.models.tiny_sam2 import RANDOM_SAM2_TINY_DIR, build_random_sam2_tiny
    from grounded_sam_ros.pipeline import resolve_dtype
    from grounded_sam_ros.tracking.video import VideoPropagator

    if threads:
        torch.set_num_threads(threads)
    dtype = resolve_dtype(dtype_name, "cpu")
    if family == "edgetam-hiera":
        video = edgetam_hiera_propagator(LoadOptions(dtype=dtype), memory_frames)
    else:
        directory = default_models_cache() / RANDOM_SAM2_TINY_DIR
        if not (directory / "model.safetensors").exists():
            build_random_sam2_tiny(directory)
        video = VideoPropagator.from_pretrained(
            str(directory), "sam2", LoadOptions(dtype=dtype), memory_frames=memory_frames
        )
    window = video.model.num_maskmem  # frames until the memory is full, plus the key frame
    images = frames(window + 3)
    video.step(images[0])
    video.refresh(discs(objects))
    for image in images[1:window]:
        video.step(image)
    warm = time.perf_counter()
    video.step(images[window])
    warm = time.perf_counter() - warm

    timer = ModuleTimer(video.model)
    start = time.perf_counter()
    predictions = video.step(images[window + 1])
    seconds = time.perf_counter() - start
    timer.close()
    assert len(predictions) == objects
    flops = count_flops(lambda: video.step(images[window + 2]))
    peak = matmul_peak("cpu", dtype, 2048, 2.0)
    peak32 = matmul_peak("cpu", torch.float32, 2048, 2.0) if dtype != torch.float32 else peak
    return {
        "model": family,
        "objects": objects,
        "dtype": str(dtype).replace("torch.", ""),
        "attention": video.model.config._attn_implementation,
        "num_maskmem": video.model.num_maskmem,
        "threads": torch.get_num_threads(),
        "frame_s": round(seconds, 3),
        "previous_frame_s": round(warm, 3),
        "module_s": {k: round(v, 3) for k, v in timer.seconds.items()},
        "module_calls": dict(timer.calls),
        "gflops": {k: round(v, 1) for k, v in flops.items()},
        "matmul_peak_gflops": {"compute_dtype": round(peak, 1), "float32": round(peak32, 1)},
        "floor_s_at_peak": round(flops["total"] / peak, 3),
    }


def baseline_flops() -> Dict[str, float]:
    """GFLOPs of one per-frame GDINO-T + SAM-B call (3 boxes) on a 640x480 frame."""
    from bench.bench_tracking import build, frames
    from grounded_sam_ros.models.architectures import build_default_models

    detector, sam_b = build_default_models()
    pipeline = build(str(detector), str(sam_b), "sam", "", 3, 1)
    image = frames(1)[0]
    return {k: round(v, 1) for k, v in count_flops(lambda: pipeline(image, "cup . person . table")).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--family", default="sam2", help="sam2 (SAM 2.1-tiny) | edgetam-hiera (see the docstring)")
    parser.add_argument("--dtype", default="auto", help="auto (bfloat16 on CPUs with native bf16) | float32 | bfloat16")
    parser.add_argument("--memory-frames", type=int, default=0, help="recent memories attended to (0: the model's)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--baseline", action="store_true", help="also count GDINO-T + SAM-B FLOPs per frame")
    parser.add_argument("--out", default="", help="write the report as JSON here")
    args = parser.parse_args()

    report: Dict[str, Any] = {"machine": machine_info("cpu")}
    report["propagated"] = profile = propagated_profile(
        args.objects, args.dtype, args.memory_frames, args.threads, args.family
    )
    if args.baseline:
        report["per_frame_gdino_t_sam_b_gflops"] = baseline_flops()
    report["load_average_end"] = [round(v, 2) for v in load_average()]

    print(f"\npropagated frame, {profile['model']} RANDOM weights, {profile['objects']} objects, {profile['dtype']}, ")
    print(f"attention {profile['attention']}, {profile['num_maskmem']} memories, {profile['threads']} threads")
    print(f"{'module':<20}{'calls':>6}{'s':>9}{'GFLOP':>9}{'GFLOP/s':>9}")
    for name in MODULES:
        if name in profile["module_s"] or name in profile["gflops"]:
            s, g = profile["module_s"].get(name, 0.0), profile["gflops"].get(name, 0.0)
            rate = g / s if s else 0.0
            print(f"{name:<20}{profile['module_calls'].get(name, 0):>6}{s:>9.3f}{g:>9.1f}{rate:>9.1f}")
    print(f"{'frame':<20}{'':>6}{profile['frame_s']:>9.3f}{profile['gflops']['total']:>9.1f}"
          f"{profile['gflops']['total'] / profile['frame_s']:>9.1f}")  # fmt: skip
    print(f"matmul peak: {profile['matmul_peak_gflops']} GFLOP/s -> floor {profile['floor_s_at_peak']} s/frame")
    if args.baseline:
        print(f"per-frame GDINO-T + SAM-B: {report['per_frame_gdino_t_sam_b_gflops']} GFLOP")
    print(f"load average {report['load_average_end']}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"-> {args.out}")


if __name__ == "__main__":
    main()
