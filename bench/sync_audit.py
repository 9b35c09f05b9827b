# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Every host synchronisation of one GPU frame, and where it comes from (issue 14: none inside a frame but where
the result leaves).

    python -m bench.sync_audit --out syncs.json             # default settings on CUDA, full-size models
    python -m bench.sync_audit --tiny /tmp/tiny --out ...   # the tiny test models

Runs the default pipeline on CUDA for a few warm-up frames, then one frame under
``torch.cuda.set_sync_debug_mode("warn")``: torch then warns at each synchronising call (a read-back, a blocking
copy, ``item()``...). Each warning is recorded with the innermost Python frame outside torch that caused it, and the
counts go to a table and a JSON file. Without CUDA it says so and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import traceback
import warnings
from collections import Counter
from typing import Dict, List, Optional

_OUTSIDE = ("/torch/", "/warnings.py", "/bench/sync_audit.py")


def _caller(stack: List[traceback.FrameSummary]) -> str:
    """The innermost frame that is neither torch nor this script: file:line (function)."""
    for frame in reversed(stack):
        if not any(part in frame.filename for part in _OUTSIDE):
            tail = "/".join(frame.filename.split("/")[-3:])
            return f"{tail}:{frame.lineno} ({frame.name})"
    return "?"


def audit(pipe, image, query: str) -> Dict[str, int]:
    """{caller: number of synchronising calls} over one ``pipe(image, query)`` frame."""
    import torch

    found: Counter = Counter()

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message).lower():
            found[_caller(traceback.extract_stack())] += 1

    torch.cuda.synchronize()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            pipe(image, query)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return dict(found.most_common())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", default="", metavar="DIR", help="build/use the tiny models under DIR")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default="", help="JSON file")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("sync_audit: no CUDA device here; nothing to audit")
        return 0
    from bench.bench_gpu import build
    from bench.machine import find_models
    from bench.workloads import CENTRE, frame

    if args.tiny:
        from grounded_sam_ros.models.tiny import build_tiny_models

        detector, segmenter = (str(p) for p in build_tiny_models(args.tiny))
    else:
        detector, segmenter, _ = find_models()
    pipe = build(detector, segmenter, "cuda", "", {})
    image = frame(0, CENTRE.size)[1]
    for _ in range(args.warmup):
        pipe(image, CENTRE.query)
    syncs = audit(pipe, image, CENTRE.query)
    print(f"{sum(syncs.values())} synchronising calls in one default frame on {torch.cuda.get_device_name(0)}:")
    for where, count in syncs.items():
        print(f"{count:4d}  {where}")
    if args.out:
        with open(args.out, "w") as stream:
            json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "syncs": syncs}, stream,
                      indent=1)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
