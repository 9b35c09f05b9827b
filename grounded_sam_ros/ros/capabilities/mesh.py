# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Whole-body human meshes (OSX / SMPLer-X -> SMPL-X) of the person-labelled detections, as an optional topic.

Topics (in the camera's namespace), only with ``mesh.enable``::

    human_meshes        grounded_sam_ros/HumanMeshArray    out  one HumanMesh per detection labelled in mesh.labels
    human_mesh_markers  visualization_msgs/MarkerArray     out  one TRIANGLE_LIST per person, DELETEs for those gone
    camera_info         sensor_msgs/CameraInfo             in   the colour camera's calibration (optional)

Off (the default) it creates nothing and runs nothing. On, it loads the checkpoint and the SMPL-X model at
``configure`` (a missing or bad file fails the transition with the reason) and runs the network only on frames that
have a person and while someone subscribes to either output. Placement: OSX's virtual crop camera until a
``camera_info`` arrives, then the real camera; with ``use_depth`` the detections' measured 3D (registered before this
capability) fixes each person's distance.
"""

from __future__ import annotations

import threading
from typing import Dict, Mapping, Optional, Set

from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import MarkerArray

from grounded_sam_ros.msg import HumanMeshArray
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.ros.qos import CAMERA_INFO_QOS, OUTPUT_QOS

PARAMS = (
    ParamSpec(
        "mesh.enable",
        False,
        "Publish 'human_meshes' and 'human_mesh_markers' (SMPL-X bodies of person detections, OSX / SMPLer-X). "
        "Off: nothing is loaded or run.",
        CONFIGURE,
    ),
    ParamSpec(
        "mesh.model",
        "",
        "OSX / SMPLer-X checkpoint file: osx_l_wo_decoder.pth.tar or smpler_x_{s,b,l,h}32.pth.tar.",
        CONFIGURE,
    ),
    ParamSpec(
        "mesh.smplx_model",
        "",
        "SMPLX_NEUTRAL.npz (or its folder), from https://smpl-x.is.tue.mpg.de/ (registration, non-commercial).",
        CONFIGURE,
    ),
    ParamSpec("mesh.labels", "person", "Comma-separated query phrases whose detections get a mesh."),
    ParamSpec(
        "mesh.max_people", 0, "At most this many meshes per frame, highest scores first (0 = all).", low=0, high=1000
    ),
    ParamSpec("mesh.publish_vertices", True, "Fill HumanMesh.vertices (about 126 KB per person)."),
)


class HumanMeshes(Capability):
    """Human meshes for one camera (see the module docstring)."""

    PARAMS = PARAMS

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._estimator = None
        self._meshes_pub = self._markers_pub = None
        self._intrinsics: Optional[tuple] = None  # (Intrinsics, width, height) of the last CameraInfo
        self._lock = threading.Lock()
        self._marker_ids: Set[int] = set()
        self._published = 0
        self._people = 0

    @classmethod
    def check(cls, values: Mapping) -> None:
        if values["mesh.enable"] and not (values["mesh.model"] and values["mesh.smplx_model"]):
            raise ValueError(
                "mesh.enable is true but mesh.model or mesh.smplx_model is empty: give the OSX/SMPLer-X checkpoint "
                "file and the SMPLX_NEUTRAL.npz path"
            )

    def configure(self) -> None:
        settings = self.node.settings
        if not getattr(settings, "mesh.enable"):
            return
        from grounded_sam_ros.mesh.estimator import MeshEstimator
        from grounded_sam_ros.ros.model_store import models_of

        device = self.node.pipeline.config.device if self.node.pipeline is not None else "cpu"
        model, body = getattr(settings, "mesh.model"), getattr(settings, "mesh.smplx_model")
        try:
            # One network for every camera of the node (the node's model store)
            self._estimator = models_of(self.node).get(
                ("mesh", model, body, device), lambda: MeshEstimator.from_files(model, body, device=device)
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise RuntimeError(f"mesh: {exc}") from None
        self._meshes_pub = self.publisher(HumanMeshArray, "human_meshes", OUTPUT_QOS)
        self._markers_pub = self.publisher(MarkerArray, "human_mesh_markers", OUTPUT_QOS)
        self.subscription(CameraInfo, "camera_info", self._on_camera_info, CAMERA_INFO_QOS)

    def cleanup(self) -> None:
        super().cleanup()
        self._estimator = self._meshes_pub = self._markers_pub = None
        self._marker_ids = set()
        with self._lock:
            self._intrinsics = None

    def _on_camera_info(self, msg: CameraInfo) -> None:
        from grounded_sam_ros.mesh.camera import Intrinsics

        try:
            intrinsics = Intrinsics.from_k(list(msg.k))
        except ValueError as exc:
            self.node.log_throttled(f"mesh: ignoring camera_info: {exc}")
            return
        with self._lock:
            self._intrinsics = (intrinsics, int(msg.width), int(msg.height))

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        if self._estimator is None or not frame.publish:
            return
        want_meshes = self._meshes_pub.get_subscription_count() > 0
        want_markers = self._markers_pub.get_subscription_count() > 0
        if not (want_meshes or want_markers):
            return
        from grounded_sam_ros.mesh.people import MeshConfig, meshes_for_result, normalise_labels
        from grounded_sam_ros.ros.mesh_msgs import marker_ids, mesh_markers, meshes_to_msg

        settings = self.node.settings
        config = MeshConfig(
            "-", "-", normalise_labels(getattr(settings, "mesh.labels")), getattr(settings, "mesh.max_people")
        )
        meshes = meshes_for_result(
            self._estimator,
            frame.image,
            result,
            config,
            intrinsics=self._camera_for(result.image_width, result.image_height),
            measured=_measured_depths(result),
        )
        self._people += len(meshes)
        if want_meshes:
            msg = meshes_to_msg(meshes, frame.header, result.image_width, result.image_height,
                                with_vertices=getattr(settings, "mesh.publish_vertices"))  # fmt: skip
            self._meshes_pub.publish(msg)
            self._published += 1
        if want_markers and (meshes or self._marker_ids):
            self._markers_pub.publish(mesh_markers(meshes, self._estimator.faces, frame.header, self._marker_ids))
            self._marker_ids = marker_ids(meshes)

    def _camera_for(self, width: int, height: int):
        """The last CameraInfo's intrinsics, scaled to this image's size (same aspect ratio), or None."""
        with self._lock:
            known = self._intrinsics
        if known is None:
            return None
        from grounded_sam_ros.mesh.camera import Intrinsics

        k, w, h = known
        if not w or not h or (w, h) == (width, height):
            return k
        if abs(w / h - width / height) > 0.01 * width / height:
            self.node.log_throttled(f"mesh: camera_info is {w}x{h}, the image {width}x{height}: not using it")
            return None
        sx, sy = width / w, height / h
        return Intrinsics(k.fx * sx, k.fy * sy, k.cx * sx, k.cy * sy)

    def diagnostics(self) -> Dict[str, str]:
        values = {"mesh": "on" if self._estimator is not None else "off"}
        if self._estimator is not None:
            values.update(mesh_arrays=str(self._published), mesh_people=str(self._people),
                          mesh_camera="real" if self._intrinsics else "virtual")  # fmt: skip
        return values


def _measured_depths(result: FrameResult) -> Optional[dict]:
    """Per-detection distance of its visible surface (metres) where depth fusion measured one, keyed by id."""
    measured = {
        det.id: float(det.instance_3d.position[2])
        for det in result.detections
        if det.instance_3d is not None and det.instance_3d.valid
    }
    return measured or None
