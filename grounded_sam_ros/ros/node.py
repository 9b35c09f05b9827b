# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ``grounded_sam`` lifecycle node: a thin ROS adapter over :class:`grounded_sam_ros.pipeline.GroundedSamPipeline`.

Topics (relative names, remap as usual)::

    image              sensor_msgs/Image            in   sensor-data QoS (or reliable: image_reliability)
    image/compressed   sensor_msgs/CompressedImage  in   when compressed_input is true
    query              std_msgs/String              in   reliable + transient local, depth 1
    detections         grounded_sam_ros/DetectionArray   out  header = the source frame's header
    annotated_image    sensor_msgs/Image (rgb8)     out  drawn only while someone subscribes
    depth/image        sensor_msgs/Image 16UC1/32FC1     in   when use_depth; QoS as image, keep last 5
    depth/camera_info  sensor_msgs/CameraInfo       in   when use_depth; best effort (matches any publisher)
    detections_markers visualization_msgs/MarkerArray    out  when use_depth: a box + label per 3D instance
    instances_cloud    sensor_msgs/PointCloud2      out  when use_depth and publish_cloud, while someone subscribes
    /diagnostics       diagnostic_msgs/DiagnosticArray   out  ~1 Hz: fps, latency, dropped frames, last error
    segment            grounded_sam_ros/Segment     service

Execution model: image callbacks only store the newest frame in a :class:`FrameSlot`; one worker thread converts it,
runs the pipeline and publishes. The ``segment`` service hands its inference to the same worker (before the next
frame) and waits for it, so there is never more than one inference at a time and all model work stays on one thread;
parameters, lifecycle requests and other callbacks are answered meanwhile by a multi-threaded executor. Models load on
the lifecycle ``configure`` transition and are freed on ``cleanup``.

Depth (``use_depth``): depth callbacks only store the message in a :class:`DepthFusion`; after the pipeline's result
the worker pairs the frame with the depth image closest in stamp (within ``depth_slop``) and measures each instance
there (pure :mod:`grounded_sam_ros.geometry`). A frame without matching depth is published without 3D
(``has_3d`` false) and the diagnostics say why.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import queue
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Set

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from grounded_sam_ros.geometry import DepthFilter
from grounded_sam_ros.msg import DetectionArray
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import conversions, depth_fusion, params
from grounded_sam_ros.ros.depth_fusion import DepthFusion, FusionOutcome, stamp_ns
from grounded_sam_ros.ros.geometry_msgs_conv import (
    markers_from_detections,
    pointcloud_from_points,
    published_marker_ids,
)
from grounded_sam_ros.ros.runtime import Frame, FrameSlot, Job, LogThrottle, NodeStats, RateLimiter, SequenceGaps
from grounded_sam_ros.srv import Segment

NODE_NAME = "grounded_sam"
THROTTLE_S = 5.0
SERVICE_TIMEOUT_S = 300.0  # a service call waits at most this long for the worker
DEPTH_WAIT_S = 0.1  # after inference, how long a frame waits for a matching depth image that may still be coming
DEPTH_MAX_LAG_S = 1.0  # ...unless the newest depth image is older than the frame by more than this (stream stalled)


