# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The grounded_sam node.

Unit tests of its pure pieces (frame slot, rate limiter, stats), then integration tests (``@pytest.mark.ros``): the
real node in a subprocess on the tiny random models, driven over real DDS by an rclpy client, on a random
ROS_DOMAIN_ID with localhost-only discovery. Frames the tests must get travel with reliable QoS.
"""

from __future__ import annotations

import statistics
import threading
import time

import numpy as np
import pytest

from grounded_sam_ros.ros.runtime import FrameSlot, LogThrottle, NodeStats, RateLimiter

# ----------------------------------------------------------------------------------------------------------------------
# Pure pieces
# ----------------------------------------------------------------------------------------------------------------------


def test_frame_slot_keeps_the_newest_and_counts_overwritten_frames_as_dropped():
    slot = FrameSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4
    assert (slot.received, slot.dropped) == (5, 4)
    assert slot.take(timeout=0) is None  # taken frames are gone...
    assert slot.latest == 4  # ...but the latest stays available to the service
    slot.put(5)
    assert slot.take(timeout=0) == 5
    assert slot.dropped == 4  # a frame taken in time is not dropped
    slot.clear()
    assert slot.latest is None


def test_frame_slot_take_waits_for_a_frame_and_close_wakes_it():
    slot = FrameSlot()
    threading.Timer(0.1, slot.put, args=("frame",)).start()
    started = time.monotonic()
    assert slot.take(timeout=5.0) == "frame"
    assert time.monotonic() - started < 2.0
    started = time.monotonic()
    assert slot.take(timeout=0.05) is None
    threading.Timer(0.1, slot.close).start()
    assert slot.take(timeout=5.0) is None
    assert time.monotonic() - started < 2.0
    slot.put("late")
    assert slot.take(timeout=0) is None  # closed: nothing comes out until reopened
    slot.reopen()
    slot.put("again")
    assert slot.take(timeout=0) == "again"


def test_rate_limiter_spaces_starts_by_one_over_max_rate():
    now = [100.0]
    limiter = RateLimiter(max_rate=4.0, clock=lambda: now[0])
    assert limiter.wait_time() == 0.0
    limiter.mark()
    now[0] = 100.1
    assert limiter.wait_time() == pytest.approx(0.15)
    now[0] = 100.3
    assert limiter.wait_time() == 0.0
    limiter.max_rate = 0.0  # unlimited
    limiter.mark()
    assert limiter.wait_time() == 0.0
    with pytest.raises(ValueError):
        limiter.max_rate = -1.0
    with pytest.raises(ValueError):
        limiter.max_rate = float("nan")


def test_node_stats_report_fps_latency_and_errors_over_a_window():
    now = [0.0]
    stats = NodeStats(window_s=5.0, clock=lambda: now[0])
    for i in range(6):  # a frame every 0.5 s, received 0.3 s before it finished, inference 0.2 s
        end = 10.0 + 0.5 * i
        stats.record(received=end - 0.3, started=end - 0.2, ended=end)
    now[0] = 12.6
    snap = stats.snapshot()
    assert snap["processed"] == 6
    assert snap["fps"] == pytest.approx(2.0)
    assert snap["latency_ms_mean"] == pytest.approx(300.0)
    assert snap["inference_ms_mean"] == pytest.approx(200.0)
    stats.error("bad frame", invalid_input=True)
    stats.error("boom")
    stats.count("annotated")
    snap = stats.snapshot()
    assert (snap["invalid_inputs"], snap["errors"], snap["annotated"], snap["last_error"]) == (1, 1, 1, "boom")
    now[0] = 100.0  # everything fell out of the window
    assert stats.snapshot()["fps"] == 0.0


def test_log_throttle_lets_one_line_per_kind_through_per_period():
    now = [0.0]
    throttle = LogThrottle(period_s=5.0, clock=lambda: now[0])
    assert throttle.check("data holds 10 bytes, expected 12") == "data holds 10 bytes, expected 12"
    assert throttle.check("data holds 11 bytes, expected 12") is None  # same kind: digits do not count
    assert throttle.check("unsupported image encoding '32FC1'") is not None  # another kind
    now[0] = 4.9
    assert throttle.check("data holds 13 bytes, expected 12") is None
    now[0] = 5.1
    assert throttle.check("data holds 14 bytes, expected 12") == (
        "data holds 14 bytes, expected 12 (+2 similar in the last 5 s)"
    )


# ----------------------------------------------------------------------------------------------------------------------
# Integration: the node over real DDS
# ----------------------------------------------------------------------------------------------------------------------

THRESHOLDS = {"box_threshold": 0.3, "text_threshold": 0.2}


def _ros_available() -> str:
    try:
        import rclpy  # noqa: F401

        import grounded_sam_ros.msg
        import grounded_sam_ros.srv  # noqa: F401
    except ImportError as exc:
        return f"{exc}: run `make setup` and `source .venv/bin/activate && source install/setup.bash`"
    return ""


def _image_msg(image: np.ndarray, stamp, frame_id: str = "camera", encoding: str = "bgr8"):
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    msg = rgb_to_image_msg(image, encoding=encoding)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    return msg


class Stamps:
    """Unique header stamps, so each test finds the DetectionArray of its own frame."""

    def __init__(self) -> None:
        self._next = 1000

    def __call__(self):
        self._next += 1
        return (self._next, 500_000_000 + self._next)


@pytest.fixture(scope="module")
def sample():
    from grounded_sam_ros.data import load_image, sample_image

    image = load_image(sample_image("chelsea"))  # 451x300
    return np.ascontiguousarray(image[50:249, 40:341])  # 301x199: odd width and height


def _start(tiny_models, tmp_path_factory, name: str, **overrides):
    from node_helpers import Client, NodeProcess, random_domain

    detector, segmenter = tiny_models
    parameters = {
        "detector_model": str(detector),
        "segmenter_model": str(segmenter),
        "device": "cpu",
        "image_reliability": "reliable",
        **THRESHOLDS,
        **overrides,
    }
    domain = random_domain()
    log = tmp_path_factory.mktemp(name) / "node.log"
    client = Client(domain)
    node = NodeProcess(parameters, domain, log)
    return node, client, parameters


def _wait_active(node, client, timeout: float = 60.0) -> None:
    try:
        client.wait_diagnostics(lambda d: d.get("state") == "active", timeout)
    except AssertionError:
        raise AssertionError(f"node never became active; its log:\n{node.log()[-3000:]}") from None


@pytest.fixture(scope="module")
def ros_node(tiny_models, tmp_path_factory):
    """One node for most tests: tiny models, reliable images, compressed input on, no query yet."""
    if _ros_available():
        pytest.skip(_ros_available())
    node, client, parameters = _start(tiny_models, tmp_path_factory, "node", compressed_input=True)
    try:
        _wait_active(node, client)
        client.wait_connected()
        yield node, client, parameters
    finally:
        client.close()
        code, took = node.stop()
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"


def _set_query(client, text: str, expected: str) -> None:
    client.publish_query(text)
    client.wait_diagnostics(lambda d: d.get("query") == expected)


@pytest.mark.ros
def test_detections_equal_the_pipeline_on_the_same_image(ros_node, sample, tiny_models):
    from grounded_sam_ros.pipeline import build_pipeline
    from grounded_sam_ros.ros import params
    from grounded_sam_ros.ros.conversions import msg_to_mask

    node, client, parameters = ros_node
    _set_query(client, "Cat, cup .", "cat . cup")
    stamp = (1_700_000_001, 123_456_789)
    client.publish_image(_image_msg(sample, stamp, frame_id="cam_odd", encoding="bgr8"))
    _, msg = client.wait_detections(stamp)

    # The pipeline's direct result on the same RGB image, same configuration
    expected = build_pipeline(params.config_from_params(parameters))(sample, "cat . cup")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (*stamp, "cam_odd")
    assert (msg.image_width, msg.image_height, msg.query) == (301, 199, "cat . cup")
    assert len(expected.detections) > 0, "the tiny models should produce detections at these thresholds"
    assert [d.label for d in msg.detections] == [d.label for d in expected.detections]
    assert [d.id for d in msg.detections] == [d.id for d in expected.detections]
    np.testing.assert_allclose([d.score for d in msg.detections], [d.score for d in expected.detections], atol=1e-5)
    np.testing.assert_allclose(
        np.array([d.box for d in msg.detections]), np.stack([d.box for d in expected.detections]), atol=1e-3
    )
    for got, want in zip(msg.detections, expected.detections):
        full = msg_to_mask(got.mask_x, got.mask_y, got.mask, 199, 301)
        np.testing.assert_array_equal(full, want.full_mask(199, 301))
        assert (got.mask_x, got.mask_y) == (want.mask_x, want.mask_y)


@pytest.mark.ros
def test_query_via_topic_parameter_and_service(ros_node, sample):
    node, client, _ = ros_node
    stamps = Stamps()

    # Topic: normalised, applies to the next frame
    _set_query(client, "ROCKET ,  Cat", "rocket . cat")
    stamp = stamps()
    client.publish_image(_image_msg(sample, stamp))
    assert client.wait_detections(stamp)[1].query == "rocket . cat"

    # Parameter, the way `ros2 param set` does it
    (result,) = client.set_parameters(query="Cup . person")
    assert result.successful, result.reason
    client.wait_diagnostics(lambda d: d.get("query") == "cup . person")
    stamp = stamps()
    client.publish_image(_image_msg(sample, stamp))
    assert client.wait_detections(stamp)[1].query == "cup . person"

    # Service: its own query for that call only; the current query stays
    response = client.segment(_image_msg(sample, stamps(), frame_id="srv"), query="Dog")
    assert response.success, response.message
    assert response.detections.query == "dog"
    assert response.detections.header.frame_id == "srv"
    assert (response.detections.image_width, response.detections.image_height) == (301, 199)
    # ...and without a query it uses the current one; without an image, the latest frame received
    response = client.segment()
    assert response.success, response.message
    assert response.detections.query == "cup . person"
    assert response.detections.header.stamp.sec == stamp[0]
    assert client.latest_diagnostics()["query"] == "cup . person"


@pytest.mark.ros
def test_parameters_are_validated_with_a_reason(ros_node, sample):
    node, client, _ = ros_node
    (bad,) = client.set_parameters(box_threshold=1.5)
    assert not bad.successful
    (bad,) = client.set_parameters(image_reliability="sometimes")
    assert not bad.successful and "best_effort" in bad.reason
    (model,) = client.set_parameters(detector_model="/somewhere/else")
    assert not model.successful and "cleanup" in model.reason
    (query,) = client.set_parameters(query="x" * 10_000)
    assert not query.successful and "characters" in query.reason
    (nan,) = client.set_parameters(text_threshold=float("nan"))
    assert not nan.successful

    # A live threshold applies from the next frame without reloading: box_threshold 1.0 keeps nothing
    _set_query(client, "cat", "cat")
    (ok,) = client.set_parameters(box_threshold=1.0)
    assert ok.successful, ok.reason
    stamp = (2_000_000_000, 1)
    client.publish_image(_image_msg(sample, stamp))
    assert len(client.wait_detections(stamp)[1].detections) == 0
    results = client.set_parameters(box_threshold=THRESHOLDS["box_threshold"], max_detections=2)
    assert all(r.successful for r in results), results
    stamp = (2_000_000_000, 2)
    client.publish_image(_image_msg(sample, stamp))
    assert len(client.wait_detections(stamp)[1].detections) == 2
    (ok,) = client.set_parameters(max_detections=0)
    assert ok.successful


@pytest.mark.ros
def test_bad_inputs_never_kill_the_node(ros_node, sample):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import String

    node, client, _ = ros_node
    _set_query(client, "cat", "cat")
    before = client.counter("invalid_inputs")
    count = before

    def send(publish, msg) -> None:
        """One bad input, then wait until the node has counted it: none can be overwritten by the next."""
        nonlocal count
        publish(msg)
        count = int(client.wait_counter("invalid_inputs", count)["invalid_inputs"])

    good = _image_msg(sample, (0, 0))
    bad_images = []
    floats = Image(height=4, width=4, encoding="32FC1", step=16, data=np.full(16, np.nan, np.float32).tobytes())
    bad_images.append(floats)  # unsupported encoding (with NaNs)
    short = _image_msg(sample, (0, 0))
    short.data = bytes(short.data[:-7])
    bad_images.append(short)  # data length != height * step
    bad_images.append(Image(height=0, width=0, encoding="rgb8", step=0))  # zero-size
    narrow = _image_msg(sample, (0, 0))
    narrow.step = 10
    bad_images.append(narrow)  # step shorter than a row
    for index, msg in enumerate(bad_images):
        msg.header.stamp.sec = 1_030_000_000 + index
        send(client.publish_image, msg)

    # Truncated JPEG on image/compressed
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(sample).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    truncated = CompressedImage(format="jpeg", data=jpeg[: len(jpeg) // 2])
    truncated.header.stamp.sec = 1_030_000_100
    send(client.compressed_pub.publish, truncated)

    # Queries: 10,000 characters, and bytes that are not UTF-8 (sent raw: rclpy cannot build such a String)
    send(client.publish_query, "cup " * 2500)
    raw = bytearray(serialize_message(String(data="abcdef")))
    raw[raw.index(b"abcdef") : raw.index(b"abcdef") + 6] = b"\xff\xfe\xc3\x28\xa0\xa1"
    send(client.query_pub.publish, bytes(raw))

    # The service with a bad image and a bad query
    response = client.segment(bad_images[1], query="cat")
    assert not response.success and "bytes" in response.message
    response = client.segment(good, query="...")
    assert not response.success and "phrase" in response.message

    # Still alive, still serving, the query unchanged, every rejected input counted
    assert node.alive(), node.log()[-3000:]
    diag = client.wait_diagnostics(lambda d: True)
    assert int(diag["invalid_inputs"]) == before + 7  # every one counted once, the service's not among them
    assert diag["query"] == "cat"
    stamp = (1_030_000_200, 0)
    client.publish_image(_image_msg(sample, stamp))
    assert client.wait_detections(stamp)[1].query == "cat"

    # And a good compressed frame works
    ok = CompressedImage(format="jpeg", data=jpeg)
    ok.header.stamp.sec, ok.header.stamp.nanosec = 1_030_000_300, 0
    client.compressed_pub.publish(ok)
    assert client.wait_detections((1_030_000_300, 0))[1].image_width == 301
    log = node.log()
    assert "unsupported image encoding" in log and "truncated" in log


@pytest.mark.ros
def test_annotated_image_only_drawn_for_subscribers(ros_node, sample):
    node, client, _ = ros_node
    _set_query(client, "cat", "cat")
    before = client.wait_diagnostics(lambda d: d.get("annotated_image_subscribers") == "0")
    drawn, processed = int(before["annotated_images"]), int(before["frames_processed"])
    for i in range(3):
        stamp = (1_040_000_000, i)
        client.publish_image(_image_msg(sample, stamp))
        client.wait_detections(stamp)
    # Once the node counted the 3 frames processed (after every output), none of them was drawn
    after = client.wait_diagnostics(lambda d: int(d["frames_processed"]) >= processed + 3)
    assert int(after["annotated_images"]) == drawn

    client.subscribe_annotated()
    client.wait_subscribed("annotated_image")  # the node draws only once it sees our subscription
    stamp = (1_040_000_001, 0)
    client.publish_image(_image_msg(sample, stamp))
    client.wait_detections(stamp)
    diag = client.wait_diagnostics(lambda d: int(d["annotated_images"]) >= drawn + 1)
    deadline = time.monotonic() + 10
    while not [m for m in client.annotated if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp]:
        assert time.monotonic() < deadline, f"no annotated image for {stamp}; diagnostics {diag}"
        time.sleep(0.05)
    client.unsubscribe_annotated()
    image = client.annotated[-1]
    assert (image.encoding, image.width, image.height) == ("rgb8", 301, 199)
    assert (image.header.stamp.sec, image.header.stamp.nanosec) == stamp


@pytest.mark.ros
def test_diagnostics_report_rates_and_counters(ros_node, sample):
    node, client, _ = ros_node
    _set_query(client, "cat", "cat")
    for i in range(3):
        stamp = (1_050_000_000, i)
        client.publish_image(_image_msg(sample, stamp))
        client.wait_detections(stamp)
    diag = client.wait_diagnostics(lambda d: float(d["fps"]) > 0)
    for key in ("fps", "latency_ms", "inference_ms", "frames_dropped", "frames_processed", "last_error", "state"):
        assert key in diag
    assert diag["_level"] == "0", diag  # OK
    assert float(diag["latency_ms"]) >= float(diag["inference_ms"]) > 0


@pytest.mark.ros
def test_lifecycle_deactivate_cleanup_reconfigure(ros_node, sample):
    node, client, _ = ros_node
    _set_query(client, "cat", "cat")
    assert client.change_state("deactivate")
    response = client.segment(_image_msg(sample, (1_060_000_000, 0)), query="cat")
    assert not response.success and "not active" in response.message
    ignored = client.counter("frames_ignored_inactive")
    client.publish_image(_image_msg(sample, (1_060_000_000, 1)))
    client.wait_counter("frames_ignored_inactive", ignored)  # the node got it, and set it aside
    assert client.find_detections((1_060_000_000, 1)) is None

    # Model parameters change only while unconfigured
    assert client.change_state("cleanup")
    client.wait_diagnostics(lambda d: d["state"] == "unconfigured")
    results = client.set_parameters(max_rate=50.0, multimask=True)
    assert all(r.successful for r in results), results
    assert client.change_state("configure")
    assert client.change_state("activate")
    client.wait_diagnostics(lambda d: d["state"] == "active" and d["max_rate"] == "50.0")
    client.wait_connected()
    stamp = (1_060_000_000, 2)
    client.publish_image(_image_msg(sample, stamp))
    assert client.wait_detections(stamp)[1].query == "cat"
    results = client.set_parameters(max_rate=0.0, multimask=False)
    assert all(r.successful for r in results), results


@pytest.mark.ros
def test_latency_through_ros_versus_the_pipeline(ros_node, sample, tiny_models, capsys):
    """Publish -> DetectionArray received, against the pipeline's own time on the same frames (reported)."""
    from grounded_sam_ros.pipeline import build_pipeline
    from grounded_sam_ros.ros import params

    node, client, parameters = ros_node
    _set_query(client, "cat . cup", "cat . cup")
    ros_ms = []
    for i in range(10):
        stamp = (1_070_000_000, i)
        msg = _image_msg(sample, stamp)
        sent = time.monotonic()
        client.publish_image(msg)
        arrived, _ = client.wait_detections(stamp)
        ros_ms.append(1000.0 * (arrived - sent))
    pipe = build_pipeline(params.config_from_params(parameters))
    pipe(sample, "cat . cup")  # warm-up, as the node's first frames were
    direct_ms = []
    for _ in range(10):
        started = time.monotonic()
        pipe(sample, "cat . cup")
        direct_ms.append(1000.0 * (time.monotonic() - started))
    ros_median, direct_median = statistics.median(ros_ms), statistics.median(direct_ms)
    with capsys.disabled():
        print(
            f"\n[latency] 301x199 bgr8, tiny models, CPU: through ROS median {ros_median:.1f} ms "
            f"(min {min(ros_ms):.1f}, max {max(ros_ms):.1f}); pipeline alone median {direct_median:.1f} ms "
            f"(min {min(direct_ms):.1f}); ROS overhead ~{ros_median - direct_median:.1f} ms"
        )
    assert ros_median < direct_median + 500.0


