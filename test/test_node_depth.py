# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Depth in the node: 3D fields, markers and the instance cloud.

Pure tests first (depth image decoding, the stamp matcher, :class:`DepthFusion`, the depth parameters), then
integration tests (``@pytest.mark.ros``): the real node with ``use_depth`` on the tiny random models, fed colour,
depth and CameraInfo over real DDS by an rclpy client. Expected 3D values are computed in the test from the masks
the node sent back and the depth the test sent, decoded here with numpy, not with the node's conversion.
"""

from __future__ import annotations

import array
import struct
import threading
import time

import numpy as np
import pytest

pytest.importorskip("grounded_sam_ros.msg", reason="interfaces not built: run `make setup` (colcon build)")

from sensor_msgs.msg import CameraInfo, Image
from test_params import launch_module  # noqa: F401 - the launch file on stand-ins for launch / launch_ros

from grounded_sam_ros.geometry import CameraIntrinsics, DepthFilter, instance_id, instance_points, instances_3d
from grounded_sam_ros.results import Detection
from grounded_sam_ros.ros import depth_fusion, params
from grounded_sam_ros.ros.conversions import depth_msg_to_metres
from grounded_sam_ros.ros.depth_fusion import DepthFusion, StampedBuffer, stamp_ns

SEC = 1_000_000_000

# ----------------------------------------------------------------------------------------------------------------------
# Helpers: messages built byte by byte
# ----------------------------------------------------------------------------------------------------------------------


def depth_msg(raw: np.ndarray, encoding: str, stamp=(0, 0), frame_id="depth_optical", big_endian=False, pad=0):
    """A depth Image from an HxW array, packed with struct (independent of the code under test)."""
    height, width = raw.shape
    fmt = {"16UC1": "H", "mono16": "H", "32FC1": "f"}[encoding]
    order = ">" if big_endian else "<"
    rows = [struct.pack(f"{order}{width}{fmt}", *row.tolist()) + b"\xee" * pad for row in raw]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian))
    msg.step = len(rows[0])
    msg.data = array.array("B", b"".join(rows))
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    return msg


def camera_info(fx, fy, cx, cy, width, height, frame_id="depth_optical", stamp=(0, 0)) -> CameraInfo:
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = frame_id
    info.header.stamp.sec, info.header.stamp.nanosec = stamp
    return info


def metres_16uc1(raw: np.ndarray) -> np.ndarray:
    """The test's own decoding of 16UC1 millimetres (REP 118): HxW float32 metres (float32 x 0.001), NaN for 0."""
    out = raw.astype(np.float32) * np.float32(0.001)
    out[raw == 0] = np.nan
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Depth image decoding
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["16UC1", "mono16"])
@pytest.mark.parametrize("big_endian", [False, True])
def test_16uc1_is_millimetres_in_either_byte_order_with_padding(encoding, big_endian):
    raw = np.array([[0, 1, 1500], [65535, 250, 0]], dtype=np.uint16)
    msg = depth_msg(raw, encoding, big_endian=big_endian, pad=3)
    got = depth_msg_to_metres(msg)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_array_equal(np.isnan(got), raw == 0)
    np.testing.assert_allclose(got[raw > 0], raw[raw > 0] / 1000.0, rtol=1e-6)
    # A unit override: quarter millimetres
    np.testing.assert_allclose(depth_msg_to_metres(msg, scale=0.00025)[raw > 0], raw[raw > 0] / 4000.0, rtol=1e-6)


@pytest.mark.parametrize("big_endian", [False, True])
def test_32fc1_is_metres_and_invalid_readings_become_nan(big_endian):
    raw = np.array([[1.25, 0.0, np.nan], [-1.0, np.inf, 3.5]], dtype=np.float32)
    got = depth_msg_to_metres(depth_msg(raw, "32FC1", big_endian=big_endian, pad=4))
    np.testing.assert_array_equal(np.isnan(got), [[False, True, True], [True, True, False]])
    assert got[0, 0] == np.float32(1.25) and got[1, 2] == np.float32(3.5)


def test_bad_depth_images_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="16UC1"):
        depth_msg_to_metres(Image(height=1, width=1, step=3, encoding="rgb8", data=b"\0\0\0"))
    short = depth_msg(np.ones((2, 2), np.uint16), "16UC1")
    short.data = short.data[:-1]
    with pytest.raises(ValueError, match="bytes"):
        depth_msg_to_metres(short)


