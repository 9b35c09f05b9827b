# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The detector's forward reads no tensor back for transformers' per-layer assertions (grounded_sam_ros.models.
tensor_checks): on a GPU each is a host synchronisation, under torch.compile a graph break. Outside the detector,
transformers' checks run as before."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _count_tensor_checks(monkeypatch):
    """Counts ``Tensor._is_all_true`` calls: how ``torch._check_tensor_all`` reads a tensor condition back."""
    calls = []
    original = torch.Tensor._is_all_true

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(torch.Tensor, "_is_all_true", counted)
    return calls


def test_the_detector_forward_reads_no_tensor_check_back_and_equals_plain_transformers(tiny_models, monkeypatch):
    from transformers import AutoModelForZeroShotObjectDetection
    from transformers.models.grounding_dino import modeling_grounding_dino as gd

    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    original = gd.torch_compilable_check
    pipe = build_pipeline(PipelineConfig(detector_model=str(tiny_models[0]), segmenter_model=str(tiny_models[1]),
                                         device="cpu", dtype="float32", segment=False))  # fmt: skip
    plain = AutoModelForZeroShotObjectDetection.from_pretrained(tiny_models[0]).eval()
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    prompt = pipe.text_prompt("cup . person")
    inputs = pipe.detector.preprocess(image)
    calls = _count_tensor_checks(monkeypatch)
    ours = pipe.detector.forward(inputs, prompt)
    assert calls == []  # none read back in the detector's forward
    with torch.inference_mode():
        reference = plain(**inputs, **prompt.tensors)
    assert len(calls) >= plain.config.encoder_layers  # transformers' own forward still checks, once per layer
    assert gd.torch_compilable_check is original  # restored
    length = len(prompt.spans.input_ids)
    np.testing.assert_allclose(ours.boxes_cxcywh, reference.pred_boxes[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.token_probs, torch.sigmoid(reference.logits[0, :, :length]).numpy(), atol=1e-5)


def test_non_tensor_checks_still_raise_and_nested_blocks_restore_the_original():
    from transformers.models.grounding_dino import modeling_grounding_dino as gd

    from grounded_sam_ros.models.tensor_checks import without_tensor_checks

    original = gd.torch_compilable_check
    with without_tensor_checks((gd,)):
        replacement = gd.torch_compilable_check
        assert replacement is not original
        gd.torch_compilable_check(torch.tensor(False), "skipped: a tensor condition")
        with pytest.raises(ValueError, match="kept"):
            gd.torch_compilable_check(False, "kept: a Python condition")
        with without_tensor_checks((gd,)):
            assert gd.torch_compilable_check is replacement
        assert gd.torch_compilable_check is replacement  # the outer block is still inside
    assert gd.torch_compilable_check is original
    with without_tensor_checks((gd,)):
        assert gd.torch_compilable_check is replacement  # the same object each time: no recompilation


def test_concurrent_blocks_restore_the_original_when_the_last_one_leaves():
    from transformers.models.grounding_dino import modeling_grounding_dino as gd

    from grounded_sam_ros.models.tensor_checks import without_tensor_checks

    original = gd.torch_compilable_check
    entered, release = threading.Barrier(2), threading.Event()

    def hold():
        with without_tensor_checks((gd,)):
            entered.wait()
            release.wait(timeout=60)

    worker = threading.Thread(target=hold)
    worker.start()
    with without_tensor_checks((gd,)):
        entered.wait()
    assert gd.torch_compilable_check is not original  # the worker's block is still open
    release.set()
    worker.join(timeout=60)
    assert gd.torch_compilable_check is original
