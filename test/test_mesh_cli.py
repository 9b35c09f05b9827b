# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""People selection, the rasteriser, mesh files and ``grounded-sam mesh`` end to end on tiny random models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from grounded_sam_ros import cli
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.mesh.body_model import load_smplx
from grounded_sam_ros.mesh.camera import Intrinsics
from grounded_sam_ros.mesh.config import ARCHITECTURES
from grounded_sam_ros.mesh.estimator import MeshEstimator
from grounded_sam_ros.mesh.export import read_ply, write_ply
from grounded_sam_ros.mesh.people import MeshConfig, meshes_for_result, normalise_labels, select_people
from grounded_sam_ros.mesh.render import rasterize
from grounded_sam_ros.mesh.synthetic import random_network, write_original_checkpoint, write_synthetic_smplx
from grounded_sam_ros.results import Detection, FrameResult

TINY = ARCHITECTURES["tiny_random"]


@pytest.fixture(scope="module")
def mesh_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mesh-files")
    ckpt = write_original_checkpoint(root / "tiny_wo_decoder.pth.tar", random_network(TINY, seed=5))
    return ckpt, write_synthetic_smplx(root / "SMPLX_NEUTRAL.npz")


def _det(label, score, box, id_):
    return Detection(label=label, score=score, box=np.array(box, dtype=np.float32), id=id_)


def test_select_people_by_label_and_score():
    dets = [_det("cup", 0.9, [0, 0, 5, 5], "0"), _det("person", 0.5, [0, 0, 9, 9], "1"),
            _det("Person", 0.7, [1, 1, 9, 9], "2"), _det("man", 0.6, [2, 2, 9, 9], "3")]  # fmt: skip
    assert [d.id for d in select_people(dets, ["person"])] == ["2", "1"]
    assert [d.id for d in select_people(dets, normalise_labels("Person, man"), max_people=2)] == ["2", "3"]
    assert normalise_labels(" Person . man,person") == ("person", "man")
    with pytest.raises(ValueError, match="max_people"):
        MeshConfig("a", "b", max_people=-1).validate()


def test_meshes_carry_their_detection_ids(mesh_files):
    estimator = MeshEstimator.from_files(*mesh_files)
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    dets = [_det("dog", 0.9, [0, 0, 50, 50], "a"), _det("person", 0.8, [100, 20, 180, 230], "b"),
            _det("person", 0.4, [10, 30, 90, 200], "c")]  # fmt: skip
    result = FrameResult(320, 240, "person . dog", dets)
    meshes = meshes_for_result(estimator, image, result, MeshConfig("m", "s"))
    assert [(m.id, m.label) for m in meshes] == [("b", "person"), ("c", "person")]
    direct = estimator(image, np.array([[100, 20, 180, 230], [10, 30, 90, 200]], dtype=np.float32))
    for m, d in zip(meshes, direct):
        np.testing.assert_array_equal(m.vertices, d.vertices)


def test_rasterizer_covers_pixel_centres_and_interpolates_depth():
    cam = Intrinsics(100.0, 100.0, 10.0, 10.0)
    # A plane z = 2 triangle with image corners (2, 2), (17, 2), (2, 17)
    verts = np.array([[-0.16, -0.16, 2.0], [0.14, -0.16, 2.0], [-0.16, 0.14, 2.0]])
    face_index, depth = rasterize(verts, np.array([[0, 1, 2]]), cam, 20, 20)
    yy, xx = np.mgrid[:20, :20]
    inside = (xx >= 2) & (yy >= 2) & (xx + yy <= 19)
    np.testing.assert_array_equal(face_index >= 0, inside)
    np.testing.assert_allclose(depth[inside], 2.0, rtol=1e-6)
    assert np.isinf(depth[~inside]).all()


def test_ply_round_trip(tmp_path):
    v = np.random.default_rng(1).normal(size=(7, 3)).astype(np.float32)
    f = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    write_ply(tmp_path / "m.ply", v, f)
    got_v, got_f = read_ply(tmp_path / "m.ply")
    np.testing.assert_array_equal(got_v, v)
    np.testing.assert_array_equal(got_f, f)


def test_missing_smplx_file_fails_before_the_detector_loads(tmp_path, mesh_files, capsys):
    status = cli.main(["mesh", str(sample_image("astronaut")), "--out", str(tmp_path / "o"),
                       "--mesh-model", str(mesh_files[0]), "--smplx-model", str(tmp_path / "none.npz")])  # fmt: skip
    assert status == 1
    assert "smpl-x.is.tue.mpg.de" in capsys.readouterr().err


