# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Newest-frame mailboxes between the image callbacks and the worker; free of ROS so they are unit-tested directly.

- :class:`FrameSlots`: one slot per camera under one lock. ``put(camera, frame)`` replaces that camera's pending frame
  (the replaced one counts as dropped); ``take`` serves the cameras that have a pending frame in turn (round-robin),
  so a camera that floods cannot starve the others: each camera waits for at most one frame of every other camera.
- :class:`FrameSlot`: the same for one camera, with the single-camera interface.

A batched forward pass over several cameras (worth it on a GPU) would take one pending frame per camera at once; that
is :meth:`FrameSlots.take_all`, unused by the node today.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, List, Optional, Tuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Frame(Generic[T]):
    """A received frame: the message as it came (converted by the worker, not the callback) and when it came."""

    msg: T
    received: float  # time.monotonic() at the callback
    compressed: bool = False


class FrameSlots(Generic[T]):
    """One newest-frame slot per camera; the worker takes them in turn (see the module docstring).

    ``received[i]`` / ``dropped[i]`` count camera i's frames put and overwritten before the worker took them.
    ``latest(i)`` keeps camera i's last frame even after it was taken (for a service on "the latest frame").
    ``wake`` makes a waiting ``take`` or ``wait`` return early (the worker has other work, such as a service call);
    ``close`` makes them return None for good (until ``reopen``).
    """

    def __init__(self, count: int = 1) -> None:
        if count < 1:
            raise ValueError(f"count={count!r}: expected at least one camera")
        self._cond = threading.Condition()
        self._pending: List[Optional[T]] = [None] * count
        self._latest: List[Optional[T]] = [None] * count
        self._next = 0  # the camera served first at the next take
        self._closed = False
        self._woken = False
        self.received = [0] * count
        self.dropped = [0] * count

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, camera: int, item: T) -> None:
        with self._cond:
            if self._pending[camera] is not None:
                self.dropped[camera] += 1
            self._pending[camera] = item
            self._latest[camera] = item
            self.received[camera] += 1
            self._cond.notify_all()

    def take(self, timeout: Optional[float] = None) -> Optional[Tuple[int, T]]:
        """``(camera, frame)``: the pending frame of the next camera in turn that has one (removing it), waiting up
        to ``timeout`` s. None on time-out, after ``wake`` (frames stay pending) or after ``close``."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._woken or any(p is not None for p in self._pending),
                                timeout)  # fmt: skip
            if self._closed or self._woken:
                self._woken = False
                return None
            count = len(self._pending)
            for step in range(count):
                camera = (self._next + step) % count
                item = self._pending[camera]
                if item is not None:
                    self._pending[camera] = None
                    self._next = (camera + 1) % count
                    return camera, item
            return None

    def take_all(self) -> List[Tuple[int, T]]:
        """Every pending frame at once, in camera order (for a batched forward pass); does not wait."""
        with self._cond:
            taken = [(camera, item) for camera, item in enumerate(self._pending) if item is not None]
            self._pending = [None] * len(self._pending)
            return taken

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s, returning early on ``wake`` or ``close`` (frames arriving do not end it)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._woken, timeout)
            self._woken = False

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def latest(self, camera: int) -> Optional[T]:
        with self._cond:
            return self._latest[camera]

    def clear(self) -> None:
        """Forget pending and latest frames (on cleanup); counters stay."""
        with self._cond:
            self._pending = [None] * len(self._pending)
            self._latest = [None] * len(self._latest)

    def close(self) -> None:
        """Wake any waiting ``take`` for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._woken = False


class FrameSlot(Generic[T]):
    """A one-frame mailbox: ``put`` replaces, ``take`` waits for and removes the newest frame (one camera's
    :class:`FrameSlots`). A frame replaced before the worker took it is *dropped* (``dropped`` counts them);
    ``latest`` keeps the last frame put even after it was taken."""

    def __init__(self) -> None:
        self._slots: FrameSlots[T] = FrameSlots(1)

    def put(self, item: T) -> None:
        self._slots.put(0, item)

    def take(self, timeout: Optional[float] = None) -> Optional[T]:
        """The newest pending frame (removing it), waiting up to ``timeout`` s; None on time-out, wake or close."""
        taken = self._slots.take(timeout)
        return None if taken is None else taken[1]

    def wait(self, timeout: float) -> None:
        self._slots.wait(timeout)

    def wake(self) -> None:
        self._slots.wake()

    def clear(self) -> None:
        self._slots.clear()

    def close(self) -> None:
        self._slots.close()

    def reopen(self) -> None:
        self._slots.reopen()

    @property
    def latest(self) -> Optional[T]:
        return self._slots.latest(0)

    @property
    def received(self) -> int:
        return self._slots.received[0]

    @property
    def dropped(self) -> int:
        return self._slots.dropped[0]
