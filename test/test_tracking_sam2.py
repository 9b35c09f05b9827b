# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tracking mode ``sam2``: propagation against plain transformers ``Sam2VideoModel`` calls (tiny random weights),
key-frame association on fabricated masks, and bounded memory over a long stream."""

from __future__ import annotations

import resource
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tracking_scenes import ScriptedPipeline, Shape, constant, linear

from grounded_sam_ros.models import LoadOptions
from grounded_sam_ros.tracking import StreamTracker, TrackerConfig, build_tracker
from grounded_sam_ros.tracking.video import VideoPropagator


@pytest.fixture(scope="module")
def tiny_sam2_dir(tmp_path_factory):
    from grounded_sam_ros.models.tiny_sam2 import tiny_sam2

    return tiny_sam2(tmp_path_factory.mktemp("tiny-sam2-video"))


def _shapes():
    return [
        Shape("a", 30, linear((70, 100), (3, 0)), constant("cup")),
        Shape("b", 24, linear((240, 150), (-2, 1)), constant("ball")),
    ]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def test_propagation_equals_plain_sam2_video_model(tiny_sam2_dir, one_thread):
    from torch.nn import functional
    from transformers import Sam2VideoModel
    from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession
    from transformers.models.sam2_video.processing_sam2_video import Sam2VideoProcessor

    frames = 8
    pipeline = ScriptedPipeline(_shapes())
    images = [pipeline.render(t) for t in range(frames)]
    propagator = VideoPropagator.from_pretrained(str(tiny_sam2_dir), "sam2", LoadOptions())
    config = TrackerConfig(mode="sam2", detect_every=1000, exit_score=-1e9)
    tracker = StreamTracker(pipeline, config, propagator)
    ours = [tracker(image, "cup . ball") for image in images]
    first = {d.id: d.full_mask(240, 320) for d in ours[0].detections}
    assert sorted(first) == ["0", "1"] and tracker.stats.key_frames == 1

    # Reference: transformers' streaming API on the same frames, prompted with the same masks on frame 0
    model = Sam2VideoModel.from_pretrained(tiny_sam2_dir).eval()
    session = Sam2VideoInferenceSession(video_height=240, video_width=320, inference_device="cpu", dtype=torch.float32)
    processor = SimpleNamespace(target_size=propagator.preprocessor.size[0])  # all the method reads of `self`
    Sam2VideoProcessor.process_new_mask_for_video_frame(
        processor, session, 0, [int(i) for i in first], [first[i] for i in first]
    )
    compared = 0
    for t, image in enumerate(images):
        with torch.inference_mode():
            out = model(inference_session=session, frame=propagator.preprocessor.pixel_values(image)[0])
        # Sam2VideoVideoProcessor.post_process_masks: to S x S, crop (nothing to crop), to the source size
        size = propagator.preprocessor.size
        masks = functional.interpolate(out.pred_masks.float(), size, mode="bilinear", align_corners=False)
        masks = functional.interpolate(masks, (240, 320), mode="bilinear", align_corners=False)[:, 0] > 0
        if t == 0:
            continue  # the key frame reports the detections' own masks
        got = {d.id: d.full_mask(240, 320) for d in ours[t].detections}
        for k, obj_id in enumerate(out.object_ids):
            want = masks[k].numpy()
            assert _iou(got.get(str(obj_id), np.zeros_like(want)), want) >= 0.99, f"frame {t}, object {obj_id}"
            compared += int(want.any())
        assert all(d.propagated and d.age == t for d in ours[t].detections)
    assert compared >= frames - 1, "the reference must predict non-empty masks for the comparison to mean something"


class _FakeVideo:
    """A propagator whose predictions are scripted: logits at the source size (the upsampler is then identity)."""

    def __init__(self, size):
        self.preprocessor = SimpleNamespace(size=size)
        self.next: dict = {}
        self.refreshed: list = []
        self.removed: list = []

    def reset(self):
        self.next = {}

    def step(self, image):
        return {i: (np.where(m, 5.0, -5.0).astype(np.float32), s) for i, (m, s) in self.next.items()}

    def refresh(self, masks):
        self.refreshed.append(sorted(masks))
        return {}

    def remove(self, ids):
        self.removed.append(sorted(ids))


def _disc(centre, radius, size=(240, 320)):
    yy, xx = np.mgrid[: size[0], : size[1]]
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2


def test_key_frame_association_on_fabricated_masks():
    shapes = [
        Shape("a", 20, lambda t: (60 + 2 * t, 60), constant("cup")),
        Shape("b", 20, lambda t: (200, 150) if t < 3 else None, constant("cup")),
        Shape("c", 20, lambda t: (260, 60) if t >= 3 else None, constant("ball")),
    ]
    pipeline = ScriptedPipeline(shapes)
    video = _FakeVideo((240, 320))
    config = TrackerConfig(mode="sam2", detect_every=3, match_iou=0.5, max_age=1, exit_score=0.0)
    tracker = StreamTracker(pipeline, config, video)

    # Frame 0: key frame, two new tracks, both given to the video model
    result = tracker(pipeline.render(0), "cup . ball")
    assert sorted(d.id for d in result.detections) == ["0", "1"]
    ids = {d.truth: d.id for d in result.detections}
    first_scores = {d.id: d.score for d in result.detections}
    assert video.refreshed[-1] == sorted(int(i) for i in ids.values())
    # Frames 1-2: propagated; 'a' drifts with the scene, 'b' stays
    for t in (1, 2):
        video.next = {
            int(ids["a:cup"]): (_disc((60 + 2 * t, 60), 20), 2.0),
            int(ids["b:cup"]): (_disc((200, 150), 20), 2.0),
        }
        result = tracker(pipeline.render(t), "cup . ball")
        assert tracker.stats.last_kind == "propagated"
        # Propagated detections carry the score of their track's last detection
        assert {d.id: d.score for d in result.detections} == first_scores
        assert {d.id: (d.propagated, d.age) for d in result.detections} == {
            ids["a:cup"]: (True, t),
            ids["b:cup"]: (True, t),
        }
    # Frame 3: key frame. 'a' is detected where its propagated mask is (same id, memory refreshed); 'b' is not
    # detected although the video model still sees it (kept, propagated, missed once); 'c' is new
    video.next = {int(ids["a:cup"]): (_disc((66, 60), 20), 2.0), int(ids["b:cup"]): (_disc((200, 150), 20), 2.0)}
    result = tracker(pipeline.render(3), "cup . ball")
    assert tracker.stats.last_kind == "key"
    got = {d.label + ("~" if d.propagated else ""): d.id for d in result.detections}
    assert got == {"cup": ids["a:cup"], "cup~": ids["b:cup"], "ball": "2"}
    assert video.refreshed[-1] == sorted([int(ids["a:cup"]), 2])
    # Frame 6 (next key frame): 'b' missed again -> past max_age=1 -> ended and removed from the video model
    for t in (4, 5, 6):
        video.next = {
            int(ids["a:cup"]): (_disc((60 + 2 * t, 60), 20), 2.0),
            int(ids["b:cup"]): (_disc((200, 150), 20), 2.0),
            2: (_disc((260, 60), 20), 2.0),
        }
        result = tracker(pipeline.render(t), "cup . ball")
    assert video.removed[-1] == [int(ids["b:cup"])]
    assert sorted(d.id for d in result.detections) == sorted([ids["a:cup"], "2"])
    assert tracker.stats.live_tracks == 2 and tracker.stats.key_frames == 3


def test_object_score_below_exit_ends_a_missed_track_at_once():
    shapes = [Shape("a", 20, lambda t: (60, 60) if t < 1 else None, constant("cup"))]
    pipeline = ScriptedPipeline(shapes)
    video = _FakeVideo((240, 320))
    tracker = StreamTracker(pipeline, TrackerConfig(mode="sam2", detect_every=2, max_age=10), video)
    tracker(pipeline.render(0), "cup")
    video.next = {0: (_disc((60, 60), 20), -1.0)}  # the video model says: not in this frame
    assert tracker(pipeline.render(1), "cup").detections[0].id == "0"  # still propagated (mask given)
    tracker(pipeline.render(2), "cup")  # key frame, not detected, object score < 0 -> ended
    assert video.removed[-1] == [0] and tracker.stats.live_tracks == 0


def test_max_tracks_drops_the_lowest_scores():
    shapes = [Shape(n, 12, linear((40 + 60 * k, 80), (0, 0)), constant("cup")) for k, n in enumerate("abcd")]
    pipeline = ScriptedPipeline(shapes)
    video = _FakeVideo((240, 320))
    tracker = StreamTracker(pipeline, TrackerConfig(mode="sam2", max_tracks=2), video)
    result = tracker(pipeline.render(0), "cup")
    assert len(result.detections) == 2 and tracker.stats.dropped_detections == 2
    scores = sorted(d.score for d in pipeline.last)
    assert sorted(d.score for d in result.detections) == scores[-2:]


@pytest.fixture
def one_thread():
    """Tiny models are op-overhead bound: one thread is faster, and immune to OpenMP spinning on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_memory_stays_bounded_over_500_frames(tiny_sam2_dir, one_thread):
    pipeline = ScriptedPipeline(_shapes(), size=(96, 128))
    pipeline.shapes = [Shape("a", 14, lambda t: (30 + 20 * np.sin(t / 9), 40), constant("cup"))]
    propagator = VideoPropagator.from_pretrained(str(tiny_sam2_dir), "sam2", LoadOptions(), cond_frames=2)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="sam2", detect_every=4, exit_score=-1e9), propagator)
    rss = {}
    for t in range(500):
        tracker(pipeline.render(t), "cup")
        if t in (99, 499):
            rss[t] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, peak so far
    session = propagator.session
    assert list(session.processed_frames) == [propagator.frame_idx]
    for idx, outputs in session.output_dict_per_obj.items():
        assert len(outputs["cond_frame_outputs"]) <= 2
        assert len(outputs["non_cond_frame_outputs"]) <= propagator.window
        assert len(session.frames_tracked_per_obj[idx]) <= propagator.window + 1
    assert len(session.obj_ids) == tracker.stats.live_tracks <= 16
    # Peak RSS after 500 frames within 20 MiB of the peak after 100 (a leak of one 96x128 frame's state per frame
    # alone would add > 50 MiB)
    assert rss[499] - rss[99] < 20 * 1024, rss


