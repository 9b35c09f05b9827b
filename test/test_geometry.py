# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""3D instances from depth, checked against analytically rendered scenes.

Scenes are ray-cast exactly: a pinhole camera (fx != fy, off-centre principal point) at the origin of its optical
frame looks at a ground plane (y = const, below the camera), a far wall and boxes with known poses. Expected values
are computed from the scene geometry, not from the rendered pixels: the truth for an instance is the axis-aligned
bounding box of the box faces the camera can see (a face is visible when the camera is on its outer side; the scenes
keep every box fully in view and unoccluded), its centre being the expected ``position`` and its extent the expected
``size``. A fronto-parallel face seen alone thus has size (width, height, 0) at the face's depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np
import pytest

from grounded_sam_ros.geometry import (
    CameraIntrinsics,
    DepthFilter,
    depth_to_metres,
    instance_3d,
    instance_id,
    instance_points,
    instances_3d,
    resample_depth_nearest,
    resample_indices,
)
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection

CENTROID_TOL = 0.01
SIZE_TOL = 0.02

# Colour camera 1280x720, non-square pixels, principal point off centre
K_COLOUR = CameraIntrinsics(fx=910.0, fy=868.0, cx=652.3, cy=347.8, width=1280, height=720)
# A 640x480 camera for the faster tests
K_SMALL = CameraIntrinsics(fx=525.0, fy=497.0, cx=331.7, cy=236.2, width=640, height=480)


def rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])


@dataclass
class Box:
    centre: Tuple[float, float, float]
    half: Tuple[float, float, float]
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))

    def visible_aabb(self) -> Tuple[np.ndarray, np.ndarray]:
        """(centre, size) of the AABB of the faces whose outer side faces the camera at the origin."""
        c, e = np.asarray(self.centre), np.asarray(self.half)
        corners = []
        for axis in range(3):
            for sign in (-1.0, 1.0):
                normal = sign * self.rot[:, axis]
                face_centre = c + sign * e[axis] * self.rot[:, axis]
                if np.dot(-face_centre, normal) <= 1e-9:
                    continue
                for a in (-1.0, 1.0):
                    for b in (-1.0, 1.0):
                        local = np.empty(3)
                        local[axis] = sign * e[axis]
                        others = [i for i in range(3) if i != axis]
                        local[others[0]] = a * e[others[0]]
                        local[others[1]] = b * e[others[1]]
                        corners.append(c + self.rot @ local)
        pts = np.array(corners)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return (lo + hi) / 2, hi - lo


def render(
    intr: CameraIntrinsics, boxes: List[Box], ground_y: Optional[float] = 0.5, wall_z: float = 3.0
) -> Tuple[np.ndarray, np.ndarray]:
    """Exact ray casting -> (depth HxW float64 metres along z, labels HxW int: box index, -1 background)."""
    u = np.arange(intr.width, dtype=np.float64)
    v = np.arange(intr.height, dtype=np.float64)
    dx = np.broadcast_to(((u - intr.cx) / intr.fx)[None, :], (intr.height, intr.width))
    dy = np.broadcast_to(((v - intr.cy) / intr.fy)[:, None], (intr.height, intr.width))
    dirs = np.stack((dx, dy, np.ones_like(dx)), axis=-1)  # z component 1: ray parameter t equals depth Z
    depth = np.full((intr.height, intr.width), wall_z)
    labels = np.full((intr.height, intr.width), -1)
    if ground_y is not None:
        with np.errstate(divide="ignore"):
            t = np.where(dy > 0, ground_y / dy, np.inf)
        depth = np.minimum(depth, t)
    for i, box in enumerate(boxes):
        origin = box.rot.T @ (-np.asarray(box.centre))
        d = dirs @ box.rot  # R^T d for every pixel
        e = np.asarray(box.half)
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-e - origin) / d
            t2 = (e - origin) / d
        t_near = np.minimum(t1, t2).max(axis=-1)
        t_far = np.maximum(t1, t2).min(axis=-1)
        hit = (t_near <= t_far) & (t_near > 0) & (t_near < depth)
        depth[hit] = t_near[hit]
        labels[hit] = i
    return depth, labels


def as_16uc1(depth_m: np.ndarray) -> np.ndarray:
    raw = np.round(np.nan_to_num(depth_m, nan=0.0, posinf=0.0) * 1000.0)
    return raw.astype(np.uint16)


