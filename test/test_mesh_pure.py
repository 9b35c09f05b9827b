# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pure pieces of the mesh package: RoI Align, rotations, OSX preprocessing and crop geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import map_coordinates
from scipy.spatial.transform import Rotation

from grounded_sam_ros.mesh.preprocess import crop_box, crop_person, crop_to_image, crop_transform, to_network_input
from grounded_sam_ros.mesh.roi_align import roi_align
from grounded_sam_ros.mesh.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    rot6d_to_axis_angle,
    rot6d_to_matrix,
)


def roi_align_reference(features, rois, output_size, spatial_scale=1.0, sampling_ratio=0):
    """Slow nested loops over boxes, bins and samples, written from mmcv's roi_align kernel semantics."""
    ph, pw = output_size
    _, channels, height, width = features.shape
    out = features.new_zeros((rois.shape[0], channels, ph, pw))
    for n, roi in enumerate(rois.tolist()):
        fmap = features[int(roi[0])]
        x0, y0 = roi[1] * spatial_scale, roi[2] * spatial_scale
        roi_w = max(roi[3] * spatial_scale - x0, 1.0)
        roi_h = max(roi[4] * spatial_scale - y0, 1.0)
        bin_w, bin_h = roi_w / pw, roi_h / ph
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / pw)
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / ph)
        count = max(gw * gh, 1)
        for py in range(ph):
            for px in range(pw):
                acc = features.new_zeros(channels)
                for iy in range(gh):
                    y = y0 + py * bin_h + (iy + 0.5) * bin_h / gh
                    for ix in range(gw):
                        x = x0 + px * bin_w + (ix + 0.5) * bin_w / gw
                        acc = acc + _bilinear_reference(fmap, height, width, y, x)
                out[n, :, py, px] = acc / count
    return out


def _bilinear_reference(fmap: torch.Tensor, height: int, width: int, y: float, x: float) -> torch.Tensor:
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return fmap.new_zeros(fmap.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (
        hy * hx * fmap[:, y_low, x_low]
        + hy * lx * fmap[:, y_low, x_high]
        + ly * hx * fmap[:, y_high, x_low]
        + ly * lx * fmap[:, y_high, x_high]
    )


# --- RoI Align -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_matches_loop_reference_including_borders(sampling_ratio):
    torch.manual_seed(0)
    features = torch.randn(2, 3, 9, 7, dtype=torch.float64)
    rois = torch.tensor(
        [
            [0, 1.3, 2.2, 5.7, 7.9],  # inside, fractional
            [1, -3.0, -2.5, 2.0, 3.0],  # past the top-left border
            [0, 4.0, 6.0, 9.5, 11.0],  # past the bottom-right border (samples within 1 px clamp, beyond are 0)
            [1, 6.2, 8.1, 6.4, 8.3],  # narrower than a pixel: widened to 1
            [0, -0.9, -0.9, 7.9, 9.9],  # the whole map and a little more: adaptive grid of 2+ samples per bin
            [1, 10.0, 12.0, 14.0, 15.0],  # entirely outside: zeros
            [0, 0.0, 0.0, 6.0, 8.0],  # exactly the map
        ],
        dtype=torch.float64,
    )
    for scale in (1.0, 0.5):
        got = roi_align(features, rois, (4, 3), scale, sampling_ratio)
        want = roi_align_reference(features, rois, (4, 3), scale, sampling_ratio)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
        if scale == 1.0:
            assert got[5].abs().max() == 0


def test_roi_align_constant_map_is_constant_inside():
    features = torch.full((1, 2, 8, 8), 3.0)
    got = roi_align(features, torch.tensor([[0, 1.0, 1.0, 6.0, 6.0]]), (16, 16))
    torch.testing.assert_close(got, torch.full((1, 2, 16, 16), 3.0))


# --- Rotations -----------------------------------------------------------------------------------------------------


def _random_rotations(n, seed=0):
    return Rotation.random(n, random_state=seed)


def test_axis_angle_to_matrix_matches_scipy():
    rot = _random_rotations(50)
    got = axis_angle_to_matrix(torch.from_numpy(rot.as_rotvec()))
    np.testing.assert_allclose(got.numpy(), rot.as_matrix(), atol=1e-12)
    torch.testing.assert_close(axis_angle_to_matrix(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))


def test_matrix_to_axis_angle_matches_scipy():
    rot = _random_rotations(200, seed=1)
    got = matrix_to_axis_angle(torch.from_numpy(rot.as_matrix()))
    np.testing.assert_allclose(got.numpy(), rot.as_rotvec(), atol=1e-10)


def test_6d_is_gram_schmidt_of_the_two_columns():
    rot = _random_rotations(20, seed=2).as_matrix()
    six = rot[:, :, :2].reshape(20, 6)  # row-major 3x2: the first two columns
    np.testing.assert_allclose(rot6d_to_matrix(torch.from_numpy(six)).numpy(), rot, atol=1e-12)
    # Scaled and sheared columns give the same rotation
    a1, a2 = rot[:, :, 0] * 3.0, rot[:, :, 1] * 0.5 + 2.0 * rot[:, :, 0]
    six = np.stack((a1, a2), axis=2).reshape(20, 6)
    np.testing.assert_allclose(rot6d_to_matrix(torch.from_numpy(six)).numpy(), rot, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-7, 0.3, 2.0, math.pi - 1e-3, math.pi - 1e-6, math.pi])
