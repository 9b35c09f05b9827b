# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""End to end through ROS: publish a frame to the real node, wait for its DetectionArray; against the pipeline alone.

The node runs in a subprocess (``python -m grounded_sam_ros.ros.node``) on a random ``ROS_DOMAIN_ID`` with discovery
kept on this machine, reliable image QoS, the benchmark's models, dtype and forced box count. Frames go one at a time
(the next is published once the previous result arrived), and each ROS frame is followed by the same frame through
an in-process pipeline with the same settings, so load from elsewhere hits both alike.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from bench.machine import current_rss_mb
from grounded_sam_ros.ros import processes

ROOT = Path(__file__).resolve().parents[1]


def ros_unavailable() -> str:
    """Why the ROS part cannot run here ('' when it can)."""
    try:
        import rclpy  # noqa: F401

        from grounded_sam_ros.msg import DetectionArray  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: no ROS here
        return f"rclpy or the grounded_sam_ros messages do not import ({type(exc).__name__}: {exc})"
    return ""


class _Client:
    """An rclpy node in its own context and thread: publishes images, collects DetectionArrays and the node state."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from grounded_sam_ros.msg import DetectionArray

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("bench_client", context=self.context)
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, "image", reliable)
        self.detections_sub = self.node.create_subscription(DetectionArray, "detections", self._on_result, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.arrivals: Dict[tuple, float] = {}
        self._arrived = threading.Event()
        self.state = ""
        self.diagnostics: tuple = (0.0, {})  # (arrival, the node's latest /diagnostics values)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self.context.ok():
            self._executor.spin_once(timeout_sec=0.5)

    def _on_result(self, msg: Any) -> None:
        self.arrivals[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.perf_counter()
        self._arrived.set()

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "state" in values:
                self.state = values["state"]
                self.diagnostics = (time.perf_counter(), values)

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} within {timeout:.0f} s")
            time.sleep(0.005)

    def node_times(self, since: float) -> Dict[str, float]:
        """The node's own receive -> publish and inference means (ms) from its first /diagnostics after ``since``.

        The node averages over frames that ended in the last 5 s: with one frame at a time taking seconds, that is
        the last frame.
        """
        self.wait(lambda: self.diagnostics[0] > since, 3.0, "no /diagnostics from the node")
        values = self.diagnostics[1]
        return {"latency_ms": float(values["latency_ms"]), "inference_ms": float(values["inference_ms"])}

    def round_trip(self, image: np.ndarray, stamp: int, timeout: float) -> float:
        """Seconds from publishing ``image`` to receiving its DetectionArray."""
        from std_msgs.msg import Header

        from grounded_sam_ros.ros.conversions import rgb_to_image_msg

        header = Header(frame_id="camera")
        header.stamp.sec = stamp
        msg = rgb_to_image_msg(image, header)
        self._arrived.clear()
        sent = time.perf_counter()
        self.image_pub.publish(msg)
        # Sleep until the subscription callback signals (no polling: this machine's cores run the node meanwhile)
        deadline = sent + timeout
        while (stamp, 0) not in self.arrivals:
            if not self._arrived.wait(max(0.0, deadline - time.perf_counter())):
                raise TimeoutError(f"no DetectionArray for frame {stamp} within {timeout:.0f} s")
            self._arrived.clear()
        return self.arrivals[(stamp, 0)] - sent

    def close(self) -> None:
        import rclpy

        self._running = False
        self._thread.join(5.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def ros_end_to_end(
    parameters: Dict[str, Any],
    frames: List[np.ndarray],
    query: str,
    pipeline_seconds: Callable[[np.ndarray], float],
    warmup: int = 3,
    timeout: float = 300.0,
) -> Dict[str, Any]:
    """Publish each of ``frames`` to a node started with ``parameters`` and time it against ``pipeline_seconds``.

    ``pipeline_seconds(frame)`` runs the in-process pipeline on a frame and returns its wall time. The first
    ``warmup`` frames are not counted: a fresh node process measured ~20 % slower on its 2nd frame and ~8 % on its
    3rd than in steady state (allocator and page warm-up), and a robot's node runs for hours. Returns medians (ms),
    their ratio, the node's own timings, its resident memory, or ``{"skipped": reason}``.
    """
    reason = ros_unavailable()
    if reason:
        return {"skipped": reason}
    domain = random.randint(1, 200)
    path = os.environ.get("PYTHONPATH")
    env = processes.ros_env(
        domain,
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_VERBOSITY="error",
        PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""),
    )
    args = processes.ros_args(processes.NODE_MODULE, {**parameters, "query": query, "image_reliability": "reliable"})
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-node-", suffix=".log", delete=False)
    node = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    client: Optional[_Client] = None
    try:
        client = _Client(domain)
        started = time.perf_counter()
        client.wait(lambda: client.state == "active" or node.poll() is not None, timeout, "the node did not activate")
        if node.poll() is not None:
            raise RuntimeError(f"the node exited with code {node.returncode}; log: {log.name}")
        client.wait(
            lambda: client.image_pub.get_subscription_count() > 0 and client.detections_sub.get_publisher_count() > 0,
            60.0,
            "the node's image subscription / detections publisher did not match",
        )
        load_s = time.perf_counter() - started
        ros_s, pipe_s, inside = [], [], []
        for i, image in enumerate(frames):
            ros = client.round_trip(image, i + 1, timeout)
            times = client.node_times(since=client.arrivals[(i + 1, 0)])
            pipe = pipeline_seconds(image)
            if i >= warmup:
                ros_s.append(ros)
                pipe_s.append(pipe)
                inside.append(times)
        rss = current_rss_mb(node.pid)
    except (TimeoutError, RuntimeError) as exc:
        return {"skipped": f"{exc} (node log: {log.name})"}
    finally:
        if client is not None:
            client.close()
        processes.stop(node, 20.0)
        log.close()
    ros_ms, pipe_ms = 1000.0 * statistics.median(ros_s), 1000.0 * statistics.median(pipe_s)
    return {
        "frames": len(ros_s),
        "ros_ms": [round(1000.0 * s, 1) for s in ros_s],
        "pipeline_ms": [round(1000.0 * s, 1) for s in pipe_s],
        "ros_median_ms": ros_ms,
        "pipeline_median_ms": pipe_ms,
        "ratio": ros_ms / pipe_ms,
        # The node's own view of the same frames: receive -> publish, and the pipeline call inside it
        "node_latency_ms": [round(t["latency_ms"], 1) for t in inside],
        "node_inference_ms": [round(t["inference_ms"], 1) for t in inside],
        "node_inference_median_ms": statistics.median(t["inference_ms"] for t in inside),
        # Other load on the machine only ever adds time: the fastest frame of each side is the least disturbed
        "ros_min_ms": 1000.0 * min(ros_s),
        "pipeline_min_ms": 1000.0 * min(pipe_s),
        "ratio_of_minima": min(ros_s) / min(pipe_s),
        "node_start_to_active_s": load_s,
        "node_rss_mb": rss,
    }
