# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Unit tests of prompt handling and post-processing on fabricated model outputs (no models)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from grounded_sam_ros.postprocess import MaskUpsampler, bilinear_matrix, box_iou, nms, select_boxes
from grounded_sam_ros.prompts import assign_phrases, detector_caption, normalize_query, parse_query, phrase_spans

# ---------------------------------------------------------------- queries


@pytest.mark.parametrize(
    "query, phrases",
    [
        ("red cup . person, robot arm", ["red cup", "person", "robot arm"]),
        ("  Red   Cup .. PERSON ,, red cup. ", ["red cup", "person"]),
        ("cat", ["cat"]),
        ("a\tdog\n. cat", ["a dog", "cat"]),
        ("cup\x00\x07 . dog", ["cup", "dog"]),
    ],
)
def test_parse_query(query, phrases):
    assert parse_query(query) == phrases


@pytest.mark.parametrize("query", ["", "   ", " . , .. ,", "\x00"])
def test_empty_query_is_rejected(query):
    with pytest.raises(ValueError, match="no phrase"):
        parse_query(query)


def test_query_must_be_text_and_bounded():
    with pytest.raises(ValueError, match="string"):
        parse_query(b"cat")
    with pytest.raises(ValueError, match="characters"):
        parse_query("cat . " * 2000)


def test_normalize_is_idempotent_and_caption_form():
    once = normalize_query("Red cup, person.")
    assert once == "red cup . person"
    assert normalize_query(once) == once
    assert detector_caption(parse_query(once)) == "red cup . person ."


def _toy_tokenize(text):
    # one token per word, ids from a fixed table
    table = {"red": 10, "cup": 11, "person": 12, "robot": 13, "arm": 14}
    return [table.get(w, 99) for w in text.split()]


def test_phrase_spans_layout():
    spans = phrase_spans(["red cup", "person", "robot arm"], _toy_tokenize, cls_id=1, sep_id=2, dot_id=5)
    assert spans.input_ids == (1, 10, 11, 5, 12, 5, 13, 14, 5, 2)
    assert spans.spans == ((1, 3), (4, 5), (6, 8))
    assert spans.query == "red cup . person . robot arm"
    assert not spans.truncated


def test_phrase_spans_match_the_real_tokenizer(tiny_models):
    from transformers import GroundingDinoProcessor

    processor = GroundingDinoProcessor.from_pretrained(tiny_models[0])
    tok = processor.tokenizer
    phrases = ["red cup", "person", "robot arm", "coffee mugs"]
    spans = phrase_spans(
        phrases,
        lambda t: tok(t, add_special_tokens=False)["input_ids"],
        tok.cls_token_id,
        tok.sep_token_id,
        tok.convert_tokens_to_ids("."),
    )
    reference = tok(detector_caption(phrases))["input_ids"]
    assert list(spans.input_ids) == reference
    assert [tok.decode(reference[s:e]) for s, e in spans.spans] == phrases


def test_long_query_truncates_at_phrase_boundary(caplog):
    phrases = [f"robot arm {i}" for i in range(100)]  # 3 tokens + '.' each
    with caplog.at_level(logging.WARNING):
        spans = phrase_spans(phrases, _toy_tokenize, 1, 2, 5, max_tokens=256)
    assert spans.truncated
    assert len(spans.input_ids) <= 256
    assert spans.phrases == tuple(phrases[: len(spans.phrases)])
    assert len(spans.phrases) == (256 - 2) // 4
    assert "dropped" in caplog.text
    with pytest.raises(ValueError, match="256 tokens"):
        phrase_spans(phrases, _toy_tokenize, 1, 2, 5, max_tokens=256, overflow="error")
    with pytest.raises(ValueError, match="alone"):
        phrase_spans(["robot " * 300], _toy_tokenize, 1, 2, 5, max_tokens=256)


# ---------------------------------------------------------------- labels


def test_assign_phrases_picks_phrase_with_best_token():
    spans = [(1, 3), (4, 5), (6, 8)]
    probs = np.zeros((3, 10), np.float32)
    probs[0, [2, 4]] = [0.9, 0.5]  # phrase 0
    probs[1, [4, 7, 9]] = [0.4, 0.6, 0.99]  # position 9 ([SEP]) belongs to no phrase -> phrase 2
    probs[2, [1, 4]] = [0.7, 0.7]  # tie -> earlier phrase
    index, score = assign_phrases(probs, spans)
    assert index.tolist() == [0, 2, 0]
    np.testing.assert_allclose(score, [0.9, 0.6, 0.7])


# ---------------------------------------------------------------- box selection


def _fabricated(n=5, tokens=6):
    probs = np.zeros((n, tokens), np.float32)
    boxes = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (n, 1))
    return probs, boxes