def test_key_frames_reuse_the_video_models_features(tiny_models, tiny_sam2_dir, one_thread):
    """Same checkpoint for the key-frame segmenter and the video model: one image encoder pass per key frame, and
    the same masks as the pipeline computing its own features."""
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.pipeline import build_pipeline

    detector, _ = tiny_models
    config = PipelineConfig(
        detector_model=str(detector),
        segmenter_model=str(tiny_sam2_dir),
        segmenter_family="sam2",
        device="cpu",
        dtype="float32",
        box_threshold=0.3,
        text_threshold=0.2,
    )
    pipeline = build_pipeline(config)
    tracking = TrackerConfig(mode="sam2", detect_every=2, max_tracks=64, video_model=str(tiny_sam2_dir))
    tracker = build_tracker(pipeline, tracking)
    calls = []
    pipeline.segmenter.model.vision_encoder.register_forward_hook(lambda *a: calls.append("segmenter"))
    tracker._tracks._video.model.vision_encoder.register_forward_hook(lambda *a: calls.append("video"))
    image = load_image(sample_image("coffee"))
    expected = build_pipeline(config)(image, "red cup . person")  # its own encoder
    result = tracker(image, "red cup . person")
    assert calls == ["video"] and tracker.stats.last_kind == "key"
    # Every detection with a mask to follow becomes a track
    assert len(result.detections) == sum(1 for d in expected.detections if d.mask.any()) > 0
    height, width = image.shape[:2]
    by_box = {tuple(np.round(d.box, 2)): d for d in expected.detections}
    for det in result.detections:
        want = by_box[tuple(np.round(det.box, 2))]
        assert _iou(det.full_mask(height, width), want.full_mask(height, width)) >= 0.99