@pytest.mark.slow
def test_mesh_command_end_to_end(tiny_models, mesh_files, tmp_path, capsys):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = (str(p) for p in tiny_models)
    ckpt, smplx_path = mesh_files
    photo = sample_image("astronaut")
    out = tmp_path / "out"
    flags = ["--box-threshold", "0", "--text-threshold", "0", "--max-detections", "2", "--boxes-only"]
    status = cli.main(["mesh", str(photo), "--query", "person", "--detector", detector, "--segmenter", segmenter,
                       "--device", "cpu", "--mesh-model", str(ckpt), "--smplx-model", str(smplx_path), "--out",
                       str(out), "--intrinsics", "500,500,256,256", *flags])  # fmt: skip
    assert status == 0, capsys.readouterr().err

    # Independent run: the same detector boxes, the same estimator
    image = load_image(photo)
    config = PipelineConfig(detector_model=detector, segmenter_model=segmenter, device="cpu", box_threshold=0.0,
                            text_threshold=0.0, max_detections=2, segment=False)  # fmt: skip
    pipe = build_pipeline(config)
    result = pipe(image, "person")
    estimator = MeshEstimator.from_files(ckpt, smplx_path)
    want = estimator(image, np.stack([d.box for d in result.detections]), intrinsics=Intrinsics(500, 500, 256, 256))
    record = json.loads((out / "astronaut_mesh.json").read_text())
    assert len(record["people"]) == len(want) == 2
    for k, (entry, mesh) in enumerate(zip(record["people"], want)):
        assert entry["file"] == f"astronaut_{k}.obj" and entry["camera"] == "real"
        np.testing.assert_allclose(entry["translation"], mesh.translation, atol=1e-5)
        np.testing.assert_allclose(entry["body_pose"], mesh.params["body_pose"], atol=1e-5)
        lines = (out / entry["file"]).read_text().splitlines()
        verts = np.array([[float(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("v ")])
        np.testing.assert_allclose(verts, mesh.vertices, atol=1e-5)
        assert sum(ln.startswith("f ") for ln in lines) == len(estimator.faces)
    # The overlay changed the image exactly where the meshes project
    drawn = np.asarray(Image.open(out / "astronaut_mesh.png"))
    covered = np.zeros(image.shape[:2], dtype=bool)
    for mesh in want:
        covered |= rasterize(mesh.vertices, estimator.faces, mesh.intrinsics, *image.shape[:2])[0] >= 0
    assert covered.any()
    np.testing.assert_array_equal(drawn[~covered], image[~covered])
    assert (drawn[covered] != image[covered]).any(axis=1).mean() > 0.9
    assert load_smplx(smplx_path).num_vertices == want[0].vertices.shape[0]


def test_markers_delete_people_who_left():
    pytest.importorskip("grounded_sam_ros.msg", reason="run `make setup` and source install/setup.bash")
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from grounded_sam_ros.ros.mesh_msgs import marker_ids, mesh_markers, meshes_to_msg

    faces = np.array([[0, 1, 2]])
    cam = Intrinsics(1.0, 1.0, 0.0, 0.0)

    def person(id_):
        from grounded_sam_ros.mesh.estimator import HumanMesh

        v = np.array([[0, 0, 2], [1, 0, 2], [0, 1, 2]], dtype=np.float32)
        params = {k: np.zeros(n, np.float32) for k, n in (("root_pose", 3), ("body_pose", 63), ("lhand_pose", 45),
                  ("rhand_pose", 45), ("jaw_pose", 3), ("betas", 10), ("expression", 10))}  # fmt: skip
        return HumanMesh(np.zeros(4), np.zeros(4), params, np.zeros(3), "real", cam, v, v, np.zeros(4), np.zeros(4),
                         np.zeros(4), id=id_, label="person")  # fmt: skip

    header = Header(frame_id="camera_optical")
    first = mesh_markers([person("3"), person("7")], faces, header)
    assert [(m.id, m.action, m.type, len(m.points)) for m in first.markers] == [
        (3, Marker.ADD, Marker.TRIANGLE_LIST, 3), (7, Marker.ADD, Marker.TRIANGLE_LIST, 3)]  # fmt: skip
    assert first.markers[0].points[1].x == 1.0 and first.markers[0].header.frame_id == "camera_optical"
    second = mesh_markers([person("7")], faces, header, previous_ids=marker_ids([person("3"), person("7")]))
    assert [(m.id, m.action) for m in second.markers] == [(7, Marker.ADD), (3, Marker.DELETE)]
    msg = meshes_to_msg([person("7")], header, 640, 480)
    assert msg.meshes[0].detection_id == "7" and len(msg.meshes[0].vertices) == 9
    assert list(msg.meshes[0].intrinsics) == [1.0, 1.0, 0.0, 0.0]
