# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Replay a recorded image topic through the pipeline into a new bag (the ``grounded-sam bag`` command; no ROS).

The output bag holds every message of the input (same topics, types, definitions, record times) plus, for each frame
of the image topic, at the frame's record time and with the frame's header:

- ``<topic>/detections``: ``grounded_sam_ros/msg/DetectionArray``;
- ``<topic>/detections_2d``: ``vision_msgs/msg/Detection2DArray``, when vision_msgs' definitions are installed
  (:func:`~grounded_sam_ros.io.bag_messages.vision_msgs_available`; no rclpy needed);
- ``<topic>/annotated``: ``sensor_msgs/msg/Image`` rgb8 with masks, boxes and labels drawn, on request.

It is written under a temporary name and renamed when complete (:class:`~grounded_sam_ros.io.bags.BagWriter`): an
interrupted or failed run leaves no output at all.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from grounded_sam_ros.io import bags
from grounded_sam_ros.io.bag_messages import (
    DETECTION_2D_ARRAY_TYPE,
    DETECTION_ARRAY_TYPE,
    IMAGE_TYPE,
    detection2d_array_message,
    detections_message,
    image_message,
    vision_msgs_available,
)
from grounded_sam_ros.io.progress import Progress


@dataclass
class ReplayStats:
    """What a replay did: frames of the topic read, processed, failed (with one reason each), messages copied."""

    topic: str
    frames: int = 0
    processed: int = 0
    detections: int = 0
    copied: int = 0
    failures: List[str] = field(default_factory=list)
    output: Optional[Path] = None
    topics_written: List[str] = field(default_factory=list)


def output_topics(topic: str, annotated: bool, vision: bool) -> dict[str, str]:
    """``{output topic: message type}`` added for image ``topic``."""
    topics = {f"{topic}/detections": DETECTION_ARRAY_TYPE}
    if vision:
        topics[f"{topic}/detections_2d"] = DETECTION_2D_ARRAY_TYPE
    if annotated:
        topics[f"{topic}/annotated"] = IMAGE_TYPE
    return topics


def replay(
    pipe,
    input_path: str | Path,
    query: str,
    output_path: str | Path,
    topic: Optional[str] = None,
    annotated: bool = False,
    storage: Optional[str] = None,
    overwrite: bool = False,
    banner: Optional[str] = None,
    report: Optional[Callable[[str], None]] = None,
) -> ReplayStats:
    """Run ``pipe`` (a :class:`~grounded_sam_ros.pipeline.GroundedSamPipeline`) with ``query`` on every frame of the
    image ``topic`` of the bag ``input_path`` and write ``output_path`` (see the module docstring).

    Raises ``ValueError`` (one line) when the input cannot be read, has no such topic, is corrupt part-way, or the
    output cannot be made; then nothing is left at ``output_path``. A frame that cannot be decoded or segmented is
    counted in ``failures`` and the replay goes on. ``report`` gets one line per failure (default: nowhere).
    """
    report = report or (lambda line: None)
    reader = bags.open_reader(input_path)
    with closing(reader):
        topic = bags.pick_image_topic(reader, topic, input_path)
        stats = ReplayStats(topic=topic)
        vision = vision_msgs_available()
        added = output_topics(topic, annotated, vision)
        clash = sorted(set(added) & {c.topic for c in reader.connections})
        if clash:
            raise ValueError(f"{input_path} already has {', '.join(clash)}: replay the original recording instead")
        store = bags.typestore()
        writer = bags.BagWriter(output_path, storage=storage, overwrite=overwrite)
        try:
            copies = _copy_connections(reader, writer)
            out = {name: writer.add_connection(name, msgtype) for name, msgtype in added.items()}
            total = bags.count_messages(reader, topic)
            with Progress(total, "bag", unit="frame") as progress:
                for connection, timestamp, raw in _messages(reader, stats):
                    writer.write(copies[(connection.topic, connection.msgtype)], timestamp, raw)
                    stats.copied += 1
                    if connection.topic != topic:
                        continue
                    stats.frames += 1
                    progress.update()
                    try:
                        msg = store.deserialize_cdr(raw, connection.msgtype)
                        image = bags.message_to_rgb(connection.msgtype, msg)
                        result = pipe(image, query)
                    except Exception as exc:  # noqa: BLE001 - one bad frame is reported, the replay goes on
                        line = f"{topic} frame {stats.frames - 1} (t={timestamp}): {bags.reason(exc)}"
                        stats.failures.append(line)
                        report(line)
                        continue
                    stats.processed += 1
                    stats.detections += len(result.detections)
                    header = msg.header
                    writer.write_message(out[f"{topic}/detections"], timestamp, detections_message(result, header))
                    if vision:
                        writer.write_message(
                            out[f"{topic}/detections_2d"], timestamp, detection2d_array_message(result, header)
                        )
                    if annotated:
                        from grounded_sam_ros.visualize import annotate

                        drawn = image_message(annotate(image, result, banner=banner), header)
                        writer.write_message(out[f"{topic}/annotated"], timestamp, drawn)
            stats.output = writer.close()
        except BaseException:
            writer.abort()
            raise
    stats.topics_written = list(added)
    return stats


def _messages(reader, stats: ReplayStats):
    """Every message in record order; a storage failure part-way becomes one ``ValueError`` line."""
    messages = reader.messages()
    while True:
        try:
            yield next(messages)
        except StopIteration:
            return
        except Exception as exc:
            raise ValueError(
                f"{reader.path}: corrupt after {stats.copied} message(s): {bags.reason(exc)} (nothing was written)"
            ) from exc


def _copy_connections(reader, writer) -> dict:
    """Output connections for every input (topic, type), with the input's definitions and QoS."""
    copies = {}
    for conn in reader.connections:
        key = (conn.topic, conn.msgtype)
        if key in copies:
            continue  # several publishers of one topic become one connection
        msgdef = conn.msgdef.data if conn.msgdef is not None else ""
        qos = getattr(conn.ext, "offered_qos_profiles", ())
        if msgdef and conn.digest:
            copies[key] = writer.add_connection(conn.topic, conn.msgtype, msgdef=msgdef, digest=conn.digest, qos=qos)
        else:  # old bags store no definitions: take it from the typestore
            try:
                copies[key] = writer.add_connection(conn.topic, conn.msgtype, qos=qos)
            except Exception as exc:
                raise ValueError(
                    f"{conn.topic}: the bag has no definition of {conn.msgtype} and it is not a standard message "
                    f"({bags.reason(exc)})"
                ) from exc
    return copies
