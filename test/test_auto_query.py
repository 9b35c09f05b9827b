# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Noun phrases of captions, tags -> query (normalised, deduplicated, excluded, capped), and the BLIP tagger against
plain transformers generation."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from grounded_sam_ros.auto_query import AutoQuery, TaggerConfig, build_auto_query, build_query, normalize_tag
from grounded_sam_ros.models import LoadOptions
from grounded_sam_ros.models.tagging import TagResult
from grounded_sam_ros.nouns import noun_phrases, singular


@pytest.mark.parametrize(
    "caption,expected",
    [
        ("a man sitting at a table with a laptop", ["man", "table", "laptop"]),
        ("there is a cat that is laying on a bed", ["cat", "bed"]),
        ("Two dogs and a cat sitting on a red couch.", ["dog", "cat", "red couch"]),
        ("arafed man riding a wave on top of a surfboard", ["man", "wave", "surfboard"]),
        ("a fire hydrant on the side of a street", ["fire hydrant", "street"]),
        ("boxes of tomatoes and potatoes on shelves", ["box", "tomato", "potato", "shelf"]),
        ("a group of people standing in front of a building", ["person", "building"]),
        ("a woman wearing glasses holding two wine glasses", ["woman", "glasses", "wine glass"]),
        ("a close up of a plate of food with broccoli and carrots", ["plate", "food", "broccoli", "carrot"]),
        ("children playing with toy buses, cookies and berries", ["child", "toy bus", "cookie", "berry"]),
        (
            "a kitchen with wooden cabinets and a stainless steel refrigerator",
            ["kitchen", "wooden cabinet", "stainless steel refrigerator"],
        ),
        ("a white and red", []),  # modifiers only
        ("", []),
    ],
)
def test_noun_phrases(caption, expected):
    assert noun_phrases(caption) == expected


def test_long_runs_keep_their_last_words():
    assert noun_phrases("a big old wooden dining room table") == ["dining room table"]
    assert noun_phrases("a big old wooden dining room table", max_words=5) == ["old wooden dining room table"]


@pytest.mark.parametrize(
    "plural,single",
    [
        ("cups", "cup"),
        ("boxes", "box"),
        ("benches", "bench"),
        ("dishes", "dish"),
        ("glasses", "glasses"),
        ("dresses", "dress"),
        ("berries", "berry"),
        ("movies", "movie"),
        ("knives", "knife"),
        ("gloves", "glove"),
        ("tomatoes", "tomato"),
        ("shoes", "shoe"),
        ("men", "man"),
        ("people", "person"),
        ("bus", "bus"),
        ("cactus", "cactus"),
        ("tennis", "tennis"),
        ("grass", "grass"),
        ("sheep", "sheep"),
        ("cup", "cup"),
    ],
)
def test_singular(plural, single):
    assert singular(plural) == single


def test_query_is_normalised_deduplicated_and_excluded():
    tags = ["Cup", "table ", "cups", "Room", "coffee  cup.", "floors", "table", "", "laptop|stand"]
    assert build_query(tags, exclude="room, floor") == "cup . table . coffee cup . laptop stand"
    assert build_query(tags, exclude=["ROOM", "floor", "cup"]) == "table . coffee cup . laptop stand"
    assert build_query(["room", "floor"], exclude="room, floor") == ""
    assert normalize_tag("  Red, Cup. ") == "red cup"


def test_query_is_capped_at_the_token_window_in_tag_order():
    tags = ["cup", "coffee table", "laptop", "person"]
    # [CLS] + (1 + 1) + (2 + 1) = 6 tokens, + [SEP] = 7: the third tag would need 9
    assert build_query(tags, max_tokens=7) == "cup . coffee table"
    assert build_query(tags, max_tokens=8) == "cup . coffee table"
    assert build_query(tags, max_tokens=9) == "cup . coffee table . laptop"
    # The detector's own word pieces: "coffee table" is 5 pieces here
    pieces = {"cup": 1, "coffee table": 5, "laptop": 2, "person": 1}
    assert build_query(tags, max_tokens=10, count_tokens=pieces.__getitem__) == "cup . coffee table"
    assert build_query(tags, max_tags=3) == "cup . coffee table . laptop"


def test_tagger_config_validation():
    assert TaggerConfig(family="blip").validate().model_id == "Salesforce/blip-image-captioning-large"
    with pytest.raises(ValueError, match="expected one of ram, ram_plus, blip, florence2"):
        TaggerConfig(family="clip").validate()
    with pytest.raises(ValueError, match=r"ram_tag_list\.txt"):
        TaggerConfig(family="ram").validate()
    with pytest.raises(ValueError, match="threshold"):
        TaggerConfig(family="blip", threshold=1.5).validate()


class _FixedTagger:
    family = "fixed"

    def __call__(self, image):
        return TagResult(["person", "room", "cup", "people"], [0.9, 0.8, 0.7, 0.6])


def test_auto_query_uses_the_rules():
    auto = AutoQuery(_FixedTagger(), exclude="room")
    query, tags = auto(np.zeros((4, 4, 3), np.uint8))
    assert query == "person . cup"
    assert tags.tags[1] == "room"


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory):
    from grounded_sam_ros.models.tiny_taggers import build_tiny_blip

    return build_tiny_blip(tmp_path_factory.mktemp("tiny-blip") / "tiny-blip")


def test_blip_tagger_equals_plain_transformers_generate(tiny_blip, tiny_models):
    import torch
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipProcessor

    from grounded_sam_ros.models import build_detector

    options = LoadOptions(dtype=torch.float32, local_files_only=True)
    detector = build_detector("grounding_dino", str(tiny_models[0]), options)
    auto = build_auto_query(TaggerConfig(family="blip", model=str(tiny_blip), max_new_tokens=12), options, detector)
    # The processor's PIL image processor: no torchvision anywhere
    assert type(auto.tagger.processor.image_processor).__name__ == "BlipImageProcessorPil"
    assert not [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]
    model = BlipForConditionalGeneration.from_pretrained(tiny_blip).eval()
    processor = BlipProcessor.from_pretrained(tiny_blip)
    for seed in range(3):
        image = np.random.default_rng(seed).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        inputs = processor(images=Image.fromarray(image), return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(pixel_values=inputs["pixel_values"], max_new_tokens=12)
        caption = processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
        query, tags = auto(image)
        assert tags.text == caption and caption
        assert tags.tags == noun_phrases(caption)
        assert query == build_query(tags.tags, max_tokens=detector.max_text_tokens, count_tokens=detector.count_tokens)
