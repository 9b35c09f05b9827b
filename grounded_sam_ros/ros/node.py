# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ``grounded_sam`` lifecycle node: a thin ROS adapter over :class:`grounded_sam_ros.pipeline.GroundedSamPipeline`.

It keeps the lifecycle, the image input, the worker, the query and the pipeline call; every output, service and
per-frame step is a capability (:mod:`grounded_sam_ros.ros.capabilities`, contract in ``capabilities/base.py``):
``detections``, ``annotated_image``, depth 3D, vision_msgs, human meshes, auto query, ``segment``, ``edit``. Core
topics (relative names; with
``cameras:=[cam1, cam2]`` the image inputs and every capability's topics exist per namespace: ``cam1/image``...)::

    image, image/compressed   sensor_msgs/Image, CompressedImage   sensor data QoS (or reliable: image_reliability)
    query                     std_msgs/String, one for all cameras  reliable + transient local, depth 1
    /diagnostics              diagnostic_msgs/DiagnosticArray       ~1 Hz: fps, latency, drops, errors (per camera)

Execution model: image callbacks only store each camera's newest frame (:class:`FrameSlots`); one worker thread
takes them, the cameras in turn, runs the capabilities' ``before_inference`` hooks, the pipeline (wrapped by their
``infer`` hooks) and their ``on_result`` hooks (which publish). Services hand their inference to the same worker and
wait for it (:meth:`GroundedSamNode.run_on_worker`): one inference at a time, on one copy of the models, all on one
thread, while a multi-threaded executor answers parameters, lifecycle requests and callbacks. Models load on the
lifecycle ``configure`` transition and are freed on ``cleanup``.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Type

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message
from std_msgs.msg import String

from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import params, spin
from grounded_sam_ros.ros.camera_inputs import CameraInput, frame_context, make_inputs, pipeline_status
from grounded_sam_ros.ros.capabilities import CAPABILITIES, Camera, Capability, FrameContext
from grounded_sam_ros.ros.model_store import release_models
from grounded_sam_ros.ros.param_table import Settings
from grounded_sam_ros.ros.qos import QUERY_QOS
from grounded_sam_ros.ros.runtime import Frame, FrameSlots, LogThrottle, NodeStats, RateLimiter, Worker

NODE_NAME = "grounded_sam"
THROTTLE_S = 5.0
SERVICE_TIMEOUT_S = 300.0  # a service call waits at most this long for the worker


