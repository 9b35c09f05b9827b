# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam mesh``: whole-body SMPL-X meshes (OSX / SMPLer-X) of the people a query finds in image files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grounded_sam_ros.cli.common import (
    add_model_args,
    config_from_args,
    err,
    first_line,
    load_pipeline,
    output_dir,
    unique_stem,
)


def register(commands) -> None:
    cmd = commands.add_parser(
        "mesh",
        help="SMPL-X body meshes of the people a query finds (OSX / SMPLer-X)",
        description="For each IMAGE: detect the query, and for every detection labelled with one of --mesh-labels "
        "regress SMPL-X parameters with OSX and write OUT/<stem>_<k>.obj (or .ply), OUT/<stem>_mesh.png (meshes "
        "drawn over the image) and OUT/<stem>_mesh.json (parameters, boxes, translation). The checkpoint and "
        "the SMPL-X model are files you download yourself (see the README, 'Human meshes').",
    )
    cmd.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    cmd.add_argument("--query", "-q", default="person", help='phrases separated by "." or "," (default: person)')
    cmd.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (created if missing)")
    cmd.add_argument(
        "--mesh-model", required=True, metavar="FILE", help="OSX osx_l_wo_decoder.pth.tar or SMPLer-X *.pth.tar"
    )
    cmd.add_argument("--smplx-model", required=True, metavar="FILE", help="SMPLX_NEUTRAL.npz (smpl-x.is.tue.mpg.de)")
    cmd.add_argument(
        "--mesh-labels", default="person", metavar="LABELS", help="comma-separated query phrases to mesh (person)"
    )
    cmd.add_argument("--max-people", type=int, default=0, metavar="N", help="per image, best scores first (0 = all)")
    cmd.add_argument(
        "--intrinsics",
        default="",
        metavar="FX,FY,CX,CY",
        help="the camera's pinhole intrinsics in pixels: meshes are placed in that camera (default: OSX's virtual "
        "per-person camera, whose depth is not metric)",
    )
    cmd.add_argument("--format", choices=("obj", "ply"), default="obj", help="mesh file format (default: obj)")
    add_model_args(cmd)
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grounded_sam_ros.mesh.people import MeshConfig, normalise_labels
    from grounded_sam_ros.prompts import normalize_query

    # Check everything cheap before loading models
    try:
        query = normalize_query(args.query)
        config = config_from_args(args)
        mesh_config = MeshConfig(
            args.mesh_model, args.smplx_model, normalise_labels(args.mesh_labels), args.max_people
        ).validate()
        intrinsics = parse_intrinsics(args.intrinsics) if args.intrinsics else None
        out_dir = output_dir(args.out)
    except ValueError as exc:
        err(str(exc))
        return 2

    estimator = _load_estimator(mesh_config, config.device)
    if estimator is None:
        return 1
    pipe = load_pipeline(config)
    if pipe is None:
        return 1

    failures = 0
    used: set[str] = set()
    for name in args.images:
        if not _mesh_one(pipe, estimator, Path(name), query, mesh_config, intrinsics, out_dir, args.format, used):
            failures += 1
    if failures:
        err(f"{failures} of {len(args.images)} image(s) failed; see the messages above")
        return 1
    return 0


def parse_intrinsics(text: str):
    """'FX,FY,CX,CY' -> :class:`Intrinsics` (``ValueError`` with the accepted form otherwise)."""
    from grounded_sam_ros.mesh.camera import Intrinsics

    try:
        fx, fy, cx, cy = (float(v) for v in text.split(","))
        return Intrinsics.from_k([fx, 0, cx, 0, fy, cy, 0, 0, 1])
    except ValueError:
        raise ValueError(f"--intrinsics {text!r}: expected four numbers FX,FY,CX,CY with positive FX, FY") from None


def _load_estimator(mesh_config, device: str):
    from grounded_sam_ros.mesh.estimator import MeshEstimator
    from grounded_sam_ros.pipeline import resolve_device

    start = time.perf_counter()
    try:
        estimator = MeshEstimator.from_files(mesh_config.model, mesh_config.smplx_model, device=resolve_device(device))
    except (OSError, ValueError, RuntimeError) as exc:
        err(f"could not load the mesh model: {exc}")
        return None
    if estimator.network.arch.name == "tiny_random":
        print(f"warning: {mesh_config.model} is a tiny random-weight network: the meshes are meaningless")
    print(
        f"loaded {Path(mesh_config.model).name} ({estimator.network.arch.name}) + "
        f"{Path(mesh_config.smplx_model).name} ({estimator.body.num_vertices} vertices) in "
        f"{time.perf_counter() - start:.1f}s"
    )
    return estimator


def _mesh_one(pipe, estimator, path, query, mesh_config, intrinsics, out_dir, fmt, used) -> bool:
    """Detect, mesh and write one image's files; report and return False on any failure."""
    from PIL import Image

    from grounded_sam_ros.data import load_image
    from grounded_sam_ros.mesh.export import write_obj, write_ply
    from grounded_sam_ros.mesh.people import meshes_for_result
    from grounded_sam_ros.mesh.render import overlay

    try:
        image = load_image(path)
    except (OSError, ValueError) as exc:
        err(f"{path}: {exc}")
        return False
    start = time.perf_counter()
    try:
        result = pipe(image, query)
        meshes = meshes_for_result(estimator, image, result, mesh_config, intrinsics=intrinsics)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the others
        err(f"{path}: mesh recovery failed: {first_line(exc)}")
        return False
    elapsed = time.perf_counter() - start

    stem = unique_stem(path, used)
    try:
        files = []
        for k, mesh in enumerate(meshes):
            target = out_dir / f"{stem}_{k}.{fmt}"
            (write_obj if fmt == "obj" else write_ply)(target, mesh.vertices, estimator.faces)
            files.append(target.name)
        drawn = overlay(image, [(m.vertices, estimator.faces) for m in meshes], [m.intrinsics for m in meshes])
        Image.fromarray(drawn).save(out_dir / f"{stem}_mesh.png")
        record = {
            "image": str(path),
            "width": image.shape[1],
            "height": image.shape[0],
            "query": query,
            "mesh_model": str(mesh_config.model),
            "people": [dict(m.to_dict(), file=f) for m, f in zip(meshes, files)],
        }
        (out_dir / f"{stem}_mesh.json").write_text(json.dumps(record, indent=1) + "\n")
    except OSError as exc:
        err(f"{path}: cannot write results to {out_dir}: {exc}")
        return False
    print(f"{path}: {len(meshes)} person mesh(es) in {elapsed:.2f}s -> {stem}_mesh.png, {stem}_mesh.json", flush=True)
    return True
