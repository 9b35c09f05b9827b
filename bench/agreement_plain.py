# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Query-level agreement of ours fp32 (eager) and OpenVINO fp32 with plain transformers fp32, on two frames; JSON out.

    python -m bench.agreement_plain > bench/results/cpu-agreement-plain.json

Plain transformers = the published models as loaded by ``bench.naive`` (no CPU fast paths, no caches), wrapped in the
pipeline only for pre-processing; OpenVINO's IR is read from (or written to) /tmp/gsr-round2/cache. Models: as
``bench.run`` (full-size random weights unless real ones are cached).
"""

from __future__ import annotations

import json

import numpy as np

from bench.machine import find_models
from bench.model_agreement import compare, raw_outputs
from bench.naive import NaiveGroundedSam
from bench.variants import build
from bench.workloads import CENTRE, frame
from grounded_sam_ros.models.grounding_dino import GroundingDinoDetector
from grounded_sam_ros.models.sam import SamSegmenter
from grounded_sam_ros.pipeline import GroundedSamPipeline


def main() -> None:
    det, seg, _ = find_models()
    ours = build(det, seg, "/tmp/gsr-round2/cache", {"dtype": "float32"})
    naive = NaiveGroundedSam.load(det, seg, "cpu")
    plain = GroundedSamPipeline(
        GroundingDinoDetector(naive.gd_model, naive.gd_processor, "cpu"),
        SamSegmenter(naive.sam_model, naive.sam_processor, "cpu"),
        ours.config,
    )
    ov = build(det, seg, "/tmp/gsr-round2/cache", {"dtype": "float32", "backend": "openvino"})
    out = {}
    for r in (0, 1):
        image = frame(r, CENTRE.size)[1]
        boxes = np.array([d.box for d in plain(image, CENTRE.query).detections], dtype=np.float32)
        ref = raw_outputs(plain, image, CENTRE.query, boxes)
        out[f"frame{r}"] = {
            "ours fp32 vs plain transformers fp32": compare(ref, raw_outputs(ours, image, CENTRE.query, boxes)),
            "openvino fp32 vs plain transformers fp32": compare(ref, raw_outputs(ov, image, CENTRE.query, boxes)),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