# --- A node of its own: late subscriber to the latched query -------------------------------------------------------


@pytest.mark.ros
def test_node_started_after_the_query_gets_it(tiny_models, tmp_path_factory, sample):
    if _ros_available():
        pytest.skip(_ros_available())
    from node_helpers import Client, NodeProcess, random_domain

    domain = random_domain()
    client = Client(domain)
    client.publish_query("Rocket . Cat")  # transient local: kept for subscribers that join later
    detector, segmenter = tiny_models
    parameters = {"detector_model": str(detector), "segmenter_model": str(segmenter), "device": "cpu"}
    node = NodeProcess(
        {**parameters, **THRESHOLDS, "image_reliability": "reliable"},
        domain,
        tmp_path_factory.mktemp("late") / "node.log",
    )
    try:
        _wait_active(node, client)
        client.wait_diagnostics(lambda d: d.get("query") == "rocket . cat")
        # Before any frame, the service says so
        response = client.segment()
        assert not response.success and "no frame" in response.message
        client.wait_connected()
        stamp = (1_080_000_000, 0)
        client.publish_image(_image_msg(sample, stamp))
        assert client.wait_detections(stamp)[1].query == "rocket . cat"
    finally:
        client.close()
        code, _ = node.stop()
    assert code == 0, node.log()[-3000:]