# ----------------------------------------------------------------------------------------------------------------------
# Stamp matching
# ----------------------------------------------------------------------------------------------------------------------


def test_buffer_returns_the_closest_item_within_slop():
    buf: StampedBuffer[str] = StampedBuffer(capacity=3)
    assert buf.match(10 * SEC, SEC // 10) == (None, None)  # nothing yet
    for sec, name in ((9, "a"), (11, "c"), (10, "b")):  # out of order on purpose
        buf.put(sec * SEC + 20_000_000, name)
    assert buf.match(10 * SEC, 50_000_000) == ("b", 20_000_000)
    assert buf.match(11 * SEC, 50_000_000) == ("c", 20_000_000)
    # Outside the slop: nothing, but the offset of the closest tells how far off the streams are
    assert buf.match(12 * SEC, 50_000_000) == (None, -980_000_000)
    # Exactly at the slop is inside
    assert buf.match(10 * SEC, 20_000_000) == ("b", 20_000_000)
    # Capacity: the oldest goes
    buf.put(12 * SEC, "d")
    assert buf.match(9 * SEC, 50_000_000)[0] is None
    assert buf.received == 4
    with pytest.raises(ValueError):
        buf.match(0, -1)
    with pytest.raises(ValueError):
        StampedBuffer(capacity=0)


def test_buffer_waits_for_a_match_that_may_still_come_but_not_for_one_that_cannot():
    buf: StampedBuffer[str] = StampedBuffer()
    buf.put(5 * SEC, "old")
    threading.Timer(0.1, buf.put, args=(10 * SEC + 1000, "late")).start()
    started = time.monotonic()
    assert buf.match(10 * SEC, 1_000_000, timeout=5.0) == ("late", 1000)
    assert time.monotonic() - started < 2.0
    # A newer item beyond the slop already arrived: no later one can match, so no waiting
    buf.put(20 * SEC, "newer")
    started = time.monotonic()
    assert buf.match(15 * SEC, 1_000_000, timeout=5.0)[0] is None
    assert time.monotonic() - started < 0.5
    # Nothing newer yet: waits the time-out, then gives up
    started = time.monotonic()
    assert buf.match(20 * SEC + 500_000_000, 1_000_000, timeout=0.2, max_lag=SEC)[0] is None
    assert 0.15 < time.monotonic() - started < 2.0
    # ...unless the stream lags by more than max_lag (stalled, or on another clock)
    started = time.monotonic()
    assert buf.match(30 * SEC, 1_000_000, timeout=5.0, max_lag=SEC) == (None, -10 * SEC)
    assert time.monotonic() - started < 0.5
    # ...or nothing was ever received
    started = time.monotonic()
    assert StampedBuffer().match(30 * SEC, 1_000_000, timeout=5.0) == (None, None)
    assert time.monotonic() - started < 0.5


def test_stamp_ns():
    info = camera_info(1, 1, 0, 0, 1, 1, stamp=(12, 345))
    assert stamp_ns(info.header.stamp) == 12 * SEC + 345


# ----------------------------------------------------------------------------------------------------------------------
# DepthFusion on an analytic scene
# ----------------------------------------------------------------------------------------------------------------------

# A 320x240 colour image; the depth camera is registered to it. A fronto-parallel face of 0.30 m x 0.20 m at
# Z = 1.2 m in front of a wall at 2.5 m, seen with non-square pixels and an off-centre principal point.
FX, FY, CX, CY = 300.0, 330.0, 171.3, 108.6
FACE = {"x0": -0.10, "x1": 0.20, "y0": -0.05, "y1": 0.15, "z": 1.2}


def face_scene(width: int, height: int, encoding: str):
    """(raw depth at width x height, CameraInfo for it, face mask (rows, cols) in the 320x240 colour image)."""
    k = CameraIntrinsics(FX, FY, CX, CY, 320, 240).scaled(width, height)
    vv, uu = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = (uu - k.cx) / k.fx, (vv - k.cy) / k.fy  # ray slopes
    z = FACE["z"]
    inside = (x * z >= FACE["x0"]) & (x * z <= FACE["x1"]) & (y * z >= FACE["y0"]) & (y * z <= FACE["y1"])
    metres = np.where(inside, z, 2.5)
    raw = np.round(metres * 1000).astype(np.uint16) if encoding == "16UC1" else metres.astype(np.float32)
    info = camera_info(k.fx, k.fy, k.cx, k.cy, width, height)
    # The mask in the colour image: pixels whose ray hits the face
    kc = CameraIntrinsics(FX, FY, CX, CY, 320, 240)
    vc, uc = np.mgrid[0:240, 0:320].astype(np.float64)
    xc, yc = (uc - kc.cx) / kc.fx * z, (vc - kc.cy) / kc.fy * z
    mask = (xc >= FACE["x0"]) & (xc <= FACE["x1"]) & (yc >= FACE["y0"]) & (yc <= FACE["y1"])
    return raw, info, mask


def face_detection(mask: np.ndarray) -> Detection:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return Detection("face", 0.9, np.zeros(4, np.float32), mask=crop, mask_x=int(cols[0]), mask_y=int(rows[0]), id="3")


@pytest.mark.parametrize(
    "encoding, width, height", [("16UC1", 320, 240), ("32FC1", 320, 240), ("16UC1", 160, 120), ("32FC1", 640, 480)]
)
def test_fusion_measures_the_face_at_its_analytic_place(encoding, width, height):
    raw, info, mask = face_scene(width, height, encoding)
    fusion = DepthFusion()
    fusion.add_camera_info(info)
    fusion.add_depth(depth_msg(raw, encoding, stamp=(100, 0)))
    dets = [face_detection(mask)]
    outcome = fusion.fuse(
        dets, 100 * SEC + 30_000_000, (320, 240), slop_s=0.05, depth_filter=DepthFilter(), cloud_stride=1
    )
    assert outcome.fused and outcome.status == depth_fusion.OK and outcome.frame_id == "depth_optical"
    assert outcome.offset_s == pytest.approx(-0.03)
    i3 = dets[0].instance_3d
    assert i3.valid and i3.frame_id == "depth_optical"
    centre = [(FACE["x0"] + FACE["x1"]) / 2, (FACE["y0"] + FACE["y1"]) / 2, FACE["z"]]
    np.testing.assert_allclose(i3.position, centre, atol=0.01)
    np.testing.assert_allclose(i3.size, [FACE["x1"] - FACE["x0"], FACE["y1"] - FACE["y0"], 0.0], atol=0.02)
    if (width, height) == (320, 240):
        assert i3.num_points == mask.sum()  # every mask pixel sees the face
    else:  # resampled: a mask pixel on the face's edge may look up a wall pixel, which is dropped
        assert 0.95 * mask.sum() <= i3.num_points <= mask.sum()
    # The cloud: the face's points, tagged with the instance id
    assert outcome.points.shape == (i3.num_points, 3) and set(outcome.ids.tolist()) == {instance_id("3")}
    np.testing.assert_allclose(outcome.points[:, 2], FACE["z"], atol=1e-3)
    assert fusion.snapshot()["frames_with_depth"] == "1"


def test_colour_camera_info_of_another_resolution_is_scaled_to_the_depth():
    raw, _, mask = face_scene(160, 120, "16UC1")
    fusion = DepthFusion()
    fusion.add_camera_info(camera_info(FX, FY, CX, CY, 320, 240))  # the colour camera's, registration makes it valid
    fusion.add_depth(depth_msg(raw, "16UC1", stamp=(1, 0)))
    dets = [face_detection(mask)]
    assert fusion.fuse(dets, SEC, (320, 240), slop_s=0.0, depth_filter=DepthFilter()).fused
    np.testing.assert_allclose(dets[0].instance_3d.position, [0.05, 0.05, 1.2], atol=0.01)


def test_fusion_says_why_there_is_no_3d():
    raw, info, mask = face_scene(320, 240, "16UC1")
    fusion = DepthFusion()
    flt = DepthFilter()

    def fuse(stamp=10 * SEC, image_size=(320, 240)):
        dets = [face_detection(mask)]
        outcome = fusion.fuse(dets, stamp, image_size, slop_s=0.05, depth_filter=flt)
        assert dets[0].instance_3d is None or outcome.fused
        return outcome

    assert fusion.snapshot()["depth_status"] == depth_fusion.WAITING
    outcome = fuse()
    assert (outcome.fused, outcome.status) == (False, depth_fusion.NO_CAMERA_INFO)
    assert "depth/camera_info" in outcome.reason
    fusion.add_camera_info(info)
    outcome = fuse()
    assert outcome.status == depth_fusion.NO_DEPTH and "depth/image" in outcome.reason
    fusion.add_depth(depth_msg(raw, "16UC1", stamp=(9, 800_000_000)))
    outcome = fuse()
    assert outcome.status == depth_fusion.OUT_OF_SLOP
    assert "depth_slop=0.05" in outcome.reason and "-0.200 s" in outcome.reason
    snap = fusion.snapshot()
    assert (snap["depth_status"], snap["frames_without_depth"], snap["frames_with_depth"]) == ("out_of_slop", "3", "0")
    assert snap["last_depth_error"] == outcome.reason

    # Depth of another aspect ratio than the colour image: not registered
    fusion.add_depth(depth_msg(raw[:, :200], "16UC1", stamp=(10, 0)))
    fusion.add_camera_info(camera_info(FX, FY, CX, CY, 200, 240))
    outcome = fuse()
    assert outcome.status == depth_fusion.BAD_DEPTH and "registered" in outcome.reason
    # An uncalibrated camera (K all zeros)
    fusion.add_depth(depth_msg(raw, "16UC1", stamp=(11, 0)))
    bad = camera_info(FX, FY, CX, CY, 320, 240)
    bad.k = [0.0] * 9
    fusion.add_camera_info(bad)
    outcome = fuse(11 * SEC)
    assert outcome.status == depth_fusion.BAD_DEPTH and "not calibrated" in outcome.reason
    # And back to normal
    fusion.add_camera_info(info)
    assert fuse(11 * SEC).fused
    assert fusion.snapshot()["depth_status"] == depth_fusion.OK
    fusion.clear()
    assert fuse(11 * SEC).status == depth_fusion.NO_CAMERA_INFO


# ----------------------------------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------------------------------


def test_depth_parameters_defaults_ranges_and_when_they_apply():
    defaults = params.defaults()
    assert (defaults["use_depth"], defaults["publish_cloud"]) == (False, False)
    assert defaults["depth_slop"] == 0.05 and defaults["depth_scale"] == 0.0
    assert params.SPECS["use_depth"].applies == params.CONFIGURE
    assert params.SPECS["publish_cloud"].applies == params.CONFIGURE
    for name in ("depth_slop", "depth_scale", "depth_min_points", "cloud_stride"):
        assert params.SPECS[name].applies == params.LIVE, name
        assert name in params.LIVE_NODE_FIELDS
    settings = params.settings_from_params({"use_depth": True, "depth_slop": 0.1, "depth_min_points": 5})
    assert (settings.use_depth, settings.depth_slop, settings.depth_min_points) == (True, 0.1, 5)
    assert params.live_settings({"depth_slop": 0.2, "box_threshold": 0.5}) == {"depth_slop": 0.2}
    for name, value, needle in (
        ("depth_slop", -0.01, "[0.0, 5.0]"),
        ("depth_scale", -1.0, "[0.0, 100.0]"),
        ("depth_min_points", 0, "[1, 1000000]"),
        ("cloud_stride", 0, "[1, 1000]"),
        ("use_depth", 1, "true or false"),
    ):
        with pytest.raises(ValueError) as info:
            params.check_changes(params.defaults(), {name: value}, configured=False)
        assert needle in str(info.value), (name, str(info.value))
    with pytest.raises(ValueError, match="cleanup"):
        params.check_changes(params.defaults(), {"use_depth": True}, configured=True)


def test_yaml_and_launch_file_offer_the_depth_settings(launch_module):  # noqa: F811 - the imported fixture
    import yaml
    from test_params import CONFIG_YAML

    values = yaml.safe_load(CONFIG_YAML.read_text())["grounded_sam"]["ros__parameters"]
    for name in ("use_depth", "depth_slop", "depth_scale", "depth_min_points", "publish_cloud", "cloud_stride"):
        assert values[name] == params.SPECS[name].default, name
    entities = launch_module.generate_launch_description()
    declared = {e.args[0]: e.kwargs.get("default_value") for e in entities if "default_value" in e.kwargs}
    assert declared["use_depth"] == ""  # '' = from the params file
    assert (declared["depth_topic"], declared["depth_info_topic"]) == ("depth/image", "depth/camera_info")


# ----------------------------------------------------------------------------------------------------------------------
# Integration: the node with depth over real DDS
# ----------------------------------------------------------------------------------------------------------------------

COLOUR_W, COLOUR_H = 301, 199  # the same odd-sized crop of the sample image as test_node.py
DEPTH_W, DEPTH_H = 150, 99  # half resolution (aspect within 0.2% of the colour image)
DEPTH_K = {"fx": 140.0, "fy": 127.0, "cx": 70.3, "cy": 52.9}  # non-square pixels, principal point off centre
NODE_PARAMS = {
    "box_threshold": 0.3,
    "text_threshold": 0.2,
    "max_detections": 4,
    "use_depth": True,
    "publish_cloud": True,
    "depth_slop": 0.05,
    "depth_min_points": 10,
}


def _ros_skip_reason() -> str:
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        return f"{exc}: run `make setup` and `source .venv/bin/activate && source install/setup.bash`"
    return ""


def slanted_depth(rng: np.random.Generator) -> np.ndarray:
    """DEPTH_H x DEPTH_W uint16 millimetres: a plane receding upwards and to the right, with 5% dropouts (0)."""
    vv, uu = np.mgrid[0:DEPTH_H, 0:DEPTH_W]
    raw = (900 + 4 * (DEPTH_H - vv) + 2 * uu).astype(np.uint16)
    raw[rng.random(raw.shape) < 0.05] = 0
    return raw


class DepthClient:
    """The test_node Client plus depth publishers and marker/cloud subscribers."""

    def __init__(self, domain: int) -> None:
        from node_helpers import Client
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import PointCloud2
        from visualization_msgs.msg import MarkerArray

        self.base = Client(domain)
        node = self.base.node
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self._lock = threading.Lock()
        self.markers: list = []
        self.clouds: list = []
        self.depth_pub = node.create_publisher(Image, "depth/image", reliable)
        self.info_pub = node.create_publisher(CameraInfo, "depth/camera_info", reliable)
        self.markers_sub = node.create_subscription(MarkerArray, "detections_markers", self._on_markers, reliable)
        self.cloud_sub = node.create_subscription(PointCloud2, "instances_cloud", self._on_cloud, reliable)

    def _on_markers(self, msg) -> None:
        with self._lock:
            self.markers.append(msg)

    def _on_cloud(self, msg) -> None:
        with self._lock:
            self.clouds.append(msg)

    def wait_connected(self, timeout: float = 20.0) -> None:
        self.base.wait_connected(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self.depth_pub.get_subscription_count() > 0
                and self.info_pub.get_subscription_count() > 0
                and self.markers_sub.get_publisher_count() > 0
                and self.cloud_sub.get_publisher_count() > 0
            ):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the node's depth subscriptions / marker and cloud publishers never matched")
        # ...and matched on the node's side too (the cloud is computed only while the node sees a subscriber)
        for topic in ("detections_markers", "instances_cloud"):
            self.base.wait_subscribed(topic)

    def wait_for(self, kind: str, stamp, timeout: float = 20.0):
        """The MarkerArray (kind 'markers') or PointCloud2 ('clouds') stamped ``stamp``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for msg in getattr(self, kind):
                    header = msg.markers[0].header if kind == "markers" else msg.header
                    if (header.stamp.sec, header.stamp.nanosec) == stamp:
                        return msg
            time.sleep(0.02)
        raise AssertionError(f"no {kind} for stamp {stamp} within {timeout} s")

    def send_frame(self, colour: np.ndarray, stamp, depth: Image) -> None:
        """CameraInfo, depth, then colour (depth first, as a driver publishing both would, give or take)."""
        from grounded_sam_ros.ros.conversions import rgb_to_image_msg

        # The node takes CameraInfo best effort (to match any driver): send it until the node has counted one
        infos = self.base.counter("camera_infos_received")
        info = camera_info(**DEPTH_K, width=DEPTH_W, height=DEPTH_H, stamp=stamp)
        deadline = time.monotonic() + 15.0
        while int(self.base.latest_diagnostics().get("camera_infos_received", 0)) <= infos:
            assert time.monotonic() < deadline, "the node never counted a CameraInfo"
            self.info_pub.publish(info)
            time.sleep(0.2)  # resend pace; the loop ends on the node's count, not on time
        received = self.base.counter("depth_images_received")
        self.depth_pub.publish(depth)
        self.base.wait_counter("depth_images_received", received)
        msg = rgb_to_image_msg(colour, encoding="rgb8")
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        msg.header.frame_id = "camera_color_optical_frame"
        self.base.publish_image(msg)


@pytest.fixture(scope="module")
def sample():
    from grounded_sam_ros.data import load_image, sample_image

    image = load_image(sample_image("chelsea"))
    return np.ascontiguousarray(image[50:249, 40:341])  # 301x199, as in test_node.py


@pytest.fixture(scope="module")
def depth_node(tiny_models, tmp_path_factory):
    if _ros_skip_reason():
        pytest.skip(_ros_skip_reason())
    from node_helpers import NodeProcess, random_domain

    detector, segmenter = tiny_models
    parameters = {
        "detector_model": str(detector),
        "segmenter_model": str(segmenter),
        "device": "cpu",
        "image_reliability": "reliable",
        "query": "cat",
        **NODE_PARAMS,
    }
    domain = random_domain()
    client = DepthClient(domain)
    node = NodeProcess(parameters, domain, tmp_path_factory.mktemp("depth") / "node.log")
    try:
        try:
            client.base.wait_diagnostics(lambda d: d.get("state") == "active", 60.0)
        except AssertionError:
            raise AssertionError(f"node never became active; its log:\n{node.log()[-3000:]}") from None
        client.wait_connected()
        yield node, client
    finally:
        client.base.close()
        code, took = node.stop()
        assert code == 0, f"node exit code {code} after SIGINT ({took:.1f} s); log:\n{node.log()[-3000:]}"


def _expected(received_msg, raw_depth: np.ndarray):
    """Independent 3D of the received detections: their masks, the depth the test sent, the intrinsics it sent."""
    from grounded_sam_ros.ros.conversions import msg_to_result

    dets = msg_to_result(received_msg).detections
    for det in dets:
        det.instance_3d = None
    k = CameraIntrinsics(**DEPTH_K, width=DEPTH_W, height=DEPTH_H)
    depth_m = metres_16uc1(raw_depth)
    flt = DepthFilter(min_points=NODE_PARAMS["depth_min_points"])
    instances_3d(dets, depth_m, k, image_size=(COLOUR_W, COLOUR_H), depth_filter=flt, frame_id="depth_optical")
    points, ids = instance_points(dets, depth_m, k, image_size=(COLOUR_W, COLOUR_H), depth_filter=flt)
    return dets, points, ids


@pytest.mark.ros
def test_matching_depth_fills_3d_fields_markers_and_cloud(depth_node, sample):
    from visualization_msgs.msg import Marker

    from grounded_sam_ros.ros.geometry_msgs_conv import MIN_MARKER_SCALE, decode_pointcloud

    node, client = depth_node
    raw = slanted_depth(np.random.default_rng(1))
    stamp = (1_700_100_000, 250_000_000)
    depth_stamp = (1_700_100_000, 230_000_000)  # 20 ms earlier than the colour frame: within the 50 ms slop
    client.send_frame(sample, stamp, depth_msg(raw, "16UC1", stamp=depth_stamp, frame_id="depth_optical"))
    _, msg = client.base.wait_detections(stamp)

    expected, points, ids = _expected(msg, raw)
    assert len(msg.detections) == NODE_PARAMS["max_detections"]
    assert any(d.has_3d for d in msg.detections), "the tiny model's masks should cover the depth plane"
    for got, want in zip(msg.detections, expected):
        i3 = want.instance_3d
        assert got.has_3d == i3.valid, got.id
        assert got.num_points == i3.num_points > 0
        assert got.frame_3d == "depth_optical"
        if i3.valid:
            np.testing.assert_allclose([got.position.x, got.position.y, got.position.z], i3.position, atol=1e-6)
            np.testing.assert_allclose([got.size.x, got.size.y, got.size.z], i3.size, atol=1e-6)
            # Metres, not millimetres: the plane spans 0.90 m to 1.59 m
            assert 0.9 <= got.position.z <= 1.6

    # Markers: a cube and a label per 3D instance, stamped like the colour frame, in the depth optical frame
    markers = client.wait_for("markers", stamp).markers
    assert all(m.header.frame_id == "depth_optical" for m in markers)
    cubes = {m.id: m for m in markers if m.ns == "grounded_sam" and m.action == Marker.ADD}
    labels = {m.id: m for m in markers if m.ns == "grounded_sam/labels" and m.action == Marker.ADD}
    with_3d = {instance_id(d.id): d for d in msg.detections if d.has_3d}
    assert set(cubes) == set(labels) == set(with_3d)
    for marker_id, det in with_3d.items():
        cube = cubes[marker_id]
        assert cube.type == Marker.CUBE
        position = [cube.pose.position.x, cube.pose.position.y, cube.pose.position.z]
        np.testing.assert_allclose(position, [det.position.x, det.position.y, det.position.z], atol=1e-6)
        scale = [cube.scale.x, cube.scale.y, cube.scale.z]
        np.testing.assert_allclose(scale, np.maximum([det.size.x, det.size.y, det.size.z], MIN_MARKER_SCALE), atol=1e-6)
        assert labels[marker_id].text.startswith(det.label)

    # The cloud: exactly the kept points of every instance, with its id
    cloud = client.wait_for("clouds", stamp)
    assert cloud.header.frame_id == "depth_optical"
    got_points, got_ids = decode_pointcloud(cloud)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_allclose(got_points, points, atol=1e-6)

    diag = client.base.wait_diagnostics(lambda d: int(d["frames_with_depth"]) >= 1)
    assert diag["use_depth"] == "true" and float(diag["depth_ms"]) > 0

    # The segment service fuses the same depth for the same stamp (the node keeps recent depth images)
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    request_image = rgb_to_image_msg(sample, encoding="rgb8")
    request_image.header.stamp.sec, request_image.header.stamp.nanosec = stamp
    response = client.base.segment(request_image, query="cat")
    assert response.success, response.message
    got = response.detections.detections
    assert [(d.has_3d, d.num_points) for d in got] == [(d.has_3d, d.num_points) for d in msg.detections]
    np.testing.assert_allclose([d.position.z for d in got], [d.position.z for d in msg.detections], atol=1e-6)


@pytest.mark.ros
def test_depth_beyond_the_slop_gives_no_3d_and_a_diagnostic(depth_node, sample):
    from visualization_msgs.msg import Marker

    node, client = depth_node
    raw = slanted_depth(np.random.default_rng(2))

    # A matched frame first, so that markers are on screen
    stamp = (1_700_200_000, 0)
    client.send_frame(sample, stamp, depth_msg(raw, "16UC1", stamp=stamp))
    shown = {instance_id(d.id) for d in client.base.wait_detections(stamp)[1].detections if d.has_3d}
    assert shown

    # Depth 0.4 s older than the colour frame, slop 0.05 s
    without = int(client.base.latest_diagnostics()["frames_without_depth"])
    stamp = (1_700_200_001, 0)
    client.send_frame(sample, stamp, depth_msg(raw, "16UC1", stamp=(1_700_200_000, 600_000_000)))
    _, msg = client.base.wait_detections(stamp)
    assert len(msg.detections) > 0
    for det in msg.detections:
        assert (det.has_3d, det.num_points, det.frame_3d) == (False, 0, "")
    diag = client.base.wait_diagnostics(lambda d: int(d["frames_without_depth"]) > without)
    assert diag["depth_status"] == "out_of_slop"
    assert "depth_slop=0.05" in diag["last_depth_error"] and "-0.400 s" in diag["last_depth_error"]
    assert diag["_level"] == "1" and "no 3D" in diag["_message"]  # WARN

    # The markers of the previous frame are deleted
    markers = client.wait_for("markers", stamp).markers
    deleted = {m.id for m in markers if m.action == Marker.DELETE and m.ns == "grounded_sam"}
    assert deleted == shown
    assert not [m for m in markers if m.action == Marker.ADD]
    # The cloud is emptied
    assert client.wait_for("clouds", stamp).width == 0

    # A live slop change lets the same offset through
    (ok,) = client.base.set_parameters(depth_slop=0.5)
    assert ok.successful, ok.reason
    stamp = (1_700_200_002, 0)
    client.send_frame(sample, stamp, depth_msg(raw, "16UC1", stamp=(1_700_200_001, 600_000_000)))
    assert any(d.has_3d for d in client.base.wait_detections(stamp)[1].detections)
    (ok,) = client.base.set_parameters(depth_slop=NODE_PARAMS["depth_slop"])
    assert ok.successful
