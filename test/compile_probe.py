# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Run in a fresh process by test_compiled.py: the tiny SAM encoder on the compiled path, one frame; prints JSON
with the cache status, inductor's counters and the embedding's checksum.

    python test/compile_probe.py SEGMENTER_DIR CACHE_DIR
"""

import json
import sys

import numpy as np


def main(segmenter_dir: str, cache_dir: str) -> None:
    import torch
    from torch._dynamo.utils import counters

    from grounded_sam_ros.models.compiled import enable_compile
    from grounded_sam_ros.models.loading import LoadOptions
    from grounded_sam_ros.models.sam import SamSegmenter

    segmenter = SamSegmenter.from_pretrained(segmenter_dir, LoadOptions(device="cpu", dtype=torch.float32))
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    inputs = segmenter.preprocess(image)
    eager = segmenter.embed(inputs).embedding
    enable_compile([segmenter], cache_dir)
    compiled = segmenter.embed(inputs).embedding
    print(
        json.dumps(
            {
                "status": {"x".join(map(str, k)): v for k, v in segmenter.compiled.status.items()},
                "inductor": dict(counters["inductor"]),
                "max_difference": float((compiled - eager).abs().max()),
                "scale": float(eager.abs().max()),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
