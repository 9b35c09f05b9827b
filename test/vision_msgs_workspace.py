# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A real ``vision_msgs`` interface package for the tests, built with colcon from the published message definitions.

No wheel of ``vision_msgs`` exists for the pip-installed ROS used here (on a ROS machine it is
``apt install ros-$ROS_DISTRO-vision-msgs``). The fields below are those of ros-perception/vision_msgs, branch
``ros2`` (4.1.1), written as .msg files into a workspace at test time and built by ``rosidl_generate_interfaces``
exactly as the real package is; the result is cached by the hash of these definitions under
``~/.cache/grounded_sam_ros/vision_msgs-<hash>`` (rebuilt only when they change).

:func:`env` gives a child process's environment the paths it needs to import it (``AMENT_PREFIX_PATH``,
``PYTHONPATH``, ``LD_LIBRARY_PATH``): the generated type support libraries must be found when the process starts.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict

from grounded_sam_ros.models.tiny import local_cache

# name -> fields (comments of the upstream files left out)
MESSAGES: Dict[str, str] = {
    "BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "BoundingBox2DArray": "std_msgs/Header header\nvision_msgs/BoundingBox2D[] boxes\n",
    "BoundingBox3D": "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n",
    "BoundingBox3DArray": "std_msgs/Header header\nvision_msgs/BoundingBox3D[] boxes\n",
    "Classification": "std_msgs/Header header\nObjectHypothesis[] results\n",
    "Detection2D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\nstring id\n",
    "Detection2DArray": "std_msgs/Header header\nDetection2D[] detections\n",
    "Detection3D": "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox3D bbox\nstring id\n",
    "Detection3DArray": "std_msgs/Header header\nDetection3D[] detections\n",
    "LabelInfo": "std_msgs/Header header\nvision_msgs/VisionClass[] class_map\nfloat32 threshold\n",
    "ObjectHypothesis": "string class_id\nfloat64 score\n",
    "ObjectHypothesisWithPose": "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n",
    "Point2D": "float64 x\nfloat64 y\n",
    "Pose2D": "vision_msgs/Point2D position\nfloat64 theta\n",
    "VisionClass": "uint16 class_id\nstring class_name\n",
    "VisionInfo": "std_msgs/Header header\nstring method\nstring database_location\nint32 database_version\n",
}

PACKAGE_XML = """<?xml version="1.0"?>
<package format="3">
  <name>vision_msgs</name>
  <version>4.1.1</version>
  <description>vision_msgs message definitions, built for grounded_sam_ros tests</description>
  <maintainer email="maintainers@grounded-sam-ros.invalid">grounded_sam_ros developers</maintainer>
  <license>Apache-2.0</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>std_msgs</depend>
  <depend>geometry_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
"""

CMAKE = """cmake_minimum_required(VERSION 3.16)
project(vision_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(std_msgs REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME} %s DEPENDENCIES std_msgs geometry_msgs)
ament_export_dependencies(rosidl_default_runtime)
ament_package()
"""


def definitions_hash() -> str:
    text = "".join(f"{name}\n{fields}" for name, fields in sorted(MESSAGES.items())) + PACKAGE_XML + CMAKE
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(cache: Path | None = None) -> Path:
    """The install prefix of a built vision_msgs (``<cache>/install/vision_msgs``), building it if needed.

    Needs the ROS build tools of the development environment (colcon, rosidl generators: ``make setup``). Safe
    to call from parallel test processes (a file lock); a failed build raises ``RuntimeError`` with its log's tail.
    """
    cache = cache or local_cache(f"vision_msgs-{definitions_hash()}")
    prefix = cache / "install" / "vision_msgs"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / "BUILT").exists():
            return prefix
        for name in ("src", "build", "install", "log"):
            shutil.rmtree(cache / name, ignore_errors=True)
        package = cache / "src" / "vision_msgs"
        (package / "msg").mkdir(parents=True)
        for name, fields in MESSAGES.items():
            (package / "msg" / f"{name}.msg").write_text(fields)
        (package / "package.xml").write_text(PACKAGE_XML)
        files = " ".join(f'"msg/{name}.msg"' for name in sorted(MESSAGES))
        (package / "CMakeLists.txt").write_text(CMAKE % files)
        venv = os.environ.get("VIRTUAL_ENV") or str(Path(shutil.which("colcon") or "colcon").resolve().parents[1])
        env = dict(os.environ, AMENT_PREFIX_PATH=venv, CMAKE_PREFIX_PATH=venv)
        command = [
            "colcon", "--log-base", str(cache / "log"), "build",
            "--base-paths", str(cache / "src"), "--build-base", str(cache / "build"),
            "--install-base", str(cache / "install"), "--event-handlers",
            "console_cohesion-", "console_stderr-", "status-",
            "--cmake-args", f"-DPython3_EXECUTABLE={Path(venv) / 'bin' / 'python'}", "-DBUILD_TESTING=OFF",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=cache, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"colcon build of vision_msgs failed:\n{(done.stdout + done.stderr)[-4000:]}")
        (cache / "BUILT").write_text(definitions_hash())
    return prefix


def env(prefix: Path, base: Dict[str, str]) -> Dict[str, str]:
    """``base`` (a child's environment) with the paths under which it imports this ``vision_msgs`` put first."""
    site = next((prefix / "lib").glob("python3*/site-packages"))
    out = dict(base)
    for name, value in (("AMENT_PREFIX_PATH", prefix), ("PYTHONPATH", site), ("LD_LIBRARY_PATH", prefix / "lib")):
        out[name] = str(value) + (os.pathsep + base[name] if base.get(name) else "")
    return out
