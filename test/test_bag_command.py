# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`grounded-sam bag`: a bag written here (both storages) -> a readable bag whose detections are the pipeline's own
results on the same frames, with every original message and stamp kept; corrupt input and interruption leave no
output."""

from __future__ import annotations

import os
from contextlib import closing

import numpy as np
import pytest
from bag_helpers import STORE, String, header, png_image, raw_image, storage_file, write_bag

from grounded_sam_ros import cli
from grounded_sam_ros.io import bags
from grounded_sam_ros.io.bag_messages import message_full_mask
from grounded_sam_ros.visualize import RANDOM_WEIGHTS_BANNER, annotate

QUERY = "cat . cup"
MAX_DETECTIONS = 4  # keeps SAM's share of the test time small


@pytest.fixture(scope="module")
def frames():
    """Two 96x72 crops of a sample photo (so the tiny models find boxes) and their stamps."""
    from grounded_sam_ros.data import load_image, sample_image

    photo = load_image(sample_image("chelsea"))
    crops = [np.ascontiguousarray(photo[40 + 30 * k : 112 + 30 * k, 60 + 40 * k : 156 + 40 * k]) for k in range(2)]
    stamps = [1_700_000_000_000_000_000 + k * 33_000_000 for k in range(2)]  # header stamps
    received = [5_000_000_000 + k * 40_000_000 for k in range(2)]  # bag record times, deliberately different
    return crops, stamps, received


@pytest.fixture(scope="module")
def expected(tiny_models, frames):
    """The pipeline's own results on each frame, with the configuration the commands below get from their flags."""
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = (str(p) for p in tiny_models)
    config = PipelineConfig(detector_model=detector, segmenter_model=segmenter, device="cpu", dtype="float32",
                            box_threshold=0.3, text_threshold=0.2, max_detections=MAX_DETECTIONS)  # fmt: skip
    pipe = build_pipeline(config)
    return [pipe(rgb, QUERY) for rgb in frames[0]]


def _input_bag(tmp_path, storage, frames):
    crops, stamps, received = frames
    raw = [(t, raw_image(rgb, s)) for rgb, s, t in zip(crops, stamps, received)]
    compressed = [(received[1] + 1, png_image(crops[1], stamps[1]))]
    other = [(4_000_000_000, String(data="start")), (6_000_000_000, String(data="end"))]
    return write_bag(
        tmp_path / f"in_{storage}",
        storage,
        [
            ("/cam/image_raw", "sensor_msgs/msg/Image", raw),
            ("/cam/image_raw/compressed", "sensor_msgs/msg/CompressedImage", compressed),
            ("/events", "std_msgs/msg/String", other),
        ],
    )


def _model_args(tiny_models):
    detector, segmenter = (str(p) for p in tiny_models)
    return ["--detector", detector, "--segmenter", segmenter, "--device", "cpu", "--dtype", "float32",
            "--box-threshold", "0.3", "--text-threshold", "0.2", "--max-detections", str(MAX_DETECTIONS)]  # fmt: skip


def _read_all(path):
    reader = bags.open_reader(path)
    with closing(reader):
        types = {c.topic: c.msgtype for c in reader.connections}
        messages = [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]
    return types, messages


def _check_detections(msg, expected, height, width):
    assert (msg.image_width, msg.image_height, msg.query) == (width, height, QUERY)
    assert [d.label for d in msg.detections] == [d.label for d in expected.detections]
    np.testing.assert_allclose([d.score for d in msg.detections], [d.score for d in expected.detections], atol=1e-5)
    if expected.detections:
        np.testing.assert_allclose(
            np.stack([d.box for d in msg.detections]), np.stack([d.box for d in expected.detections]), atol=1e-3
        )
    for got, want in zip(msg.detections, expected.detections):
        np.testing.assert_array_equal(message_full_mask(got, height, width), want.full_mask(height, width))


