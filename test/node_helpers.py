# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Helpers for the node's integration tests: the node in a subprocess, and an rclpy client that talks to it.

Each test module picks its own random ROS_DOMAIN_ID and keeps discovery on localhost, so parallel runs and other
ROS processes on the machine do not see each other.
"""

from __future__ import annotations

import functools
import os
import random
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from grounded_sam_ros.ros import processes

NODE = "/grounded_sam"


def random_domain() -> int:
    return random.randint(1, 200)


def ros_env(domain: int) -> Dict[str, str]:
    """The child environment: localhost discovery, offline, the working tree's sources first on PYTHONPATH, and
    Python's fault handler (a crash shows where each thread was)."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return processes.ros_env(
        domain,
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        PYTHONPATH=root + (os.pathsep + path if path else ""),
        PYTHONFAULTHANDLER="1",  # a crash of the child prints every thread's Python stack into its log
    )


class NodeProcess:
    """``python -m grounded_sam_ros.ros.node`` with ``-p name:=value`` parameters, its output in a log file."""

    def __init__(
        self, parameters: Dict[str, Any], domain: int, log_path: Path, env: Optional[Dict[str, str]] = None
    ) -> None:
        """``env``: the child's whole environment (default: ``ros_env(domain)``)."""
        args = processes.ros_args(processes.NODE_MODULE, parameters)
        self.log_path = log_path
        self._log = open(log_path, "w")
        env = env if env is not None else ros_env(domain)
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the node process, MiB (from /proc)."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS in /proc status")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> Tuple[Optional[int], float]:
        """SIGINT, then wait; returns (exit code or None when it had to be killed, seconds it took)."""
        started = time.monotonic()
        code = processes.stop(self.proc, timeout)
        self._log.close()
        return code, time.monotonic() - started


