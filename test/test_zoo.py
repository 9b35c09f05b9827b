# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Model zoo parity: every family through the pipeline equals plain transformers calls on the same tiny weights.

Boxes within 0.5 px, scores within 1e-3, mask IoU >= 0.99. Families are read from each checkpoint's config.json
(no family is given anywhere here). The processors transformers cannot run here (OmDet-Turbo, SAM 3 need
torchvision) are replaced by the adapters' own pre-processing, tested against hand-computed values and the PIL
reference (test_zoo_preprocessing below).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.pipeline import build_pipeline

QUERY = "red cup . person"
PHRASES = ["red cup", "person"]
FRAMES = {name: load_image(sample_image(name)) for name in ("chelsea", "rocket")}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, tiny_models):
    from grounded_sam_ros.models import tiny_zoo

    root = tmp_path_factory.mktemp("zoo")
    dirs = {"grounding_dino": tiny_models[0], "sam": tiny_models[1]}
    for name, build in (
        ("sam_hq", tiny_zoo.build_tiny_sam_hq),
        ("slimsam", tiny_zoo.build_tiny_slimsam),
        ("owlv2", tiny_zoo.build_tiny_owlv2),
        ("omdet_turbo", tiny_zoo.build_tiny_omdet_turbo),
        ("sam3", tiny_zoo.build_tiny_sam3),
    ):
        dirs[name] = build(root / name)
    return dirs


def _config(**models) -> PipelineConfig:
    return PipelineConfig(device="cpu", dtype="float32", box_threshold=0.3, text_threshold=0.2, **models)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _check_detections(result, expected, image):
    """expected: list of (score, XYXY box, label[, full mask]) sorted by score."""
    height, width = image.shape[:2]
    assert len(expected) > 0, "test setup: the tiny model should keep boxes at these thresholds"
    assert len(result.detections) == len(expected)
    for det, exp in zip(result.detections, expected):
        assert abs(det.score - exp[0]) <= 1e-3
        np.testing.assert_allclose(det.box, exp[1], atol=0.5)
        assert det.label == exp[2]
        if len(exp) > 3:
            iou = _iou(det.full_mask(height, width), exp[3])
            assert iou >= 0.99, f"mask IoU {iou:.4f} for {det.label} {det.box}"


# Segmenters: the pipeline's boxes, segmented by plain transformers calls


