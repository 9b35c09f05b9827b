# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The machine a benchmark ran on, its matmul peak, memory, and which weights were used."""

from __future__ import annotations

import os
import platform
import resource
import time
from typing import Any, Dict, Optional, Tuple

from grounded_sam_ros.config import DEFAULT_DETECTOR, DEFAULT_SEGMENTER


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def load_average() -> Tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def machine_info(device: str) -> Dict[str, Any]:
    import torch
    import transformers

    flags = cpu_flags()
    info: Dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "bf16_hardware": sorted(flags & {"avx512_bf16", "amx_bf16"}),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "load_average_start": [round(v, 2) for v in load_average()],
        "device": device,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb(pid: int | str = "self") -> float:
    """Resident memory of process ``pid`` (this one by default), MiB; NaN where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def matmul_peak(device: str, dtype: Any, size: int, seconds: float = 1.0) -> float:
    """Best achieved GFLOPS of a ``size`` x ``size`` matmul in ``dtype`` on ``device`` (best of short bursts)."""
    import torch

    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        for _ in range(2):
            torch.mm(a, b)
        sync()
        best = float("inf")
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            torch.mm(a, b)
            sync()
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def find_models(allow_real: bool = True) -> Tuple[str, str, bool]:
    """(detector, segmenter, random): the real default models when both are in the local Hugging Face cache (never
    downloaded), otherwise the full-size random-weight ones built by ``grounded_sam_ros.models.architectures``."""
    if allow_real and _cached(DEFAULT_DETECTOR) and _cached(DEFAULT_SEGMENTER):
        return DEFAULT_DETECTOR, DEFAULT_SEGMENTER, False
    from grounded_sam_ros.models.architectures import build_default_models

    detector, segmenter = build_default_models()
    return str(detector), str(segmenter), True


def _cached(model_id: str) -> Optional[str]:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model_id, "model.safetensors")
    return found if isinstance(found, str) else None
