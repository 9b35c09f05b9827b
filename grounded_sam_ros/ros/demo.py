# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``make demo``: the grounded_sam node on the sample camera, end to end over ROS, results written to ``demo_out/``.

Starts the node and the sample camera as subprocesses, publishes a query, collects the DetectionArrays of a few frames,
draws each on its camera image and prints a summary. Without the default pretrained weights in the local Hugging Face
cache it says so and runs on tiny *random* weights — then the detections are meaningless, and every image says so.

    python -m grounded_sam_ros.ros.demo [--frames 8] [--query "astronaut . cat . coffee cup . rocket"] [--out demo_out]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from grounded_sam_ros.config import DEFAULT_DETECTOR, DEFAULT_SEGMENTER
from grounded_sam_ros.models.tiny import local_cache
from grounded_sam_ros.ros import processes

DEFAULT_QUERY = "astronaut . cat . coffee cup . rocket"
TINY_CACHE = local_cache("tiny-models")


def cached_weights(model_id: str) -> Optional[str]:
    """The local snapshot directory of a Hub model when its config and safetensors weights are cached, else None."""
    try:
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or no huggingface_hub): either way, not available offline
        return None
    if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
        return str(path)
    return None


def choose_models(detector: str, segmenter: str) -> Tuple[str, str, bool]:
    """(detector, segmenter, random_weights): the requested models when available locally, else tiny random ones."""
    found = [(m, Path(m).is_dir() or cached_weights(m) is not None) for m in (detector, segmenter)]
    missing = [m for m, ok in found if not ok]
    if not missing:
        return detector, segmenter, False
    print(
        "\n!!! Pretrained weights not available locally: "
        + ", ".join(missing)
        + "\n!!! (no internet here, and they are not in the Hugging Face cache).\n"
        "!!! Running on TINY RANDOM WEIGHTS instead: the pipeline, the node and ROS all run for real,\n"
        "!!! but the boxes, labels and masks are MEANINGLESS. To see real results, on a machine with internet run\n"
        f"!!!     grounded-sam download {DEFAULT_DETECTOR} && grounded-sam download {DEFAULT_SEGMENTER}\n"
        "!!! (or pass --detector/--segmenter local model directories).\n",
        flush=True,
    )
    from grounded_sam_ros.models.tiny import build_tiny_models

    tiny_detector, tiny_segmenter = build_tiny_models(TINY_CACHE)
    return str(tiny_detector), str(tiny_segmenter), True


