# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Per-person cost of the human-mesh step (OSX encoder-only graph + SMPL-X skinning), and its cost when off.

The network has the published OSX-L / SMPLer-X-L size (ViT-L: 1024 wide, 24 blocks, 327 M parameters) with random
weights (BatchNorm statistics drawn, so no activation is subnormal); the body model is a synthetic SMPL-X file of the
real size (10,475 vertices, 20,908 triangles). Neither is downloaded. Per row (people per frame): milliseconds
(median over --repeats after one warm-up) for the crops, the network, the skinning and placement, the whole
``MeshEstimator`` call, and (with the ROS messages installed) building the HumanMeshArray and the TRIANGLE_LIST
markers. Then the node capability's per-frame cost when ``mesh.enable`` is off and when it is on with nobody
subscribed, counting network forwards (both must be zero).

    source .venv/bin/activate && source install/setup.bash
    PYTHONPATH=$PWD:$PYTHONPATH flock /tmp/gsr-heavy.lock python bench/bench_mesh.py [--people 1 4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch

from bench.machine import load_average, machine_info
from grounded_sam_ros.mesh.body_model import SMPLX
from grounded_sam_ros.mesh.camera import Intrinsics
from grounded_sam_ros.mesh.config import ARCHITECTURES
from grounded_sam_ros.mesh.estimator import MeshEstimator
from grounded_sam_ros.mesh.network import OSXNetwork
from grounded_sam_ros.mesh.preprocess import crop_box, crop_person, to_network_input
from grounded_sam_ros.mesh.synthetic import random_network, synthetic_smplx_arrays
from grounded_sam_ros.results import Detection, FrameResult

NUM_VERTICES, NUM_FACES = 10_475, 20_908  # the real SMPL-X mesh
WIDTH, HEIGHT = 1280, 720
K = Intrinsics(910.0, 910.0, 639.5, 359.5)


def full_size_smplx(seed: int = 0) -> SMPLX:
    """The synthetic figure padded to SMPL-X's vertex and triangle counts (extra vertices jittered around the
    joints, skinned like them; extra triangles within each joint's vertices)."""
    rng = np.random.default_rng(seed)
    a = synthetic_smplx_arrays(seed)
    base = len(a["v_template"])
    extra = NUM_VERTICES - base
    src = rng.integers(0, base, extra)
    a["v_template"] = np.concatenate([a["v_template"], a["v_template"][src] + rng.normal(0, 0.005, (extra, 3))])
    a["weights"] = np.concatenate([a["weights"], a["weights"][src]])
    a["J_regressor"] = np.concatenate([a["J_regressor"], np.zeros((55, extra))], axis=1)
    for key, scale in (("shapedirs", 0.01), ("posedirs", 0.002)):
        a[key] = rng.normal(0, scale, (NUM_VERTICES, 3, a[key].shape[2]))
    more = NUM_FACES - len(a["f"])
    a["f"] = np.concatenate([a["f"], rng.integers(0, NUM_VERTICES, (more, 3)).astype(np.uint32)])
    return SMPLX(a)


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def person_boxes(n: int) -> np.ndarray:
    xs = np.linspace(80, WIDTH - 280, n) if n > 1 else np.array([500.0])
    return np.array([[x, 80, x + 200, 660] for x in xs], dtype=np.float32)


def measure(estimator: MeshEstimator, image: np.ndarray, n: int, repeats: int, markers_fn) -> dict:
    """Stage times (ms) for ``n`` people in one frame."""
    boxes = person_boxes(n)
    x = to_network_input([crop_person(image, crop_box(b, WIDTH, HEIGHT)) for b in boxes])
    with torch.inference_mode():
        p = estimator.network(x)
        t_net = timed(lambda: estimator.network(x), repeats)
        body_args = (p.betas, p.root_pose, p.body_pose, p.lhand_pose, p.rhand_pose, p.jaw_pose, p.expression)
        t_body = timed(lambda: estimator.body(*body_args), repeats)
    t_crop = timed(lambda: to_network_input([crop_person(image, crop_box(b, WIDTH, HEIGHT)) for b in boxes]), repeats)
    t_all = timed(lambda: estimator(image, boxes, intrinsics=K), repeats)
    row = {"people": n, "crop_ms": t_crop, "network_ms": t_net, "body_ms": t_body, "estimator_ms": t_all}
    row["per_person_ms"] = t_all / n
    if markers_fn is not None:
        from std_msgs.msg import Header

        from grounded_sam_ros.ros.mesh_msgs import meshes_to_msg

        meshes = estimator(image, boxes, intrinsics=K)
        row["messages_ms"] = timed(
            lambda: (meshes_to_msg(meshes, Header(), WIDTH, HEIGHT), markers_fn(meshes, estimator.faces, Header())),
            repeats,
        )
    return row


def off_cost(frames: int) -> dict:
    """The node capability's per-frame cost with mesh.enable off, and on with nobody subscribed (fakes for rclpy)."""
    try:
        from grounded_sam_ros.ros.capabilities.mesh import HumanMeshes
    except ImportError as exc:
        return {"skipped": f"ROS messages not importable ({exc}): source install/setup.bash"}

    forwards = [0]
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda m, i, o: forwards.__setitem__(0, forwards[0] + isinstance(m, OSXNetwork))
    )
    settings = SimpleNamespace(**{"mesh.enable": False, "mesh.labels": "person", "mesh.max_people": 0,
                                  "mesh.publish_vertices": True})  # fmt: skip
    node = SimpleNamespace(settings=settings, pipeline=None)
    dets = [Detection("person", 0.9, b, id=str(i)) for i, b in enumerate(person_boxes(3))]
    result = FrameResult(WIDTH, HEIGHT, "person", dets)
    frame = SimpleNamespace(publish=True, image=np.zeros((HEIGHT, WIDTH, 3), np.uint8), header=None)
    out = {}
    try:
        off = HumanMeshes(node, camera=None)
        off.configure()
        out["off_us_per_frame"] = (
            timed(lambda: [off.on_result(frame, result) for _ in range(frames)], 3) * 1000 / frames
        )
        on = HumanMeshes(node, camera=None)
        on._estimator = SimpleNamespace()  # never called when nobody subscribes
        silent = SimpleNamespace(get_subscription_count=lambda: 0)
        on._meshes_pub = on._markers_pub = silent
        out["on_unsubscribed_us_per_frame"] = (
            timed(lambda: [on.on_result(frame, result) for _ in range(frames)], 3) * 1000 / frames
        )
    finally:
        hook.remove()
    out["network_forwards"] = forwards[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="osx_l", choices=sorted(ARCHITECTURES))
    parser.add_argument("--people", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/mesh-cpu.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    info = machine_info("cpu")
    arch = ARCHITECTURES[args.arch]
    t0 = time.perf_counter()
    estimator = MeshEstimator(random_network(arch), full_size_smplx())
    build_s = time.perf_counter() - t0
    params_m = sum(p.numel() for p in estimator.network.parameters()) / 1e6
    print(
        f"{arch.name}: {params_m:.0f} M parameters, random weights, float32 on CPU ({info['cpu']}, "
        f"{info['torch_threads']} threads); SMPL-X {estimator.body.num_vertices} vertices; built in {build_s:.0f} s"
    )

    try:
        from grounded_sam_ros.ros.mesh_msgs import mesh_markers
    except ImportError:
        mesh_markers = None

    image = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    rows = []
    header = f"{'people':>6} {'crop':>7} {'network':>8} {'body':>7} {'estimator':>9} {'per person':>10} {'msgs':>7}"
    print(header + "\n" + "-" * len(header))
    for n in args.people:
        row = measure(estimator, image, n, args.repeats, mesh_markers)
        rows.append(row)
        msgs = f"{row['messages_ms']:7.1f}" if "messages_ms" in row else f"{'-':>7}"
        print(f"{n:>6} {row['crop_ms']:7.1f} {row['network_ms']:8.1f} {row['body_ms']:7.1f} "
              f"{row['estimator_ms']:9.1f} {row['per_person_ms']:10.1f} {msgs}")  # fmt: skip

    off = off_cost(1000)
    print(f"node capability, 3 person detections per frame: off {off.get('off_us_per_frame', float('nan')):.2f} us, "
          f"on without subscribers {off.get('on_unsubscribed_us_per_frame', float('nan')):.2f} us per frame; "
          f"network forwards: {off.get('network_forwards')}")  # fmt: skip
    load = [round(v, 2) for v in load_average()]
    print(f"load average at the end: {load} (timings under load are slower than on an idle machine)")
    result = {
        "machine": info,
        "load_average_end": load,
        "arch": arch.name,
        "parameters_m": round(params_m, 1),
        "smplx_vertices": estimator.body.num_vertices,
        "repeats": args.repeats,
        "rows": rows,
        "off": off,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
