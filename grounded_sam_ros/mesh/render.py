# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A small z-buffered triangle rasteriser in numpy (no OpenGL) to draw meshes over the image and render depth.

Pixel (row i, column j) has its centre at image coordinates (x=j, y=i), the convention of the projection in
:mod:`grounded_sam_ros.mesh.camera`. Depth is interpolated perspective-correctly (linearly in 1/z).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from grounded_sam_ros.mesh.camera import Intrinsics

MAX_CANDIDATES = 4_000_000  # pixel-triangle pairs tested at once (bounds the memory)
PALETTE = np.array([[230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [0, 114, 178], [213, 94, 0]])


def rasterize(
    vertices: np.ndarray, faces: np.ndarray, intrinsics: Intrinsics, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """vertices: Vx3 camera frame metres (x right, y down, z forward); faces: Fx3 int.

    Returns (face_index HxW int64, -1 where no triangle; depth HxW float32 metres, inf where none).
    """
    depth = np.full(height * width, np.inf)
    face_index = np.full(height * width, -1, dtype=np.int64)
    v = np.asarray(vertices, dtype=np.float64)
    z = v[:, 2]
    uv = np.full((len(v), 2), np.nan)
    front = z > 1e-6
    uv[front] = intrinsics.project(v[front])
    tri = np.asarray(faces, dtype=np.int64)
    tri = tri[front[tri].all(axis=1)]
    if len(tri) == 0:
        return face_index.reshape(height, width), depth.reshape(height, width).astype(np.float32)
    p = uv[tri]  # F x 3 x 2
    inv_z = 1.0 / z[tri]  # F x 3
    x0 = np.clip(np.ceil(p[..., 0].min(1)), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(p[..., 0].max(1)), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(p[..., 1].min(1)), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(p[..., 1].max(1)), -1, height - 1).astype(np.int64)
    nx, ny = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    count = nx * ny
    keep = np.nonzero(count)[0]
    # Chunks of triangles whose pixel candidates fit the budget
    starts = np.concatenate(([0], np.cumsum(count[keep])))
    begin = 0
    while begin < len(keep):
        end = int(np.searchsorted(starts, starts[begin] + MAX_CANDIDATES, side="right")) - 1
        end = max(end, begin + 1)
        _raster_chunk(keep[begin:end], p, inv_z, x0, y0, nx, count, width, depth, face_index)
        begin = end
    return face_index.reshape(height, width), depth.reshape(height, width).astype(np.float32)


def _raster_chunk(ids, p, inv_z, x0, y0, nx, count, width, depth, face_index) -> None:
    reps = count[ids]
    fid = np.repeat(ids, reps)
    local = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    px = x0[fid] + local % nx[fid]
    py = y0[fid] + local // nx[fid]
    a, b, c = p[fid, 0], p[fid, 1], p[fid, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    w0 = (b[:, 0] - px) * (c[:, 1] - py) - (b[:, 1] - py) * (c[:, 0] - px)
    w1 = (c[:, 0] - px) * (a[:, 1] - py) - (c[:, 1] - py) * (a[:, 0] - px)
    w2 = (a[:, 0] - px) * (b[:, 1] - py) - (a[:, 1] - py) * (b[:, 0] - px)
    with np.errstate(divide="ignore", invalid="ignore"):
        w0, w1, w2 = w0 / area, w1 / area, w2 / area
    inside = (np.abs(area) > 1e-12) & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
    fid, px, py = fid[inside], px[inside], py[inside]
    iz = w0[inside] * inv_z[fid, 0] + w1[inside] * inv_z[fid, 1] + w2[inside] * inv_z[fid, 2]
    zc = 1.0 / iz
    pix = py * width + px
    np.minimum.at(depth, pix, zc)
    winner = zc <= depth[pix]
    face_index[pix[winner]] = fid[winner]


def overlay(
    image: np.ndarray,
    meshes: Sequence[tuple[np.ndarray, np.ndarray]],
    intrinsics: Sequence[Intrinsics],
    alpha: float = 0.8,
) -> np.ndarray:
    """Draw shaded meshes over ``image`` (HxWx3 uint8 RGB): one (vertices Vx3 camera metres, faces Fx3) and one
    camera per mesh (each person may have its own virtual camera). Nearer meshes hide farther ones."""
    height, width = image.shape[:2]
    canvas = image.astype(np.float64).copy()
    best = np.full((height, width), np.inf)
    shade = np.zeros((height, width, 3))
    for k, ((vertices, faces), cam) in enumerate(zip(meshes, intrinsics)):
        face_index, depth = rasterize(vertices, faces, cam, height, width)
        hit = (face_index >= 0) & (depth < best)
        if not hit.any():
            continue
        v = np.asarray(vertices, dtype=np.float64)
        tri = v[np.asarray(faces)[face_index[hit]]]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True).clip(1e-12)
        view = tri.mean(1)
        view /= np.linalg.norm(view, axis=1, keepdims=True).clip(1e-12)
        lambert = np.abs((normal * view).sum(1))
        shade[hit] = PALETTE[k % len(PALETTE)] * (0.3 + 0.7 * lambert)[:, None]
        best[hit] = depth[hit]
    drawn = np.isfinite(best)
    canvas[drawn] = (1 - alpha) * canvas[drawn] + alpha * shade[drawn]
    return canvas.clip(0, 255).astype(np.uint8)