# --- A node of its own: a flood of frames while inference is slow, then SIGINT mid-inference ----------------------


@pytest.mark.ros
def test_flood_keeps_newest_frames_reports_drops_and_stays_flat(tiny_models, tmp_path_factory):
    """200-frame floods at 100 Hz of 640x480 frames while each inference takes > 0.25 s (debug_delay)."""
    if _ros_available():
        pytest.skip(_ros_available())
    node, client, _ = _start(tiny_models, tmp_path_factory, "flood", debug_delay=0.25, query="cat")
    try:
        _wait_active(node, client)
        client.wait_connected()
        rng = np.random.default_rng(0)
        messages = [_image_msg(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (0, 0)) for _ in range(4)]

        def flood(sec: int, during=None) -> float:
            """200 frames at 100 Hz stamped (sec, 0..199); ``during`` runs in a thread from frame 100. Returns Hz."""
            thread = threading.Thread(target=during) if during else None
            started = time.monotonic()
            for i in range(200):
                msg = messages[i % 4]
                msg.header.stamp.sec, msg.header.stamp.nanosec = sec, i
                client.publish_image(msg)
                if i == 100 and thread:
                    thread.start()
                time.sleep(max(0.0, started + (i + 1) * 0.01 - time.monotonic()))
            rate = 200 / (time.monotonic() - started)
            if thread:
                thread.join(30.0)
            client.wait_detections((sec, 199), timeout=30.0)  # the newest frame is always processed
            return rate

        def idle_rss() -> float:
            client.wait_diagnostics(lambda d: d["inference_running"] == "false")
            return max(node.rss_mb() for _ in range(5) if time.sleep(0.1) is None)

        # Warm-up flood: allocator and middleware pools reach their steady size
        flood(100)
        rss_before = idle_rss()
        before = client.wait_diagnostics(lambda d: True)

        answer = {}

        def call_service():
            started = time.monotonic()
            answer["response"] = client.segment(query="cup", timeout=20.0)
            answer["seconds"] = time.monotonic() - started

        rates = [flood(101, during=call_service), flood(102)]
        rss_after = idle_rss()
        after = client.wait_diagnostics(lambda d: int(d["frames_processed"]) >= int(before["frames_processed"]))

        # Only the newest frames are processed, in order; all the others are reported dropped
        processed = [msg.header.stamp.nanosec for _, msg in client.detections if msg.header.stamp.sec in (101, 102)]
        assert 2 <= len(processed) < 60, processed
        assert processed == sorted(processed) or processed.index(199) < len(processed)
        delta = {k: int(after[k]) - int(before[k]) for k in ("frames_processed", "frames_dropped")}
        assert delta["frames_processed"] == len(processed), (delta, len(processed))
        assert 400 - 2 <= delta["frames_processed"] + delta["frames_dropped"] <= 400, delta

        # Memory flat: the node holds one frame, not a queue (400 frames = 369 MB went through)
        assert rss_after - rss_before < 100.0, f"RSS grew from {rss_before:.0f} to {rss_after:.0f} MiB"

        # The service was answered during the flood, with its own query
        assert answer.get("response") is not None and answer["response"].success, answer
        assert answer["response"].detections.query == "cup"
        assert answer["seconds"] < 10.0
        print(
            f"\n[flood] {rates[0]:.0f} and {rates[1]:.0f} Hz sent, {len(processed)} of 400 frames processed, "
            f"{delta['frames_dropped']} dropped; node RSS {rss_before:.0f} -> {rss_after:.0f} MiB; "
            f"service answered in {answer['seconds']:.2f} s during the flood"
        )

        # SIGINT while an inference is in flight (debug_delay makes each take > 8 s): exits cleanly within 5 s
        (ok,) = client.set_parameters(debug_delay=8.0)
        assert ok.successful, ok.reason
        msg = messages[0]
        msg.header.stamp.sec = 103
        client.publish_image(msg)
        client.wait_diagnostics(lambda d: d["inference_running"] == "true")
    finally:
        client.close()
        code, took = node.stop(timeout=15.0)
    assert code == 0 and took < 5.0, f"exit code {code} after {took:.1f} s; log:\n{node.log()[-3000:]}"