@pytest.mark.parametrize(("storage", "out_name"), [("sqlite3", "out.db3"), ("mcap", "out.mcap")])
def test_bag_output_has_the_originals_and_the_pipelines_detections(
    tmp_path, storage, out_name, frames, tiny_models, expected, capsys
):
    crops, stamps, received = frames
    source = _input_bag(tmp_path, storage, frames)
    out = tmp_path / out_name
    status = cli.main(["bag", str(storage_file(source)), "--topic", "/cam/image_raw", "--query", "Cat, cup",
                       "--out", str(out), "--annotated", *_model_args(tiny_models)])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "2/2 frame(s)" in captured.out and "/cam/image_raw/detections" in captured.out
    assert out.is_file() and not list(tmp_path.glob(".*partial*"))

    in_types, in_messages = _read_all(source)
    types, messages = _read_all(out)
    # Every original message, byte for byte, at its record time; the new topics on top
    assert {k: v for k, v in types.items() if k in in_types} == in_types
    assert types["/cam/image_raw/detections"] == "grounded_sam_ros/msg/DetectionArray"
    assert types["/cam/image_raw/annotated"] == "sensor_msgs/msg/Image"
    assert sorted(m for m in messages if m[0] in in_types) == sorted(in_messages)

    store = bags.typestore()
    detections = [(t, store.deserialize_cdr(raw, types[topic])) for topic, t, raw in messages
                  if topic == "/cam/image_raw/detections"]  # fmt: skip
    annotated = [(t, store.deserialize_cdr(raw, types[topic])) for topic, t, raw in messages
                 if topic == "/cam/image_raw/annotated"]  # fmt: skip
    assert [t for t, _ in detections] == received and [t for t, _ in annotated] == received
    found = 0
    for (_, msg), (_, drawn), rgb, stamp, want in zip(detections, annotated, crops, stamps, expected):
        assert (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, msg.header.frame_id) == (stamp, "cam")
        assert (drawn.header.stamp.sec * 10**9 + drawn.header.stamp.nanosec) == stamp
        _check_detections(msg, want, *rgb.shape[:2])  # the pipeline's own result on the same frame
        found += len(want.detections)
        picture = np.asarray(drawn.data, np.uint8).reshape(drawn.height, drawn.width, 3)
        np.testing.assert_array_equal(picture, annotate(rgb, want, banner=RANDOM_WEIGHTS_BANNER))
    assert found > 0, "the tiny models should find boxes at these thresholds"


def test_compressed_topic_into_a_bag_directory(tmp_path, frames, tiny_models, expected):
    crops, stamps, received = frames
    source = _input_bag(tmp_path, "mcap", frames)
    out = tmp_path / "replayed"
    status = cli.main(["bag", str(source), "--topic", "/cam/image_raw/compressed", "--query", QUERY, "--out", str(out),
                       "--storage", "sqlite3", *_model_args(tiny_models)])  # fmt: skip
    assert status == 0
    assert (out / "metadata.yaml").is_file() and (out / "replayed.db3").is_file()
    types, messages = _read_all(out)
    store = bags.typestore()
    got = [(t, store.deserialize_cdr(raw, types[topic])) for topic, t, raw in messages
           if topic == "/cam/image_raw/compressed/detections"]  # fmt: skip
    assert [t for t, _ in got] == [received[1] + 1]
    assert got[0][1].header.stamp.sec * 10**9 + got[0][1].header.stamp.nanosec == stamps[1]
    _check_detections(got[0][1], expected[1], *crops[1].shape[:2])
    assert "/cam/image_raw/annotated" not in types


def _bad_bags(tmp_path, frames):
    source = storage_file(_input_bag(tmp_path, "mcap", frames))
    data = source.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    garbage = tmp_path / "garbage.db3"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\x07" * 3000)
    return {"truncated": cut, "garbage": garbage, "missing": tmp_path / "nope.mcap"}


@pytest.mark.parametrize("kind", ["truncated", "garbage", "missing"])
def test_corrupt_input_gives_one_line_and_no_output(tmp_path, frames, tiny_models, capsys, kind):
    bad = _bad_bags(tmp_path, frames)[kind]
    out = tmp_path / "out.mcap"
    status = cli.main(["bag", str(bad), "--topic", "/cam/image_raw", "--query", QUERY, "--out", str(out),
                       *_model_args(tiny_models)])  # fmt: skip
    err = capsys.readouterr().err
    assert status in (1, 2)
    errors = [line for line in err.splitlines() if line.startswith("grounded-sam: error:")]
    assert len(errors) == 1 and str(bad.name) in errors[0], err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_interrupted_run_leaves_nothing_and_an_existing_output_is_kept(tmp_path, frames, tiny_models, monkeypatch):
    from grounded_sam_ros.pipeline import GroundedSamPipeline

    source = _input_bag(tmp_path, "sqlite3", frames)
    out = tmp_path / "out.mcap"
    calls = []
    real = GroundedSamPipeline.__call__

    def interrupt_on_second_frame(self, image, query):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, image, query)

    monkeypatch.setattr(GroundedSamPipeline, "__call__", interrupt_on_second_frame)  # (the first frame is done)
    args = ["bag", str(source), "--topic", "/cam/image_raw", "--query", QUERY, "--out", str(out)]
    assert cli.main([*args, *_model_args(tiny_models)]) == 130
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    # An existing output is neither overwritten by default nor touched by an interrupted --overwrite run
    out.write_bytes(b"previous result")
    assert cli.main([*args, *_model_args(tiny_models)]) == 2
    calls.clear()
    assert cli.main([*args, "--overwrite", *_model_args(tiny_models)]) == 130
    assert out.read_bytes() == b"previous result"


