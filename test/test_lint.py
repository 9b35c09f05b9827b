# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Lint tier: what ament_copyright and ament_xmllint check on a ROS install, done here without them.

ruff (lint + format) runs before pytest in ``make test``; these tests cover the ROS-specific checks: a licence
header on every source file, a package.xml that parses as format 3, and every ROS package the code imports declared
as a dependency (so rosdep installs it on a real ROS machine).
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = ("# Copyright 2026 grounded_sam_ros developers", "# SPDX-License-Identifier: Apache-2.0")
# ROS packages that are part of every ROS 2 install and need no <depend> of their own
IMPLICIT = {"rclpy", "builtin_interfaces", "rcl_interfaces", "ament_index_python"}
# Importable top-level modules that belong to this package or to pip (not rosdep) dependencies
NON_ROS = {"grounded_sam_ros", "bench", "node_helpers"}


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def _sources() -> list[Path]:
    files = _tracked("*.py", "scripts/*", "tools/*.sh", ".ci/run", "CMakeLists.txt", "Makefile", "*.msg", "*.srv")
    return sorted(set(files))


def test_every_source_file_has_the_licence_header():
    missing = []
    for path in _sources():
        lines = path.read_text(encoding="utf-8").splitlines()[:4]
        if lines and lines[0].startswith("#!"):
            lines = lines[1:]
        if path.suffix in (".msg", ".srv"):
            continue  # interface files start with their documentation; the package licence covers them
        if tuple(lines[:2]) != HEADER:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"files without the two-line licence header {HEADER}: {missing}"


def test_package_xml_is_format_3_and_parses():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is installed by `make setup`")
    package = catkin_pkg.parse_package(str(ROOT / "package.xml"))
    package.validate()
    assert package.package_format == 3
    assert package.name == "grounded_sam_ros"
    assert [str(lic) for lic in package.licenses] == ["Apache-2.0"]
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [g.name for g in package.member_of_groups]


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_ros_package_the_code_imports_is_declared():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is installed by `make setup`")
    package = catkin_pkg.parse_package(str(ROOT / "package.xml"))
    declared = {
        d.name for d in package.build_depends + package.exec_depends + package.buildtool_depends + package.test_depends
    }
    code = [p for p in _tracked("grounded_sam_ros/*.py", "launch/*.py", "scripts/*") if p.suffix in ("", ".py")]
    ros_like = set()
    for path in code:
        for name in _imported_top_levels(path):
            if name.endswith(("_msgs", "_interfaces")) or name in ("rclpy", "launch", "launch_ros"):
                ros_like.add(name)
    undeclared = sorted(ros_like - declared - IMPLICIT - NON_ROS)
    assert not undeclared, f"ROS packages imported but not in package.xml: {undeclared}"