def _stop(proc: subprocess.Popen, name: str, timeout: float = 10.0) -> None:
    if processes.stop(proc, timeout) is None:
        print(f"{name} did not stop on SIGINT within {timeout:.0f} s; killed it")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from grounded_sam_ros.msg import DetectionArray
    from grounded_sam_ros.ros.conversions import image_msg_to_rgb, msg_to_result
    from grounded_sam_ros.visualize import RANDOM_WEIGHTS_BANNER, annotate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("frame_*.png"):
        old.unlink()
    detector, segmenter, random_weights = choose_models(args.detector, args.segmenter)
    banner = RANDOM_WEIGHTS_BANNER if random_weights else None
    domain = int(os.environ.get("ROS_DOMAIN_ID") or random.randint(100, 200))
    env = processes.ros_env(domain)
    print(f"ROS_DOMAIN_ID={domain}; detector {detector}; segmenter {segmenter}; query '{args.query}'", flush=True)

    node_log = open(out / "node.log", "w")
    camera_log = open(out / "camera.log", "w")
    # Frames must arrive: reliable QoS end to end (large best-effort images can be lost on loopback)
    node_cmd = processes.ros_args(
        processes.NODE_MODULE,
        {"detector_model": detector, "segmenter_model": segmenter, "image_reliability": "reliable",
         "local_files_only": True},
    )  # fmt: skip
    camera_cmd = processes.ros_args(
        processes.CAMERA_MODULE, {"rate": args.rate, "reliability": "reliable", "encoding": "bgr8"}
    )
    node_proc = subprocess.Popen(node_cmd, env=env, stdout=node_log, stderr=subprocess.STDOUT)
    camera_proc: Optional[subprocess.Popen] = None

    os.environ["ROS_DOMAIN_ID"] = str(domain)
    rclpy.init()
    demo = rclpy.create_node("grounded_sam_demo")
    images: Dict[Tuple[int, int], np.ndarray] = {}
    results: List[Tuple[float, DetectionArray]] = []

    def on_image(msg: Image) -> None:
        images[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = image_msg_to_rgb(msg)
        while len(images) > 50:
            images.pop(next(iter(images)))

    def on_detections(msg: DetectionArray) -> None:
        results.append((time.time(), msg))

    reliable = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
    latched = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    demo.create_subscription(Image, "image", on_image, reliable)
    demo.create_subscription(DetectionArray, "detections", on_detections, reliable)
    demo.create_publisher(String, "query", latched).publish(String(data=args.query))

    status = 0
    started = time.monotonic()
    try:
        camera_proc = subprocess.Popen(camera_cmd, env=env, stdout=camera_log, stderr=subprocess.STDOUT)
        print(f"waiting for {args.frames} frames of detections (timeout {args.timeout:.0f} s) ...", flush=True)
        while len(results) < args.frames and time.monotonic() - started < args.timeout:
            rclpy.spin_once(demo, timeout_sec=0.2)
            if node_proc.poll() is not None:
                print(f"the node exited early (code {node_proc.returncode}); see {out / 'node.log'}")
                status = 1
                break
        # A few more spins so the image of the last result has surely arrived
        for _ in range(5):
            rclpy.spin_once(demo, timeout_sec=0.05)
    except KeyboardInterrupt:
        status = 130
    finally:
        if camera_proc is not None:
            _stop(camera_proc, "sample_camera")
        _stop(node_proc, "grounded_sam node")
        demo.destroy_node()
        rclpy.try_shutdown()
        node_log.close()
        camera_log.close()

    # Draw and summarise
    rows = []
    for index, (received, msg) in enumerate(results[: args.frames]):
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        latency_ms = 1000.0 * (received - (stamp[0] + stamp[1] * 1e-9))
        labels = sorted({d.label for d in msg.detections})
        image = images.get(stamp)
        path = ""
        if image is not None:
            from PIL import Image as PILImage

            drawn = annotate(image, msg_to_result(msg), banner=banner)
            path = str(out / f"frame_{index:02d}.png")
            PILImage.fromarray(drawn).save(path)
        rows.append((index, f"{msg.image_width}x{msg.image_height}", latency_ms, len(msg.detections), labels, path))

    print(f"\n{'frame':>5}  {'size':>9}  {'latency ms':>10}  {'detections':>10}  labels")
    for index, size, latency_ms, count, labels, path in rows:
        shown = ", ".join(labels) if labels else "-"
        print(f"{index:>5}  {size:>9}  {latency_ms:>10.0f}  {count:>10}  {shown}{'' if path else '  (image missed)'}")
    if rows:
        latencies = sorted(r[2] for r in rows)
        print(
            f"\n{len(rows)} frames in {time.monotonic() - started:.1f} s; latency (camera stamp -> detections "
            f"received) median {latencies[len(latencies) // 2]:.0f} ms, max {latencies[-1]:.0f} ms; "
            f"{sum(r[3] for r in rows)} detections; images in {out}/"
        )
    if len(rows) < args.frames and status == 0:
        print(f"only {len(rows)} of {args.frames} frames arrived within {args.timeout:.0f} s; see {out / 'node.log'}")
        status = 1
    if random_weights:
        print("\n!!! These results come from TINY RANDOM WEIGHTS: they are meaningless (see the note above).")
    return status


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="frames of detections to collect")
    parser.add_argument("--query", default=DEFAULT_QUERY, help="phrases to find, separated by '.'")
    parser.add_argument("--out", default="demo_out", help="folder for the annotated images and logs")
    parser.add_argument("--rate", type=float, default=2.0, help="sample camera frame rate, Hz")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="Grounding DINO Hub id or local directory")
    parser.add_argument("--segmenter", default=DEFAULT_SEGMENTER, help="SAM Hub id or local directory")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