def test_build_tracker_passes_every_video_setting(tiny_sam2_dir):
    pipeline = ScriptedPipeline(_shapes()[:1])
    pipeline.config.device, pipeline.config.dtype = "cpu", "float32"
    config = TrackerConfig(mode="sam2", video_model=str(tiny_sam2_dir), cond_frames=1, memory_frames=2)
    video = build_tracker(pipeline, config)._tracks._video
    assert (video.cond_frames, video.model.num_maskmem) == (1, 3)  # 2 recent memories + the key frame's


@pytest.mark.parametrize("memory_frames", [0, 2])
def test_memory_frames_bounds_what_propagation_attends_to(tiny_sam2_dir, one_thread, memory_frames):
    pipeline = ScriptedPipeline(_shapes()[:1], size=(96, 128))
    propagator = VideoPropagator.from_pretrained(str(tiny_sam2_dir), "sam2", LoadOptions(), memory_frames=memory_frames)
    tracker = StreamTracker(pipeline, TrackerConfig(mode="sam2", detect_every=100, exit_score=-1e9), propagator)
    lengths = []
    propagator.model.memory_attention.register_forward_hook(
        lambda module, args, kwargs, out: lengths.append(kwargs["memory"].shape[0]), with_kwargs=True
    )
    for t in range(10):
        tracker(pipeline.render(t), "cup")
    tokens = 16 * 16  # memory tokens per frame of the 256 px tiny model
    pointers = 2 * 9  # frame 9 reads 9 object pointers (key frame 0, frames 1-8), each split into 2 tokens of 64
    recent = 6 if memory_frames == 0 else memory_frames
    assert lengths[-1] == (1 + recent) * tokens + pointers
