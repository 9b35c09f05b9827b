# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Per-frame cost of the 3D step on a 1280x720 colour image, with depth at full and at half resolution.

Prints one row per (depth resolution, instance count): milliseconds (median, and the minimum for "3d min", which
is less sensitive to other load on the machine) for decoding a 16UC1 depth image to metres,
for :func:`instances_3d` over all instances, for :func:`instance_points` (the optional point cloud) and for packing
that cloud into a PointCloud2. With the ROS messages installed, two more columns time what the node's worker adds to
each frame with ``use_depth``: "node 3d" is :meth:`DepthFusion.fuse` (stamp matching, sensor_msgs/Image bytes to
metres, CameraInfo to intrinsics, every instance) and "markers" builds the MarkerArray. Masks are ellipses 60-320 px
across at random places (a typical SAM output); depth is a noisy slanted plane with the instances 0.1-0.5 m in front
of it.

    source .venv/bin/activate && source install/setup.bash
    PYTHONPATH=$PWD:$PYTHONPATH python bench/bench_geometry.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, List

import numpy as np

from grounded_sam_ros.geometry import CameraIntrinsics, depth_to_metres, instance_points, instances_3d
from grounded_sam_ros.masks import crop_mask
from grounded_sam_ros.results import Detection

WIDTH, HEIGHT = 1280, 720
SIZE = (WIDTH, HEIGHT)
K_COLOUR = CameraIntrinsics(fx=910.0, fy=910.0, cx=639.5, cy=359.5, width=WIDTH, height=HEIGHT)


def make_scene(n: int, depth_w: int, depth_h: int, seed: int = 0):
    """-> (raw 16UC1 depth at depth_w x depth_h, detections with crops in the 1280x720 image)."""
    rng = np.random.default_rng(seed)
    vv, uu = np.mgrid[0:HEIGHT, 0:WIDTH]
    depth = 1.5 + 0.001 * vv + rng.normal(0, 0.003, (HEIGHT, WIDTH))
    dets: List[Detection] = []
    for i in range(n):
        rx, ry = rng.uniform(30, 160, 2)
        cx, cy = rng.uniform(rx, WIDTH - rx), rng.uniform(ry, HEIGHT - ry)
        mask = ((uu - cx) / rx) ** 2 + ((vv - cy) / ry) ** 2 <= 1.0
        depth[mask] -= rng.uniform(0.1, 0.5)
        crop, x, y = crop_mask(mask)
        dets.append(Detection("obj", 0.9, np.zeros(4, np.float32), mask=crop, mask_x=x, mask_y=y, id=str(i)))
    depth[rng.random(depth.shape) < 0.03] = 0.0  # dropouts
    raw = np.round(depth * 1000).astype(np.uint16)
    if (depth_w, depth_h) != (WIDTH, HEIGHT):
        raw = raw[:: HEIGHT // depth_h, :: WIDTH // depth_w]
    return raw, dets


def timed(fn: Callable[[], object], repeats: int, best: bool = False) -> float:
    """Median (or, with ``best``, minimum) wall time of ``fn`` in milliseconds."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times) if best else np.median(times)) * 1000.0


def node_step(raw: np.ndarray, k: CameraIntrinsics, dets: List[Detection]) -> Callable[[], object]:
    """The node's per-frame 3D step on a 16UC1 sensor_msgs/Image of ``raw``: a callable for :func:`timed`."""
    from sensor_msgs.msg import CameraInfo, Image

    from grounded_sam_ros.geometry import DepthFilter
    from grounded_sam_ros.ros.depth_fusion import DepthFusion

    msg = Image(height=raw.shape[0], width=raw.shape[1], encoding="16UC1", step=2 * raw.shape[1])
    msg.data = raw.astype("<u2").tobytes()
    info = CameraInfo(width=k.width, height=k.height, k=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0])
    fusion = DepthFusion()
    fusion.add_camera_info(info)
    fusion.add_depth(msg)

    def step() -> None:
        if not fusion.fuse(dets, 0, SIZE, slop_s=0.05, depth_filter=DepthFilter()).fused:
            raise RuntimeError("the bench's depth image did not match")

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    try:
        from std_msgs.msg import Header

        from grounded_sam_ros.ros.geometry_msgs_conv import markers_from_detections, pointcloud_from_points
    except ImportError:  # ROS messages not installed: skip the ROS columns
        pointcloud_from_points = None

    print(f"colour {WIDTH}x{HEIGHT}, median of {args.repeats} runs, milliseconds")
    print(
        f"{'depth':>9} {'inst':>4} {'mask px':>8} {'decode':>7} {'3d':>7} {'3d min':>7} {'3d/inst':>7} "
        f"{'points':>7} {'pack':>7} {'node 3d':>7} {'markers':>7}"
    )
    for depth_w, depth_h in ((WIDTH, HEIGHT), (WIDTH // 2, HEIGHT // 2)):
        k_depth = K_COLOUR.scaled(depth_w, depth_h)
        for n in (1, 8, 32):
            raw, dets = make_scene(n, depth_w, depth_h)
            depth_m = depth_to_metres(raw, "16UC1")
            t_decode = timed(lambda raw=raw: depth_to_metres(raw, "16UC1"), args.repeats)
            t_3d = timed(lambda d=dets, m=depth_m, k=k_depth: instances_3d(d, m, k, image_size=SIZE), args.repeats)
            t_best = timed(
                lambda d=dets, m=depth_m, k=k_depth: instances_3d(d, m, k, image_size=SIZE), args.repeats, best=True
            )
            t_pts = timed(lambda d=dets, m=depth_m, k=k_depth: instance_points(d, m, k, image_size=SIZE), args.repeats)
            t_pack = t_node = t_markers = float("nan")
            if pointcloud_from_points is not None:
                pts, ids = instance_points(dets, depth_m, k_depth, image_size=SIZE)
                t_pack = timed(lambda p=pts, i=ids: pointcloud_from_points(p, i, Header()), args.repeats)
                fuse = node_step(raw, k_depth, dets)
                t_node = timed(fuse, args.repeats)
                t_markers = timed(lambda d=dets: markers_from_detections(d, Header(frame_id="depth")), args.repeats)
            mask_px = sum(int(d.mask.sum()) for d in dets)
            assert all(d.instance_3d.valid for d in dets)
            print(
                f"{depth_w:>4}x{depth_h:<4} {n:>4} {mask_px:>8} {t_decode:>7.2f} {t_3d:>7.2f} {t_best:>7.2f} "
                f"{t_3d / n:>7.2f} {t_pts:>7.2f} {t_pack:>7.2f} {t_node:>7.2f} {t_markers:>7.2f}"
            )


if __name__ == "__main__":
    main()
