# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""grounded_sam_ros.io.bags: our messages in the typestore, defaults, BagWriter's all-or-nothing output."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest
from bag_helpers import raw_image

from grounded_sam_ros.io import bags
from grounded_sam_ros.io.bag_messages import detections_message, message_full_mask
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection, FrameResult, Instance3D


def _result() -> FrameResult:
    full = np.zeros((9, 11), bool)
    full[2:5, 3:9] = True
    full[4, 3] = False
    crop, x, y = crop_mask(full)
    i3 = Instance3D(position=np.array([0.1, -0.2, 1.5], np.float32), size=np.array([0.3, 0.2, 0.1], np.float32),
                    num_points=42, valid=True, frame_id="depth_optical")  # fmt: skip
    dets = [
        Detection("cup", 0.8, np.array([3, 2, 9, 5], np.float32), crop, x, y, 0.7, id="0", instance_3d=i3),
        Detection("person", 0.4, np.array([0, 0, 1, 1], np.float32), None, id="1"),
    ]
    return FrameResult(image_width=11, image_height=9, query="cup . person", detections=dets)


def test_typestore_fields_match_the_message_files():
    store = bags.typestore()
    for name in ("Detection", "DetectionArray"):
        lines = [ln.split("#")[0].split() for ln in (bags.msg_dirs("grounded_sam_ros")[0] / f"{name}.msg").open()]
        declared = [parts[1] for parts in lines if len(parts) >= 2]
        assert [f for f, _ in store.fielddefs[f"grounded_sam_ros/msg/{name}"][1]] == declared


def test_new_message_defaults_and_unknown_fields():
    msg = bags.new_message("sensor_msgs/msg/CameraInfo")
    assert msg.k.shape == (9,) and not msg.k.any() and msg.d.shape == (0,) and msg.distortion_model == ""
    assert msg.header.stamp.sec == 0 and msg.roi.do_rectify is False
    with pytest.raises(ValueError, match="has no field"):
        bags.new_message("std_msgs/msg/String", colour="red")


def test_detection_array_round_trips_through_cdr():
    store = bags.typestore()
    header = raw_image(np.zeros((2, 2, 3), np.uint8), 1_234_000_000_567).header
    result = _result()
    back = store.deserialize_cdr(store.serialize_cdr(detections_message(result, header),
                                                     "grounded_sam_ros/msg/DetectionArray"),
                                 "grounded_sam_ros/msg/DetectionArray")  # fmt: skip
    assert (back.header.stamp.sec, back.header.stamp.nanosec, back.header.frame_id) == (1234, 567, "cam")
    assert (back.image_width, back.image_height, back.query) == (11, 9, "cup . person")
    cup, person = back.detections
    assert (cup.id, cup.label, cup.mask_x, cup.mask_y) == ("0", "cup", 3, 2)
    assert cup.score == pytest.approx(0.8) and cup.mask_score == pytest.approx(0.7)
    np.testing.assert_array_equal(cup.box, [3, 2, 9, 5])
    np.testing.assert_array_equal(message_full_mask(cup, 9, 11), result.detections[0].full_mask(9, 11))
    assert cup.has_3d and cup.num_points == 42 and cup.frame_3d == "depth_optical"
    assert (cup.position.x, cup.position.y, cup.position.z) == pytest.approx((0.1, -0.2, 1.5))
    assert (person.mask.width, person.mask.height, person.has_3d) == (0, 0, False)


@pytest.mark.parametrize(
    ("name", "storage", "suffix"),
    [("o.mcap", None, ".mcap"), ("o.db3", None, ".db3"), ("odir", "sqlite3", ".db3"), ("odir", None, ".mcap")],
)
def test_bag_writer_outputs_and_reads_back(tmp_path, name, storage, suffix):
    out = tmp_path / name
    with bags.BagWriter(out, storage=storage) as writer:
        conn = writer.add_connection("/cam/detections", "grounded_sam_ros/msg/DetectionArray")
        writer.write_message(conn, 77, detections_message(_result(), bags.new_message("std_msgs/msg/Header")))
        assert not out.exists()  # only after close
    assert out.exists() and not list(tmp_path.glob(".*"))
    if out.is_dir():
        assert (out / f"{name}{suffix}").is_file() and (out / "metadata.yaml").is_file()
    reader = bags.open_reader(out)
    with closing(reader):
        ((connection, stamp, raw),) = list(reader.messages())
    msg = bags.typestore().deserialize_cdr(raw, connection.msgtype)
    assert stamp == 77 and [d.label for d in msg.detections] == ["cup", "person"]


def test_bag_writer_abort_leaves_nothing_and_keeps_what_was_there(tmp_path):
    out = tmp_path / "o.mcap"
    with pytest.raises(RuntimeError, match="boom"), bags.BagWriter(out) as writer:
        writer.add_connection("/x", "std_msgs/msg/String")
        raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())
    out.write_text("old")
    with pytest.raises(ValueError, match="exists: choose another name or pass --overwrite"):
        bags.BagWriter(out)
    with pytest.raises(KeyboardInterrupt), bags.BagWriter(out, overwrite=True):
        raise KeyboardInterrupt
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["o.mcap"]


def test_storage_names_are_checked():
    with pytest.raises(ValueError, match="names a mcap file but --storage is sqlite3"):
        bags.storage_for("x.mcap", "sqlite3")
    with pytest.raises(ValueError, match="is not one of mcap, sqlite3"):
        bags.storage_for("dir", "rosbag1")


def test_missing_message_definitions_name_the_folders(monkeypatch, tmp_path):
    from rosbags.typesys import Stores, get_typestore

    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    with pytest.raises(ValueError, match=f"no vision_msgs message definitions .*in {tmp_path}/share/vision_msgs/msg"):
        bags.register_package(get_typestore(Stores.ROS2_KILTED), "vision_msgs")
