# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam label --ray`` on a local Ray instance with 2 CPUs writes the annotations an in-process run writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bag_helpers import frames, raw_image, write_bag
from PIL import Image
from test_label import QUERY, model_args

from grounded_sam_ros import cli

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data", reason="Ray Data needs ray[data] (pandas, pyarrow)")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _decode(segmentation: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode(mask_utils.frPyObjects(segmentation, *segmentation["size"])).astype(bool)


@pytest.mark.slow
def test_ray_writes_the_in_process_annotations(tmp_path, tiny_models, local_ray):
    folder = tmp_path / "images"
    folder.mkdir()
    for k, rgb in enumerate(frames(3, 40, 56, seed=21)):
        Image.fromarray(rgb).save(folder / f"im{k}.png")
    (folder / "broken.png").write_bytes(b"nope")
    bag_rgbs = frames(2, 36, 48, seed=22)
    messages = [(100 + k, raw_image(rgb, 10**9 * (k + 1))) for k, rgb in enumerate(bag_rgbs)]
    bag = write_bag(tmp_path / "bag", "mcap", [("/cam", "sensor_msgs/msg/Image", messages)])
    common = [str(folder), str(bag), "--query", QUERY] + model_args(tiny_models)
    assert cli.main(["label", "--out", str(tmp_path / "here")] + common) == 0
    ray_args = ["--ray", "--concurrency", "2", "--batch-size", "2"]
    assert cli.main(["label", "--out", str(tmp_path / "ray")] + common + ray_args) == 0

    here = json.loads((tmp_path / "here" / "instances.json").read_text())
    there = json.loads((tmp_path / "ray" / "instances.json").read_text())
    assert there["images"] == here["images"]  # same order, ids, names, sizes
    assert there["categories"] == here["categories"]
    assert len(there["annotations"]) == len(here["annotations"]) > 0
    # Same annotations; the actors' one-thread matmuls may round differently from this process's
    for a, b in zip(there["annotations"], here["annotations"]):
        assert (a["id"], a["image_id"], a["category_id"], a["iscrowd"]) == (b["id"], b["image_id"], b["category_id"], 0)
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)
        np.testing.assert_allclose(a["bbox"], b["bbox"], atol=0.05)
        ma, mb = _decode(a["segmentation"]), _decode(b["segmentation"])
        assert (ma & mb).sum() >= 0.99 * (ma | mb).sum()
    failures = [json.loads((tmp_path / d / "instances.failures.json").read_text()) for d in ("here", "ray")]
    assert failures[0] == failures[1] and len(failures[0]) == 1