def image_qos(reliability: str) -> QoSProfile:
    """Keep only the newest frame; best effort (sensor data) unless ``reliability == 'reliable'``."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


QUERY_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
ANNOTATED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
CAMERA_INFO_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)


def depth_qos(reliability: str) -> QoSProfile:
    """Like :func:`image_qos` but keeping 5 frames, so that the depth matching a colour frame is still there."""
    qos = image_qos(reliability)
    qos.depth = 5
    return qos


class GroundedSamNode(LifecycleNode):
    """Grounded-SAM as a lifecycle node (see the module docstring for its interface)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._values: Dict[str, Any] = params.declare(self)
        self._query = ""
        try:
            self._query = params.clean_query(self._values["query"])
        except ValueError as exc:
            self.get_logger().error(f"initial query parameter ignored: {exc}")
        self._settings = params.NodeSettings()

        self._pipe = None  # GroundedSamPipeline while configured
        self._active = False
        self._infer_lock = threading.Lock()  # guards the pipeline: one inference (or model load/free) at a time
        self._jobs: "queue.SimpleQueue[Job]" = queue.SimpleQueue()  # service inferences, run by the worker
        self._state_lock = threading.Lock()  # guards _pending
        self._pending: Dict[str, Any] = {}  # per-frame pipeline settings to apply before the next inference
        self._slot: FrameSlot[Frame] = FrameSlot()
        self._gaps = SequenceGaps()
        self._rate = RateLimiter()
        self._stats = NodeStats()
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._no_query_logged = False
        self._throttle = LogThrottle(THROTTLE_S)
        self._subs: List[Any] = []
        self._detections_pub = None
        self._annotated_pub = None
        self._depth = DepthFusion()
        self._markers_pub = None
        self._cloud_pub = None
        self._marker_ids: Set[int] = set()  # marker ids on screen (published last frame), for the DELETEs
        self._marker_frame = ""

        self._frames_group = MutuallyExclusiveCallbackGroup()
        self._depth_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # Raw so that a malformed message (e.g. non-UTF-8 bytes) is rejected here, not inside the executor
        self.create_subscription(String, "query", self._on_query, QUERY_QOS, raw=True)
        self.create_service(Segment, "segment", self._on_segment, callback_group=self._service_group)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)

    # ----------------------------------------------------------------------------------------------- lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        log = self.get_logger()
        try:
            settings = params.settings_from_params(self._values)
            config = params.config_from_params(self._values)
        except ValueError as exc:
            log.error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        log.info(f"loading models: detector {config.detector_model}, segmenter {config.segmenter_model}")
        started = time.monotonic()
        try:
            from grounded_sam_ros.pipeline import build_pipeline

            with self._infer_lock:
                self._pipe = build_pipeline(config)
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, the node stays unconfigured
            log.error(f"configure failed: could not load the models: {exc}")
            return TransitionCallbackReturn.FAILURE
        log.info(f"models loaded in {time.monotonic() - started:.1f} s on {self._pipe.config.device}")

        self._settings = settings
        self._rate.max_rate = settings.max_rate
        with self._state_lock:
            self._pending.clear()
        self._detections_pub = self.create_lifecycle_publisher(DetectionArray, "detections", OUTPUT_QOS)
        self._annotated_pub = self.create_lifecycle_publisher(Image, "annotated_image", ANNOTATED_QOS)
        qos = image_qos(settings.image_reliability)
        self._subs = [self.create_subscription(Image, "image", self._on_image, qos, callback_group=self._frames_group)]
        if settings.compressed_input:
            self._subs.append(
                self.create_subscription(
                    CompressedImage, "image/compressed", self._on_compressed, qos, callback_group=self._frames_group
                )
            )
        if settings.use_depth:
            self._markers_pub = self.create_lifecycle_publisher(MarkerArray, "detections_markers", OUTPUT_QOS)
            if settings.publish_cloud:
                self._cloud_pub = self.create_lifecycle_publisher(PointCloud2, "instances_cloud", ANNOTATED_QOS)
            group = self._depth_group
            self._subs.append(
                self.create_subscription(
                    Image, "depth/image", self._on_depth, depth_qos(settings.image_reliability), callback_group=group
                )
            )
            self._subs.append(
                self.create_subscription(
                    CameraInfo, "depth/camera_info", self._on_camera_info, CAMERA_INFO_QOS, callback_group=group
                )
            )
        self._start_worker()
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        if not self._query:
            self.get_logger().info("active, but no query yet: publish one on 'query' or set the 'query' parameter")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def autostart(self) -> None:
        """Configure and activate now when the ``autostart`` parameter is true."""
        if not self._values["autostart"]:
            self.get_logger().info("autostart is false: waiting for lifecycle transitions (configure, activate)")
            return
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def _teardown(self) -> None:
        """Stop the worker, drop subscriptions and publishers, free the models."""
        self._active = False
        self.stop_worker(timeout=10.0)
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        for pub in (self._detections_pub, self._annotated_pub, self._markers_pub, self._cloud_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._detections_pub = self._annotated_pub = self._markers_pub = self._cloud_pub = None
        self._slot.clear()
        self._depth.clear()
        self._marker_ids = set()
        with self._infer_lock:
            self._pipe = None
        gc.collect()
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            sys.modules["torch"].cuda.empty_cache()

    # ----------------------------------------------------------------------------------------------- worker

    def _start_worker(self) -> None:
        self._stop = threading.Event()
        self._slot.reopen()
        self._worker = threading.Thread(target=self._work, name="grounded_sam_worker", daemon=True)
        self._worker.start()

    def stop_worker(self, timeout: float) -> bool:
        """Ask the worker to stop and wait up to ``timeout`` s; False when it is still busy with an inference."""
        self._stop.set()
        self._slot.close()
        worker, self._worker = self._worker, None
        stopped = True
        if worker is not None:
            worker.join(timeout)
            stopped = not worker.is_alive()
        self._cancel_jobs()
        return stopped

    def _cancel_jobs(self) -> None:
        while True:
            try:
                self._jobs.get_nowait().cancel("the node is stopping or cleaning up; call again once it is active")
            except queue.Empty:
                return

    def _run_jobs(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job.run()

    def _work(self) -> None:
        stop = self._stop
        while not stop.is_set():
            # Service calls first: they are waiting for an answer
            self._run_jobs()
            # Honour max_rate; frames keep replacing each other meanwhile, so the newest is processed
            wait = self._rate.wait_time()
            if wait > 0.0:
                self._slot.wait(min(wait, 0.5))
                continue
            frame = self._slot.take(timeout=0.5)
            if frame is None or not self._active:
                continue
            query = self._query  # the frame finishes with the query it started with
            if not query:
                self._stats.count("skipped_no_query")
                if not self._no_query_logged:
                    self._no_query_logged = True
                    self.get_logger().info("frames arrive but the query is empty: no inference until one is set")
                continue
            self._rate.mark()
            try:
                self._process(frame, query)
            except Exception as exc:  # noqa: BLE001 - the worker never dies; the reason is logged and counted
                self._stats.error(f"{type(exc).__name__}: {exc}")
                self._log_throttled(f"frame failed: {type(exc).__name__}: {exc}", error=True)

    def _process(self, frame: Frame, query: str) -> None:
        try:
            image = self._to_rgb(frame)
        except ValueError as exc:
            self._stats.error(f"bad frame: {exc}", invalid_input=True)
            self._log_throttled(f"frame ignored: {exc}")
            return
        started = time.monotonic()
        result = self._infer(image, query)
        if result is None:  # stopped during the debug delay
            return
        header = frame.msg.header
        detections_pub, annotated_pub = self._detections_pub, self._annotated_pub
        if detections_pub is None:
            return
        cloud_pub = self._cloud_pub
        want_cloud = cloud_pub is not None and cloud_pub.get_subscription_count() > 0
        depth = self._fuse_depth(result, header, want_cloud) if self._settings.use_depth else None
        detections_pub.publish(conversions.result_to_msg(result, header))
        self._stats.record(frame.received, started, time.monotonic())
        if depth is not None:
            self._publish_3d(result, header, depth, cloud_pub if want_cloud else None)
        if annotated_pub is not None and annotated_pub.get_subscription_count() > 0:
            from grounded_sam_ros.visualize import annotate

            annotated_pub.publish(conversions.rgb_to_image_msg(annotate(image, result), header))
            self._stats.count("annotated")

    def _fuse_depth(self, result: FrameResult, header: Header, want_cloud: bool = False) -> FusionOutcome:
        """Fill the detections' 3D fields from the depth image matching ``header``'s stamp; never raises."""
        settings = self._settings
        try:
            outcome = self._depth.fuse(
                result.detections,
                stamp_ns(header.stamp),
                (result.image_width, result.image_height),
                slop_s=settings.depth_slop,
                depth_filter=DepthFilter(min_points=settings.depth_min_points),
                scale=settings.depth_scale,
                cloud_stride=settings.cloud_stride if want_cloud else 0,
                wait_s=DEPTH_WAIT_S,
                max_lag_s=DEPTH_MAX_LAG_S,
            )
        except Exception as exc:  # noqa: BLE001 - a 3D failure must not lose the 2D detections
            for det in result.detections:
                det.instance_3d = None
            outcome = self._depth.missed(depth_fusion.FAILED, f"3D step failed: {type(exc).__name__}: {exc}")
        if not outcome.fused:
            self._log_throttled(f"no 3D for this frame: {outcome.reason}")
        return outcome

    def _publish_3d(self, result: FrameResult, header: Header, depth: FusionOutcome, cloud_pub) -> None:
        """Markers (and the cloud) for a frame, stamped like the colour frame, in the depth optical frame."""
        markers_pub = self._markers_pub
        if markers_pub is None:
            return
        if depth.fused:
            self._marker_frame = depth.frame_id
        out_header = Header(frame_id=self._marker_frame or header.frame_id)
        out_header.stamp = header.stamp
        markers = markers_from_detections(result.detections, out_header, previous_ids=self._marker_ids)
        self._marker_ids = published_marker_ids(result.detections)
        if markers.markers:
            markers_pub.publish(markers)
        if cloud_pub is not None:
            points, ids = depth.points, depth.ids
            if points is None:  # no depth: an empty cloud clears the last one
                points, ids = np.zeros((0, 3), np.float32), np.zeros(0, np.uint32)
            cloud_pub.publish(pointcloud_from_points(points, ids, out_header))

    def _to_rgb(self, frame: Frame) -> np.ndarray:
        """HxWx3 uint8 RGB from a received message; ValueError with the reason for a bad one."""
        if frame.compressed:
            return conversions.compressed_msg_to_rgb(frame.msg)
        return conversions.image_msg_to_rgb(frame.msg)

    def _infer(self, image: np.ndarray, query: str) -> Optional[FrameResult]:
        """Run the pipeline under the inference lock, after applying pending per-frame settings."""
        with self._infer_lock:
            pipe = self._pipe
            if pipe is None:
                raise RuntimeError("the node is not configured (no models loaded): configure and activate it")
            with self._state_lock:
                updates, self._pending = self._pending, {}
            if updates:
                pipe.update(**updates)
            if self._settings.debug_delay > 0.0 and self._stop.wait(self._settings.debug_delay):
                return None
            return pipe(image, query)

    def _infer_with_depth(self, image: np.ndarray, query: str, header: Header) -> Optional[FrameResult]:
        """The pipeline's result, with 3D fields when use_depth and a depth image matches ``header``'s stamp."""
        result = self._infer(image, query)
        if result is not None and self._settings.use_depth:
            self._fuse_depth(result, header)
        return result

    # ----------------------------------------------------------------------------------------------- callbacks

    def _on_image(self, msg: Image, info: Dict[str, Any]) -> None:
        self._on_frame(Frame(msg, time.monotonic()), info)

    def _on_compressed(self, msg: CompressedImage, info: Dict[str, Any]) -> None:
        self._on_frame(Frame(msg, time.monotonic(), compressed=True), info)

    def _on_frame(self, frame: Frame, info: Dict[str, Any]) -> None:
        if not self._active:
            return
        gid = info.get("publisher_gid") or {}
        self._gaps.observe(bytes(gid.get("data", b"")), info.get("publication_sequence_number"))
        self._slot.put(frame)

    def _on_depth(self, msg: Image) -> None:
        self._depth.add_depth(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._depth.add_camera_info(msg)

    def _on_query(self, data: bytes) -> None:
        try:
            raw = deserialize_message(data, String).data
        except Exception as exc:  # noqa: BLE001 - malformed message from the wire
            self._stats.error(f"bad query message: {exc}", invalid_input=True)
            self._log_throttled(f"query message ignored: not a valid std_msgs/String ({exc})")
            return
        # Through the parameter, so that validation happens in one place and `ros2 param get` tells the truth
        result = self.set_parameters([Parameter("query", Parameter.Type.STRING, raw)])[0]
        if not result.successful:
            self._stats.error(result.reason, invalid_input=True)

    def _on_set_parameters(self, parameters: List[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in params.SPECS}
        try:
            cleaned = params.check_changes(self._values, changes, configured=self._pipe is not None)
        except ValueError as exc:
            reason = _shorten(str(exc))
            self.get_logger().warning(f"parameter change rejected: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        self._values.update(changes)
        if "query" in cleaned and cleaned["query"] != self._query:
            self._query = cleaned["query"]
            self._no_query_logged = False
            shown = self._query if len(self._query) <= 200 else self._query[:200] + "..."
            self.get_logger().info(f"query: '{shown}'" if self._query else "query cleared: inference paused")
        if "max_rate" in cleaned:
            self._rate.max_rate = cleaned["max_rate"]
        settings = params.live_settings(cleaned)
        if settings:
            self._settings = dataclasses.replace(self._settings, **settings)
        updates = params.live_updates(cleaned)
        if updates:
            with self._state_lock:
                self._pending.update(updates)
        return SetParametersResult(successful=True)

    def _run_on_worker(self, fn):
        """Run ``fn`` on the worker thread (between frames) and return its result; re-raises its exception."""
        job = Job(fn)
        self._jobs.put(job)
        self._slot.wake()
        if self._worker is None:  # stopped between the check and the put
            self._cancel_jobs()
        if not job.wait(SERVICE_TIMEOUT_S):
            raise TimeoutError(f"the worker did not run the request within {SERVICE_TIMEOUT_S:.0f} s")
        return job.result()

    def _on_segment(self, request: Segment.Request, response: Segment.Response) -> Segment.Response:
        response.success = False
        try:
            if not self._active:
                response.message = "the node is not active: configure and activate it (ros2 lifecycle set ...)"
                return response
            if request.image.width == 0:
                frame = self._slot.latest
                if frame is None:
                    response.message = "no frame received yet on 'image'; send one or put an image in the request"
                    return response
            else:
                frame = Frame(request.image, time.monotonic())
            query = params.clean_query(request.query) if request.query.strip() else self._query
            if not query:
                response.message = "no query: give one in the request, on the 'query' topic or as the 'query' parameter"
                return response
            image = self._to_rgb(frame)
            result = self._run_on_worker(lambda: self._infer_with_depth(image, query, frame.msg.header))
            if result is None:
                response.message = "the node is shutting down"
                return response
            response.detections = conversions.result_to_msg(result, frame.msg.header)
            response.success = True
            response.message = f"{len(result.detections)} detection(s) for '{result.query}'"
        except ValueError as exc:
            response.message = f"invalid request: {exc}"
        except Exception as exc:  # noqa: BLE001 - a service answers, it never raises
            self._stats.error(f"{type(exc).__name__}: {exc}")
            response.message = f"inference failed: {type(exc).__name__}: {exc}"
        if not response.success:
            self._log_throttled(f"segment: {response.message}")
        return response

    def _log_throttled(self, message: str, error: bool = False) -> None:
        """One line per kind of problem every THROTTLE_S seconds (a bad stream must not flood the log)."""
        line = self._throttle.check(_shorten(message))
        if line is not None:
            (self.get_logger().error if error else self.get_logger().warning)(line)

    # ----------------------------------------------------------------------------------------------- diagnostics

    def _publish_diagnostics(self) -> None:
        try:
            self._diag_pub.publish(self._diagnostics())
        except Exception as exc:  # noqa: BLE001
            self._log_throttled(f"diagnostics failed: {exc}", error=True)

    def _diagnostics(self) -> DiagnosticArray:
        snap = self._stats.snapshot()
        depth = self._depth.snapshot()
        if not self._settings.use_depth:
            depth["depth_status"] = "off"
        pipe = self._pipe
        state = "active" if self._active else ("inactive" if pipe is not None else "unconfigured")
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: pipeline", hardware_id=self._device())
        recent_error = snap["last_error_age_s"] is not None and snap["last_error_age_s"] < 10.0
        if state != "active":
            status.level, status.message = DiagnosticStatus.WARN, f"{state}: not processing frames"
        elif not self._query:
            status.level, status.message = DiagnosticStatus.WARN, "no query: not processing frames"
        elif recent_error and snap["errors"]:
            status.level, status.message = DiagnosticStatus.ERROR, snap["last_error"][:200]
        elif self._settings.use_depth and depth["depth_status"] not in (depth_fusion.OK, depth_fusion.WAITING):
            status.level, status.message = DiagnosticStatus.WARN, f"no 3D: {depth['last_depth_error'][:200]}"
        else:
            status.level = DiagnosticStatus.OK
            status.message = f"{snap['fps']:.1f} fps, latency {snap['latency_ms_mean']:.0f} ms"
        values = {
            "state": state,
            "query": self._query,
            "fps": f"{snap['fps']:.2f}",
            "latency_ms": f"{snap['latency_ms_mean']:.1f}",
            "latency_ms_max": f"{snap['latency_ms_max']:.1f}",
            "inference_ms": f"{snap['inference_ms_mean']:.1f}",
            "frames_received": str(self._slot.received),
            "frames_processed": str(snap["processed"]),
            "frames_dropped": str(self._slot.dropped + self._gaps.lost),
            "frames_dropped_in_transport": str(self._gaps.lost),
            "frames_skipped_no_query": str(snap["skipped_no_query"]),
            "invalid_inputs": str(snap["invalid_inputs"]),
            "inference_errors": str(snap["errors"]),
            "annotated_images": str(snap["annotated"]),
            "last_error": snap["last_error"][:500],
            "detector_model": str(self._values["detector_model"]),
            "segmenter_model": str(self._values["segmenter_model"]),
            "max_rate": str(self._rate.max_rate),
            "use_depth": str(self._settings.use_depth).lower(),
            **depth,
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def _device(self) -> str:
        pipe = self._pipe
        return str(pipe.config.device) if pipe is not None else str(self._values["device"])


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def spin(executor: MultiThreadedExecutor, node: GroundedSamNode) -> None:
    """Spin until shutdown; an exception raised inside the executor (e.g. a malformed request) is logged, not fatal."""
    while rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.5)
        except (KeyboardInterrupt, ExternalShutdownException):
            return
        except Exception as exc:  # noqa: BLE001 - never die on input
            node.get_logger().error(f"callback failed: {type(exc).__name__}: {exc}", throttle_duration_sec=THROTTLE_S)


def main(args: Optional[List[str]] = None) -> None:
    rclpy.init(args=args)
    node: Optional[GroundedSamNode] = None
    executor: Optional[MultiThreadedExecutor] = None
    stopped = True
    try:
        node = GroundedSamNode()
        node.autostart()
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        spin(executor, node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            # An inference in progress cannot be interrupted; do not wait for it longer than a moment
            stopped = node.stop_worker(timeout=2.0)
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    if not stopped:
        # The worker (a daemon thread) is still inside the model: exit without waiting for it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
