# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Florence-2 tagger: ``<OD>`` labels and caption nouns parsed from fabricated outputs, and the adapter against plain
transformers generation on a tiny random model (no torchvision, no trust_remote_code)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from grounded_sam_ros.auto_query import TaggerConfig, build_auto_query
from grounded_sam_ros.models import LoadOptions
from grounded_sam_ros.nouns import noun_phrases


@pytest.fixture(scope="module")
def tiny_florence2(tmp_path_factory):
    from grounded_sam_ros.models.tiny_taggers import build_tiny_florence2

    return build_tiny_florence2(tmp_path_factory.mktemp("florence2") / "tiny-florence2")


def _tagger(path, task="<OD>", max_new_tokens=0):
    import torch

    config = TaggerConfig(family="florence2", model=str(path), task=task, max_new_tokens=max_new_tokens)
    return build_auto_query(config, LoadOptions(dtype=torch.float32, local_files_only=True)).tagger


def test_od_labels_and_caption_nouns_from_generated_text(tiny_florence2):
    od = _tagger(tiny_florence2)
    boxes = ["<loc_10><loc_20><loc_300><loc_400>", "<loc_1><loc_2><loc_3><loc_4>", "<loc_5><loc_6><loc_7><loc_8>"]
    text = f"</s><s>cup{boxes[0]}person{boxes[1]}cup{boxes[2]}</s>"
    result = od.parse(text, (640, 480))
    assert result.tags == ["cup", "person"]  # first appearance order, deduplicated
    caption = _tagger(tiny_florence2, task="<CAPTION>")
    result = caption.parse("</s><s>Two cats sitting on a red couch.</s>", (640, 480))
    assert result.tags == ["cat", "red couch"] and result.text == "Two cats sitting on a red couch."
    with pytest.raises(ValueError, match="expected one of <OD>"):
        _tagger(tiny_florence2, task="<SEGMENT>")


@pytest.mark.parametrize("task", ["<OD>", "<CAPTION>"])
def test_florence2_tagger_equals_plain_transformers_generate(tiny_florence2, task):
    import torch
    from PIL import Image
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    tagger = _tagger(tiny_florence2, task=task, max_new_tokens=24)
    assert type(tagger.processor.image_processor).__name__ == "CLIPImageProcessorPil"
    assert not [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]
    model = Florence2ForConditionalGeneration.from_pretrained(tiny_florence2).eval()
    processor = AutoProcessor.from_pretrained(tiny_florence2)
    for seed in range(1):
        image = np.random.default_rng(seed).integers(0, 256, size=(48, 70, 3), dtype=np.uint8)
        inputs = processor(text=task, images=Image.fromarray(image), return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**inputs, max_new_tokens=24, do_sample=False, num_beams=1)
        text = processor.batch_decode(ids, skip_special_tokens=False)[0]
        expected = (
            processor.post_process_generation(text, task=task, image_size=(70, 48))[task] if task != "<OD>" else None
        )
        result = tagger(image)
        if task == "<OD>":
            parsed = processor.post_processor.parse_description_with_bboxes_from_text_and_spans(text, (70, 48))
            assert result.tags == list(dict.fromkeys(p["cat_name"] for p in parsed if p["cat_name"]))
            assert result.text == text
        else:
            assert result.text == expected.strip()
            assert result.tags == noun_phrases(expected)
