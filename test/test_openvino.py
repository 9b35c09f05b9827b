# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""backend=openvino (grounded_sam_ros.models.openvino_backend) against eager PyTorch on tiny models.

Documented tolerances (README "Performance"): float32 equals eager to 1e-4 (boxes, token scores, SAM embedding
relative error); bfloat16 (the CPU plugin's bf16 hint) keeps SAM's embedding within 2 % relative error of float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def sam_normal_weights(tiny_models, tmp_path_factory) -> Path:
    """The tiny SAM with its image encoder re-drawn at ViT scale: its default init gives ~1e-21 embeddings, too
    small to compare precisions on."""
    import torch
    from transformers import SamModel, SamProcessor

    out = tmp_path_factory.mktemp("sam-normal")
    model = SamModel.from_pretrained(tiny_models[1])
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.vision_encoder.named_parameters():
            if param.ndim >= 2 or name.endswith(("pos_embed", "rel_pos_h", "rel_pos_w")):
                param.normal_(0.0, 0.02)
    model.save_pretrained(out)
    SamProcessor.from_pretrained(tiny_models[1]).save_pretrained(out)
    return out


def _pipelines(detector_dir, segmenter_dir, cache: Path, dtype: str):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    config = PipelineConfig(detector_model=str(detector_dir), segmenter_model=str(segmenter_dir), device="cpu",
                            dtype="float32", compile_cache_dir=str(cache))  # fmt: skip
    return build_pipeline(config), build_pipeline(config.replace(backend="openvino", dtype=dtype))


def _relative(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_openvino_float32_equals_eager_and_its_ir_is_cached(tiny_models, sam_normal_weights, tmp_path):
    eager, ov = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompt = ov.text_prompt("cup . person")

    def check(pipe, expected_state):
        inputs = pipe.detector.preprocess(image)  # padded to the bucket; eager runs the same padded inputs
        out, reference = pipe.detector.forward(inputs, prompt), eager.detector.forward(inputs, prompt)
        np.testing.assert_allclose(out.token_probs, reference.token_probs, atol=1e-4)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.boxes_cxcywh, atol=1e-4)
        sam_inputs = pipe.segmenter.preprocess(image)
        embedding = pipe.segmenter.embed(sam_inputs).embedding
        assert _relative(embedding, eager.segmenter.embed(sam_inputs).embedding) < 1e-4
        assert set(pipe.detector.openvino.status.values()) == {expected_state}
        assert set(pipe.segmenter.openvino.status.values()) == {expected_state}
        # The whole frame through the pipeline: same boxes as eager on the padded input
        result = pipe(image, "cup . person")
        assert all(np.isfinite(d.box).all() for d in result.detections)

    check(ov, "converted")
    # A new pipeline (as in a new process) loads the IR
    _, again = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    check(again, "hit")
    # A damaged IR is converted again
    for xml in (tmp_path / "openvino").glob("*.xml"):
        xml.write_text(xml.read_text()[:200])
    _, rebuilt = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    check(rebuilt, "rebuilt")


def test_openvino_bfloat16_sam_embedding_within_two_percent(tiny_models, sam_normal_weights, tmp_path):
    from grounded_sam_ros.pipeline import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (AMX / AVX512-BF16)")
    eager, ov = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "bfloat16")
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    inputs = ov.segmenter.preprocess(image)
    error = _relative(ov.segmenter.embed(inputs).embedding, eager.segmenter.embed(inputs).embedding)
    assert 0.0 < error < 0.02  # not zero: it did run in bf16
    boxes = ov.detector.forward(ov.detector.preprocess(image), ov.text_prompt("cup")).boxes_cxcywh
    assert np.isfinite(boxes).all() and (boxes >= 0).all() and (boxes <= 1).all()
