# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Many cameras, one model: throughput and per-camera latency of one node serving 1, 2 and 4 cameras.

    python bench/bench_multicam.py                       # tiny random models, 1/2/4 cameras, 20 s each
    python bench/bench_multicam.py --total-rate          # the same 10 Hz of input split between the cameras
    flock /tmp/gsr-heavy.lock python bench/bench_multicam.py --models full --seconds 90   # full-size random weights

(with ``source .venv/bin/activate && source install/setup.bash`` first). For each camera count the real node runs
in a subprocess (``cameras:=[cam0, ...]``, reliable QoS, random ``ROS_DOMAIN_ID``, discovery on this machine); every
camera publishes 640x480 frames at ``--rate`` Hz, more than the node can take, so the node is saturated and serves
the cameras in turn, each time their newest frame. Thresholds 0 and ``max_detections=8``: every frame has 8 boxes
to segment. Measured: results per second of all cameras together, per camera, publish -> ``DetectionArray`` latency
per camera (median and 90th percentile), frames dropped, and the node's resident memory (RSS) at the end. Prints a
table and writes ``bench/results/multicam-cpu[-full][-total-rate].json`` (``--out`` to change it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import current_rss_mb, load_average, machine_info  # noqa: E402
from bench.workloads import frame  # noqa: E402
from grounded_sam_ros.ros import processes  # noqa: E402

QUERY = "cat . person . rocket . cup"


class Cameras:
    """An rclpy node in its own thread: one image publisher and one detections subscriber per camera namespace."""

    def __init__(self, domain: int, cameras: List[str]) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from grounded_sam_ros.msg import DetectionArray

        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("bench_cameras", context=self.context)
        reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
        results = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.cameras = cameras
        self.pubs = {ns: self.node.create_publisher(Image, f"{ns}/image", reliable) for ns in cameras}
        self.subs = [
            self.node.create_subscription(DetectionArray, f"{ns}/detections", self._on_result, results)
            for ns in cameras
        ]
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.lock = threading.Lock()
        self.sent: Dict[tuple, float] = {}  # (sec, nanosec) -> publish time
        self.arrived: Dict[tuple, float] = {}
        self.diagnostics: Dict[str, str] = {}
        self._seq = [0] * len(cameras)  # next nanosec stamp per camera
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self.context.ok():
            self._executor.spin_once(timeout_sec=0.2)

    def _on_result(self, msg: Any) -> None:
        with self.lock:
            self.arrived[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.perf_counter()

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "state" in values:
                self.diagnostics = values

    def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} within {timeout:.0f} s; node diagnostics: {self.diagnostics}")
            time.sleep(0.05)

    def stream(self, messages: List[Any], rate: float, seconds: float) -> None:
        """Every camera publishes at ``rate`` Hz for ``seconds`` (one thread per camera)."""

        def run(index: int, ns: str) -> None:
            msg = messages[index % len(messages)]
            started, n = time.perf_counter(), 0
            while time.perf_counter() - started < seconds:
                msg.header.stamp.sec, msg.header.stamp.nanosec = index + 1, self._seq[index]
                with self.lock:
                    self.sent[(index + 1, self._seq[index])] = time.perf_counter()
                self.pubs[ns].publish(msg)
                self._seq[index] += 1
                n += 1
                time.sleep(max(0.0, started + n / rate - time.perf_counter()))

        threads = [threading.Thread(target=run, args=(i, ns)) for i, ns in enumerate(self.cameras)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def close(self) -> None:
        import rclpy

        self._running = False
        self._thread.join(5.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def run_cameras(count: int, models, rate: float, seconds: float, warmup: float) -> Dict[str, Any]:
    """One node serving ``count`` cameras: start it, saturate it, measure, stop it."""
    from grounded_sam_ros.ros.conversions import rgb_to_image_msg

    cameras = [f"cam{i}" for i in range(count)]
    detector, segmenter = models
    parameters = {"detector_model": detector, "segmenter_model": segmenter, "device": "cpu", "dtype": "float32",
                  "image_reliability": "reliable", "box_threshold": 0.0, "text_threshold": 0.0, "max_detections": 8,
                  "query": QUERY, "cameras": cameras}  # fmt: skip
    domain = random.randint(1, 200)
    env = processes.ros_env(domain, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", HF_HUB_OFFLINE="1",
                            PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))  # fmt: skip
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    log = tempfile.NamedTemporaryFile("w+", prefix="multicam-node-", suffix=".log", delete=False)
    node = subprocess.Popen(processes.ros_args(processes.NODE_MODULE, parameters), env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    client = Cameras(domain, cameras)
    try:
        client.wait(lambda: client.diagnostics.get("state") == "active", 600.0, "the node did not become active")
        client.wait(lambda: all(p.get_subscription_count() for p in client.pubs.values())
                    and all(s.get_publisher_count() for s in client.subs), 60.0, "topics did not match")  # fmt: skip
        messages = [rgb_to_image_msg(frame(i, (640, 480))[1], encoding="rgb8") for i in range(4)]
        client.stream(messages, rate, warmup)  # warm-up: allocator, caches, DDS pools
        with client.lock:
            client.sent.clear()
            client.arrived.clear()
        started = time.perf_counter()
        client.stream(messages, rate, seconds)
        ended = time.perf_counter()
        rss_mb = current_rss_mb(node.pid)
        time.sleep(min(30.0, 3.0 * seconds / max(1, count)))  # let the last frames in flight arrive
        diag = dict(client.diagnostics)
    finally:
        client.close()
        code = processes.stop(node, 15.0)
        log.seek(0)
        node_log = log.read()
        log.close()
        os.unlink(log.name)
    with client.lock:
        sent, arrived = dict(client.sent), dict(client.arrived)
    per_camera = []
    for index, ns in enumerate(cameras):
        mine = [stamp for stamp in sent if stamp[0] == index + 1]
        done = [stamp for stamp in mine if stamp in arrived]
        in_window = [stamp for stamp in done if arrived[stamp] <= ended]
        latencies = sorted(1000.0 * (arrived[s] - sent[s]) for s in done)
        per_camera.append({
            "camera": ns,
            "sent": len(mine),
            "processed": len(done),
            "fps": len(in_window) / (ended - started),
            "latency_ms_median": statistics.median(latencies) if latencies else None,
            "latency_ms_p90": latencies[int(0.9 * (len(latencies) - 1))] if latencies else None,
        })  # fmt: skip
    return {
        "cameras": count,
        "seconds": ended - started,
        "total_fps": sum(c["fps"] for c in per_camera),
        "per_camera": per_camera,
        "node_rss_mb": rss_mb,
        "model_loads": node_log.count("loading models"),
        "node_exit_code": code,
        "node_diagnostics": {k: v for k, v in diag.items() if k.endswith(("fps", "latency_ms", "frames_dropped"))},
        "load_average": load_average(),
    }


def render(report: Dict[str, Any]) -> str:
    lines = [
        f"multi-camera node, {report['models']} models, {report['machine'].get('cpu', '')}, "
        f"{report['rate_hz']:g} Hz {'for all cameras' if report.get('total_rate') else 'per camera'}, 640x480, "
        "8 boxes/frame",
        f"{'cameras':>7} {'total fps':>9} {'per-camera fps':>22} {'latency median ms':>24} {'p90 ms':>20} "
        f"{'RSS MiB':>8} {'loads':>5} {'load avg':>8}",
    ]
    for run in report["runs"]:
        cams = run["per_camera"]
        fps = " ".join(f"{c['fps']:.2f}" for c in cams)
        med = " ".join(f"{c['latency_ms_median']:.0f}" if c["latency_ms_median"] else "-" for c in cams)
        p90 = " ".join(f"{c['latency_ms_p90']:.0f}" if c["latency_ms_p90"] else "-" for c in cams)
        lines.append(f"{run['cameras']:>7} {run['total_fps']:>9.2f} {fps:>22} {med:>24} {p90:>20} "
                     f"{run['node_rss_mb']:>8.0f} {run['model_loads']:>5} {run['load_average'][0]:>8.1f}")  # fmt: skip
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--models", choices=("tiny", "full"), default="tiny",
                        help="tiny random models, or full-size random weights (heavy: run under flock)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second each camera publishes")
    parser.add_argument("--total-rate", action="store_true",
                        help="--rate is for all cameras together (each publishes rate/N): the same input load "
                        "whatever the camera count")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per camera count")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.models == "tiny":
        from grounded_sam_ros.models.tiny import build_tiny_models, local_cache

        models = tuple(str(p) for p in build_tiny_models(local_cache("tiny-models")))
    else:
        from grounded_sam_ros.models.architectures import build_default_models

        models = tuple(str(p) for p in build_default_models())
    report = {"models": args.models, "rate_hz": args.rate, "total_rate": args.total_rate,
              "machine": machine_info("cpu"), "runs": []}  # fmt: skip
    for count in args.cameras:
        print(f"[multicam] {count} camera(s) ...", file=sys.stderr, flush=True)
        rate = args.rate / count if args.total_rate else args.rate
        report["runs"].append({"rate_hz_per_camera": rate,
                               **run_cameras(count, models, rate, args.seconds, args.warmup)})  # fmt: skip
    print(render(report))
    name = "multicam-" + ("cpu" if args.models == "tiny" else "cpu-full") + ("-total-rate" if args.total_rate else "")
    out = args.out or ROOT / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