def test_a_frame_that_cannot_be_decoded_is_reported_and_skipped(tmp_path, frames, tiny_models, capsys):
    crops, stamps, received = frames
    broken = STORE.types["sensor_msgs/msg/Image"](header=header(stamps[1]), height=72, width=96, encoding="rgb8",
                                                  is_bigendian=0, step=288, data=np.zeros(100, np.uint8))  # fmt: skip
    msgs = [(received[0], raw_image(crops[0], stamps[0])), (received[1], broken)]
    source = write_bag(tmp_path / "in", "mcap", [("/cam", "sensor_msgs/msg/Image", msgs)])
    out = tmp_path / "out.mcap"
    status = cli.main(["bag", str(source), "--query", QUERY, "--out", str(out), *_model_args(tiny_models)])
    err = capsys.readouterr().err
    assert status == 1 and "/cam frame 1" in err and "data holds 100 bytes" in err
    types, messages = _read_all(out)  # still a complete bag, with the good frame's detections
    assert [t for topic, t, _ in messages if topic == "/cam/detections"] == [received[0]]


# vision_msgs 4.x (Humble and later) definitions, written here as the published package declares them
VISION_MSGS = {
    "Point2D": "float64 x\nfloat64 y\n",
    "Pose2D": "vision_msgs/Point2D position\nfloat64 theta\n",
    "BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "ObjectHypothesis": "string class_id\nfloat64 score\n",
    "ObjectHypothesisWithPose": "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n",
    "Detection2D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\nstring id\n",
    "Detection2DArray": "std_msgs/Header header\nDetection2D[] detections\n",
}


@pytest.fixture
def vision_msgs_installed(tmp_path, monkeypatch):
    """A prefix with share/vision_msgs/msg/*.msg on AMENT_PREFIX_PATH (what a ROS install with vision_msgs has)."""
    folder = tmp_path / "prefix" / "share" / "vision_msgs" / "msg"
    folder.mkdir(parents=True)
    for name, text in VISION_MSGS.items():
        (folder / f"{name}.msg").write_text(text)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'prefix'}:{os.environ.get('AMENT_PREFIX_PATH', '')}")
    bags.typestore.cache_clear()
    yield
    bags.typestore.cache_clear()  # the next tests see a typestore without vision_msgs again


def test_detections_2d_when_vision_msgs_is_installed(tmp_path, frames, tiny_models, expected, vision_msgs_installed):
    crops, stamps, received = frames
    source = _input_bag(tmp_path, "sqlite3", frames)
    out = tmp_path / "out.mcap"
    status = cli.main(["bag", str(source), "--topic", "/cam/image_raw", "--query", QUERY, "--out", str(out),
                       *_model_args(tiny_models)])  # fmt: skip
    assert status == 0
    types, messages = _read_all(out)
    assert types["/cam/image_raw/detections_2d"] == "vision_msgs/msg/Detection2DArray"
    store = bags.typestore()
    got = [(t, store.deserialize_cdr(raw, types[topic])) for topic, t, raw in messages
           if topic == "/cam/image_raw/detections_2d"]  # fmt: skip
    assert [t for t, _ in got] == received
    for (_, msg), want, stamp in zip(got, expected, stamps):
        assert (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, msg.header.frame_id) == (stamp, "cam")
        assert len(msg.detections) == len(want.detections)
        for d2, det in zip(msg.detections, want.detections):
            x0, y0, x1, y1 = det.box.tolist()
            assert d2.id == det.id and d2.header.frame_id == "cam"
            ((hyp,),) = [d2.results]
            assert hyp.hypothesis.class_id == det.label and hyp.hypothesis.score == pytest.approx(det.score, abs=1e-6)
            centre = (d2.bbox.center.position.x, d2.bbox.center.position.y, d2.bbox.center.theta)
            assert centre == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2, 0.0), abs=1e-3)
            assert (d2.bbox.size_x, d2.bbox.size_y) == pytest.approx((x1 - x0, y1 - y0), abs=1e-3)
