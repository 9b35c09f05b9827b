# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Small thread-safe pieces of the node's execution model, free of ROS so they are unit-tested directly.

- :class:`FrameSlot`: callbacks put frames, the worker takes only the newest; overwritten frames count as dropped.
- :class:`RateLimiter`: at most ``max_rate`` inferences per second (0 = unlimited).
- :class:`NodeStats`: counters and timings for the diagnostics (fps, latency, dropped frames, last error).
- :class:`SequenceGaps`: frames a publisher sent that never reached the callback (overwritten in the DDS queue).
- :class:`LogThrottle`: one log line per kind of problem every few seconds, however often it happens.
- :class:`Worker`: the one thread that does model work, and the jobs other threads (services) hand to it.
"""

from __future__ import annotations

import collections
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Generic, Optional, Tuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Frame(Generic[T]):
    """A received frame: the message as it came (converted by the worker, not the callback) and when it came."""

    msg: T
    received: float  # time.monotonic() at the callback
    compressed: bool = False


class FrameSlot(Generic[T]):
    """A one-frame mailbox: ``put`` replaces, ``take`` waits for and removes the newest frame.

    A frame replaced before the worker took it is *dropped* (``dropped`` counts them). ``latest`` keeps the last frame
    put even after it was taken, for a service that segments "the latest frame received". ``wake`` makes a waiting
    ``take`` or ``wait`` return early (the worker has other work, such as a service call).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: Optional[T] = None
        self._latest: Optional[T] = None
        self._closed = False
        self._woken = False
        self.received = 0
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = item
            self._latest = item
            self.received += 1
            self._cond.notify_all()

    def take(self, timeout: Optional[float] = None) -> Optional[T]:
        """The newest pending frame (removing it), waiting up to ``timeout`` s.

        None on time-out, after ``wake`` (the frame, if any, stays pending) or after ``close``.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None or self._closed or self._woken, timeout)
            if self._closed or self._woken:
                self._woken = False
                return None
            item, self._pending = self._pending, None
            return item

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s, returning early on ``wake`` or ``close`` (frames arriving do not end it)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._woken, timeout)
            self._woken = False

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    @property
    def latest(self) -> Optional[T]:
        with self._cond:
            return self._latest

    def clear(self) -> None:
        """Forget pending and latest frames (on cleanup); counters stay."""
        with self._cond:
            self._pending = None
            self._latest = None

    def close(self) -> None:
        """Wake any waiting ``take`` for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._woken = False


class Job:
    """A call handed to the worker thread by another thread (a service), which waits for its outcome."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._result: Any = None
        self._error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self._result = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting thread
            self._error = exc
        finally:
            self._done.set()

    def cancel(self, reason: str) -> None:
        """Fail the job without running it (the worker is stopping)."""
        if not self._done.is_set():
            self._error = RuntimeError(reason)
            self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def result(self) -> Any:
        """The call's return value; re-raises its exception. Call after ``wait`` returned True."""
        if self._error is not None:
            raise self._error
        return self._result


class Worker:
    """One thread running ``loop(stop_event)``, plus jobs that other threads hand over with :meth:`call`.

    The loop runs the queued jobs with :meth:`run_jobs` between its own work; ``wake`` (given at construction) makes a
    waiting loop look at the queue now. Jobs still queued when the worker stops are cancelled with a reason.
    """

    def __init__(self, name: str, wake: Callable[[], None]) -> None:
        self._name = name
        self._wake = wake
        self._jobs: "queue.SimpleQueue[Job]" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self.stop_event = threading.Event()

    def start(self, loop: Callable[[threading.Event], None]) -> None:
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=loop, args=(self.stop_event,), name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Ask the loop to stop and wait up to ``timeout`` s; False when it is still busy (e.g. inside a model)."""
        self.stop_event.set()
        thread, self._thread = self._thread, None
        stopped = True
        if thread is not None:
            thread.join(timeout)
            stopped = not thread.is_alive()
        self._cancel_jobs()
        return stopped

    def run_jobs(self) -> None:
        """Run the queued jobs (on the worker thread)."""
        while not self.stop_event.is_set():
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job.run()

    def call(self, fn: Callable[[], Any], timeout: float) -> Any:
        """Run ``fn`` on the worker thread and return its result; re-raises its exception (from another thread)."""
        job = Job(fn)
        self._jobs.put(job)
        self._wake()
        if self._thread is None:  # stopped between the check and the put
            self._cancel_jobs()
        if not job.wait(timeout):
            raise TimeoutError(f"the worker did not run the request within {timeout:.0f} s")
        return job.result()

    def _cancel_jobs(self) -> None:
        while True:
            try:
                self._jobs.get_nowait().cancel("the node is stopping or cleaning up; call again once it is active")
            except queue.Empty:
                return


class SequenceGaps:
    """Counts the messages each publisher sent that this subscription never took, from publication sequence numbers.

    With keep-last-1 QoS a frame that arrives while the previous one is still queued replaces it inside the
    middleware; only the jump in the publisher's sequence number shows it. A publisher seen for the first time
    contributes no gap (what it sent before discovery was never meant for us).
    """

    def __init__(self, max_publishers: int = 64) -> None:
        self._last: Dict[bytes, int] = {}
        self._max = max_publishers
        self._lock = threading.Lock()
        self.lost = 0

    def observe(self, publisher: bytes, sequence: Optional[int]) -> int:
        """Record a taken message; returns how many of that publisher's messages were skipped before it."""
        if sequence is None or sequence <= 0:  # middleware without sequence numbers
            return 0
        with self._lock:
            last = self._last.get(publisher)
            if last is None and len(self._last) >= self._max:
                self._last.clear()
            self._last[publisher] = sequence
            gap = sequence - last - 1 if last is not None and sequence > last else 0
            self.lost += gap
            return gap


