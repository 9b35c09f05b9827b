# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The labelling job on Ray Data: the same plan, labeller and COCO writer as in-process, the frames spread over a
pool of actors that each load the models once.

What scales: the labelling itself (tagger + Grounding DINO + SAM, >99 % of the work) runs on ``concurrency`` actors,
each holding ``num_gpus`` GPUs (or ``num_cpus`` cores) and taking ``batch_size`` frames per call; image files are read
and decoded on the actors. What does not: the driver lists the inputs, decodes video and bag frames (sequential
containers; they reach the actors as PNG bytes through Ray's object store, which spills to disk when full) and writes
the COCO file — all cheap next to the models. Results come back in input order, so the COCO file is the one an
in-process run writes; the driver journals each result as it arrives, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Iterator, Optional, Sequence

import numpy as np

from grounded_sam_ros.labeling import LabelSettings, LabelSummary, WorkItem, decode_png, drive, encode_png

LOCAL = "local"  # --ray with no address: start a Ray instance on this machine


class RayLabeler:
    """Ray Data actor: a :class:`~grounded_sam_ros.labeling.Labeler` built once per worker, applied to batches."""

    def __init__(self, settings: LabelSettings) -> None:
        from grounded_sam_ros.labeling import Labeler

        self._labeler = Labeler(settings)

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        records = []
        for i in range(len(batch["key"])):
            item = WorkItem(
                key=str(batch["key"][i]),
                file_name=str(batch["file_name"][i]),
                path=str(batch["path"][i]),
                image=decode_png(bytes(batch["png"][i])) if len(batch["png"][i]) else None,
                error=str(batch["error"][i]),
            )
            records.append(json.dumps(self._labeler(item)))
        return {"record": np.array(records, dtype=object)}


def connect(address: str, num_cpus: Optional[int] = None) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``ray://head:10001``, ``head:6379``) or start a local instance
    (``local``); nothing when this process is already connected."""
    import ray

    if ray.is_initialized():
        return
    if address == LOCAL:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def run_on_ray(
    settings: LabelSettings,
    inputs: Sequence[str],
    topic: Optional[str] = None,
    resume: bool = True,
    address: str = LOCAL,
    concurrency: int = 1,
    batch_size: int = 4,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
) -> LabelSummary:
    """Label ``inputs`` on Ray Data into ``settings.out_dir/instances.json`` (see the module docstring)."""
    import ray

    try:
        import ray.data
    except ImportError as exc:
        raise ImportError(
            f"--ray needs Ray Data, which is missing here ({exc}); install it with: pip install 'ray[data]=="
            f"{ray.__version__}' (adds pandas and pyarrow)"
        ) from exc

    settings.validate()
    if concurrency < 1 or batch_size < 1:
        raise ValueError(f"concurrency={concurrency}, batch_size={batch_size}: both must be >= 1")
    if num_gpus < 0 or num_cpus <= 0:
        raise ValueError(f"num_gpus={num_gpus} must be >= 0 and num_cpus={num_cpus} > 0 (resources per actor)")
    connect(address)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results in input order: the same COCO file as in-process
    context.enable_progress_bars = False  # ours counts the frames

    def label_many(items: Iterable[WorkItem]) -> Iterator[Dict[str, Any]]:
        rows = [
            {
                "key": i.key,
                "file_name": i.file_name,
                "path": i.path,
                "png": encode_png(i.image) if i.image is not None else b"",
                "error": i.error,
            }
            for i in items
        ]
        if not rows:
            return
        dataset = ray.data.from_items(rows).map_batches(
            RayLabeler,
            fn_constructor_kwargs={"settings": settings},
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=concurrency),  # a fixed pool of actors, models loaded once each
            num_gpus=num_gpus,
            num_cpus=num_cpus,
            batch_format="numpy",
        )
        for row in dataset.iter_rows():
            yield json.loads(row["record"])

    return drive(settings, inputs, topic, resume, label_many)
