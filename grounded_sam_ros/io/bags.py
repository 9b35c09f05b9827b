# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""rosbag2 files in and out with ``rosbags`` (pure Python: no ROS install needed), sqlite3 (.db3) and mcap storage.

Reading: :func:`open_reader` (a bag directory, or a bare ``.db3``/``.mcap`` file), :func:`image_topics`,
:func:`iter_images` (``sensor_msgs/Image`` and ``CompressedImage`` decoded by :mod:`grounded_sam_ros.encodings`,
the same code the node uses). Writing: :class:`BagWriter` writes under a temporary name and renames at the end, so
an interrupted run never leaves a half-written bag under the final name. :func:`typestore` knows the standard ROS 2
messages plus ``grounded_sam_ros/msg/*`` (read from ``msg/*.msg``); :func:`new_message` builds any of them with
defaults for the fields not given.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np

from grounded_sam_ros.encodings import compressed_to_rgb, raw_to_rgb

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
BAG_EXTENSIONS = (".db3", ".mcap")
STORAGES = ("mcap", "sqlite3")
PACKAGE = "grounded_sam_ros"


# ----------------------------------------------------------------------------------------------------------------------
# Types
# ----------------------------------------------------------------------------------------------------------------------


def msg_dirs(package: str) -> list[Path]:
    """Folders that may hold ``package``'s ``.msg`` files: this checkout's ``msg/`` (for our own package) and
    ``share/<package>/msg`` under every prefix of ``AMENT_PREFIX_PATH`` (a colcon install or a ROS distro)."""
    dirs = []
    if package == PACKAGE:
        dirs.append(Path(__file__).resolve().parents[2] / "msg")
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        dirs.append(Path(prefix) / "share" / package / "msg")
    return dirs


def register_package(store, package: str) -> list[str]:
    """Register every ``<package>/msg/*.msg`` found by :func:`msg_dirs` in ``store``; the type names added.

    Raises ``ValueError`` naming the folders searched when none holds the package's messages.
    """
    from rosbags.typesys import get_types_from_msg

    for folder in msg_dirs(package):
        files = sorted(folder.glob("*.msg"))
        if files:
            types = {}
            for path in files:
                types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
            store.register(types)
            return sorted(types)
    searched = ", ".join(str(d) for d in msg_dirs(package))
    raise ValueError(
        f"no {package} message definitions (*.msg) in {searched}: run from a checkout or source the "
        "colcon install that has the package"
    )


@lru_cache(maxsize=1)
def typestore():
    """The rosbags typestore of ROS 2 Kilted's standard messages plus ``grounded_sam_ros/msg/*`` (shared, cached)."""
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    register_package(store, PACKAGE)
    return store


def new_message(typename: str, store=None, **fields):
    """A message of ``typename`` (e.g. ``sensor_msgs/msg/Image``) in ``store``'s classes, defaults for missing fields.

    Defaults are what ROS uses: 0, False, '', nested messages of defaults, zero arrays of the fixed length, empty
    sequences (uint8 and other numeric sequences as numpy arrays, as rosbags deserializes them).
    """
    store = store or typestore()
    _, fielddefs = store.fielddefs[typename]
    values = {}
    for name, desc in fielddefs:
        values[name] = fields.pop(name) if name in fields else _default(store, desc)
    if fields:
        raise ValueError(f"{typename} has no field(s) {', '.join(sorted(fields))}")
    return store.types[typename](**values)


def _default(store, desc):
    from rosbags.interfaces import Nodetype

    kind, args = desc
    if kind == Nodetype.BASE:
        base = args[0]
        return "" if base == "string" else False if base == "bool" else 0.0 if base.startswith("float") else 0
    if kind == Nodetype.NAME:
        return new_message(args, store)
    (sub_kind, sub_args), length = args
    if sub_kind == Nodetype.BASE and sub_args[0] not in ("string", "bool"):
        dtype = {"byte": "u1", "char": "u1", "octet": "u1"}.get(sub_args[0], sub_args[0])
        return np.zeros(length if kind == Nodetype.ARRAY else 0, dtype=dtype)
    return [_default(store, (sub_kind, sub_args)) for _ in range(length if kind == Nodetype.ARRAY else 0)]


# ----------------------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------------------


def is_bag(path: str | Path) -> bool:
    """True for a ``.db3``/``.mcap`` file or a rosbag2 directory (one with ``metadata.yaml``)."""
    path = Path(path)
    return path.suffix.lower() in BAG_EXTENSIONS or (path.is_dir() and (path / "metadata.yaml").is_file())


def open_reader(path: str | Path):
    """An open ``rosbags.rosbag2.Reader`` (close it: ``with contextlib.closing(reader)``).

    Raises ``ValueError`` with the reason when the bag is missing, truncated, corrupt or of an unknown storage.
    """
    from rosbags.rosbag2 import Reader

    try:
        reader = Reader(Path(path))
        reader.open()
    except Exception as exc:
        raise ValueError(f"cannot read bag {path}: {reason(exc)}") from exc
    return reader


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def image_topics(reader) -> dict[str, str]:
    """``{topic: message type}`` of the bag's Image and CompressedImage topics."""
    return {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}


def pick_image_topic(reader, topic: Optional[str], path: str | Path = "") -> str:
    """``topic`` when the bag has it as an image topic; else the bag's only image topic; ``ValueError`` otherwise."""
    topics = image_topics(reader)
    if topic is not None:
        if topic not in topics:
            raise ValueError(f"{path}: no image topic {topic!r}; image topics: {', '.join(sorted(topics)) or 'none'}")
        return topic
    if len(topics) != 1:
        raise ValueError(
            f"{path}: {'no image topics' if not topics else 'several image topics: ' + ', '.join(sorted(topics))}; "
            "choose one with --topic"
        )
    return next(iter(topics))


def count_messages(reader, topic: str) -> int:
    return sum(c.msgcount for c in reader.connections if c.topic == topic)


def stamp_ns(msg) -> int:
    """Nanoseconds of a message's ``header.stamp``."""
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def message_to_rgb(msgtype: str, msg) -> np.ndarray:
    """A deserialized Image/CompressedImage as ``HxWx3 uint8 RGB``; ``ValueError`` with the reason when it cannot."""
    if msgtype == IMAGE_TYPE:
        return raw_to_rgb(msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian, msg.data)
    if msgtype == COMPRESSED_TYPE:
        return compressed_to_rgb(msg.data, msg.format)
    raise ValueError(f"{msgtype} is not an image message type (expected one of {', '.join(IMAGE_TYPES)})")


@dataclass
class BagImage:
    """One image message of a bag: ``index`` counts the topic's messages from 0, ``receive_ns`` is the bag's
    record time, ``msg`` the deserialized message (None, with ``error`` set, when it could not be deserialized)."""

    index: int
    topic: str
    msgtype: str
    receive_ns: int
    msg: object
    error: Optional[str] = None


def iter_images(reader, topic: str) -> Iterator[BagImage]:
    """The image messages of ``topic`` in record order. A message that does not deserialize comes with ``error``;
    a storage failure part-way (a truncated file) raises ``ValueError``."""
    store = typestore()
    connections = [c for c in reader.connections if c.topic == topic]
    index = 0
    messages = reader.messages(connections=connections)
    while True:
        try:
            connection, timestamp, raw = next(messages)
        except StopIteration:
            return
        except Exception as exc:
            raise ValueError(f"bag is corrupt after {index} message(s) of {topic}: {reason(exc)}") from exc
        try:
            msg, error = store.deserialize_cdr(raw, connection.msgtype), None
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            msg, error = None, f"cannot deserialize message {index} of {topic}: {reason(exc)}"
        yield BagImage(index, topic, connection.msgtype, int(timestamp), msg, error)
        index += 1


# ----------------------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------------------


def storage_for(path: str | Path, storage: Optional[str] = None) -> Tuple[str, bool]:
    """``(storage, single_file)`` for an output path: ``x.mcap`` -> mcap file, ``x.db3`` -> sqlite3 file, any other
    name -> a rosbag2 directory in ``storage`` (default mcap)."""
    suffix = Path(path).suffix.lower()
    if suffix in BAG_EXTENSIONS:
        kind = "mcap" if suffix == ".mcap" else "sqlite3"
        if storage and storage != kind:
            raise ValueError(f"{path} names a {kind} file but --storage is {storage}: drop one of them")
        return kind, True
    storage = storage or "mcap"
    if storage not in STORAGES:
        raise ValueError(f"storage {storage!r} is not one of {', '.join(STORAGES)}")
    return storage, False


class BagWriter:
    """A rosbag2 written under ``.<name>.partial/`` next to ``path`` and moved into place by :meth:`close`.

    ``path``: ``x.mcap`` / ``x.db3`` for one storage file (readable by rosbags, Foxglove and ``ros2 bag`` of recent
    distros), or a directory name for a standard rosbag2 directory (``storage`` mcap or sqlite3). An existing
    ``path`` is refused unless ``overwrite``. :meth:`abort` (also on an exception inside ``with``) removes the partial
    output, so the final name only ever holds a complete bag.
    """

    def __init__(self, path: str | Path, storage: Optional[str] = None, overwrite: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        self.storage, self._single = storage_for(self.path, storage)
        if self.path.exists() and not overwrite:
            raise ValueError(f"{self.path} exists: choose another name or pass --overwrite")
        self._partial = self.path.parent / f".{self.path.name}.partial"
        if self._partial.exists():  # left by an interrupted run
            shutil.rmtree(self._partial)
        self._partial.mkdir(parents=True)
        self._bag_dir = self._partial / (self.path.stem if self._single else self.path.name)
        plugin = StoragePlugin.MCAP if self.storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self._bag_dir, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        self._writer.open()
        self._overwrite = overwrite

    def add_connection(
        self, topic: str, msgtype: str, msgdef: Optional[str] = None, digest: Optional[str] = None, qos: Sequence = ()
    ):
        """A connection for ``topic``; with ``msgdef``/``digest`` (copied from an input bag) or from the typestore."""
        if msgdef is not None and digest is not None:
            return self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=digest, offered_qos_profiles=list(qos)
            )
        return self._writer.add_connection(topic, msgtype, typestore=typestore(), offered_qos_profiles=list(qos))

    def write(self, connection, timestamp_ns: int, data: bytes | memoryview) -> None:
        self._writer.write(connection, int(timestamp_ns), data)

    def write_message(self, connection, timestamp_ns: int, msg) -> None:
        """Serialize ``msg`` (a typestore class instance of the connection's type) and write it."""
        self.write(connection, timestamp_ns, typestore().serialize_cdr(msg, connection.msgtype))

    def close(self) -> Path:
        """Finish the bag and move it to ``path``; the final path."""
        self._writer.close()
        source = self._bag_dir / f"{self._bag_dir.name}.{'mcap' if self.storage == 'mcap' else 'db3'}"
        if self._single:
            if self._overwrite and self.path.is_dir():
                shutil.rmtree(self.path)
            os.replace(source, self.path)
        else:
            if self._overwrite and self.path.exists():
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            os.replace(self._bag_dir, self.path)
        shutil.rmtree(self._partial, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is left as it was."""
        try:
            self._writer.abort()
        finally:
            shutil.rmtree(self._partial, ignore_errors=True)

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
