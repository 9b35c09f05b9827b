# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""bench.sync_audit's counting (the GPU itself is only on the GPU machine: torch's sync debug mode is faked here)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")


def test_audit_counts_each_synchronising_call_by_its_caller_and_restores_the_mode(monkeypatch):
    from bench import sync_audit

    modes = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)

    def frame(image, query):
        for _ in range(2):
            warnings.warn("called a synchronizing CUDA operation", stacklevel=1)  # as torch words it
        warnings.warn("an unrelated warning", stacklevel=1)

    found = sync_audit.audit(frame, None, "cup")
    ((where, count),) = found.items()
    assert count == 2 and "test/test_sync_audit.py:" in where and where.endswith("(frame)")
    assert modes == ["warn", "default"]
