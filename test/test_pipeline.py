# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pipeline behaviour on tiny random models: stages, skipping SAM, bad input, loading policy, exports."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.masks import crop_mask, decode_rle, encode_rle
from grounded_sam_ros.models import ModelNotFoundError
from grounded_sam_ros.pipeline import GroundedSamPipeline, build_pipeline

IMAGE = load_image(sample_image("rocket"))


class CountingSegmenter:
    """Wraps a segmenter and counts calls of each stage."""

    def __init__(self, inner):
        self._inner = inner
        self.pad_size = inner.pad_size
        self.calls = {"preprocess": 0, "embed": 0, "decode": 0}
        self.boxes_per_decode = []

    def preprocess(self, image):
        self.calls["preprocess"] += 1
        return self._inner.preprocess(image)

    def embed(self, inputs):
        self.calls["embed"] += 1
        return self._inner.embed(inputs)

    def decode(self, state, boxes, multimask):
        self.calls["decode"] += 1
        self.boxes_per_decode.append(len(boxes))
        return self._inner.decode(state, boxes, multimask)


@pytest.fixture
def counting_pipeline(tiny_pipeline):
    segmenter = CountingSegmenter(tiny_pipeline.segmenter)
    return GroundedSamPipeline(tiny_pipeline.detector, segmenter, tiny_pipeline.config), segmenter


def test_one_embedding_and_one_batched_decode_per_frame(counting_pipeline):
    pipe, segmenter = counting_pipeline
    result = pipe(IMAGE, "rocket . sky")
    assert len(result.detections) > 1
    assert segmenter.calls == {"preprocess": 1, "embed": 1, "decode": 1}
    assert segmenter.boxes_per_decode == [len(result.detections)]
    assert [d.score for d in result.detections] == sorted((d.score for d in result.detections), reverse=True)
    assert len({d.id for d in result.detections}) == len(result.detections)
    assert set(result.timings) >= {"detector", "segmenter_encoder", "segmenter_decoder", "masks"}


def test_empty_frame_skips_sam(counting_pipeline):
    pipe, segmenter = counting_pipeline
    pipe.update(box_threshold=1.0)
    result = pipe(IMAGE, "rocket")
    assert result.detections == []
    assert segmenter.calls == {"preprocess": 0, "embed": 0, "decode": 0}
    assert "segmenter_encoder" not in result.timings


def test_update_applies_from_next_frame_without_reload(tiny_pipeline):
    pipe = GroundedSamPipeline(tiny_pipeline.detector, tiny_pipeline.segmenter, tiny_pipeline.config)
    all_boxes = pipe(IMAGE, "rocket")
    pipe.update(max_detections=2, nms_iou=0.5)
    capped = pipe(IMAGE, "rocket")
    assert len(capped.detections) == 2 < len(all_boxes.detections)
    assert capped.detections[0].score == all_boxes.detections[0].score
    with pytest.raises(ValueError, match="box_threshold"):
        pipe.update(box_threshold=1.5)
    with pytest.raises(RuntimeError, match="build_pipeline"):
        pipe.update(detector_model="other")


def test_multimask_keeps_highest_iou_candidate(tiny_pipeline):
    pipe = GroundedSamPipeline(tiny_pipeline.detector, tiny_pipeline.segmenter, tiny_pipeline.config)
    pipe.update(multimask=True, max_detections=3)
    result = pipe(IMAGE, "rocket")
    # Independent expectation: decode the three candidates and take the argmax of predicted IoU
    import torch

    seg = tiny_pipeline.segmenter
    state = seg.embed(seg.preprocess(IMAGE))
    boxes = np.stack([d.box for d in result.detections])
    scale = np.array([state.resized_size[1] / IMAGE.shape[1], state.resized_size[0] / IMAGE.shape[0]] * 2)
    with torch.no_grad():
        out = seg.model(
            image_embeddings=state.embedding,
            input_boxes=torch.tensor(boxes * scale, dtype=torch.float32)[None],
            multimask_output=True,
        )
    assert out.pred_masks.shape[2] == 3
    best = out.iou_scores[0].max(dim=1).values.numpy()
    np.testing.assert_allclose([d.mask_score for d in result.detections], np.clip(best, 0, 1), atol=1e-5)


