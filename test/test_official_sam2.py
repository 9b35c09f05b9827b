# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Parity with what cannot be imported on this CPU machine: transformers' official SAM 2 processors (they need a
working torchvision) and EdgeTAM's RepViT image encoder (timm). Tiny random weights throughout.

- ``Sam2Processor`` / ``Sam2ImageProcessor``: our :class:`Sam2Preprocessor` pixels and box coordinates, and the
  segmenter's masks against the official pre- and post-processing around plain ``Sam2Model``;
- ``Sam2VideoProcessor`` / ``Sam2VideoVideoProcessor``: video pixels, mask prompts and mask post-processing of our
  tracker against the official streaming recipe around plain ``Sam2VideoModel``;
- EdgeTAM: the ``edgetam`` segmenter family and the EdgeTAM video model through our tracker against plain
  ``EdgeTamModel`` / ``EdgeTamVideoModel``. The RepViT versions need timm; the same comparisons on an EdgeTAM whose
  image encoder is the tiny Hiera run everywhere (EdgeTAM's memory attention, perceiver and session are the same).

Tolerances: pixel values within 1e-4 (the same resize kernel; mean/std folded in a different float order), except
that at most 0.1 % of values may differ by one grey level (a rounding tie of the resize on GPU); box coordinates
within 1e-4 px; masks IoU >= 0.99. Each test runs on the CPU and, when there is one, on CUDA.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn import functional
from tracking_scenes import ScriptedPipeline, Shape, constant, linear

from grounded_sam_ros.models import LoadOptions, build_segmenter
from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor
from grounded_sam_ros.tracking import StreamTracker, TrackerConfig
from grounded_sam_ros.tracking.video import VideoPropagator


def _torchvision_works() -> bool:
    """torchvision imports and its compiled ops load (not so with the CPU torch of this machine)."""
    try:
        import torchvision

        torchvision.ops.nms(torch.zeros(1, 4), torch.ones(1), 0.5)
        return True
    except Exception:  # noqa: BLE001 - any failure means "cannot use it here"
        return False


def _timm_works() -> bool:
    if importlib.util.find_spec("timm") is None:
        return False
    try:
        import timm  # noqa: F401  (imports torchvision)

        return True
    except Exception:  # noqa: BLE001
        return False


TORCHVISION = _torchvision_works()
needs_torchvision = pytest.mark.skipif(not TORCHVISION, reason="the official SAM 2 processors need torchvision")
needs_timm = pytest.mark.skipif(not _timm_works(), reason="EdgeTAM's RepViT image encoder needs timm")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# (height, width): landscape, portrait, square at the model size, very wide, larger than the model input
SIZES = [(480, 640), (333, 211), (256, 256), (90, 700), (1200, 1600)]
GREY = 1.0 / (255.0 * min(Sam2Preprocessor().image_std))  # one grey level in normalised units


@pytest.fixture(scope="module")
def tiny_sam2_dir(tmp_path_factory):
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    return tiny_sam2(tmp_path_factory.mktemp("tiny-sam2-official"))


@pytest.fixture(scope="module")
def edgetam_dirs(tmp_path_factory):
    """backbone -> directory of a tiny EdgeTAM video model: "hiera" always, "repvit" only where timm works."""
    from grounded_sam_ros.models.tiny_sam2 import build_tiny_edgetam, tiny_sam2_config

    root = tmp_path_factory.mktemp("tiny-edgetam")
    dirs = {"hiera": build_tiny_edgetam(root / "hiera", vision=tiny_sam2_config().vision_config)}
    if _timm_works():
        dirs["repvit"] = build_tiny_edgetam(root / "repvit")
    return dirs


def _image(size, seed=0) -> np.ndarray:
    """A smooth random image (HxWx3 uint8 RGB): bilinear resizing of noise is all ties and edges, this is not."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 255, (1, 3, 12, 16)).astype(np.float32))
    smooth = functional.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
    noise = torch.from_numpy(rng.normal(0, 8, (1, 3, *size)).astype(np.float32))
    return (smooth + noise).clamp(0, 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy().copy()


def _assert_pixels_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = (ours.float().cpu() - theirs.float().cpu()).abs()
    assert float(diff.max()) <= GREY + 1e-4, f"max difference {float(diff.max()):.5f} is over one grey level"
    assert float((diff > 1e-4).float().mean()) <= 1e-3, "more than 0.1 % of values differ"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _boxes(height: int, width: int) -> np.ndarray:
    """Two overlapping boxes: (2, 4) float32 XYXY pixels."""
    return np.array([[0.1, 0.1, 0.6, 0.5], [0.4, 0.3, 1.0, 1.0]], np.float32) * [width, height, width, height]


def _image_processor(size: int):
    from transformers import Sam2ImageProcessor

    return Sam2ImageProcessor(size={"height": size, "width": size})


# --- (a) Sam2Processor: pixels, boxes, masks ----------------------------------------------------------------------


@needs_torchvision
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_pixels_and_boxes_equal_sam2_processor(size, device):
    from transformers import Sam2Processor

    image = _image(size)
    height, width = size
    boxes = np.array([[0, 0, width, height], [3.5, 7.25, 9, 11]], np.float32)
    boxes = np.concatenate([boxes, _boxes(height, width)])
    for square in (1024, 256):
        ours = Sam2Preprocessor(size=(square, square))
        processor = Sam2Processor(image_processor=_image_processor(square))
        official = processor(images=image, input_boxes=[boxes.tolist()], return_tensors="pt", device=device)
        assert [int(v) for v in official["original_sizes"][0]] == [height, width]
        _assert_pixels_close(ours.pixel_values(image, device), official["pixel_values"])
        np.testing.assert_allclose(
            ours.scale_boxes(boxes, (height, width)).numpy(), official["input_boxes"][0].numpy(), atol=1e-4
        )


@needs_torchvision
def test_official_processor_reads_our_preprocessor_config(tiny_sam2_dir):
    from transformers import AutoImageProcessor

    official = AutoImageProcessor.from_pretrained(str(tiny_sam2_dir))
    ours = Sam2Preprocessor.from_pretrained(str(tiny_sam2_dir), LoadOptions())
    assert (official.size["height"], official.size["width"]) == ours.size
    image = _image((120, 200), seed=3)
    _assert_pixels_close(ours.pixel_values(image), official(images=image, return_tensors="pt")["pixel_values"])


@needs_torchvision
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("multimask", [False, True])
def test_sam2_segmenter_masks_equal_official_processor_and_sam2_model(tiny_sam2_dir, device, multimask):
    from transformers import Sam2Model, Sam2Processor

    segmenter = build_segmenter("sam2", str(tiny_sam2_dir), LoadOptions(device=device, dtype=torch.float32))
    model = Sam2Model.from_pretrained(tiny_sam2_dir).to(device).eval()
    processor = Sam2Processor(image_processor=_image_processor(segmenter.preprocessor.size[0]))
    for seed, (height, width) in enumerate(SIZES[:3]):
        image = _image((height, width), seed)
        boxes = _boxes(height, width)
        # Ours: the segmenter's stages, and the pipeline's up-sampler over the whole (unpadded) input
        logits, _ = segmenter.decode(segmenter.embed(segmenter.preprocess(image)), boxes, multimask)
        ours = functional.interpolate(torch.from_numpy(logits)[:, None], (height, width), mode="bilinear")[:, 0] > 0
        # Official: processor -> plain Sam2Model -> processor.post_process_masks
        inputs = processor(images=image, input_boxes=[boxes.tolist()], return_tensors="pt", device=device)
        with torch.inference_mode():
            out = model(
                pixel_values=inputs["pixel_values"].to(device),
                input_boxes=inputs["input_boxes"].to(device),
                multimask_output=multimask,
            )
        best = out.iou_scores[0].argmax(dim=1)
        rows = torch.arange(len(boxes), device=best.device)
        chosen = out.pred_masks[0, rows, best][None, :, None].cpu()  # (1, N, 1, h, w)
        theirs = processor.post_process_masks(list(chosen), inputs["original_sizes"])[0][:, 0]
        assert theirs.shape == (len(boxes), height, width)
        for k in range(len(boxes)):
            assert theirs[k].any(), "the reference mask must be non-empty for the comparison to mean something"
            assert _iou(ours[k].numpy(), theirs[k].numpy()) >= 0.99, f"{height}x{width} box {k}"


# --- (b) Sam2VideoProcessor: the streaming recipe ----------------------------------------------------------------


@needs_torchvision
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", SIZES[:4], ids=lambda s: f"{s[0]}x{s[1]}")
def test_video_pixels_equal_sam2_video_video_processor(size, device):
    from transformers import Sam2VideoVideoProcessor

    frames = np.stack([_image(size, seed) for seed in range(4)])  # (T, H, W, 3) uint8
    ours = Sam2Preprocessor(size=(256, 256))
    official = Sam2VideoVideoProcessor(size={"height": 256, "width": 256})(
        videos=[frames], return_tensors="pt", device=device, input_data_format="channels_last"
    )
    pixels = official["pixel_values_videos"][0]
    assert pixels.shape == (len(frames), 3, 256, 256)
    for t, frame in enumerate(frames):
        _assert_pixels_close(ours.pixel_values(frame, device)[0], pixels[t])


def _shapes():
    return [
        Shape("a", 30, linear((70, 100), (3, 0)), constant("cup")),
        Shape("b", 24, linear((240, 150), (-2, 1)), constant("ball")),
    ]


def _run_tracker(propagator, frames: int = 6):
    """Our tracker over the scripted scene: (images, per-frame {id: HxW bool}, frame 0's masks by int id)."""
    pipeline = ScriptedPipeline(_shapes())
    images = [pipeline.render(t) for t in range(frames)]
    tracker = StreamTracker(pipeline, TrackerConfig(mode="sam2", detect_every=1000, exit_score=-1e9), propagator)
    ours = []
    for image in images:
        result = tracker(image, "cup . ball")
        ours.append({d.id: d.full_mask(*image.shape[:2]) for d in result.detections})
    assert sorted(ours[0]) == ["0", "1"] and tracker.stats.key_frames == 1
    return images, ours, {int(i): m for i, m in ours[0].items()}


def _compare(ours, theirs_per_frame) -> None:
    """Frame t >= 1 (frame 0 reports the detections' own masks): {obj_id: HxW bool} from the reference."""
    compared = 0
    for t in range(1, len(ours)):
        for obj_id, want in theirs_per_frame[t].items():
            got = ours[t].get(str(obj_id), np.zeros_like(want))
            assert _iou(got, want) >= 0.99, f"frame {t}, object {obj_id}: IoU {_iou(got, want):.4f}"
            compared += int(want.any())
    assert compared >= len(ours) - 1, "the reference must predict non-empty masks for the comparison to mean something"


@needs_torchvision
@pytest.mark.parametrize("device", DEVICES)
def test_tracker_equals_official_sam2_video_streaming(tiny_sam2_dir, device):
    from transformers import Sam2VideoModel, Sam2VideoProcessor, Sam2VideoVideoProcessor

    propagator = VideoPropagator.from_pretrained(str(tiny_sam2_dir), "sam2", LoadOptions(device=device))
    images, ours, first = _run_tracker(propagator)

    # The documented streaming recipe: processor(images=frame), mask prompts on frame 0, the video post-processing
    size = propagator.preprocessor.size[0]
    video_processor = Sam2VideoVideoProcessor(size={"height": size, "width": size})
    processor = Sam2VideoProcessor(image_processor=_image_processor(size), video_processor=video_processor)
    model = Sam2VideoModel.from_pretrained(tiny_sam2_dir).to(device).eval()
    session = processor.init_video_session(inference_device=device, dtype=torch.float32)
    theirs = []
    for t, image in enumerate(images):
        inputs = processor(images=image, device=device, return_tensors="pt")
        if t == 0:
            processor.add_inputs_to_inference_session(
                session, frame_idx=0, obj_ids=list(first), input_masks=[first[i] for i in first]
            )
        with torch.inference_mode():
            out = model(inference_session=session, frame=inputs["pixel_values"][0])
        masks = video_processor.post_process_masks(
            [out.pred_masks.cpu()], inputs["original_sizes"], [(size, size)], pad_size={"height": size, "width": size}
        )[0][:, 0]
        theirs.append({int(i): masks[k].numpy() for k, i in enumerate(out.object_ids)})
    _compare(ours, theirs)


# --- (c) EdgeTAM: image segmenter family and video model --------------------------------------------------------


def _edgetam_segmenter(directory, backbone: str, device: str):
    if backbone == "repvit":  # the registry path, timm check included
        return build_segmenter("edgetam", str(directory), LoadOptions(device=device, dtype=torch.float32))
    from transformers import EdgeTamModel

    from grounded_sam_ros.models.sam2 import EdgeTamSegmenter

    model = EdgeTamModel.from_pretrained(directory).to(device)
    return EdgeTamSegmenter(model, Sam2Preprocessor.from_pretrained(str(directory), LoadOptions()), device)


def _edgetam_propagator(directory, backbone: str, device: str) -> VideoPropagator:
    if backbone == "repvit":
        return VideoPropagator.from_pretrained(str(directory), "edgetam", LoadOptions(device=device))
    from transformers import EdgeTamVideoModel
    from transformers.models.edgetam_video.modeling_edgetam_video import EdgeTamVideoInferenceSession

    model = EdgeTamVideoModel.from_pretrained(directory).to(device)
    preprocessor = Sam2Preprocessor.from_pretrained(str(directory), LoadOptions())
    return VideoPropagator(model, EdgeTamVideoInferenceSession, preprocessor, device)


BACKBONES = ["hiera", pytest.param("repvit", marks=needs_timm)]


@pytest.mark.parametrize("backbone", BACKBONES)
def test_edgetam_checkpoint_loads_every_weight(edgetam_dirs, backbone):
    from transformers import EdgeTamModel, EdgeTamVideoModel

    for model_class in (EdgeTamVideoModel, EdgeTamModel):
        _, info = model_class.from_pretrained(edgetam_dirs[backbone], output_loading_info=True)
        assert not info["missing_keys"] and not info["mismatched_keys"], f"{model_class.__name__}: {info}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("multimask", [False, True])
def test_edgetam_segmenter_equals_plain_edgetam_model(edgetam_dirs, backbone, device, multimask):
    from transformers import EdgeTamModel

    directory = edgetam_dirs[backbone]
    segmenter = _edgetam_segmenter(directory, backbone, device)
    model = EdgeTamModel.from_pretrained(directory).to(device).eval()
    pre = Sam2Preprocessor.from_pretrained(str(directory), LoadOptions())
    for seed, (height, width) in enumerate(SIZES[:3]):
        image = _image((height, width), seed)
        boxes = _boxes(height, width)
        logits, iou = segmenter.decode(segmenter.embed(segmenter.preprocess(image)), boxes, multimask)
        with torch.inference_mode():
            out = model(
                pixel_values=pre.pixel_values(image, device),
                input_boxes=pre.scale_boxes(boxes, (height, width))[None].to(device),
                multimask_output=multimask,
            )
        best = out.iou_scores[0].argmax(dim=1)
        rows = torch.arange(len(boxes), device=best.device)
        want = out.pred_masks[0, rows, best].float().cpu()
        np.testing.assert_allclose(iou, out.iou_scores[0, rows, best].cpu().numpy(), atol=1e-4)
        ours = functional.interpolate(torch.from_numpy(logits)[:, None], (height, width), mode="bilinear")[:, 0] > 0
        theirs = functional.interpolate(want[:, None], (height, width), mode="bilinear")[:, 0] > 0
        for k in range(len(boxes)):
            assert theirs[k].any(), "the reference mask must be non-empty for the comparison to mean something"
            assert _iou(ours[k].numpy(), theirs[k].numpy()) >= 0.99, f"{height}x{width} box {k}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_tracker_equals_plain_edgetam_video_model(edgetam_dirs, backbone, device):
    from transformers import EdgeTamVideoModel
    from transformers.models.edgetam_video.modeling_edgetam_video import EdgeTamVideoInferenceSession
    from transformers.models.sam2_video.processing_sam2_video import Sam2VideoProcessor

    directory = edgetam_dirs[backbone]
    propagator = _edgetam_propagator(directory, backbone, device)
    images, ours, first = _run_tracker(propagator)
    height, width = images[0].shape[:2]

    # Reference: EdgeTAM's streaming API on the same frames, prompted with the same masks on frame 0
    model = EdgeTamVideoModel.from_pretrained(directory).to(device).eval()
    session = EdgeTamVideoInferenceSession(
        video_height=height,
        video_width=width,
        inference_device=device,
        inference_state_device=device,
        video_storage_device=device,
        dtype=torch.float32,
    )
    size = propagator.preprocessor.size
    processor = SimpleNamespace(target_size=size[0])  # all the method reads of `self`
    Sam2VideoProcessor.process_new_mask_for_video_frame(processor, session, 0, list(first), [first[i] for i in first])
    theirs = []
    for image in images:
        with torch.inference_mode():
            out = model(inference_session=session, frame=propagator.preprocessor.pixel_values(image, device)[0])
        # Sam2VideoVideoProcessor.post_process_masks: to S x S, crop (nothing to crop), to the source size
        masks = functional.interpolate(out.pred_masks.float().cpu(), size, mode="bilinear", align_corners=False)
        masks = functional.interpolate(masks, (height, width), mode="bilinear", align_corners=False)[:, 0] > 0
        theirs.append({int(i): masks[k].numpy() for k, i in enumerate(out.object_ids)})
    _compare(ours, theirs)