class RateLimiter:
    """Spaces the starts of inferences at least ``1 / max_rate`` seconds apart (``max_rate`` 0 = no limit)."""

    def __init__(self, max_rate: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: Optional[float] = None
        self.max_rate = max_rate

    @property
    def max_rate(self) -> float:
        return self._max_rate

    @max_rate.setter
    def max_rate(self, value: float) -> None:
        if not value >= 0.0:
            raise ValueError(f"max_rate={value!r}: expected a rate in Hz >= 0 (0 = as fast as possible)")
        self._max_rate = float(value)

    def wait_time(self, now: Optional[float] = None) -> float:
        """Seconds to wait before the next start is allowed (0 when it may start now)."""
        if self._max_rate <= 0.0 or self._last is None:
            return 0.0
        now = self._clock() if now is None else now
        return max(0.0, self._last + 1.0 / self._max_rate - now)

    def mark(self, now: Optional[float] = None) -> None:
        """Record that an inference starts now."""
        self._last = self._clock() if now is None else now


class NodeStats:
    """What the diagnostics report; updated by the worker and the callbacks, read by the diagnostics timer."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._window_s = window_s
        self._done: Deque[Tuple[float, float, float]] = collections.deque(maxlen=1000)  # (end, latency, inference)
        self.processed = 0
        self.invalid_inputs = 0  # frames or queries rejected before inference
        self.errors = 0  # inferences that raised
        self.annotated = 0  # annotated images drawn and published
        self.skipped_no_query = 0
        self.last_error = ""
        self.last_error_time: Optional[float] = None

    def record(self, received: float, started: float, ended: float) -> None:
        """One frame processed: ``received`` at the callback, inference from ``started`` to ``ended`` (monotonic s)."""
        with self._lock:
            self.processed += 1
            self._done.append((ended, ended - received, ended - started))

    def error(self, reason: str, invalid_input: bool = False) -> None:
        with self._lock:
            if invalid_input:
                self.invalid_inputs += 1
            else:
                self.errors += 1
            self.last_error = reason
            self.last_error_time = self._clock()

    def count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> Dict[str, Any]:
        """fps and latencies over the last ``window_s`` seconds, plus every counter."""
        with self._lock:
            now = self._clock()
            recent = [d for d in self._done if d[0] >= now - self._window_s]
            fps = 0.0
            if len(recent) >= 2:
                span = recent[-1][0] - recent[0][0]
                fps = (len(recent) - 1) / span if span > 0 else 0.0
            elif len(recent) == 1:
                fps = 1.0 / self._window_s
            latency = [d[1] for d in recent]
            inference = [d[2] for d in recent]
            return {
                "processed": self.processed,
                "fps": fps,
                "latency_ms_mean": 1000.0 * sum(latency) / len(latency) if latency else 0.0,
                "latency_ms_max": 1000.0 * max(latency) if latency else 0.0,
                "inference_ms_mean": 1000.0 * sum(inference) / len(inference) if inference else 0.0,
                "invalid_inputs": self.invalid_inputs,
                "errors": self.errors,
                "annotated": self.annotated,
                "skipped_no_query": self.skipped_no_query,
                "last_error": self.last_error,
                "last_error_age_s": (now - self.last_error_time) if self.last_error_time is not None else None,
            }


class LogThrottle:
    """Lets through one message per *kind* every ``period_s`` seconds and counts the ones it held back.

    The kind is the start of the message with digits masked, so "data holds 10 bytes ..." and "data holds 12 bytes
    ..." are one kind while "unsupported image encoding ..." is another.
    """

    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._period_s = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = {}

    @staticmethod
    def kind(message: str) -> str:
        return re.sub(r"\d+", "#", message)[:32]

    def check(self, message: str) -> Optional[str]:
        """The line to log now (with a count of the similar ones held back), or None to stay quiet."""
        key = self.kind(message)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            held = self._held.pop(key, 0)
        if len(self._last) > 1000:  # bounded, whatever senders do
            with self._lock:
                self._last.clear()
        return message if not held else f"{message} (+{held} similar in the last {self._period_s:g} s)"