# --- Child processes (demo, tests and bench start the node the same way) -------------------------------------------


def test_ros_args_write_ros_parameters():
    from grounded_sam_ros.ros import processes

    args = processes.ros_args("some.module", {"flag": True, "off": False, "rate": 0.5, "query": "red cup . person"})
    assert args[1:] == ["-m", "some.module", "--ros-args", "-p", "flag:=true", "-p", "off:=false",
                        "-p", "rate:=0.5", "-p", "query:=red cup . person"]  # fmt: skip


def test_stop_interrupts_then_kills():
    import subprocess
    import sys

    from grounded_sam_ros.ros import processes

    # SIGINT ends a Python process that handles it (KeyboardInterrupt; a node's rclpy installs its own handler): its
    # exit code comes back. The child installs Python's handler itself, since a test run started in the background
    # of a non-interactive shell inherits SIGINT ignored, and Python then leaves it ignored
    code = ("import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); print('up', flush=True); "
            "time.sleep(60)")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    assert processes.stop(proc, 10.0) not in (None, 0)
    # One that ignores SIGINT is killed after the timeout: None
    code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    started = time.monotonic()
    assert processes.stop(proc, 0.5) is None
    assert proc.poll() is not None and time.monotonic() - started < 5.0


@pytest.mark.ros
def test_bayer_frame_gives_detections_and_a_malformed_one_leaves_the_node_serving(ros_node, sample):
    import cv2
    from sensor_msgs.msg import Image

    node, client, _ = ros_node
    _set_query(client, "cat", "cat")
    height, width = sample.shape[:2]
    # An RGGB sensor's recording of the sample: R at even rows/cols, B at odd rows/cols, G elsewhere
    rows, cols = np.mgrid[0:height, 0:width]
    channel = np.where(rows % 2 == 0, np.where(cols % 2 == 0, 0, 1), np.where(cols % 2 == 0, 1, 2))
    raw = np.take_along_axis(sample, channel[:, :, None], axis=2)[:, :, 0]
    bayer = Image(height=height, width=width, encoding="bayer_rggb8", step=width, data=raw.tobytes())
    bayer.header.stamp.sec, bayer.header.stamp.nanosec = 1_040_000_000, 1
    client.publish_image(bayer)
    _, msg = client.wait_detections((1_040_000_000, 1))
    # What the node must have seen: OpenCV's RGGB demosaic of the same bytes (its explicit pattern name), sent as
    # rgb8 to the same node (so earlier tests' configuration changes apply to both)
    client.publish_image(_image_msg(cv2.cvtColor(raw, cv2.COLOR_BayerRGGB2RGB), (1_040_000_000, 2), encoding="rgb8"))
    _, expected = client.wait_detections((1_040_000_000, 2))
    assert len(msg.detections) == len(expected.detections) > 0
    assert [d.label for d in msg.detections] == [d.label for d in expected.detections]
    np.testing.assert_allclose([d.score for d in msg.detections], [d.score for d in expected.detections], atol=1e-5)
    np.testing.assert_allclose([d.box for d in msg.detections], [d.box for d in expected.detections], atol=1e-3)

    # Malformed: one byte short. The node counts it as invalid and keeps serving
    before = int(client.wait_diagnostics(lambda d: True)["invalid_inputs"])
    short = Image(height=height, width=width, encoding="bayer_rggb8", step=width, data=raw.tobytes()[:-1])
    short.header.stamp.sec = 1_040_000_001
    client.publish_image(short)
    client.wait_diagnostics(lambda d: int(d["invalid_inputs"]) == before + 1)
    assert node.alive()
    bayer.header.stamp.sec = 1_040_000_002
    client.publish_image(bayer)
    client.wait_detections((1_040_000_002, 1))
    assert "data holds" in node.log() and "bayer_rggb8" in node.log()
