# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Running the package's ROS executables as child processes (the demo, the integration tests, the benchmark).

Plain ``subprocess``; no rclpy here, so a parent can build the command and environment before it initialises ROS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Dict, List, Mapping, Optional

NODE_MODULE = "grounded_sam_ros.ros.node"
CAMERA_MODULE = "grounded_sam_ros.ros.sample_camera"


def ros_args(module: str, parameters: Mapping[str, Any]) -> List[str]:
    """``python -m module --ros-args -p name:=value ...``; booleans written ``true`` / ``false``, as ROS reads them."""
    args = [sys.executable, "-m", module, "--ros-args"]
    for name, value in parameters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        args += ["-p", f"{name}:={value}"]
    return args


def ros_env(domain: int, **overrides: str) -> Dict[str, str]:
    """This process's environment for a child on ROS_DOMAIN_ID ``domain``, offline and unbuffered.

    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_VERBOSITY`` keep the caller's values when it has them; ``overrides`` are
    applied last.
    """
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> Optional[int]:
    """SIGINT (a ROS node's clean shutdown), wait up to ``timeout`` s, then kill.

    Returns the exit code, or None when the process had to be killed.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode
