# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The zoo adapters against transformers' official processors, which need a working torchvision.

The SAM 3 and OmDet-Turbo adapters do their processors' work themselves (``Sam3Processor`` and
``OmDetTurboProcessor`` import torchvision, which cannot load on the CPU-only development machine). Here, wherever
torchvision works (the GPU machine: CUDA torch + torchvision), the official processors are the reference:

- pre-processing: pixel values and text tensors equal the processors' outputs on images of several sizes (and at
  the published checkpoints' image settings);
- end to end, on tiny random weights: the pipeline's boxes (<= 0.5 px), scores (<= 1e-3), labels and masks
  (IoU >= 0.99) equal plain transformers calls that use the official processor and its post-processing;
- OWLv2 with the torchvision backend of ``Owlv2ImageProcessor`` (what the published checkpoints resolve to there).

Everything runs on the CPU in float32 (the processors' outputs are CPU tensors). Skipped where torchvision does not
work. No ROS import.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _torchvision_problem() -> str:
    """Why torchvision cannot be used here ('' when it works: imported and its C++ NMS ran)."""
    try:
        import torchvision

        kept = torchvision.ops.nms(torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.1]]), torch.ones(2), 0.5)
        if kept.tolist() != [0]:
            return f"torchvision.ops.nms gave {kept.tolist()}, expected [0]"
    except Exception as error:  # noqa: BLE001 - ImportError, or RuntimeError when its C++ ops mismatch torch
        return f"torchvision does not work here ({type(error).__name__}: {str(error)[:120]})"
    return ""


_PROBLEM = _torchvision_problem()
pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=_PROBLEM or "torchvision works")

PHRASES = ["red cup", "person"]
QUERY = " . ".join(PHRASES)