def test_6d_to_axis_angle_round_trip(angle):
    axes = Rotation.random(30, random_state=3).as_rotvec()
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    aa = torch.from_numpy(axes * angle)
    mat = axis_angle_to_matrix(aa)
    six = mat[..., :2].reshape(-1, 6)
    back = rot6d_to_axis_angle(six)
    # Same rotation, angle in [0, pi]
    np.testing.assert_allclose(axis_angle_to_matrix(back).numpy(), mat.numpy(), atol=1e-9)
    np.testing.assert_allclose(back.norm(dim=1).numpy(), angle, atol=1e-7)
    if angle < math.pi - 1e-4:  # away from pi the axis-angle vector itself is unique
        np.testing.assert_allclose(back.numpy(), aa.numpy(), atol=1e-9)
    else:  # at pi, v and -v are the same rotation
        same = np.minimum(np.abs(back.numpy() - aa.numpy()).max(1), np.abs(back.numpy() + aa.numpy()).max(1))
        assert same.max() < 1e-5


def test_float32_near_pi_stays_finite_and_accurate():
    axes = Rotation.random(100, random_state=4).as_rotvec()
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    aa = torch.from_numpy(axes * (math.pi - 1e-4)).float()
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    assert torch.isfinite(back).all()
    torch.testing.assert_close(axis_angle_to_matrix(back), axis_angle_to_matrix(aa), atol=1e-5, rtol=0)


# --- Preprocessing -------------------------------------------------------------------------------------------------


def test_crop_box_follows_osx_process_bbox():
    # Tall box in a 640x480 image: clipped to [100, 299] x [50, 449] (w 199, h 399), widened to w = 0.75 h, x1.25
    crop = crop_box(np.array([100, 50, 300, 450]), 640, 480)
    w, h = 399 * 0.75 * 1.25, 399 * 1.25
    np.testing.assert_allclose(crop, [199.5 - w / 2, 249.5 - h / 2, w, h], rtol=1e-6)
    # Wide box: the height grows instead; a box past the border is clipped first
    crop = crop_box(np.array([-50, 100, 500, 200]), 640, 480)
    w, h = 549 * 1.25, 549 / 0.75 * 1.25
    np.testing.assert_allclose(crop, [274.5 - w / 2, 149.5 - h / 2, w, h], rtol=1e-6)
    assert crop_box(np.array([700, 10, 800, 20]), 640, 480) is None  # outside the image
    with pytest.raises(ValueError, match="4 finite numbers"):
        crop_box(np.array([0, 0, np.nan, 1]), 640, 480)


def test_crop_maps_back_to_the_same_box():
    box = np.array([37.25, 12.5, 223.75, 260.0], dtype=np.float32)  # x, y, w, h with the 0.75 aspect
    m = crop_transform(box)
    corners = np.array([[0, 0], [384, 512], [384, 0], [0, 512]], dtype=np.float64)
    np.testing.assert_allclose(
        crop_to_image(corners, box),
        [[box[0], box[1]], [box[0] + box[2], box[1] + box[3]], [box[0] + box[2], box[1]], [box[0], box[1] + box[3]]],
        atol=1e-9,
    )
    # The forward map sends the box corners to the crop corners
    np.testing.assert_allclose(m[:, :2] @ np.array([box[0], box[1]]) + m[:, 2], [0, 0], atol=1e-9)
    # And the pixels: crop value at (u, v) = bilinear image value at the mapped-back point
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 280, 3), dtype=np.uint8)
    crop = crop_person(image, box)
    assert crop.shape == (512, 384, 3) and crop.dtype == np.float32
    uv = rng.uniform([10, 10], [370, 500], (200, 2))
    xy = crop_to_image(uv, box)
    inside = (xy[:, 0] < 278) & (xy[:, 1] < 298)
    u, v = np.round(uv[inside]).astype(int).T
    xy = crop_to_image(np.stack((u, v), 1).astype(float), box)
    for c in range(3):
        want = map_coordinates(image[..., c].astype(np.float64), [xy[:, 1], xy[:, 0]], order=1)
        np.testing.assert_allclose(crop[v, u, c], want, atol=0.1)  # cv2 uses fixed-point weights


def test_network_input_is_rgb_01_nearest_every_other_pixel():
    rng = np.random.default_rng(1)
    crops = [rng.uniform(0, 255, (512, 384, 3)).astype(np.float32) for _ in range(2)]
    x = to_network_input(crops)
    assert x.shape == (2, 3, 256, 192)
    want = np.stack(crops)[:, ::2, ::2].transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-6)