def grow_by_ten_percent(mask: np.ndarray) -> np.ndarray:
    """Dilate a mask (4-neighbourhood) until at least 10% of it lies outside the original."""
    grown = mask.copy()
    while (grown & ~mask).sum() < 0.1 * grown.sum():
        src = grown.copy()
        grown[:, 1:] |= src[:, :-1]
        grown[:, :-1] |= src[:, 1:]
        grown[1:, :] |= src[:-1, :]
        grown[:-1, :] |= src[1:, :]
    return grown


def assert_instance(inst, truth_pos, truth_size, pos_tol=CENTROID_TOL, size_tol=SIZE_TOL):
    assert inst.valid
    np.testing.assert_allclose(inst.position, truth_pos, atol=pos_tol)
    np.testing.assert_allclose(inst.size, truth_size, atol=size_tol)


# Intrinsics


def test_from_k_reads_camera_info_layout():
    k = [600.0, 0.0, 320.5, 0.0, 590.0, 240.25, 0.0, 0.0, 1.0]
    intr = CameraIntrinsics.from_k(k, 640, 480)
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (600.0, 590.0, 320.5, 240.25, 640, 480)
    assert CameraIntrinsics.from_k(np.array(k).reshape(3, 3), 640, 480) == intr


@pytest.mark.parametrize(
    "k",
    [
        [0.0] * 9,
        [600, 0, 320, 0, 600, 240, 0, 0],
        [600, 0, 320, 0, 600, 240, 0, 0, 2],
        [600, 0, 320, 0, -1, 240, 0, 0, 1],
    ],
)
def test_from_k_rejects_bad_matrices(k):
    with pytest.raises(ValueError):
        CameraIntrinsics.from_k(k, 640, 480)


def test_scaled_intrinsics_keep_rays_of_pixel_areas():
    # A 3D point projects to depth coordinate u_d and colour coordinate u_c with u_c + 0.5 = (u_d + 0.5) * s
    small = CameraIntrinsics(fx=455.0, fy=434.0, cx=325.9, cy=173.65, width=640, height=360)
    big = small.scaled(1280, 720)
    pts = np.array([[0.3, -0.2, 1.5], [-0.7, 0.4, 2.5], [0.0, 0.0, 1.0]])
    uv_small = small.project(pts)
    uv_big = big.project(pts)
    np.testing.assert_allclose(uv_big + 0.5, (uv_small + 0.5) * 2.0, atol=1e-9)
    # Corners of the image stay corners: pixel edge -0.5 maps to -0.5
    assert big.fx == pytest.approx(910.0) and big.cx == pytest.approx(652.3)


# Depth decoding


def test_depth_16uc1_is_millimetres_with_zero_invalid():
    raw = np.array([[0, 1000, 1234], [65535, 1, 0]], dtype=np.uint16)
    m = depth_to_metres(raw, "16UC1")
    assert m.dtype == np.float32
    expected = np.array([[np.nan, 1.0, 1.234], [65.535, 0.001, np.nan]], dtype=np.float32)
    np.testing.assert_allclose(m, expected, rtol=1e-6)


def test_depth_32fc1_invalid_values_become_nan():
    raw = np.array([[0.0, 1.5, np.nan], [np.inf, -np.inf, -2.0]], dtype=np.float32)
    m = depth_to_metres(raw, "32FC1")
    np.testing.assert_array_equal(np.isnan(m), [[True, False, True], [True, True, True]])
    assert m[0, 1] == pytest.approx(1.5)


def test_depth_scale_overrides_unit():
    raw = np.array([[4000, 0]], dtype=np.uint16)
    m = depth_to_metres(raw, "16UC1", scale=0.00025)
    assert m[0, 0] == pytest.approx(1.0) and np.isnan(m[0, 1])
    assert depth_to_metres(np.array([[2.0]], dtype=np.float32), "32FC1", scale=0.5)[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "raw, encoding",
    [
        (np.zeros((2, 2), np.uint16), "mono16"),
        (np.zeros((2, 2), np.uint8), "8UC1"),
        (np.zeros((2, 2), np.float32), "16UC1"),
        (np.zeros((2, 2), np.uint16), "32FC1"),
        (np.zeros((2, 2, 1), np.uint16), "16UC1"),
    ],
)
def test_depth_rejects_other_encodings_and_dtypes(raw, encoding):
    with pytest.raises(ValueError):
        depth_to_metres(raw, encoding)


# Resampling