def _frames():
    """Images of different sizes and aspect ratios (landscape, portrait, tiny, square-ish)."""
    from grounded_sam_ros.data import load_image, sample_image

    rocket = load_image(sample_image("rocket"))
    return {
        "chelsea": load_image(sample_image("chelsea")),  # 300x451
        "rocket": rocket,  # 480x641
        "portrait": np.ascontiguousarray(rocket[:, 150:330]),  # 480x180
        "noise": np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Tiny random SAM 3, OmDet-Turbo and OWLv2 (the last saved with the torchvision ``Owlv2ImageProcessor``)."""
    from transformers.models.owlv2.image_processing_owlv2 import Owlv2ImageProcessor

    from grounded_sam_ros.models import tiny_zoo

    root = tmp_path_factory.mktemp("official-zoo")
    dirs = {
        "sam3": tiny_zoo.build_tiny_sam3(root / "sam3"),
        "omdet_turbo": tiny_zoo.build_tiny_omdet_turbo(root / "omdet_turbo"),
        "owlv2": tiny_zoo.build_tiny_owlv2(root / "owlv2"),
    }
    size = tiny_zoo.TINY_OWLV2_SIZE
    Owlv2ImageProcessor(size={"height": size, "width": size}).save_pretrained(dirs["owlv2"])
    return dirs


def _pipeline(**models):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    return build_pipeline(PipelineConfig(device="cpu", dtype="float32", text_threshold=0.0, **models))


def _sam3_processor(model_dir):
    from transformers import AutoTokenizer, Sam3Processor
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

    image_processor = Sam3ImageProcessor.from_pretrained(model_dir)
    return Sam3Processor(image_processor=image_processor, tokenizer=AutoTokenizer.from_pretrained(model_dir))


def _omdet_processor(model_dir):
    from transformers import AutoImageProcessor, AutoTokenizer, OmDetTurboProcessor

    image_processor = AutoImageProcessor.from_pretrained(model_dir)
    assert type(image_processor).__name__ == "DetrImageProcessor"  # the torchvision backend
    return OmDetTurboProcessor(image_processor=image_processor, tokenizer=AutoTokenizer.from_pretrained(model_dir))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _clipped(boxes, height: int, width: int):
    """Official XYXY pixel boxes clipped to the image, as the pipeline does; None for a box with no area left."""
    out = []
    for box in np.asarray(boxes, dtype=np.float64):
        box = np.clip(box, 0, [width, height, width, height])
        out.append(box if box[2] > box[0] and box[3] > box[1] else None)
    return out


def _assert_same_detections(result, expected, image):
    """expected: (score, XYXY box, label, full mask or None) in any order; matched by label and box."""
    height, width = image.shape[:2]
    assert len(result.detections) == len(expected), [(d.label, d.score) for d in result.detections]
    unmatched = list(expected)
    for det in result.detections:
        match = [e for e in unmatched if e[2] == det.label and np.abs(np.asarray(e[1]) - det.box).max() <= 0.5]
        assert match, f"no official detection for {det.label} {det.box} {det.score:.4f}"
        best = min(match, key=lambda e: abs(e[0] - det.score))
        unmatched.remove(best)
        assert abs(det.score - best[0]) <= 1e-3
        if best[3] is not None:
            iou = _iou(det.full_mask(height, width), best[3])
            assert iou >= 0.99, f"mask IoU {iou:.4f} for {det.label} {det.box}"


# SAM 3: Sam3Processor


def test_sam3_pixels_and_text_equal_sam3_processor(zoo):
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

    from grounded_sam_ros.models.sam3 import DEFAULT_IMAGE_SETTINGS, preprocess_sam3

    pipe = _pipeline(one_stage_model=str(zoo["sam3"]))
    processor = _sam3_processor(zoo["sam3"])
    published = Sam3ImageProcessor()  # the class defaults: facebook/sam3's 1008x1008 input, mean = std = 0.5
    for name, image in _frames().items():
        official = processor(images=image, return_tensors="pt")
        ours = pipe.detector.preprocess(image)["pixel_values"]
        assert ours.shape == official.pixel_values.shape, name
        torch.testing.assert_close(ours, official.pixel_values, atol=1e-5, rtol=0, msg=name)
        assert official.original_sizes.tolist() == [list(image.shape[:2])]
        big = published(images=image, return_tensors="pt").pixel_values
        torch.testing.assert_close(preprocess_sam3(image, DEFAULT_IMAGE_SETTINGS), big, atol=1e-5, rtol=0, msg=name)
    # Text: one row per phrase, padded to 32 tokens
    official = processor(text=PHRASES, return_tensors="pt")
    ours = pipe.detector.encode_text(PHRASES).tensors
    assert torch.equal(ours["input_ids"], official["input_ids"])
    assert torch.equal(ours["attention_mask"], official["attention_mask"])


def _sam3_official(model, processor, image, threshold):
    """Each phrase through Sam3Processor -> Sam3Model -> post_process_instance_segmentation."""
    height, width = image.shape[:2]
    expected = []
    for phrase in PHRASES:
        inputs = processor(images=image, text=phrase, return_tensors="pt")
        with torch.no_grad():
            out = model(
                pixel_values=inputs["pixel_values"],
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
            )
        post = processor.post_process_instance_segmentation(
            out, threshold=threshold, mask_threshold=0.5, target_sizes=inputs["original_sizes"].tolist()
        )[0]
        boxes = _clipped(post["boxes"].numpy(), height, width)
        for score, box, mask in zip(post["scores"].tolist(), boxes, post["masks"].numpy()):
            if box is not None:
                expected.append((score, box, phrase, mask.astype(bool)))
    return expected


def test_sam3_pipeline_equals_official_processor_and_post_processing(zoo):
    from transformers import Sam3Model

    threshold = 0.55
    pipe = _pipeline(one_stage_model=str(zoo["sam3"]), box_threshold=threshold)
    model = Sam3Model.from_pretrained(zoo["sam3"]).eval()
    processor = _sam3_processor(zoo["sam3"])
    kept = 0
    for image in _frames().values():
        expected = _sam3_official(model, processor, image, threshold)
        _assert_same_detections(pipe(image, QUERY), expected, image)
        kept += len(expected)
    assert kept > 0, "test setup: the tiny SAM 3 should keep instances at this threshold"


# OmDet-Turbo: OmDetTurboProcessor


def test_omdet_pixels_and_text_equal_omdet_turbo_processor(zoo):
    from transformers.models.detr.image_processing_detr import DetrImageProcessor

    from grounded_sam_ros.models.omdet_turbo import preprocess_detr_square

    pipe = _pipeline(detector_model=str(zoo["omdet_turbo"]), segment=False)
    processor = _omdet_processor(zoo["omdet_turbo"])
    settings = json.loads((zoo["omdet_turbo"] / "preprocessor_config.json").read_text())
    settings.pop("image_processor_type")
    published = {**settings, "size": {"height": 640, "width": 640}}  # omlab/omdet-turbo-swin-tiny-hf's input
    ours_text = pipe.detector.encode_text(PHRASES).tensors
    for name, image in _frames().items():
        official = processor(images=image, text=PHRASES, return_tensors="pt")
        ours = pipe.detector.preprocess(image)["pixel_values"]
        assert ours.shape == official.pixel_values.shape, name
        torch.testing.assert_close(ours, official.pixel_values, atol=1e-4, rtol=0, msg=name)
        for key in ("classes_input_ids", "classes_attention_mask", "tasks_input_ids", "tasks_attention_mask"):
            assert torch.equal(ours_text[key], official[key]), key
        assert ours_text["classes_structure"].tolist() == official["classes_structure"].tolist() == [len(PHRASES)]
        big = DetrImageProcessor(**published)(images=image, return_tensors="pt").pixel_values
        ours_big = torch.from_numpy(preprocess_detr_square(image, published))[None]
        torch.testing.assert_close(ours_big, big, atol=1e-4, rtol=0, msg=name)


def _omdet_official(model, processor, image, threshold):
    """OmDetTurboProcessor -> model -> post_process_grounded_object_detection (no NMS), reduced to each query box's
    best phrase (the pipeline's labelling; the official output lists every (box, phrase) pair above the threshold)."""
    height, width = image.shape[:2]
    inputs = processor(images=image, text=PHRASES, return_tensors="pt")
    with torch.no_grad():
        out = model(
            pixel_values=inputs["pixel_values"],
            classes_input_ids=inputs["classes_input_ids"],
            classes_attention_mask=inputs["classes_attention_mask"],
            tasks_input_ids=inputs["tasks_input_ids"],
            tasks_attention_mask=inputs["tasks_attention_mask"],
            classes_structure=inputs["classes_structure"],
        )
    # The official post-processing keeps the top num_queries (box, phrase) pairs: all of those above the threshold
    queries = out.decoder_coord_logits.shape[1]
    above = int((torch.sigmoid(out.decoder_class_logits[0, :, : len(PHRASES)]) > threshold).sum())
    assert above <= queries, "test setup: more pairs above the threshold than the official top-k keeps"
    post = processor.post_process_grounded_object_detection(
        out, text_labels=[PHRASES], threshold=threshold, nms_threshold=1.0, target_sizes=[(height, width)]
    )[0]
    best = {}  # box -> (score, box, label): pairs of one query share its box exactly
    for score, box, label in zip(post["scores"].tolist(), post["boxes"].numpy(), post["text_labels"]):
        key = tuple(np.round(box, 4))
        if key not in best or score > best[key][0]:
            best[key] = (score, box, label)
    expected = []
    for score, box, label in best.values():
        (clipped,) = _clipped([box], height, width)
        if clipped is not None:
            expected.append((score, clipped, label, None))
    return expected


def test_omdet_pipeline_equals_official_processor_and_post_processing(zoo):
    from transformers import OmDetTurboForObjectDetection

    # The tiny model's scores sit in [0.936, 0.948]: a threshold inside that range keeps a few boxes
    threshold = 0.945
    pipe = _pipeline(detector_model=str(zoo["omdet_turbo"]), segment=False, box_threshold=threshold)
    model = OmDetTurboForObjectDetection.from_pretrained(zoo["omdet_turbo"]).eval()
    processor = _omdet_processor(zoo["omdet_turbo"])
    kept = 0
    for image in _frames().values():
        expected = _omdet_official(model, processor, image, threshold)
        _assert_same_detections(pipe(image, QUERY), expected, image)
        kept += len(expected)
    assert kept > 0, "test setup: the tiny OmDet-Turbo should keep boxes at this threshold"


# OWLv2: the adapter uses the checkpoint's own processor; here its torchvision backend


def test_owlv2_with_torchvision_image_processor_equals_official_calls(zoo):
    from transformers import Owlv2ForObjectDetection, Owlv2Processor

    threshold = 0.55
    pipe = _pipeline(detector_model=str(zoo["owlv2"]), segment=False, box_threshold=threshold)
    assert type(pipe.detector.processor.image_processor).__name__ == "Owlv2ImageProcessor"
    model = Owlv2ForObjectDetection.from_pretrained(zoo["owlv2"]).eval()
    processor = Owlv2Processor.from_pretrained(zoo["owlv2"])
    kept = 0
    for image in _frames().values():
        height, width = image.shape[:2]
        inputs = processor(text=[PHRASES], images=image, return_tensors="pt")
        with torch.no_grad():
            out = model(**inputs)
        post = processor.post_process_grounded_object_detection(
            out, threshold=threshold, target_sizes=[(height, width)], text_labels=[PHRASES]
        )[0]
        boxes = _clipped(post["boxes"].numpy(), height, width)
        expected = [
            (score, box, label, None)
            for score, box, label in zip(post["scores"].tolist(), boxes, post["text_labels"])
            if box is not None
        ]
        _assert_same_detections(pipe(image, QUERY), expected, image)
        kept += len(expected)
    assert kept > 0, "test setup: the tiny OWLv2 should keep boxes at this threshold"