class Client:
    """An rclpy node in its own context, spun in a background thread; collects what the grounded_sam node sends."""

    def __init__(self, domain: int, namespace: str = "", cameras: Sequence[str] = ()) -> None:
        """``cameras``: namespaces of a multi-camera node: per camera an image publisher and a detections subscriber
        (``publish_camera``, ``wait_camera_detections``)."""
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image
        from std_msgs.msg import String

        from grounded_sam_ros.msg import DetectionArray

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("test_client", context=self.context)
        self._lock = threading.Lock()
        self.detections: List[Tuple[float, Any]] = []  # (time.monotonic() at arrival, DetectionArray)
        self._sent: Dict[Tuple[int, int], float] = {}  # stamp -> when we last published a frame with it
        self.diagnostics: List[Dict[str, str]] = []
        self.annotated: List[Any] = []
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.latched = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.image_pub = self.node.create_publisher(Image, "image", reliable)
        self.compressed_pub = self.node.create_publisher(CompressedImage, "image/compressed", reliable)
        self.query_pub = self.node.create_publisher(String, "query", self.latched)
        self.detections_sub = self.node.create_subscription(DetectionArray, "detections", self._on_detections, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.camera_pubs = {ns: self.node.create_publisher(Image, f"{ns}/image", reliable) for ns in cameras}
        self.by_camera: Dict[str, List[Tuple[float, Any]]] = {ns: [] for ns in cameras}
        self.arrivals: List[Tuple[float, str, Any]] = []  # (arrival, camera, msg) of every camera, in arrival order
        self.camera_subs = {
            ns: self.node.create_subscription(
                DetectionArray, f"{ns}/detections", functools.partial(self._on_camera_detections, ns), reliable
            )
            for ns in cameras
        }
        self._annotated_sub = None
        self._reliable = reliable
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._running = True
        self.spin_errors: List[str] = []
        self._clients: Dict[Tuple[Any, str], Any] = {}
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except Exception as exc:  # noqa: BLE001 - keep spinning; a test fails on what it does not receive
                if not self._running:
                    return
                self.spin_errors.append(repr(exc))

    def close(self) -> None:
        import rclpy

        self._running = False
        self._thread.join(5.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    # --- received data

    def _on_detections(self, msg) -> None:
        with self._lock:
            self.detections.append((time.monotonic(), msg))

    def _on_camera_detections(self, camera: str, msg) -> None:
        with self._lock:
            now = time.monotonic()
            self.by_camera[camera].append((now, msg))
            self.arrivals.append((now, camera, msg))

    def find_camera_detections(self, camera: str, stamp: Tuple[int, int]):
        """(arrival time, DetectionArray) on ``<camera>/detections`` of the frame stamped ``stamp``, or None."""
        with self._lock:
            for arrived, msg in self.by_camera[camera]:
                if (msg.header.stamp.sec, msg.header.stamp.nanosec) == tuple(stamp):
                    return arrived, msg
        return None

    def wait_camera_detections(self, camera: str, stamp: Tuple[int, int], timeout: float = 30.0):
        """(arrival time, DetectionArray) on ``<camera>/detections`` of the frame stamped ``stamp``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find_camera_detections(camera, stamp)
            if found is not None:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no DetectionArray on {camera}/detections for {stamp} within {timeout} s; "
                             f"diagnostics: {self.latest_diagnostics()}")  # fmt: skip

    def wait_cameras_connected(self, timeout: float = 30.0) -> None:
        """Until every camera's image publisher and detections subscriber matched the node, on both sides."""
        deadline = time.monotonic() + timeout
        for ns, pub in self.camera_pubs.items():
            while pub.get_subscription_count() == 0 or self.camera_subs[ns].get_publisher_count() == 0:
                assert time.monotonic() < deadline, f"camera {ns}: the node's subscription/publisher never matched"
                time.sleep(0.05)
            self.wait_subscribed("detections", max(1.0, deadline - time.monotonic()), camera=ns)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith(NODE + ":"):
                values = {kv.key: kv.value for kv in status.values}
                values["_level"] = str(int.from_bytes(status.level, "little") if isinstance(status.level, bytes)
                                       else status.level)  # fmt: skip
                values["_message"] = status.message
                with self._lock:
                    self.diagnostics.append(values)

    def _on_annotated(self, msg) -> None:
        with self._lock:
            self.annotated.append(msg)

    def subscribe_annotated(self) -> None:
        from sensor_msgs.msg import Image

        with self._lock:
            self.annotated = []  # a new subscription: only what it receives
        self._annotated_sub = self.node.create_subscription(Image, "annotated_image", self._on_annotated, 5)

    def unsubscribe_annotated(self) -> None:
        if self._annotated_sub is not None:
            self.node.destroy_subscription(self._annotated_sub)
            self._annotated_sub = None

    def latest_diagnostics(self) -> Dict[str, str]:
        with self._lock:
            return dict(self.diagnostics[-1]) if self.diagnostics else {}

    def wait_diagnostics(self, predicate: Callable[[Dict[str, str]], bool], timeout: float = 15.0) -> Dict[str, str]:
        """The first diagnostics (received from now on) that satisfy ``predicate``; AssertionError on time-out."""
        with self._lock:
            start = len(self.diagnostics)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for values in self.diagnostics[start:]:
                    if predicate(values):
                        return dict(values)
                start = len(self.diagnostics)
            time.sleep(0.05)
        raise AssertionError(f"no diagnostics matched within {timeout} s; latest: {self.latest_diagnostics()}")

    def find_detections(self, stamp: Tuple[int, int]):
        """The DetectionArray stamped ``stamp`` that arrived after we last published a frame with that stamp (a
        test run again on the same node may reuse stamps), or None."""
        with self._lock:
            sent = self._sent.get(tuple(stamp), float("-inf"))
            for arrived, msg in self.detections:
                if (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp and arrived >= sent:
                    return arrived, msg
        return None

    def wait_detections(self, stamp: Tuple[int, int], timeout: float = 20.0):
        """(arrival time, DetectionArray) of the frame stamped ``stamp``; AssertionError on time-out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find_detections(stamp)
            if found is not None:
                return found
            time.sleep(0.01)
        raise AssertionError(
            f"no DetectionArray for stamp {stamp} within {timeout} s; diagnostics: {self.latest_diagnostics()}; "
            f"client spin errors: {self.spin_errors}"
        )

    # --- sending

    def wait_connected(self, timeout: float = 20.0) -> None:
        """Until the node's image subscription and detections publisher are matched with ours, on both sides: the
        node's diagnostics must count our detections subscription too (else its first output could miss us)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.image_pub.get_subscription_count() > 0 and self.detections_sub.get_publisher_count() > 0:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the node's image subscription / detections publisher never matched")
        self.wait_subscribed("detections", max(1.0, deadline - time.monotonic()))

    def wait_subscribed(self, topic: str, timeout: float = 20.0, camera: str = "") -> Dict[str, str]:
        """Until the node's diagnostics say its ``topic`` publisher (of ``camera``, for a multi-camera node) has
        matched a subscription (ours)."""
        key = (f"{camera}/" if camera else "") + topic.replace("/", "_") + "_subscribers"
        return self.wait_diagnostics(lambda d: int(d.get(key, 0)) > 0, timeout)

    def wait_counter(self, key: str, above: int, timeout: float = 15.0) -> Dict[str, str]:
        """The first diagnostics (from now on) whose integer ``key`` exceeds ``above``."""
        return self.wait_diagnostics(lambda d: int(d.get(key, 0)) > above, timeout)

    def counter(self, key: str) -> int:
        """``key`` of the next diagnostics message (the node's current count)."""
        return int(self.wait_diagnostics(lambda d: key in d)[key])

    def publish_image(self, msg) -> None:
        with self._lock:
            self._sent[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.monotonic()
        self.image_pub.publish(msg)

    def publish_query(self, text: str) -> None:
        from std_msgs.msg import String

        self.query_pub.publish(String(data=text))

    def call(self, srv_type, name: str, request, timeout: float = 30.0):
        """Call a service and wait for its response (AssertionError on time-out)."""
        # Clients are kept: creating and destroying entities while the executor spins in another thread is racy
        with self._lock:
            client = self._clients.get((srv_type, name))
            if client is None:
                client = self._clients[(srv_type, name)] = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {name} not available within {timeout} s")
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            raise AssertionError(f"service {name} did not answer within {timeout} s")
        return future.result()

    def set_parameters(self, timeout: float = 30.0, **values: Any):
        """``ros2 param set``: the rcl_interfaces/srv/SetParameters service of the node; returns the results list."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg() for name, value in values.items()]
        )
        return self.call(SetParameters, f"{NODE}/set_parameters", request, timeout).results

    def change_state(self, transition: str, timeout: float = 60.0) -> bool:
        """A lifecycle transition by label (configure, activate, deactivate, cleanup, shutdown)."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {
            "configure": Transition.TRANSITION_CONFIGURE,
            "activate": Transition.TRANSITION_ACTIVATE,
            "deactivate": Transition.TRANSITION_DEACTIVATE,
            "cleanup": Transition.TRANSITION_CLEANUP,
        }
        request = ChangeState.Request(transition=Transition(id=ids[transition]))
        return self.call(ChangeState, f"{NODE}/change_state", request, timeout).success

    def segment(self, image=None, query: str = "", timeout: float = 30.0):
        from grounded_sam_ros.srv import Segment

        request = Segment.Request(query=query)
        if image is not None:
            request.image = image
        return self.call(Segment, "segment", request, timeout)
