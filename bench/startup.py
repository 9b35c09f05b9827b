# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Start-up cost of one pipeline variant in this (fresh) process: model load, first frame, next frames; JSON out.

    python -m bench.startup --variant compiled --cache-dir /tmp/c     # twice: the first run fills the cache (cold),
    python -m bench.startup --variant compiled --cache-dir /tmp/c     # the second loads it (warm)

Variants: eager (no cache), compiled (``compile=True``), openvino (``backend=openvino``). Models: as ``bench.run``
(real weights when cached, else the full-size random ones), or ``--tiny``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=("eager", "compiled", "openvino"), required=True)
    parser.add_argument("--cache-dir", required=True, help="compile / IR cache directory")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--device", default="cpu", help="cpu, cuda (compiled and eager only on CUDA)")
    parser.add_argument("--tiny", default="", metavar="DIR", help="build/use the tiny models under DIR")
    parser.add_argument("--frames", type=int, default=2, help="frames after the first (default 2)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from bench.machine import find_models, load_average
    from bench.measure import forced_top_k
    from bench.workloads import CENTRE, frame
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    if args.tiny:
        from grounded_sam_ros.models.tiny import build_tiny_models

        detector, segmenter = (str(p) for p in build_tiny_models(args.tiny))
    else:
        detector, segmenter, _ = find_models()
    imported = time.perf_counter()
    config = PipelineConfig(detector_model=detector, segmenter_model=segmenter, device=args.device, dtype=args.dtype,
                            local_files_only=True, compile=args.variant == "compiled",
                            backend="openvino" if args.variant == "openvino" else "torch",
                            compile_cache_dir=args.cache_dir)  # fmt: skip
    pipe = build_pipeline(forced_top_k(config, CENTRE.boxes))
    loaded = time.perf_counter()
    frames = []
    for r in range(1 + args.frames):
        _, image = frame(r, CENTRE.size)
        start = time.perf_counter()
        pipe(image, CENTRE.query)  # the result leaves the device (numpy masks): synchronised
        frames.append(time.perf_counter() - start)
    status = {}
    for adapter in (pipe.detector, pipe.segmenter):
        for attribute in ("compiled", "openvino"):
            runner = getattr(adapter, attribute, None)
            if runner is not None:
                status[adapter.family] = {"x".join(map(str, k)): v for k, v in runner.status.items()}
    print(json.dumps({
        "variant": args.variant, "dtype": args.dtype, "device": args.device, "tiny": bool(args.tiny), "status": status,
        "import_s": imported - started, "load_s": loaded - imported, "first_frame_s": frames[0],
        "next_frames_s": frames[1:], "to_first_result_s": loaded - imported + frames[0],
        "load_average": [round(v, 2) for v in load_average()],
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