def test_resample_nearest_doubles_pixels_and_never_interpolates():
    depth = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 6.0]], dtype=np.float32)
    up = resample_depth_nearest(depth, 6, 4)
    expected = np.repeat(np.repeat(depth, 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(up, expected)
    # A non-integer factor: each destination pixel centre lies inside the source pixel it copies
    idx = resample_indices(640, 1280 * 3 // 4)
    centres = (np.arange(960) + 0.5) * 640 / 960 - 0.5
    assert np.all(np.abs(centres - idx) <= 0.5)


def test_resample_rejects_different_aspect_ratio():
    with pytest.raises(ValueError, match="aspect"):
        resample_depth_nearest(np.zeros((480, 640), np.float32), 1280, 720)
    # Within 1% is accepted (848x480 depth with a 1280x720 colour image)
    assert resample_depth_nearest(np.zeros((480, 848), np.float32), 1280, 720).shape == (720, 1280)


# Instances on rendered scenes


FRONTO = Box(centre=(0.05, -0.02, 1.2), half=(0.15, 0.10, 0.10))


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_fronto_parallel_face(encoding):
    depth, labels = render(K_COLOUR, [FRONTO])
    raw = as_16uc1(depth) if encoding == "16UC1" else depth.astype(np.float32)
    depth_m = depth_to_metres(raw, encoding)
    crop, x, y = crop_mask(labels == 0)
    inst = instance_3d(crop, depth_m, K_COLOUR, mask_x=x, mask_y=y, frame_id="cam_optical")
    # Only the front face (z = 1.1) is visible: the camera is inside the box's x and y ranges
    assert_instance(inst, (0.05, -0.02, 1.1), (0.30, 0.20, 0.0))
    assert inst.num_points == int((labels == 0).sum())
    assert inst.frame_id == "cam_optical"
    assert inst.position.dtype == np.float32 and inst.size.shape == (3,)


def test_full_mask_and_crop_agree():
    depth, labels = render(K_SMALL, [FRONTO])
    depth_m = depth.astype(np.float32)
    full = instance_3d(labels == 0, depth_m, K_SMALL)
    crop, x, y = crop_mask(labels == 0)
    cropped = instance_3d(crop, depth_m, K_SMALL, mask_x=x, mask_y=y)
    np.testing.assert_allclose(full.position, cropped.position, atol=1e-6)
    np.testing.assert_allclose(full.size, cropped.size, atol=1e-6)
    assert full.num_points == cropped.num_points


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_slanted_box_two_visible_faces(encoding):
    box = Box(centre=(-0.05, 0.03, 1.5), half=(0.2, 0.12, 0.15), rot=rot_y(35.0))
    depth, labels = render(K_COLOUR, [box])
    raw = as_16uc1(depth) if encoding == "16UC1" else depth.astype(np.float32)
    crop, x, y = crop_mask(labels == 0)
    inst = instance_3d(crop, depth_to_metres(raw, encoding), K_COLOUR, mask_x=x, mask_y=y)
    truth_pos, truth_size = box.visible_aabb()
    assert truth_size[2] > 0.2  # two side faces recede in depth
    assert_instance(inst, truth_pos, truth_size)


def test_box_on_ground_with_top_face_visible():
    # The camera is above the box: its front and top faces are visible, the top one at a grazing angle
    box = Box(centre=(0.0, 0.25, 1.0), half=(0.12, 0.10, 0.10))
    depth, labels = render(K_COLOUR, [box], ground_y=0.35)
    inst = instance_3d(labels == 0, depth.astype(np.float32), K_COLOUR)
    truth_pos, truth_size = box.visible_aabb()
    np.testing.assert_allclose(truth_pos, (0.0, 0.25, 1.0))
    np.testing.assert_allclose(truth_size, (0.24, 0.20, 0.20))
    assert_instance(inst, truth_pos, truth_size)


def test_mask_holes_and_invalid_depth_are_skipped():
    depth, labels = render(K_SMALL, [FRONTO])
    mask = labels == 0
    rng = np.random.default_rng(0)
    # Holes in the mask
    mask &= rng.random(mask.shape) > 0.2
    mask[200:230, 300:340] = False
    # NaNs and zeros in the depth (16UC1 zeros decode to NaN)
    raw = as_16uc1(depth)
    raw[rng.random(raw.shape) < 0.1] = 0
    depth_m = depth_to_metres(raw, "16UC1")
    depth_m[rng.random(raw.shape) < 0.05] = np.nan
    crop, x, y = crop_mask(mask)
    inst = instance_3d(crop, depth_m, K_SMALL, mask_x=x, mask_y=y)
    assert inst.num_points == int((mask & np.isfinite(depth_m)).sum())
    assert_instance(inst, (0.05, -0.02, 1.1), (0.30, 0.20, 0.0))


def test_flying_pixels_and_background_bleeding_do_not_move_the_centroid():
    box = Box(centre=(0.05, -0.02, 1.2), half=(0.15, 0.10, 0.10))
    depth, labels = render(K_SMALL, [box], ground_y=0.5, wall_z=2.5)
    obj = labels == 0
    clean = instance_3d(obj, depth.astype(np.float32), K_SMALL)
    rng = np.random.default_rng(1)

    # Bleeding: the mask grows past the object onto the far wall by ~10% of its pixels
    grown = grow_by_ten_percent(obj)
    bleed = grown & ~obj
    assert 0.1 <= bleed.sum() / grown.sum() <= 0.2
    # Flying pixels: the object's edge ring gets depths smeared between the face and the wall
    inner = obj.copy()
    inner[1:-1, 1:-1] = obj[1:-1, 1:-1] & obj[:-2, 1:-1] & obj[2:, 1:-1] & obj[1:-1, :-2] & obj[1:-1, 2:]
    ring = obj & ~inner
    noisy = depth.copy()
    noisy[ring] = rng.uniform(1.1, 2.5, ring.sum())
    # Sensor noise on the face
    noisy[obj] += rng.normal(0.0, 0.002, obj.sum())

    inst = instance_3d(grown, noisy.astype(np.float32), K_SMALL)
    assert_instance(inst, (0.05, -0.02, 1.1), (0.30, 0.20, 0.0))
    assert np.linalg.norm(inst.position - clean.position) < CENTROID_TOL
    # The kept points are the face's, not the wall's
    assert inst.num_points <= obj.sum()


def test_bleeding_onto_a_close_background_is_cut_at_the_depth_gap():
    # A thin plate 10 cm in front of a wall: bleeding onto the wall is a separate depth cluster
    plate = Box(centre=(0.0, 0.0, 1.11), half=(0.1, 0.08, 0.01))
    depth, labels = render(K_SMALL, [plate], ground_y=None, wall_z=1.2)
    obj = labels == 0
    grown = grow_by_ten_percent(obj)
    inst = instance_3d(grown, depth.astype(np.float32), K_SMALL)
    assert inst.num_points == obj.sum()
    assert_instance(inst, (0.0, 0.0, 1.1), (0.2, 0.16, 0.0))


@pytest.mark.parametrize("offset, kept", [(0.015, True), (0.025, True), (0.08, False), (-0.5, False)])
def test_depth_groups_join_across_small_gaps_only(offset, kept):
    # 40x40 image: 1400 pixels at 1.000 m and a 200-pixel strip at 1.000 m + offset
    intr = CameraIntrinsics(fx=50.0, fy=45.0, cx=19.5, cy=19.5, width=40, height=40)
    depth = np.full((40, 40), 1.0, np.float32)
    depth[:5] += offset
    inst = instance_3d(np.ones((40, 40), bool), depth, intr)
    assert inst.num_points == (1600 if kept else 1400)
    expected_z = 1.0 + offset / 2 if kept else 1.0
    assert inst.position[2] == pytest.approx(expected_z, abs=1e-6)
    assert inst.size[2] == pytest.approx(abs(offset) if kept else 0.0, abs=1e-6)


def test_colour_and_depth_at_different_resolutions():
    # Depth 640x360 registered to a 1280x720 colour image (same field of view)
    k_depth = CameraIntrinsics(fx=455.0, fy=434.0, cx=325.9, cy=173.65, width=640, height=360)
    k_colour = k_depth.scaled(1280, 720)
    boxes = [FRONTO, Box(centre=(-0.35, 0.1, 1.8), half=(0.12, 0.15, 0.1), rot=rot_y(-40.0))]
    depth, _ = render(k_depth, boxes)
    _, labels = render(k_colour, boxes)  # masks come from the colour image
    dets = []
    for i in range(len(boxes)):
        crop, x, y = crop_mask(labels == i)
        dets.append(Detection(label="box", score=0.9, box=np.zeros(4, np.float32), mask=crop, mask_x=x, mask_y=y))
        dets[-1].id = str(i)
    depth_m = depth_to_metres(as_16uc1(depth), "16UC1")
    instances_3d(dets, depth_m, k_depth, image_size=(1280, 720), frame_id="depth_optical")
    for det, box in zip(dets, boxes):
        truth_pos, truth_size = box.visible_aabb()
        assert_instance(det.instance_3d, truth_pos, truth_size)
        assert det.instance_3d.frame_id == "depth_optical"
    # Against a full nearest-neighbour upsampling of the depth: the lazy per-crop lookup is the same thing
    full = resample_depth_nearest(depth_m, 1280, 720)
    for det in dets:
        ref = instance_3d(det.mask, full, k_colour, mask_x=det.mask_x, mask_y=det.mask_y)
        np.testing.assert_allclose(det.instance_3d.position, ref.position, atol=1e-6)
        assert det.instance_3d.num_points == ref.num_points
    # Without image_size the colour-resolution crops do not fit the depth image
    with pytest.raises(ValueError, match="image_size"):
        instances_3d(dets, depth_m, k_depth)
    # Different aspect ratio
    with pytest.raises(ValueError, match="aspect"):
        instances_3d(dets, depth_m, k_depth, image_size=(1280, 960))


def test_too_few_points_is_invalid_with_nan():
    depth, labels = render(K_SMALL, [FRONTO])
    depth_m = depth.astype(np.float32)
    tiny = np.zeros_like(labels, dtype=bool)
    tiny[240:244, 330:335] = True  # 20 pixels on the face
    inst = instance_3d(tiny, depth_m, K_SMALL, depth_filter=DepthFilter(min_points=30))
    assert not inst.valid and inst.num_points == 20
    assert np.all(np.isnan(inst.position)) and np.all(np.isnan(inst.size))
    assert instance_3d(tiny, depth_m, K_SMALL, depth_filter=DepthFilter(min_points=20)).valid
    # Plenty of mask pixels but no valid depth under them
    nodepth = depth_m.copy()
    nodepth[labels == 0] = np.nan
    inst = instance_3d(labels == 0, nodepth, K_SMALL)
    assert not inst.valid and inst.num_points == 0
    # An empty crop
    assert not instance_3d(np.zeros((0, 0), bool), depth_m, K_SMALL).valid


def test_instances_3d_fills_every_detection():
    boxes = [FRONTO, Box(centre=(-0.4, 0.0, 2.0), half=(0.1, 0.1, 0.1))]
    depth, labels = render(K_SMALL, boxes)
    dets = []
    for i in range(2):
        crop, x, y = crop_mask(labels == i)
        dets.append(Detection("box", 0.9, np.zeros(4, np.float32), mask=crop, mask_x=x, mask_y=y, id=f"d{i}"))
    dets.append(Detection("no mask", 0.5, np.zeros(4, np.float32), id="d2"))
    out = instances_3d(dets, depth.astype(np.float32), K_SMALL)
    assert out == dets
    assert [d.instance_3d.valid for d in dets] == [True, True, False]
    assert dets[2].instance_3d.num_points == 0
    truth_pos, truth_size = boxes[1].visible_aabb()  # off-axis box: its right side face is visible too
    assert_instance(dets[1].instance_3d, truth_pos, truth_size)


def test_bad_arguments():
    depth = np.ones((480, 640), np.float32)
    with pytest.raises(ValueError, match="intrinsics"):
        instance_3d(np.ones((10, 10), bool), depth, K_COLOUR)
    with pytest.raises(ValueError, match="does not fit"):
        instance_3d(np.ones((10, 10), bool), depth, K_SMALL, mask_x=635)
    with pytest.raises(ValueError, match="float"):
        instance_3d(np.ones((10, 10), bool), depth.astype(np.uint16), K_SMALL)
    with pytest.raises(ValueError):
        DepthFilter(percentile=60)
    with pytest.raises(ValueError):
        DepthFilter(min_points=0)


def test_instance_points_back_project_the_kept_pixels():
    depth, labels = render(K_SMALL, [FRONTO, Box(centre=(-0.4, 0.0, 2.0), half=(0.1, 0.1, 0.1))])
    depth_m = depth.astype(np.float32)
    dets = []
    for i, det_id in enumerate(["7", "cup_1"]):
        crop, x, y = crop_mask(labels == i)
        dets.append(Detection("box", 0.9, np.zeros(4, np.float32), mask=crop, mask_x=x, mask_y=y, id=det_id))
    points, ids = instance_points(dets, depth_m, K_SMALL)
    assert points.dtype == np.float32 and points.shape[1] == 3 and ids.dtype == np.uint32
    assert set(ids.tolist()) == {7, instance_id("cup_1")}
    # Independent back-projection of the first mask's pixels
    v, u = np.nonzero(labels == 0)
    z = depth[v, u]
    expected = np.stack(((u - K_SMALL.cx) * z / K_SMALL.fx, (v - K_SMALL.cy) * z / K_SMALL.fy, z), axis=1)
    np.testing.assert_allclose(points[ids == 7], expected, atol=1e-5)
    thin, thin_ids = instance_points(dets, depth_m, K_SMALL, stride=4)
    np.testing.assert_allclose(thin[thin_ids == 7], expected[::4], atol=1e-5)


def test_instance_id_is_stable():
    assert instance_id("12") == 12
    assert instance_id("cup_1") == instance_id("cup_1") != instance_id("cup_2")
    assert 0 <= instance_id("x" * 100) < 2**31
