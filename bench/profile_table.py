# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Where the detector's and SAM encoder's time goes: ``torch.profiler`` on the CPU, top operators by self time."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np


def _top_ops(run, top: int) -> List[Dict[str, Any]]:
    from torch.profiler import ProfilerActivity, profile

    run()  # untimed
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"op": e.key, "self_ms": e.self_cpu_time_total / 1000.0, "share": e.self_cpu_time_total / total,
             "calls": e.count} for e in events[:top]]  # fmt: skip


def profile_stages(pipe, image: np.ndarray, query: str, top: int = 15) -> Dict[str, List[Dict[str, Any]]]:
    """{"detector": [...], "sam_encoder": [...]}: the ``top`` operators by self CPU time, with their share."""
    prompt = pipe.text_prompt(query)
    detector_inputs = pipe.detector.preprocess(image)
    out = {"detector": _top_ops(lambda: pipe.detector.forward(detector_inputs, prompt), top)}
    if pipe.segmenter is not None:
        sam_inputs = pipe.segmenter.preprocess(image)
        out["sam_encoder"] = _top_ops(lambda: pipe.segmenter.embed(sam_inputs), top)
    return out