def test_select_thresholds_labels_and_pixels():
    spans = [(1, 2), (3, 5)]
    probs, boxes = _fabricated(4)
    probs[0, 1] = 0.9  # phrase 0, kept
    probs[1, 4] = 0.5  # phrase 1, kept
    probs[2, 1] = 0.3  # below box threshold
    probs[3, 5] = 0.8  # best token is [SEP]: box score 0.8 but phrase score 0 -> not grounded
    probs[3, 1] = 0.1
    boxes[1] = [0.95, 0.1, 0.2, 0.4]  # sticks out right and top: clipped
    sel = select_boxes(probs, boxes, spans, (480, 641), box_threshold=0.35, text_threshold=0.25)
    assert sel.scores.tolist() == pytest.approx([0.9, 0.5])
    assert sel.phrase_index.tolist() == [0, 1]
    assert sel.query_index.tolist() == [0, 1]
    np.testing.assert_allclose(sel.boxes[0], [0.4 * 641, 0.4 * 480, 0.6 * 641, 0.6 * 480], rtol=1e-6)
    np.testing.assert_allclose(sel.boxes[1], [0.85 * 641, 0.0, 641.0, 0.3 * 480], rtol=1e-6)


def test_select_sorts_nms_and_topk():
    spans = [(1, 2)]
    probs, boxes = _fabricated(4, 3)
    probs[:, 1] = [0.5, 0.9, 0.7, 0.6]
    boxes[:] = [[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2], [0.51, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]]
    sel = select_boxes(probs, boxes, spans, (100, 100), 0.35, 0.25)
    assert sel.query_index.tolist() == [1, 2, 3, 0]
    sel = select_boxes(probs, boxes, spans, (100, 100), 0.35, 0.25, nms_iou=0.5)
    assert sel.query_index.tolist() == [1, 3]
    sel = select_boxes(probs, boxes, spans, (100, 100), 0.35, 0.25, max_detections=2)
    assert sel.query_index.tolist() == [1, 2]


def test_select_drops_boxes_outside_the_image_and_handles_none():
    spans = [(1, 2)]
    probs, boxes = _fabricated(2, 3)
    probs[:, 1] = 0.9
    boxes[0] = [1.5, 0.5, 0.2, 0.2]  # entirely right of the image
    sel = select_boxes(probs, boxes, spans, (50, 60), 0.35, 0.25)
    assert sel.query_index.tolist() == [1]
    sel = select_boxes(probs, boxes, spans, (50, 60), 0.95, 0.25)
    assert len(sel) == 0 and sel.boxes.shape == (0, 4)


def test_nms_and_iou_against_hand_computed_values():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    iou = box_iou(boxes, boxes)
    assert iou[0, 1] == pytest.approx(50 / 150)
    assert iou[0, 2] == 0
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist() == [0, 2]
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.34).tolist() == [0, 1, 2]
    assert nms(boxes, np.array([0.1, 0.8, 0.7]), 1.0).tolist() == [1, 2, 0]


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize("size_in, size_out", [(256, 1024), (1024, 641), (1024, 1283), (7, 3), (256, 256)])
def test_bilinear_matrix_equals_torch_interpolate(size_in, size_out):
    x = torch.randn(1, 1, size_in, 5, generator=torch.Generator().manual_seed(0))
    ref = nnf.interpolate(x, (size_out, 5), mode="bilinear", align_corners=False)[0, 0].numpy()
    ours = bilinear_matrix(size_in, size_out) @ x[0, 0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("original", [(480, 641), (540, 360), (855, 1283), (300, 451)])
def test_mask_upsampler_equals_reference_post_processing(original):
    height, width = original
    scale = 1024 / max(height, width)
    resized = (int(height * scale + 0.5), int(width * scale + 0.5))
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 256, 256, generator=gen)
    logits[0] = -1.0  # empty mask
    logits[1, :, :] = -1.0
    logits[1, 100:140, 30:60] = 2.0  # a compact blob
    logits[2] = nnf.avg_pool2d(logits[2][None, None], 9, 1, 4)[0, 0] * 10  # smooth, fragmented
    logits[3] = 1.0  # everything
    ref = nnf.interpolate(logits[:, None], (1024, 1024), mode="bilinear", align_corners=False)
    ref = nnf.interpolate(ref[..., : resized[0], : resized[1]], original, mode="bilinear", align_corners=False)
    ref = (ref[:, 0] > 0).numpy()

    upsample = MaskUpsampler.create((256, 256), (1024, 1024), resized, original)
    for i in range(4):
        crop, x, y = upsample(logits[i].numpy())
        full = np.zeros(original, bool)
        full[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        assert np.count_nonzero(full != ref[i]) <= 2, f"mask {i}"
        if ref[i].any():
            ys, xs = np.nonzero(full)
            assert (y, x) == (ys.min(), xs.min())
            assert crop.shape == (ys.max() - y + 1, xs.max() - x + 1)
        else:
            assert crop.shape == (0, 0)
