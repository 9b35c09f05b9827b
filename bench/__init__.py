# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Benchmarks of the Grounded-SAM pipeline: ``python -m bench.run [--quick]`` prints one table and writes JSON.

Benchmarks are not tests: nothing here asserts on time. See README.md, section "Performance".
"""