@pytest.mark.parametrize("segmenter", ["sam_hq", "slimsam"])
def test_segmenter_matches_plain_transformers(zoo, segmenter):
    from transformers import SamHQModel, SamHQProcessor, SamModel, SamProcessor

    model_cls, processor_cls = (SamHQModel, SamHQProcessor) if segmenter == "sam_hq" else (SamModel, SamProcessor)
    config = _config(detector_model=str(zoo["grounding_dino"]), segmenter_model=str(zoo[segmenter]))
    pipe = build_pipeline(config.replace(max_detections=4))
    assert type(pipe.segmenter).__name__ == ("SamHqSegmenter" if segmenter == "sam_hq" else "SamSegmenter")
    model = model_cls.from_pretrained(zoo[segmenter]).eval()
    processor = processor_cls.from_pretrained(zoo[segmenter])
    if segmenter == "sam_hq":
        # transformers' SAM-HQ decoder up-samples the pre-transformer embedding; the adapter restores the original
        # computation (proven against the original classes in test_original_checkpoints.py), so the reference
        # gets the same one-line correction and everything else stays plain transformers
        from grounded_sam_ros.models.sam_hq import use_original_hq_upscaling

        use_original_hq_upscaling(model)
    if segmenter == "slimsam":  # SlimSAM-77's pruned widths, loaded by the plain `sam` family
        assert (model.config.vision_config.hidden_size, model.config.vision_config.mlp_dim) == (168, 696)
    for image in FRAMES.values():
        result = pipe(image, QUERY)
        boxes = [[det.box.tolist() for det in result.detections]]
        inputs = processor(images=Image.fromarray(image), input_boxes=boxes, return_tensors="pt")
        with torch.no_grad():
            out = model(**inputs, multimask_output=False)
        masks = processor.post_process_masks(out.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"])
        expected = [(det.score, det.box, det.label, mask[0].numpy()) for det, mask in zip(result.detections, masks[0])]
        _check_detections(result, expected, image)
        for det, score in zip(result.detections, out.iou_scores[0, :, 0].numpy()):
            assert abs(det.mask_score - float(np.clip(score, 0, 1))) < 1e-3


# Detectors: boxes, scores and labels of plain transformers calls (masks by the tiny SAM, tested elsewhere)


def test_owlv2_matches_plain_transformers(zoo):
    from transformers import Owlv2ForObjectDetection, Owlv2Processor

    pipe = build_pipeline(_config(detector_model=str(zoo["owlv2"]), segment=False).replace(box_threshold=0.55))
    model = Owlv2ForObjectDetection.from_pretrained(zoo["owlv2"]).eval()
    processor = Owlv2Processor.from_pretrained(zoo["owlv2"])
    for image in FRAMES.values():
        height, width = image.shape[:2]
        inputs = processor(text=[PHRASES], images=Image.fromarray(image), return_tensors="pt")
        with torch.no_grad():
            out = model(**inputs)
        post = processor.post_process_grounded_object_detection(
            out, threshold=0.55, target_sizes=[(height, width)], text_labels=[PHRASES]
        )[0]
        expected = [
            (float(s), np.clip(b.numpy(), 0, [width, height, width, height]), label)
            for s, b, label in zip(post["scores"], post["boxes"], post["text_labels"])
        ]
        expected = [e for e in expected if e[1][2] > e[1][0] and e[1][3] > e[1][1]]
        _check_detections(pipe(image, QUERY), sorted(expected, key=lambda e: -e[0]), image)


def _omdet_reference(zoo, image, threshold):
    """OmDetTurboProcessor's inputs built by hand (its class needs torchvision): the image resized as torchvision
    resizes uint8 images (what its ``DetrImageProcessor`` does; compared with the real one in test_official_zoo.py),
    then normalised by the PIL DETR image processor."""
    from transformers import AutoTokenizer, OmDetTurboForObjectDetection
    from transformers.models.detr.image_processing_pil_detr import DetrImageProcessorPil

    settings = json.loads((zoo["omdet_turbo"] / "preprocessor_config.json").read_text())
    settings.pop("image_processor_type")
    size = (settings["size"]["height"], settings["size"]["width"])
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None]
    resized = torch.nn.functional.interpolate(pixels, size=size, mode="bilinear", antialias=True)[0].permute(1, 2, 0)
    processor = DetrImageProcessorPil(**{**settings, "do_resize": False})
    pixel_values = processor(images=Image.fromarray(resized.numpy()), return_tensors="pt").pixel_values
    tokenizer = AutoTokenizer.from_pretrained(zoo["omdet_turbo"])
    text = {"padding": "max_length", "truncation": True, "max_length": 77, "return_tensors": "pt"}
    classes, task = tokenizer(PHRASES, **text), tokenizer([f"Detect {', '.join(PHRASES)}."], **text)
    model = OmDetTurboForObjectDetection.from_pretrained(zoo["omdet_turbo"]).eval()
    with torch.no_grad():
        out = model(
            pixel_values=pixel_values,
            classes_input_ids=classes.input_ids,
            classes_attention_mask=classes.attention_mask,
            tasks_input_ids=task.input_ids,
            tasks_attention_mask=task.attention_mask,
            classes_structure=torch.tensor([len(PHRASES)]),
        )
    height, width = image.shape[:2]
    probs = torch.sigmoid(out.decoder_class_logits[0]).numpy()
    expected = []
    for prob, (cx, cy, w, h) in zip(probs, out.decoder_coord_logits[0].numpy()):
        scale = np.array([width, height, width, height])
        box = np.clip(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * scale, 0, scale)
        if prob.max() > threshold and box[2] > box[0] and box[3] > box[1]:
            expected.append((float(prob.max()), box, PHRASES[int(prob.argmax())]))
    return sorted(expected, key=lambda e: -e[0])


