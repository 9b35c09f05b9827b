# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""grounded_sam_ros.io: frames from files, folders, globs, videos and bags; progress lines."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from bag_helpers import STORE, frames, png_image, raw_image, storage_file, write_bag
from PIL import Image as PILImage

from grounded_sam_ros.io.progress import Progress
from grounded_sam_ros.io.sources import count_frames, iter_frames
from grounded_sam_ros.io.video import VideoWriter, iter_video

RNG = np.random.default_rng(3)


def _save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(rgb).save(path)
    return rgb


@pytest.fixture
def tree(tmp_path):
    """root/{a.png, b.jpg (not an image), sub/c.PNG, sub/deeper/d.bmp, notes.txt, .hidden/e.png}"""
    root = tmp_path / "root"
    expected = {}
    expected["a.png"] = _save(root / "a.png", RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    (root / "b.jpg").write_bytes(b"this is not a jpeg")
    expected["sub/c.PNG"] = _save(root / "sub" / "c.PNG", RNG.integers(0, 256, (4, 9, 3), dtype=np.uint8))
    expected["sub/deeper/d.bmp"] = _save(root / "sub/deeper/d.bmp", RNG.integers(0, 256, (3, 3, 3), dtype=np.uint8))
    (root / "notes.txt").write_text("not an image")
    _save(root / ".hidden" / "e.png", RNG.integers(0, 256, (2, 2, 3), dtype=np.uint8))
    return root, expected


def test_folder_is_walked_recursively_by_extension_and_a_bad_file_does_not_stop_it(tree):
    root, expected = tree
    items = list(iter_frames([str(root)]))
    names = [os.path.relpath(item.source, root) for item in items]
    assert names == ["a.png", "b.jpg", "sub/c.PNG", "sub/deeper/d.bmp"]  # sorted, .txt and hidden skipped
    bad = items[1]
    assert bad.image is None and "b.jpg" in bad.error and "cannot read" in bad.error
    for item, name in zip(items, names):
        if name in expected:
            assert item.error is None and item.index == 0 and item.stamp_ns is None
            np.testing.assert_array_equal(item.image, expected[name])
    assert count_frames([str(root)]) == 4


def test_keys_are_absolute_and_stable_across_runs_and_spellings(tree, monkeypatch):
    root, _ = tree
    first = [item.key for item in iter_frames([str(root)])]
    monkeypatch.chdir(root.parent)
    second = [item.key for item in iter_frames(["root/"])]
    assert first == second
    assert all(os.path.isabs(k) for k in first) and len(set(first)) == len(first)


def test_globs_expand_sorted_and_recursive(tree):
    root, expected = tree
    items = list(iter_frames([str(root / "**" / "*.png"), str(root / "sub" / "*.PNG")]))
    assert [os.path.relpath(i.source, root) for i in items] == ["a.png", "sub/c.PNG"]
    np.testing.assert_array_equal(items[1].image, expected["sub/c.PNG"])


def test_missing_input_is_an_error_item_not_an_exception(tmp_path):
    (item,) = list(iter_frames([str(tmp_path / "nope.png")]))
    assert item.image is None and "no such file" in item.error
    (item,) = list(iter_frames([str(tmp_path / "nothing-*.png")]))
    assert item.image is None and "no such file" in item.error


def _smooth_frames(count, height=32, width=48):
    """Smooth colour ramps that move per frame (easy for a codec, so tolerances can be tight)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for k in range(count):
        r = 40 + 160 * x / width
        g = 30 + 180 * y / height
        b = 128 + 60 * np.sin((x + 3 * k) / 20.0)
        out.append(np.clip(np.stack([r, g, b], axis=2) + 5 * k, 0, 255).astype(np.uint8))
    return out


def test_lossless_video_round_trips_exactly_with_stamps(tmp_path):
    written = _smooth_frames(5)
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10, lossless=True) as writer:
        for rgb in written:
            writer.write(rgb)
    decoded = list(iter_video(path))
    assert [index for index, _, _ in decoded] == list(range(5))
    np.testing.assert_allclose([stamp for _, stamp, _ in decoded], np.arange(5) / 10.0, atol=1e-6)
    for (_, _, image), rgb in zip(decoded, written):
        np.testing.assert_array_equal(image, rgb)


def test_video_default_quality_is_close_and_sources_give_keys_per_frame(tmp_path):
    written = _smooth_frames(4, height=31, width=47)  # odd sizes: padded for yuv420p
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=25, crf=10) as writer:
        for rgb in written:
            writer.write(rgb)
    items = list(iter_frames([str(path)]))
    assert [i.key for i in items] == [f"{path}#{k}" for k in range(4)]
    assert [i.stamp_ns for i in items] == [k * 40_000_000 for k in range(4)]
    for item, rgb in zip(items, written):
        crop = item.image[:31, :47].astype(int)
        # yuv420p: video-range quantisation alone moves a flat colour by up to 3 levels; chroma is shared by 2x2
        assert np.abs(crop - rgb).mean() < 3.0 and np.abs(crop - rgb).max() <= 20
    assert count_frames([str(path)]) == 4


def test_corrupt_video_is_an_error_item(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    (item,) = list(iter_frames([str(path)]))
    assert item.image is None and "broken.mp4" in item.error


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bag_images_raw_and_compressed_with_a_corrupt_message(tmp_path, storage):
    rgbs = frames(3, 10, 12)
    bad = STORE.types["sensor_msgs/msg/CompressedImage"](
        header=raw_image(rgbs[0], 5).header, format="png", data=np.frombuffer(b"not a png at all", np.uint8)
    )
    raw = [(1000 + k, raw_image(rgb, 10**9 * (k + 1) + 7)) for k, rgb in enumerate(rgbs)]
    compressed = [(2000, png_image(rgbs[2], 0)), (2001, bad), (2002, png_image(rgbs[0], 42))]
    bag = write_bag(
        tmp_path / "bag",
        storage,
        [("/cam/raw", "sensor_msgs/msg/Image", raw), ("/cam/png", "sensor_msgs/msg/CompressedImage", compressed)],
    )
    for path in (bag, storage_file(bag)):  # the directory and the bare storage file
        items = list(iter_frames([str(path)], topic="/cam/raw"))
        assert [i.index for i in items] == [0, 1, 2]
        assert [i.stamp_ns for i in items] == [10**9 * (k + 1) + 7 for k in range(3)]  # header stamps
        for item, rgb in zip(items, rgbs):
            np.testing.assert_array_equal(item.image, rgb)
        items = list(iter_frames([str(path)], topic="/cam/png"))
        np.testing.assert_array_equal(items[0].image, rgbs[2])
        assert items[0].stamp_ns == 2000  # zero header stamp -> record time
        assert items[1].image is None and "message 1" in items[1].error
        np.testing.assert_array_equal(items[2].image, rgbs[0])
        assert items[2].key.endswith("#/cam/png#2")
        assert count_frames([str(path)], topic="/cam/png") == 3
    # Two image topics and none chosen: one error item that lists them
    (item,) = list(iter_frames([str(bag)]))
    assert item.image is None and "/cam/png, /cam/raw" in item.error and "--topic" in item.error


def test_truncated_bag_gives_an_error_item(tmp_path):
    bag = write_bag(
        tmp_path / "bag",
        "mcap",
        [("/cam", "sensor_msgs/msg/Image", [(k, raw_image(rgb, k)) for k, rgb in enumerate(frames(4))])],
    )
    data = storage_file(bag).read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) // 2])
    items = list(iter_frames([str(cut)], topic="/cam"))
    assert items[-1].image is None and "cut.mcap" in items[-1].error
    assert all(i.error is None for i in items[:-1])


def test_progress_prints_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    with Progress(4, "segment", stream=stream, interval_s=0) as bar:
        for _ in range(4):
            bar.update()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("segment: 1/4 img, ") and "img/s, ETA " in lines[0]
    assert lines[-1].startswith("segment: 4/4 img, ") and "elapsed" in lines[-1]
    assert len(lines) == 5  # one per update (interval 0) and the final line


def test_progress_is_quiet_between_intervals():
    stream = io.StringIO()
    with Progress(None, "bag", unit="msg", stream=stream, interval_s=3600) as bar:
        bar.update(7)
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[0]]
    assert stream.getvalue().startswith("bag: 7 msg, ")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_write_keeps_it_intact(capsys):
    stream = _Terminal()
    with Progress(3, "coco", stream=stream) as bar:
        bar.update()
        bar.write("frame 1: 2 detections")
        bar.update(2)
    text = stream.getvalue()
    final = text.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("coco: 3/3 img [") and final.endswith("img/s]"), final
    assert capsys.readouterr().out == "frame 1: 2 detections\n"
