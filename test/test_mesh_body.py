# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SMPL-X skinning on a synthetic model file: template at zero pose, the smplx package's output when it is
installed (test-only, e.g. ``pip install --target /tmp/smplx-ref smplx --no-deps``), fix-it errors for bad files."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from grounded_sam_ros.mesh.body_model import SMPLX, load_smplx
from grounded_sam_ros.mesh.synthetic import synthetic_smplx_arrays, write_synthetic_smplx

SMPLX_REF = os.environ.get("GSR_SMPLX_REF", "/tmp/smplx-ref")


def _params(n, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: (torch.rand(*s, generator=g, dtype=torch.float64) - 0.5) * 2 * scale  # noqa: E731
    return {
        "betas": r(n, 10) * 5,
        "root_pose": r(n, 3) * 5,
        "body_pose": r(n, 63),
        "lhand_pose": r(n, 45),
        "rhand_pose": r(n, 45),
        "jaw_pose": r(n, 3),
        "expression": r(n, 10) * 5,
    }


def test_zero_pose_and_shape_give_the_template():
    arrays = synthetic_smplx_arrays(seed=1)
    arrays["hands_meanl"][:] = 0
    arrays["hands_meanr"][:] = 0
    body = SMPLX(arrays).double()
    zeros = {k: torch.zeros_like(v) for k, v in _params(2).items()}
    out = body(**zeros)
    np.testing.assert_allclose(out.vertices[1].numpy(), arrays["v_template"], atol=1e-6)
    np.testing.assert_allclose(out.joints[0].numpy(), arrays["J_regressor"] @ arrays["v_template"], atol=1e-6)


def test_hand_mean_is_added_and_betas_move_the_template():
    arrays = synthetic_smplx_arrays(seed=2)
    body = SMPLX(arrays).double()
    p = {k: torch.zeros_like(v) for k, v in _params(1).items()}
    with_mean = body(**p).vertices
    # Cancelling the mean with the opposite hand pose gives the template back
    p["lhand_pose"] = -torch.from_numpy(arrays["hands_meanl"])[None]
    p["rhand_pose"] = -torch.from_numpy(arrays["hands_meanr"])[None]
    np.testing.assert_allclose(body(**p).vertices[0].numpy(), arrays["v_template"], atol=1e-6)
    assert (with_mean[0].numpy() - arrays["v_template"]).__abs__().max() > 1e-3
    # Shape only: template + shapedirs[..., :10] @ betas (no pose change)
    p = {k: torch.zeros_like(v) for k, v in _params(1).items()}
    p["betas"] = torch.arange(10, dtype=torch.float64)[None] / 10
    p["lhand_pose"], p["rhand_pose"] = (
        -torch.from_numpy(arrays["hands_meanl"])[None],
        -torch.from_numpy(arrays["hands_meanr"])[None],
    )
    want = arrays["v_template"] + arrays["shapedirs"][:, :, :10] @ (np.arange(10) / 10)
    np.testing.assert_allclose(body(**p).vertices[0].numpy(), want, atol=1e-6)


@pytest.mark.parametrize("layout", [(10, 10), (300, 100)])
def test_skinning_equals_the_smplx_package(tmp_path, monkeypatch, layout):
    if not os.path.isdir(SMPLX_REF):
        pytest.skip(f"the smplx reference package is not installed in {SMPLX_REF}")
    monkeypatch.syspath_prepend(SMPLX_REF)
    try:
        import smplx
        import smplx.vertex_ids
    except ImportError as exc:
        pytest.skip(f"smplx reference not importable: {exc}")
    arrays = synthetic_smplx_arrays(seed=3, num_shape=layout[0], num_expr=layout[1])
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(path, **arrays)
    # The package picks extra joints at fixed vertex ids of the real 10,475-vertex mesh; map them into ours
    num_verts = len(arrays["v_template"])
    for name, index in list(smplx.vertex_ids.vertex_ids["smplx"].items()):
        monkeypatch.setitem(smplx.vertex_ids.vertex_ids["smplx"], name, index % num_verts)
    ref = smplx.SMPLX(
        str(path), use_pca=False, flat_hand_mean=False, num_betas=10, num_expression_coeffs=10, use_face_contour=False
    ).double()
    p = _params(3, seed=4)
    with torch.no_grad():
        want = ref(
            betas=p["betas"], global_orient=p["root_pose"], body_pose=p["body_pose"], left_hand_pose=p["lhand_pose"],
            right_hand_pose=p["rhand_pose"], jaw_pose=p["jaw_pose"], expression=p["expression"],
            leye_pose=torch.zeros(3, 3, dtype=torch.float64), reye_pose=torch.zeros(3, 3, dtype=torch.float64),
        )  # fmt: skip
        got = load_smplx(path).double()(**p)
    torch.testing.assert_close(got.vertices, want.vertices, rtol=0, atol=1e-6)
    torch.testing.assert_close(got.joints, want.joints[:, :55], rtol=0, atol=1e-6)


def test_missing_file_names_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"smpl-x\.is\.tue\.mpg\.de.*mesh\.smplx_model / --smplx-model"):
        load_smplx(tmp_path / "SMPLX_NEUTRAL.npz")
    pkl = tmp_path / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.pkl files are refused"):
        load_smplx(pkl)


def test_directory_and_object_arrays(tmp_path):
    # A directory finds SMPLX_NEUTRAL.npz; an extra pickled key (real files have some) is never read
    arrays = synthetic_smplx_arrays(seed=5)
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", joint2num=np.array({"a": 1}, dtype=object), **arrays)
    assert load_smplx(tmp_path).num_vertices == len(arrays["v_template"])
    # A required key stored as a pickled object array is refused, not unpickled
    arrays["v_template"] = np.array([arrays["v_template"]], dtype=object)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"cannot read .*bad\.npz.*smpl-x"):
        load_smplx(tmp_path / "bad.npz")


def test_synthetic_writer_round_trip(tmp_path):
    path = write_synthetic_smplx(tmp_path / "m" / "SMPLX_NEUTRAL.npz", seed=6)
    body = load_smplx(path)
    assert body.faces.shape[1] == 3 and body.num_vertices == 55 * 12
