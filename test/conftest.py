# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: tiny random models in Hugging Face format, built once per test session."""

from __future__ import annotations

import os

import pytest

# Never reach for the Hub from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """(detector_dir, segmenter_dir): tiny random Grounding DINO and SAM saved with ``save_pretrained``."""
    from grounded_sam_ros.models.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_models):
    """A pipeline on the tiny models with thresholds low enough to keep boxes (shared: do not mutate its config).

    float32, so that tests can compare it with plain float32 model calls (``dtype=auto`` is bfloat16 on CPUs with
    native bf16).
    """
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = tiny_models
    return build_pipeline(
        PipelineConfig(
            detector_model=str(detector),
            segmenter_model=str(segmenter),
            device="cpu",
            dtype="float32",
            box_threshold=0.3,
            text_threshold=0.2,
        )
    )


@pytest.fixture(scope="session")
def tiny_inpainter(tmp_path_factory):
    """A tiny random SD 1.5-style inpainting pipeline directory (diffusers ``save_pretrained`` layout, 64x64)."""
    from grounded_sam_ros.editing.tiny import build_sd_inpainting

    return build_sd_inpainting(tmp_path_factory.mktemp("tiny-inpainter") / "tiny-sd-inpainting")