def test_segment_false_gives_boxes_only(tiny_models):
    pipe = build_pipeline(
        PipelineConfig(detector_model=str(tiny_models[0]), segment=False, box_threshold=0.3, text_threshold=0.2)
    )
    assert pipe.segmenter is None
    result = pipe(IMAGE, "rocket")
    assert result.detections and all(d.mask is None for d in result.detections)


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((10, 10), np.uint8), "HxWx3"),
        (np.zeros((10, 10, 4), np.uint8), "HxWx3"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 0, 3), np.uint8), "empty"),
        ([[1, 2, 3]], "numpy"),
    ],
)
def test_bad_images_are_rejected(tiny_pipeline, image, match):
    with pytest.raises(ValueError, match=match):
        tiny_pipeline(image, "rocket")


def test_huge_image_is_rejected_before_any_work(tiny_models):
    pipe = build_pipeline(
        PipelineConfig(detector_model=str(tiny_models[0]), segment=False, max_image_pixels=1000 * 1000)
    )
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (1001, 1000, 3))
    with pytest.raises(ValueError, match="max_image_pixels"):
        pipe(huge, "rocket")


def test_empty_query_is_rejected(tiny_pipeline):
    with pytest.raises(ValueError, match="no phrase"):
        tiny_pipeline(IMAGE, " . , ")


def test_missing_model_dir_names_the_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ModelNotFoundError, match="nope"):
        build_pipeline(PipelineConfig(detector_model=str(missing), segment=False))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        build_pipeline(PipelineConfig(detector_model=str(tmp_path / "empty"), segment=False))


def test_missing_hub_model_offline_says_how_to_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        build_pipeline(PipelineConfig(detector_model="no-such-org/no-such-model", segment=False))
    text = str(err.value)
    assert "no-such-org/no-such-model" in text
    assert "grounded-sam download no-such-org/no-such-model" in text
    assert "cache" in text


def test_pickle_only_checkpoint_refused_by_default_and_loaded_when_allowed(tiny_models, tmp_path, tiny_pipeline):
    import shutil

    import torch
    from safetensors.torch import load_file

    # The tiny detector, re-saved as a pickle checkpoint only
    pickle_dir = tmp_path / "pickle-gdino"
    shutil.copytree(tiny_models[0], pickle_dir, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save(load_file(tiny_models[0] / "model.safetensors"), pickle_dir / "pytorch_model.bin")
    config = PipelineConfig(
        detector_model=str(pickle_dir), segment=False, dtype="float32", box_threshold=0.3, text_threshold=0.2
    )  # float32 as tiny_pipeline, so the scores must be equal
    with pytest.raises(ValueError, match="pickle"):
        build_pipeline(config)

    allowed = build_pipeline(config.replace(allow_pickle=True))
    expected = [(d.label, d.score) for d in tiny_pipeline(IMAGE, "rocket").detections]
    assert [(d.label, d.score) for d in allowed(IMAGE, "rocket").detections] == expected


def test_rle_round_trip_through_pycocotools(tiny_pipeline):
    result = tiny_pipeline(IMAGE, "rocket . sky")
    exported = result.to_dict(image="rocket.jpg")
    assert exported["width"] == IMAGE.shape[1] and exported["height"] == IMAGE.shape[0]
    assert exported["query"] == "rocket . sky"
    for det, entry in zip(result.detections, exported["detections"]):
        full = det.full_mask(IMAGE.shape[0], IMAGE.shape[1])
        rle = coco_mask.frPyObjects(entry["mask"], *entry["mask"]["size"])
        decoded = coco_mask.decode(rle).astype(bool)
        np.testing.assert_array_equal(decoded, full)
        assert coco_mask.area(rle) == full.sum()
        assert entry["label"] == det.label and entry["box"] == pytest.approx(det.box.tolist(), abs=1e-3)


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((5, 7), bool),
        np.ones((5, 7), bool),
        np.eye(5, 7, dtype=bool),
        np.pad(np.ones((1, 1), bool), ((4, 0), (6, 0))),
        np.pad(np.ones((1, 1), bool), ((0, 4), (0, 6))),
    ],
)
def test_rle_and_crop_edge_cases(mask):
    rle = encode_rle(mask)
    np.testing.assert_array_equal(decode_rle(rle), mask)
    ours = coco_mask.decode(coco_mask.frPyObjects(rle, *rle["size"])).astype(bool)
    np.testing.assert_array_equal(ours, mask)
    crop, x, y = crop_mask(mask)
    assert crop.sum() == mask.sum()
    if mask.any():
        assert mask[y, :].any() and mask[:, x].any()
