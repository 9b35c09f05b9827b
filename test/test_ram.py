# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""RAM / RAM++ taggers: a checkpoint in the published layout loads strictly, tags equal a plain reference of the
published model, thresholds apply per class, and every mismatch is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ram_reference import ReferenceRam

from grounded_sam_ros.models import LoadOptions, ModelNotFoundError, build_tagger
from grounded_sam_ros.models.ram import IMAGENET_MEAN, IMAGENET_STD

TAGS = [f"tag{i}" for i in range(10)]


def _write(tmp_path, reference: ReferenceRam, name="ram.pth", **kw):
    path = tmp_path / name
    torch.save(reference.checkpoint(**kw), path)
    tags = tmp_path / "tags.txt"
    tags.write_text("\n".join(TAGS[: reference.num_classes]) + "\n")
    return path, tags


def _image(seed=0, size=(40, 52)):
    return np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)


def _reference_probs(reference: ReferenceRam, image: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    # The release's transform: Resize((S, S)) (PIL bilinear), ToTensor, Normalize(ImageNet)
    pixels = np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR), dtype=np.float32) / 255.0
    pixels = (pixels - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    with torch.no_grad():
        logits = reference.logits(torch.from_numpy(pixels.transpose(2, 0, 1).copy()))
    return torch.sigmoid(logits).numpy()


@pytest.mark.parametrize("family,descriptions", [("ram", 1), ("ram_plus", 3)])
def test_published_layout_loads_strictly_and_tags_like_the_reference(tmp_path, family, descriptions):
    reference = ReferenceRam(descriptions=descriptions, seed=descriptions).eval()
    path, tags = _write(tmp_path, reference)
    tagger = build_tagger(family, str(path), LoadOptions(dtype=torch.float32), tag_list=str(tags), threshold=0.5)
    assert tagger.image_size == 32  # read off the shifted-window masks
    for seed in range(2):
        image = _image(seed)
        expected = _reference_probs(reference, image, 32)
        probs = tagger.forward(tagger.preprocess(image))[0].numpy()
        np.testing.assert_allclose(probs, expected, atol=2e-5)
        result = tagger(image)
        kept = [TAGS[i] for i in np.argsort(-expected, kind="stable") if expected[i] > 0.5]
        assert result.tags == kept
        np.testing.assert_allclose(result.scores, sorted(expected[expected > 0.5], reverse=True), atol=2e-5)


def test_thresholds_apply_per_class(tmp_path):
    reference = ReferenceRam(seed=4).eval()
    path, tags = _write(tmp_path, reference)
    image = _image(7)
    probs = _reference_probs(reference, image, 32)
    # Just below the probability for even tags, just above for odd ones: exactly the even tags pass
    limits = np.where(np.arange(10) % 2 == 0, probs - 1e-3, probs + 1e-3).clip(0, 1)
    thresholds = tmp_path / "thresholds.txt"
    thresholds.write_text("\n".join(f"{v:.6f}" for v in limits) + "\n")
    tagger = build_tagger(
        "ram", str(path), LoadOptions(dtype=torch.float32), tag_list=str(tags), tag_thresholds=str(thresholds)
    )
    assert sorted(tagger(image).tags) == sorted(TAGS[0::2])
    # One uniform threshold: the tags above it
    uniform = build_tagger("ram", str(path), LoadOptions(dtype=torch.float32), tag_list=str(tags), threshold=0.6)
    assert sorted(uniform(image).tags) == sorted(TAGS[i] for i in range(10) if probs[i] > 0.6)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    reference = ReferenceRam(seed=1)
    checkpoint = reference.checkpoint()
    del checkpoint["model"]["tagging_head.encoder.layer.1.output.dense.bias"]
    checkpoint["model"]["visual_encoder.head.weight"] = torch.zeros(3, 64)
    path = tmp_path / "broken.pth"
    torch.save(checkpoint, path)
    tags = tmp_path / "tags.txt"
    tags.write_text("\n".join(TAGS) + "\n")
    with pytest.raises(ValueError) as info:
        build_tagger("ram", str(path), LoadOptions(), tag_list=str(tags))
    message = str(info.value)
    assert "missing keys (1): tagging_head.encoder.layer.1.output.dense.bias" in message
    assert "unexpected keys (1): visual_encoder.head.weight" in message

    # A missing Swin qkv is named as the release names it
    checkpoint = reference.checkpoint()
    del checkpoint["model"]["visual_encoder.layers.2.blocks.1.attn.qkv.weight"]
    torch.save(checkpoint, path)
    with pytest.raises(
        ValueError, match=r"missing keys \(1\): visual_encoder\.layers\.2\.blocks\.1\.attn\.qkv\.weight"
    ):
        build_tagger("ram", str(path), LoadOptions(), tag_list=str(tags))


def test_fix_it_errors(tmp_path):
    reference = ReferenceRam(seed=2)
    path, tags = _write(tmp_path, reference)
    with pytest.raises(ModelNotFoundError, match=r"ram_plus_swin_large_14m\.pth"):
        build_tagger("ram_plus", str(tmp_path / "absent.pth"), LoadOptions(), tag_list=str(tags))
    with pytest.raises(ValueError, match="tag_list"):
        build_tagger("ram", str(path), LoadOptions(), tag_list="")
    short = tmp_path / "short.txt"
    short.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match="not a multiple of the tag list's 3 tags"):
        build_tagger("ram", str(path), LoadOptions(), tag_list=str(short))
    bad = tmp_path / "thresholds.txt"
    bad.write_text("0.5\n" * 9)
    with pytest.raises(ValueError, match="9 values but the tag list has 10"):
        build_tagger("ram", str(path), LoadOptions(), tag_list=str(tags), tag_thresholds=str(bad))
    # A RAM checkpoint given as RAM++ (and the other way round) says which family it is
    with pytest.raises(ValueError, match=r"use family ram$"):
        build_tagger("ram_plus", str(path), LoadOptions(), tag_list=str(tags))
    plus, _ = _write(tmp_path, ReferenceRam(descriptions=2), name="plus.pth")
    with pytest.raises(ValueError, match="use family ram_plus"):
        build_tagger("ram", str(plus), LoadOptions(), tag_list=str(tags))
    # Not loadable with weights_only=True
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": reference.state_dict(), "args": object()}, pickled)
    with pytest.raises(ValueError, match="weights_only=True"):
        build_tagger("ram", str(pickled), LoadOptions(), tag_list=str(tags))
