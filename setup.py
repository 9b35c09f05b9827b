# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""pip installer for the ROS-free core: ``pip install .`` gives the pipeline and the ``grounded-sam`` command.

ROS users build with colcon instead: package.xml declares build_type ament_cmake, so colcon runs CMakeLists.txt
and never this file. Pinned versions for development live in requirements.txt; the ranges here are what the
code needs.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "grounded_sam_ros" / "__init__.py").read_text(), re.M)[1]

setup(
    name="grounded_sam_ros",
    version=VERSION,
    description="Open-vocabulary instance segmentation (Grounding DINO + SAM) as a Python pipeline and a ROS 2 node",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["grounded_sam_ros", "grounded_sam_ros.*"]),
    package_data={"grounded_sam_ros": ["data/*"]},
    include_package_data=True,
    install_requires=[
        "numpy>=1.24",
        "pillow>=10",
        "torch>=2.4",
        "transformers>=5.0",
        "safetensors>=0.4",
        "PyYAML>=6",
    ],
    extras_require={
        "coco": ["pycocotools>=2.0.7"],
        "test": ["pytest>=8", "pytest-timeout>=2.3", "ruff>=0.8"],
    },
    entry_points={"console_scripts": ["grounded-sam = grounded_sam_ros.cli:main"]},
    zip_safe=False,
)
