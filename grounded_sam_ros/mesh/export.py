# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Writing meshes (OBJ, binary PLY) and their parameters (JSON)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_obj(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """vertices: Vx3 float metres; faces: Fx3 int (0-based; written 1-based as OBJ wants)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(vertices, dtype=np.float64)]
    lines += [f"f {a} {b} {c}" for a, b, c in np.asarray(faces, dtype=np.int64) + 1]
    Path(path).write_text("\n".join(lines) + "\n")


def write_ply(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Binary little-endian PLY: float32 x, y, z per vertex and uchar-counted int32 index lists per face."""
    v = np.asarray(vertices, dtype="<f4")
    f = np.asarray(faces, dtype="<i4")
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    face_rows = np.empty(len(f), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rows["n"], face_rows["idx"] = 3, f
    with open(path, "wb") as out:
        out.write(header.encode("ascii"))
        out.write(v.tobytes())
        out.write(face_rows.tobytes())


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The vertices (Vx3 float32) and triangles (Fx3 int32) of a PLY written by :func:`write_ply`."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").split("\n")
    nv = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    nf = int(next(line for line in header if line.startswith("element face")).split()[-1])
    vertices = np.frombuffer(data, dtype="<f4", count=nv * 3, offset=end).reshape(nv, 3)
    rows = np.frombuffer(data, dtype=[("n", "u1"), ("idx", "<i4", (3,))], count=nf, offset=end + nv * 12)
    return vertices, rows["idx"]
