# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Where meshes land: OSX's virtual crop camera, re-expression in a real camera, the depth correction, and the
estimator end to end on a tiny random network and a synthetic SMPL-X file."""

from __future__ import annotations

import numpy as np
import pytest

from grounded_sam_ros.mesh.body_model import load_smplx
from grounded_sam_ros.mesh.camera import Intrinsics, slide_to_depth, to_real_camera, virtual_camera
from grounded_sam_ros.mesh.config import ARCHITECTURES
from grounded_sam_ros.mesh.estimator import MeshEstimator
from grounded_sam_ros.mesh.preprocess import crop_to_image
from grounded_sam_ros.mesh.render import rasterize
from grounded_sam_ros.mesh.synthetic import random_network, write_synthetic_smplx

REAL = Intrinsics(fx=610.0, fy=605.0, cx=322.0, cy=241.0)


@pytest.fixture(scope="module")
def estimator(tmp_path_factory):
    path = write_synthetic_smplx(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")
    return MeshEstimator(random_network(ARCHITECTURES["tiny_random"], seed=2), load_smplx(path))


def test_virtual_camera_is_osx_projection_through_the_crop():
    crop = np.array([40.0, -20.0, 300.0, 400.0])
    rng = np.random.default_rng(0)
    pts = rng.uniform([-0.5, -0.8, 20], [0.5, 0.8, 30], (10, 3))
    # OSX: project into the 192x256 encoder input, scale to the 384x512 crop, map back to the image
    body = np.stack((pts[:, 0] / pts[:, 2] * 5000 + 96, pts[:, 1] / pts[:, 2] * 5000 + 128), 1)
    want = crop_to_image(body * 2, crop)
    np.testing.assert_allclose(virtual_camera(crop).project(pts), want, atol=1e-9)


def test_real_camera_keeps_the_root_pixel_and_apparent_size():
    crop = np.array([100.0, 50.0, 150.0, 200.0])
    root, trans = np.array([0.01, -0.3, 0.02]), np.array([0.05, 0.2, 24.0])
    t = to_real_camera(root, trans, crop, REAL)
    virtual = virtual_camera(crop)
    np.testing.assert_allclose(REAL.project((root + t)[None]), virtual.project((root + trans)[None]), atol=1e-9)
    f_ratio = (REAL.fx + REAL.fy) / 2 / virtual.fx
    assert (root + t)[2] == pytest.approx((root + trans)[2] * f_ratio)


def test_slide_to_depth_keeps_the_pixel():
    root, t = np.array([0.0, -0.3, 0.0]), np.array([0.4, 0.5, 3.0])
    t2 = slide_to_depth(root, t, mesh_depth=2.8, measured_depth=3.3)
    assert (root + t2)[2] == pytest.approx(3.5)
    np.testing.assert_allclose(REAL.project((root + t2)[None]), REAL.project((root + t)[None]), atol=1e-9)
    with pytest.raises(ValueError, match="behind the camera"):
        slide_to_depth(root, t, mesh_depth=10.0, measured_depth=2.0)


def test_estimator_virtual_real_and_depth(estimator):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[200, 60, 330, 420], [700, 0, 800, 10], [20, 100, 120, 300]], dtype=np.float32)
    virtual = estimator(image, boxes)
    assert [m.extra["input_index"] for m in virtual] == [0, 2]  # the box outside the image is skipped
    assert all(m.camera == "virtual" for m in virtual)
    body = estimator.body
    for m in virtual:
        assert m.vertices.shape == (body.num_vertices, 3) and np.isfinite(m.vertices).all()
        np.testing.assert_allclose(m.intrinsics.fx, 5000 * m.crop[2] / 192, rtol=1e-6)

    real = estimator(image, boxes, intrinsics=REAL)
    for v, r in zip(virtual, real):
        assert r.camera == "real"
        # Same pose and shape; root on the same pixel; depth scaled by the focal ratio
        np.testing.assert_allclose(r.vertices - r.joints[0], v.vertices - v.joints[0], atol=1e-5)
        np.testing.assert_allclose(REAL.project(r.joints[:1]), v.intrinsics.project(v.joints[:1]), atol=1e-3)
        ratio = (REAL.fx + REAL.fy) / 2 / v.intrinsics.fx
        assert r.joints[0, 2] == pytest.approx(v.joints[0, 2] * ratio, rel=1e-5)

    # A depth image of the same people 0.4 m farther along their root rays: the correction finds them there
    depth = np.zeros((480, 640), dtype=np.float32)
    truth = []
    for r in real:
        root = r.joints[0].astype(np.float64)
        t_far = slide_to_depth(root - r.translation, r.translation, 0.0, 0.4)
        _, rendered = rasterize(r.vertices - r.translation + t_far, estimator.faces, REAL, 480, 640)
        hit = np.isfinite(rendered) & ((depth == 0) | (rendered < depth))
        depth[hit] = rendered[hit]
        truth.append(root[2] + 0.4)
    fixed = estimator(image, boxes, intrinsics=REAL, depth=depth)
    for f, r, want in zip(fixed, real, truth):
        assert f.camera == "real+depth"
        assert f.joints[0, 2] == pytest.approx(want, abs=0.03)
        np.testing.assert_allclose(REAL.project(f.joints[:1]), REAL.project(r.joints[:1]), atol=1e-3)


def test_a_measured_distance_moves_the_visible_surface_there(estimator):
    image = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[200, 60, 330, 420]], dtype=np.float32)
    (real,) = estimator(image, boxes, intrinsics=REAL)
    _, rendered = rasterize(real.vertices, estimator.faces, REAL, 480, 640)
    box = np.zeros((480, 640), dtype=bool)
    box[60:420, 200:330] = True
    surface = float(np.median(rendered[box & np.isfinite(rendered)]))
    (moved,) = estimator(image, boxes, intrinsics=REAL, measured=[surface + 0.5])
    assert moved.camera == "real+depth"
    _, rendered = rasterize(moved.vertices, estimator.faces, REAL, 480, 640)
    assert float(np.median(rendered[box & np.isfinite(rendered)])) == pytest.approx(surface + 0.5, abs=0.02)
    np.testing.assert_allclose(REAL.project(moved.joints[:1]), REAL.project(real.joints[:1]), atol=1e-3)
    (unknown,) = estimator(image, boxes, intrinsics=REAL, measured=[None])
    assert unknown.camera == "real"


def test_bad_image_is_refused(estimator):
    with pytest.raises(ValueError, match="HxWx3 uint8 RGB"):
        estimator(np.zeros((4, 4), dtype=np.uint8), np.zeros((0, 4)))