def test_omdet_turbo_matches_plain_transformers(zoo):
    # The tiny model's scores sit in [0.936, 0.948]: a threshold inside that range keeps a few boxes
    pipe = build_pipeline(_config(detector_model=str(zoo["omdet_turbo"]), segment=False).replace(box_threshold=0.945))
    for image in FRAMES.values():
        _check_detections(pipe(image, QUERY), _omdet_reference(zoo, image, 0.945), image)


# One-stage: SAM 3's boxes and masks


def _sam3_reference(zoo, image, threshold):
    """Each phrase run alone through the plain model (image encoder included), post-processed as
    ``Sam3ImageProcessor.post_process_instance_segmentation`` does (scores x presence, bilinear masks > 0.5)."""
    from transformers import AutoTokenizer, Sam3Model

    from grounded_sam_ros.models.sam3 import preprocess_sam3

    settings = json.loads((zoo["sam3"] / "preprocessor_config.json").read_text())
    model = Sam3Model.from_pretrained(zoo["sam3"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(zoo["sam3"])
    height, width = image.shape[:2]
    expected = []
    for phrase in PHRASES:
        text = tokenizer([phrase], padding="max_length", max_length=32, return_tensors="pt")
        with torch.no_grad():
            out = model(pixel_values=preprocess_sam3(image, settings), **text)
        scores = (torch.sigmoid(out.pred_logits) * torch.sigmoid(out.presence_logits))[0]
        keep = scores > threshold
        boxes = out.pred_boxes[0][keep].numpy() * [width, height, width, height]
        probs = torch.sigmoid(out.pred_masks[0][keep])[None]
        masks = torch.nn.functional.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
        for score, box, mask in zip(scores[keep].numpy(), boxes, (masks[0] > 0.5).numpy()):
            box = np.clip(box, 0, [width, height, width, height])
            if box[2] > box[0] and box[3] > box[1]:
                expected.append((float(score), box, phrase, mask))
    return sorted(expected, key=lambda e: -e[0])


def test_sam3_matches_plain_transformers(zoo):
    pipe = build_pipeline(_config(one_stage_model=str(zoo["sam3"])).replace(box_threshold=0.55))
    assert pipe.segmenter is None
    for image in FRAMES.values():
        result = pipe(image, QUERY)
        _check_detections(result, _sam3_reference(zoo, image, 0.55), image)
        assert {"segmenter_encoder", "segmenter_decoder"}.isdisjoint(result.timings)
        assert all(det.mask_score == det.score for det in result.detections)


# Pre-processing written here instead of the torchvision-bound processors


def test_omdet_preprocessing_hand_computed():
    from grounded_sam_ros.models.omdet_turbo import preprocess_detr_square

    settings = {
        "size": {"height": 4, "width": 6},
        "do_rescale": False,
        "image_mean": [123.675, 116.28, 103.53],
        "image_std": [58.395, 57.12, 57.375],
    }
    # A constant colour stays constant through any resize: (v - mean) / std per channel
    image = np.empty((10, 7, 3), np.uint8)
    image[:] = (200, 100, 50)
    out = preprocess_detr_square(image, settings)
    assert out.shape == (3, 4, 6) and out.dtype == np.float32
    expected = (np.array([200, 100, 50]) - settings["image_mean"]) / np.array(settings["image_std"])
    np.testing.assert_allclose(out.reshape(3, -1), np.repeat(expected[:, None], 24, axis=1), rtol=1e-6)
    # At the target size already: no resampling, every pixel normalised on its own
    image = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    expected = (image - np.array(settings["image_mean"])) / np.array(settings["image_std"])
    np.testing.assert_allclose(preprocess_detr_square(image, settings), expected.transpose(2, 0, 1), rtol=1e-5)
    with pytest.raises(ValueError, match="fixed 'size'"):
        preprocess_detr_square(image, {"size": {"shortest_edge": 800}})


def test_sam3_preprocessing_hand_computed():
    from grounded_sam_ros.models.sam3 import preprocess_sam3

    settings = {"size": {"height": 8, "width": 8}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    image = np.empty((13, 21, 3), np.uint8)
    image[:] = (255, 0, 51)
    out = preprocess_sam3(image, settings)
    assert tuple(out.shape) == (1, 3, 8, 8)
    # (v / 255 - 0.5) / 0.5
    np.testing.assert_allclose(out[0, :, 0, 0].numpy(), [1.0, -1.0, 51 / 255 * 2 - 1], atol=1e-6)
    assert float(out.std(dim=(2, 3)).max()) == 0.0
    # Downscaling: antialiased bilinear on uint8 values, rounded to uint8 (torchvision's uint8 path) before
    # normalising; differs from the float resize by at most one grey level
    image = np.random.default_rng(1).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    out = preprocess_sam3(image, settings)[0].numpy()
    level = (out * 0.5 + 0.5) * 255
    np.testing.assert_allclose(level, np.round(level), atol=1e-3)  # whole grey levels
    smooth = torch.nn.functional.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(8, 8), mode="bilinear", antialias=True
    )[0].numpy()
    assert np.abs(level - smooth).max() <= 1.0


# Families read from the checkpoints; invalid combinations refused with the reason


def test_family_is_read_from_the_checkpoint(zoo):
    from grounded_sam_ros.models import LoadOptions
    from grounded_sam_ros.models.families import infer_family

    expected = {
        "grounding_dino": "grounding_dino",
        "sam": "sam",
        "slimsam": "sam",
        "sam_hq": "sam_hq",
        "owlv2": "owlv2",
        "omdet_turbo": "omdet_turbo",
        "sam3": "sam3",
    }
    assert {name: infer_family(str(zoo[name]), LoadOptions()) for name in expected} == expected


def test_invalid_combinations_are_refused(zoo, tmp_path):
    cases = [
        ({"detector_model": str(zoo["sam"])}, "is a segmenter .*pass it as segmenter_model"),
        (
            {"segmenter_model": str(zoo["owlv2"]), "detector_model": str(zoo["owlv2"])},
            "is a detector .*not a segmenter",
        ),
        ({"detector_model": str(zoo["sam3"])}, "one-stage .*one_stage_model"),
        ({"one_stage_model": str(zoo["owlv2"])}, "is a detector .*not a one-stage"),
        ({"detector_model": str(zoo["owlv2"]), "detector_family": "sam"}, "sam, given.*not a detector"),
    ]
    for models, reason in cases:
        models.setdefault("segmenter_model", str(zoo["sam"]))
        with pytest.raises(ValueError, match=reason):
            build_pipeline(_config(**models))
    with pytest.raises(ValueError, match=r"unknown model family 'yolo'.*registered"):
        _config(detector_family="yolo").validate()
    # A config.json of a model type no family handles
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "detr"}))
    with pytest.raises(ValueError, match="'detr' model, which no registered family handles"):
        build_pipeline(_config(detector_model=str(other), segmenter_model=str(zoo["sam"])))


def test_explicit_family_overrides_the_checkpoint(zoo):
    # mm_grounding_dino shares Grounding DINO's adapter: an explicit family is used as given
    pipe = build_pipeline(
        _config(detector_model=str(zoo["grounding_dino"]), detector_family="mm_grounding_dino", segment=False)
    )
    assert type(pipe.detector).__name__ == "GroundingDinoDetector"


def test_subnormal_fraction_counts_tiny_activations():
    """The bench's check before timing random full-size models (STYLE.md): subnormal outputs of any submodule."""
    from grounded_sam_ros.models.architectures_zoo import subnormal_fraction

    layer = torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU())
    values = torch.tensor([1e-40, 2e-39, 1.0, 0.0])  # two subnormal float32 values, a normal one, a zero
    assert subnormal_fraction(layer, lambda: layer(values)) == pytest.approx(0.5)
    assert subnormal_fraction(layer, lambda: layer(torch.ones(8))) == 0.0
