# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Running a node with a worker thread as a process: init, autostart, spin a multi-threaded executor, stop cleanly.

The node offers ``autostart()`` (configure and activate when its parameter says so) and ``stop_worker(timeout)``
(False when the worker is still inside a model). On Ctrl-C or shutdown the worker gets a moment to finish; if it is
still inside a model the process exits without waiting for it (the worker is a daemon thread). Once the node and
rclpy are shut down the process ends at once (``os._exit``): tearing down torch's modules at interpreter exit takes
seconds (3.4 s with the tiny models at load 12 on 2 cores, 6 s at worse moments), which is time a launch file or a
test waits for nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, List, Optional

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

THROTTLE_S = 5.0


def spin(executor: MultiThreadedExecutor, node: Node) -> None:
    """Spin until shutdown; an exception raised inside the executor (e.g. a malformed request) is logged, not fatal."""
    while rclpy.ok(context=executor.context):
        try:
            executor.spin_once(timeout_sec=0.5)
        except (KeyboardInterrupt, ExternalShutdownException):
            return
        except Exception as exc:  # noqa: BLE001 - never die on input
            node.get_logger().error(f"callback failed: {type(exc).__name__}: {exc}", throttle_duration_sec=THROTTLE_S)


def run(make_node: Callable[[], Any], args: Optional[List[str]] = None) -> None:
    """Run a node made by ``make_node`` until Ctrl-C or shutdown (see the module docstring)."""
    rclpy.init(args=args)
    node: Any = None
    executor: Optional[MultiThreadedExecutor] = None
    try:
        node = make_node()
        node.autostart()
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        spin(executor, node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        idle = True
        if node is not None:
            # An inference in progress cannot be interrupted; do not wait for it longer than a moment
            idle = node.stop_worker(timeout=2.0)
        if executor is not None:
            idle = executor.shutdown(timeout_sec=1.0) and idle
        if node is not None and idle:
            # Only when no callback and no worker is running any more: destroying a node's publishers, services and
            # timers under a running callback can crash inside rcl. Otherwise the process exit below frees them.
            node.destroy_node()
        rclpy.try_shutdown()
    # Everything is shut down (or the worker, a daemon thread, is still inside the model): exit without waiting
    # for it or for the interpreter's module teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