class GroundedSamNode(LifecycleNode):
    """Grounded-SAM as a lifecycle node (see the module docstring for its interface).

    ``capabilities``: the capability classes it is made of (default: the registry ``CAPABILITIES``).
    """

    def __init__(self, capabilities: Sequence[Type[Capability]] = CAPABILITIES, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._capability_types = tuple(capabilities)
        self._table = params.node_table(self._capability_types)
        self._values: Dict[str, Any] = self._table.declare(self)
        self._query = ""
        try:
            self._query = params.clean_query(self._values["query"])
        except ValueError as exc:
            self.get_logger().error(f"initial query parameter ignored: {exc}")
        self._settings: Settings = self._table.default_settings()

        self._pipe = None  # GroundedSamPipeline while configured
        self._active = False
        self._inferring = False  # an inference is running (diagnostics)
        self._infer_lock = threading.Lock()  # guards the pipeline: one inference (or model load/free) at a time
        self._state_lock = threading.Lock()  # guards _pending
        self._pending: Dict[str, Any] = {}  # per-frame pipeline settings to apply before the next inference
        self._stats = NodeStats()  # all cameras together; each CameraInput's stats count into it
        self._frames: FrameSlots[Frame] = FrameSlots(1)  # the newest frame of each camera
        self._inputs: List[CameraInput] = make_inputs([""], self._stats)
        self._rate = RateLimiter()
        self._worker = Worker("grounded_sam_worker", wake=self._wake)  # all model work; services hand theirs over
        self._no_query_logged = False
        self._throttle = LogThrottle(THROTTLE_S)

        self._frames_group = MutuallyExclusiveCallbackGroup()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # Raw so that a malformed message (e.g. non-UTF-8 bytes) is rejected here, not inside the executor
        self.create_subscription(String, "query", self._on_query, QUERY_QOS, raw=True)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)

    # ----------------------------------------------------------------------------------------------- for capabilities

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def query(self) -> str:
        return self._query

    @property
    def active(self) -> bool:
        return self._active

    @property
    def pipeline(self):
        return self._pipe

    def run_on_worker(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker thread (between frames) and return its result; re-raises its exception."""
        return self._worker.call(fn, SERVICE_TIMEOUT_S)

    def process(self, frame: FrameContext, query: str) -> Optional[FrameResult]:
        """The inference on ``frame`` then every capability's ``on_result``; None when stopped. Worker thread only."""
        inp = self._inputs[frame.camera.index]
        result = self._infer(inp, frame, query)
        if result is None:
            return None
        for capability in inp.capabilities:
            try:
                capability.on_result(frame, result)
            except Exception as exc:  # noqa: BLE001 - one failing output must not take the others down
                reason = f"{type(capability).__name__}: {type(exc).__name__}: {exc}"
                inp.stats.error(reason)
                self.log_throttled(f"frame output failed: {reason}", error=True)
        return result

    def latest_frame(self, camera: Camera) -> Optional[FrameContext]:
        """The last frame received on ``camera`` as a context for a request (``publish`` false), or None."""
        frame = self._frames.latest(camera.index)
        if frame is None:
            return None
        return frame_context(camera, frame, publish=False)

    def count_error(self, camera: Camera, reason: str, invalid_input: bool = False) -> None:
        self._inputs[camera.index].stats.error(reason, invalid_input=invalid_input)

    def log_throttled(self, message: str, error: bool = False) -> None:
        """One line per kind of problem every THROTTLE_S seconds (a bad stream must not flood the log)."""
        line = self._throttle.check(_shorten(message))
        if line is not None:
            (self.get_logger().error if error else self.get_logger().warning)(line)

    # ----------------------------------------------------------------------------------------------- lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        log = self.get_logger()
        try:
            settings = self._table.settings_from(self._values)
            config = self._table.config_from(self._values)
        except ValueError as exc:
            log.error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        if config.one_stage_model:
            log.info(f"loading models: one-stage {config.one_stage_model}")
        else:
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
        if [inp.camera.namespace for inp in self._inputs] != settings.cameras:  # else keep their counters
            self._inputs, self._frames = make_inputs(settings.cameras, self._stats), FrameSlots(len(settings.cameras))
        try:
            for inp in self._inputs:
                inp.open(self, self._capability_types, self._on_frame, self._frames_group)
        except Exception as exc:  # noqa: BLE001 - a capability that cannot start fails the transition, cleanly
            log.error(f"configure failed: {type(exc).__name__}: {exc}")
            self._teardown()
            return TransitionCallbackReturn.FAILURE
        self._start_worker()
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        if not self._query:
            self.get_logger().info("active, but no query yet: publish one on 'query' or set the 'query' parameter")
        result = super().on_activate(state)  # activates the lifecycle publishers
        self._each_capability("on_activate")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._each_capability("on_deactivate")
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
        """Stop the worker, drop subscriptions and capabilities, free the models."""
        self._active = False
        self.stop_worker(timeout=10.0)
        for inp in self._inputs:
            inp.close(self)
        self._frames.clear()
        with self._infer_lock:
            self._pipe = None
        release_models(self)  # what the capabilities shared between cameras (video model, tagger, ...)
        gc.collect()
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            sys.modules["torch"].cuda.empty_cache()

    # ----------------------------------------------------------------------------------------------- worker

    def _start_worker(self) -> None:
        self._frames.reopen()
        self._worker.start(self._work)

    def stop_worker(self, timeout: float) -> bool:
        """Ask the worker to stop and wait up to ``timeout`` s; False when it is still busy with an inference."""
        self._frames.close()
        return self._worker.stop(timeout)

    def _wake(self) -> None:
        self._frames.wake()

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            # Service calls first: they are waiting for an answer
            self._worker.run_jobs()
            # Honour max_rate; frames keep replacing each other meanwhile, so the newest is processed
            wait = self._rate.wait_time()
            if wait > 0.0:
                self._frames.wait(min(wait, 0.5))
                continue
            # The newest frame of the next camera in turn (a batched pass would use self._frames.take_all())
            taken = self._frames.take(timeout=0.5)
            if taken is None or not self._active:
                continue
            inp, frame = self._inputs[taken[0]], taken[1]
            try:
                self._serve(inp, frame)
            except Exception as exc:  # noqa: BLE001 - the worker never dies; the reason is logged and counted
                inp.stats.error(f"{type(exc).__name__}: {exc}")
                self.log_throttled(f"frame failed: {type(exc).__name__}: {exc}", error=True)

    def _serve(self, inp: CameraInput, frame: Frame) -> None:
        """One streamed frame: its query, the inference and every capability's output."""
        ctx = frame_context(inp.camera, frame, publish=True)
        try:
            query = self._query  # the frame finishes with the query it started with
            for capability in inp.capabilities:
                query = capability.before_inference(ctx, query)
            if not query:
                inp.stats.count("skipped_no_query")
                if not self._no_query_logged:
                    self._no_query_logged = True
                    self.get_logger().info("frames arrive but the query is empty: no inference until one is set")
                return
            self._rate.mark()
            ctx.image  # noqa: B018 - convert now: a malformed frame is an invalid input, not an inference error
        except ValueError as exc:
            inp.stats.error(f"bad frame: {exc}", invalid_input=True)
            self.log_throttled(f"frame ignored: {exc}")
            return
        started = time.monotonic()
        if self.process(ctx, query) is not None:
            inp.stats.record(frame.received, started, time.monotonic())

    def _infer(self, inp: CameraInput, frame: FrameContext, query: str) -> Optional[FrameResult]:
        """The pipeline (wrapped by the capabilities' ``infer`` hooks) under the inference lock, after applying
        pending per-frame settings; None when stopped during the debug delay."""
        with self._infer_lock:
            pipe = self._pipe
            if pipe is None:
                raise RuntimeError("the node is not configured (no models loaded): configure and activate it")
            with self._state_lock:
                updates, self._pending = self._pending, {}
            if updates:
                pipe.update(**updates)
            call = pipe.__call__
            for capability in reversed(inp.capabilities):
                call = functools.partial(capability.infer, frame, call_next=call)
            self._inferring = True
            try:
                if self._settings.debug_delay > 0.0 and self._worker.stop_event.wait(self._settings.debug_delay):
                    return None
                return call(frame.image, query)
            finally:
                self._inferring = False

    # ----------------------------------------------------------------------------------------------- callbacks

    def _on_frame(self, inp: CameraInput, compressed: bool, msg: Any, info: Dict[str, Any]) -> None:
        if not self._active:
            inp.stats.count("ignored_inactive")
            return
        gid = info.get("publisher_gid") or {}
        inp.gaps.observe(bytes(gid.get("data", b"")), info.get("publication_sequence_number"))
        self._frames.put(inp.camera.index, Frame(msg, time.monotonic(), compressed=compressed))

    def _on_query(self, data: bytes) -> None:
        try:
            raw = deserialize_message(data, String).data
        except Exception as exc:  # noqa: BLE001 - malformed message from the wire
            self._stats.error(f"bad query message: {exc}", invalid_input=True)
            self.log_throttled(f"query message ignored: not a valid std_msgs/String ({exc})")
            return
        # Through the parameter, so that validation happens in one place and `ros2 param get` tells the truth
        result = self.set_parameters([Parameter("query", Parameter.Type.STRING, raw)])[0]
        if not result.successful:
            self._stats.error(result.reason, invalid_input=True)

    def _on_set_parameters(self, parameters: List[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in self._table.by_name}
        try:
            cleaned = self._table.check_changes(self._values, changes, configured=self._pipe is not None)
        except ValueError as exc:
            reason = _shorten(str(exc))
            self.get_logger().warning(f"parameter change rejected: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        self._values.update(changes)
        if "max_rate" in cleaned:
            self._rate.max_rate = cleaned["max_rate"]
        self._settings = self._settings.replace(**cleaned)  # configure ones only change while unconfigured
        updates = self._table.live_updates(cleaned)
        if updates:
            with self._state_lock:
                self._pending.update(updates)
        if "query" in cleaned and cleaned["query"] != self._query:
            self._set_query(cleaned["query"])
        return SetParametersResult(successful=True)

    def _set_query(self, query: str) -> None:
        self._query = query
        self._no_query_logged = False
        shown = query if len(query) <= 200 else query[:200] + "..."
        self.get_logger().info(f"query: '{shown}'" if query else "query cleared: inference paused")
        self._each_capability("on_query", query)

    def _each_capability(self, hook: str, *args: Any) -> None:
        """Call an executor-thread hook of every capability of every camera; a failure is logged, not raised."""
        for inp in self._inputs:
            for capability in inp.capabilities:
                try:
                    getattr(capability, hook)(*args)
                except Exception as exc:  # noqa: BLE001
                    self.log_throttled(f"{type(capability).__name__}.{hook} failed: {exc}", error=True)

    # ----------------------------------------------------------------------------------------------- diagnostics

    def _publish_diagnostics(self) -> None:
        try:
            pipe = self._pipe
            state = "active" if self._active else ("inactive" if pipe is not None else "unconfigured")
            device = str(pipe.config.device) if pipe is not None else str(self._values["device"])
            extra = {
                "detector_model": str(self._values["detector_model"]),
                "segmenter_model": str(self._values["segmenter_model"]),
                "max_rate": str(self._rate.max_rate),
                "inference_running": str(self._inferring).lower(),
            }
            name = f"{self.get_fully_qualified_name()}: pipeline"
            inputs, frames, total = self._inputs, self._frames, self._stats
            status = pipeline_status(name, device, state, self._query, inputs, frames, total, extra)
            msg = DiagnosticArray(status=[status])
            msg.header.stamp = self.get_clock().now().to_msg()
            self._diag_pub.publish(msg)
        except Exception as exc:  # noqa: BLE001
            self.log_throttled(f"diagnostics failed: {exc}", error=True)


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def main(args: Optional[List[str]] = None) -> None:
    spin.run(GroundedSamNode, args)


if __name__ == "__main__":
    main()
