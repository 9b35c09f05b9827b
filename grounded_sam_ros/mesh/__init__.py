# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Whole-body human meshes (OSX / SMPLer-X -> SMPL-X) in plain PyTorch: person boxes in, SMPL-X meshes out.

Modules, one concern each: ``config`` (constants, architecture table), ``preprocess`` (box -> crop -> input),
``vit`` (encoder), ``heads`` (regression heads), ``roi_align``, ``rotations``, ``network`` (the graph),
``checkpoint`` (published files), ``body_model`` (SMPL-X skinning), ``camera`` (virtual/real camera, depth),
``estimator`` (boxes -> meshes), ``render`` (numpy rasteriser), ``export`` (OBJ/PLY), ``synthetic`` (test files).
No ROS here.
"""
