# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The contract between the ``grounded_sam`` node and its capabilities.

The node (:mod:`grounded_sam_ros.ros.node`) owns the lifecycle, the image input, the worker thread, the query and the
pipeline call. Everything else it does with a frame (publish detections, draw the annotated image, measure in depth,
serve ``segment``...) is a *capability*: a subclass of :class:`Capability` in its own module of this package, listed
once in ``CAPABILITIES`` (``capabilities/__init__.py``). A new output is one module plus one line there.

What a capability has
    ``PARAMS``       its ROS parameters (:class:`~grounded_sam_ros.ros.param_table.ParamSpec`). The node declares them
                     with the core ones and validates every change in its one parameter callback; read the cleaned
                     values from ``self.node.settings.<name>`` (an immutable snapshot, swapped on live changes, so
                     read it when you use it). Never declare parameters yourself.
    ``check``        (classmethod) cross-parameter rules: raise ``ValueError`` with a one-line reason to reject.
    ``configure``    create publishers, subscriptions and services with :meth:`publisher`, :meth:`subscription`
                     and :meth:`service` (names are relative to the camera's namespace, see :class:`Camera`); they
                     are destroyed by :meth:`cleanup`. A capability that a parameter turns off creates nothing.
    ``cleanup``      release what ``configure`` made (the base class destroys the entities it created; call super).
    ``on_query``     the node's query changed (e.g. republish a label map).
    ``diagnostics``  key/values merged into the node's ``/diagnostics`` status; ``warning`` a reason to report WARN.

Per-frame hooks, in ``CAPABILITIES`` order, on the worker thread
    ``before_inference(frame, query) -> query``  may replace the query for this frame (auto-query). A capability
                     that overrides it sees frames also while the node's query is empty.
    ``infer(frame, image, query, call_next) -> result``  wraps the inference: the default returns
                     ``call_next(image, query)`` (the pipeline, or the next capability's ``infer``); tracking returns
                     its own ``tracker(image, query, frame.stamp_ns)`` built on ``self.node.pipeline``. It runs under
                     the node's inference lock: one inference at a time, the models are safe to use.
    ``on_result(frame, result)``  the frame's :class:`~grounded_sam_ros.results.FrameResult`. A capability may fill in
                     fields (depth fills ``instance_3d``) for those after it, and publishes its outputs stamped with
                     ``frame.header``. ``frame.publish`` is False when a service asked for the result: fill, but
                     publish nothing. An exception is logged and counted; the other capabilities still run.

Threads
    ``__init__``, ``configure``, ``cleanup``, ``on_query``: executor threads, while the worker is stopped (configure,
    cleanup) or running (on_query). The per-frame hooks: the worker thread, one frame at a time, never concurrently
    with each other. Callbacks of the subscriptions and services a capability creates: the executor (multi-threaded),
    concurrently with the worker: keep shared state behind a lock, never touch ``self.node.pipeline`` there, and hand
    model work to the worker with ``self.node.run_on_worker(fn)`` (it waits for the result; re-raises its exception);
    ``self.node.process(frame, query)`` run there gives a request the same inference and hooks as a streamed frame.
    ``diagnostics``/``warning``: the diagnostics timer (an executor thread).

Cameras
    The node makes one instance of every capability per camera, at ``configure``: with the ``cameras`` parameter empty
    there is one camera with namespace ``""`` (topics exactly as named, e.g. ``detections``), else one per namespace
    (``cam1/detections``). Keep per-camera state on the instance; the node merges the diagnostics of every camera.

What a capability may use on ``self.node`` (see :class:`NodeApi`): ``settings``, ``query``, ``active``, ``pipeline``
(worker thread only), ``run_on_worker``, ``process``, ``latest_frame``, ``count_error``, ``log_throttled`` and the
rclpy node methods (``get_logger``, ``get_clock``, ``create_*``/``destroy_*`` through the helpers here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional, Protocol, Tuple

import numpy as np

from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros.param_table import ParamSpec, Settings

# The inference a capability's ``infer`` wraps: (image HxWx3 uint8 RGB, query) -> FrameResult, None when stopped
InferFn = Callable[[np.ndarray, str], Optional[FrameResult]]


@dataclass(frozen=True)
class Camera:
    """One image input of the node and the namespace of its outputs ("" = the node's own topic names)."""

    namespace: str = ""
    index: int = 0

    def topic(self, name: str) -> str:
        """``name`` in this camera's namespace: ``detections`` or ``cam1/detections`` (relative to the node's)."""
        return f"{self.namespace}/{name}" if self.namespace else name

    @property
    def label(self) -> str:
        """How logs and diagnostics name this camera."""
        return self.namespace or "image"


@dataclass
class FrameContext:
    """One frame on its way through the hooks: where it came from, its header, and its image.

    ``header`` (std_msgs/Header of the source frame) stamps every output. ``image`` is the frame as HxWx3 uint8 RGB,
    converted on first use (``ValueError`` with the reason for a malformed message). ``publish`` is False for a frame
    a service brought: capabilities compute but publish nothing.
    """

    camera: Camera
    header: Any
    received: float  # time.monotonic() when the frame arrived
    publish: bool = True
    msg: Any = None  # the sensor_msgs Image / CompressedImage as received, when there is one
    convert: Optional[Callable[[], np.ndarray]] = None  # makes ``image`` from ``msg``
    _image: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def image(self) -> np.ndarray:
        """HxWx3 uint8 RGB."""
        if self._image is None:
            if self.convert is None:
                raise RuntimeError("FrameContext has neither an image nor a converter")
            self._image = self.convert()
        return self._image

    @image.setter
    def image(self, value: np.ndarray) -> None:
        self._image = value

    @property
    def stamp_ns(self) -> int:
        """The header stamp as integer nanoseconds."""
        return int(self.header.stamp.sec) * 1_000_000_000 + int(self.header.stamp.nanosec)


class NodeApi(Protocol):
    """What the node offers its capabilities (besides the rclpy node methods)."""

    settings: Settings  # cleaned node-only parameter values (core + every capability's); immutable snapshot
    query: str  # the node's current normalised query ("" = none)
    active: bool  # lifecycle state active
    pipeline: Any  # the shared GroundedSamPipeline (None when unconfigured); worker thread only

    def run_on_worker(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker (between frames) and return its result; for executor threads only."""

    def process(self, frame: FrameContext, query: str) -> Optional[FrameResult]:
        """Inference (every ``infer`` hook) + every ``on_result`` hook on one frame; worker thread only."""

    def latest_frame(self, camera: Camera) -> Optional[FrameContext]:
        """The last frame received on ``camera``'s image topics (already processed or not), or None."""

    def count_error(self, camera: Camera, reason: str, invalid_input: bool = False) -> None:
        """Count an error (or a rejected input) in ``camera``'s diagnostics."""

    def log_throttled(self, message: str, error: bool = False) -> None:
        """Log one line per kind of problem every few seconds."""


class Capability:
    """One thing the node does with frames; see the module docstring for the contract. Override what you need."""

    PARAMS: ClassVar[Tuple[ParamSpec, ...]] = ()

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        self.node = node
        self.camera = camera
        self._publishers: List[Any] = []
        self._entities: List[Tuple[str, Any]] = []  # (destroy method name, entity)

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Cross-parameter rules over every parameter's value; raise ``ValueError`` with the reason to reject."""

    # --- lifecycle (executor thread)

    def configure(self) -> None:
        """Create this camera's publishers, subscriptions and services (read ``self.node.settings``)."""

    def cleanup(self) -> None:
        """Destroy what :meth:`configure` created. Subclasses that override it call ``super().cleanup()``."""
        for pub in self._publishers:
            self.node.destroy_lifecycle_publisher(pub)
        self._publishers = []
        for method, entity in reversed(self._entities):
            getattr(self.node, method)(entity)
        self._entities = []

    def on_query(self, query: str) -> None:
        """The node's query changed (normalised; "" = none)."""

    # --- per frame (worker thread)

    def before_inference(self, frame: FrameContext, query: str) -> str:
        """The query to run on this frame (default: unchanged)."""
        return query

    def infer(self, frame: FrameContext, image: np.ndarray, query: str, call_next: InferFn) -> Optional[FrameResult]:
        """Run (or replace) the inference on ``image`` (HxWx3 uint8 RGB); default: ``call_next(image, query)``."""
        return call_next(image, query)

    def on_result(self, frame: FrameContext, result: FrameResult) -> None:
        """Use (fill in, publish) the frame's result."""

    # --- diagnostics (timer thread)

    def diagnostics(self) -> Dict[str, str]:
        """Key/values for the node's diagnostics status."""
        return {}

    def warning(self) -> Optional[str]:
        """A reason for a WARN level (e.g. "no 3D: no depth received"), or None when fine."""
        return None

    # --- entity helpers: created in the camera's namespace, destroyed by cleanup()

    def publisher(self, msg_type: Any, name: str, qos: Any) -> Any:
        """A lifecycle publisher on ``camera.topic(name)`` (publishes only while the node is active)."""
        pub = self.node.create_lifecycle_publisher(msg_type, self.camera.topic(name), qos)
        self._publishers.append(pub)
        return pub

    def subscription(self, msg_type: Any, name: str, callback: Callable, qos: Any, **kwargs: Any) -> Any:
        """A subscription on ``camera.topic(name)``; ``kwargs`` go to ``create_subscription`` (callback_group, raw)."""
        sub = self.node.create_subscription(msg_type, self.camera.topic(name), callback, qos, **kwargs)
        self._entities.append(("destroy_subscription", sub))
        return sub

    def service(self, srv_type: Any, name: str, callback: Callable, **kwargs: Any) -> Any:
        """A service on ``camera.topic(name)``; ``kwargs`` go to ``create_service`` (callback_group)."""
        srv = self.node.create_service(srv_type, self.camera.topic(name), callback, **kwargs)
        self._entities.append(("destroy_service", srv))
        return srv
