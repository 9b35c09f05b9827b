# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The compiled path (grounded_sam_ros.models.compiled): buckets, exact text padding, the artefact cache's handling
of bad entries, compiled == eager in every bucket, and a cache hit in a fresh process."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grounded_sam_ros.models.compiled import ArtifactCache, bucket_size, cache_key, text_bucket

REPO = Path(__file__).resolve().parents[1]


def test_buckets_round_up_short_side_to_32_and_long_side_to_64():
    # Grounding DINO's 640x480 input (800x1066) and the edges around it
    assert bucket_size(800, 1066) == (800, 1088)
    assert bucket_size(800, 1088) == (800, 1088)  # on an edge: unchanged
    assert bucket_size(800, 1089) == (800, 1152)
    assert bucket_size(801, 1066) == (832, 1088)
    assert bucket_size(1066, 800) == (1088, 800)  # portrait
    assert bucket_size(800, 800) == (800, 800)
    assert bucket_size(750, 1333) == (768, 1344)  # 1280x720
    assert [text_bucket(n, 256) for n in (1, 16, 17, 250, 256)] == [16, 16, 32, 256, 256]
    with pytest.raises(ValueError):
        bucket_size(0, 10)


def test_text_padding_is_exact_for_the_real_tokens(tiny_pipeline):
    from grounded_sam_ros.models.compiled import pad_text

    detector = tiny_pipeline.detector
    prompt = tiny_pipeline.text_prompt("cup . person")
    inputs = detector.preprocess(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    reference = detector.forward(inputs, prompt)
    padded = copy.copy(prompt)
    padded.tensors = pad_text(prompt.tensors, detector.max_text_tokens)
    assert padded.tensors["input_ids"].shape[1] == 16 > prompt.tensors["input_ids"].shape[1]
    out = detector.forward(inputs, padded)
    np.testing.assert_allclose(out.token_probs, reference.token_probs, atol=1e-6)
    np.testing.assert_allclose(out.boxes_cxcywh, reference.boxes_cxcywh, atol=1e-6)


def test_bad_cache_entries_are_deleted_and_reported_for_rebuild(tmp_path):
    cache = ArtifactCache(tmp_path)
    key = {"format": 1, "family": "sam", "architecture": "abc", "dtype": "float32", "device": "cpu",
           "torch": "x", "shape": [256, 256]}  # fmt: skip
    assert cache.load(key) == "miss"
    # Unreadable by torch (valid header and checksum)
    path = cache.write(key, b"not torch artefacts")
    assert cache.load(key) == "rebuild" and not path.exists()
    # Truncated
    cache.write(key, b"0123456789")
    path.write_bytes(path.read_bytes()[:-3])
    assert cache.load(key) == "rebuild" and not path.exists()
    # Not our format at all
    path.write_bytes(b"\x00garbage")
    assert cache.load(key) == "rebuild" and not path.exists()
    # Stale: the file was made for another key (e.g. copied across torch versions)
    other = dict(key, torch="y")
    cache.write(other, b"payload")
    cache.path(other).rename(path)
    assert cache.load(key) == "rebuild" and not path.exists()


def test_cache_key_names_model_dtype_device_torch_and_shape(tiny_pipeline):
    import torch

    key = cache_key("sam", tiny_pipeline.segmenter.model, torch.bfloat16, "cuda:1", (1024, 1024))
    assert key["dtype"] == "bfloat16" and key["device"] == "cuda" and key["torch"] == torch.__version__
    assert key["shape"] == [1024, 1024] and len(key["architecture"]) == 16
    other = cache_key("sam", tiny_pipeline.detector.model, torch.bfloat16, "cuda:1", (1024, 1024))
    assert other["architecture"] != key["architecture"]


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_compiled_detector_equals_eager_in_every_bucket(tiny_models, tmp_path, monkeypatch):
    """fp32: the compiled detector equals eager PyTorch on the same (bucket-padded) inputs, for a size on a bucket
    edge (no padding), one pixel past it (padded to the next bucket) and the portrait of that."""
    import torch

    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.models.compiled import pad_text
    from grounded_sam_ros.pipeline import build_pipeline

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    detector_dir, segmenter_dir = tiny_models
    config = PipelineConfig(detector_model=str(detector_dir), segmenter_model=str(segmenter_dir), device="cpu",
                            dtype="float32", segment=False, detector_max_size=256)  # fmt: skip
    eager = build_pipeline(config).detector
    # Buckets on explicitly: in float32 the default (shape_buckets auto) is one graph per exact size
    compiled_config = config.replace(compile=True, compile_cache_dir=str(tmp_path))
    assert build_pipeline(compiled_config).detector.shape_buckets is False
    compiled = build_pipeline(compiled_config.replace(shape_buckets="on")).detector
    assert compiled.shape_buckets is True
    prompt = compiled.encode_text(["cup", "person"])
    text = pad_text(prompt.tensors, compiled.max_text_tokens)
    rng = np.random.default_rng(0)
    expected_buckets = {(320, 256): (256, 320), (321, 256): (256, 384), (256, 321): (384, 256)}
    for (width, height), bucket in expected_buckets.items():
        image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        inputs = compiled.preprocess(image)
        assert tuple(inputs["pixel_values"].shape[-2:]) == bucket
        with torch.inference_mode():
            reference = eager.model(**inputs, **text)
        out = compiled.forward(inputs, prompt)
        length = len(prompt.spans.input_ids)
        expected_probs = torch.sigmoid(reference.logits[0, :, :length]).numpy()
        np.testing.assert_allclose(out.token_probs, expected_probs, atol=1e-4)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.pred_boxes[0].numpy(), atol=1e-4)
    assert set(compiled.compiled.status) == {(*b, 16) for b in expected_buckets.values()}


def _probe(segmenter_dir: Path, cache_dir: Path) -> dict:
    """test/compile_probe.py in a fresh process (its own inductor cache: the one enable_compile picks)."""
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(REPO / "test" / "compile_probe.py"), str(segmenter_dir),
                           str(cache_dir)], env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_second_start_loads_the_cache_and_a_corrupted_entry_is_rebuilt(tiny_models, tmp_path):
    segmenter_dir = tiny_models[1]
    first = _probe(segmenter_dir, tmp_path)
    assert first["status"] == {"256x256": "compiled"}
    assert first["inductor"].get("fxgraph_cache_miss", 0) > 0
    entries = list(tmp_path.glob("sam-float32-cpu-256x256-*.bin"))
    assert len(entries) == 1

    # A fresh process: every graph comes from the cache, nothing is compiled again
    second = _probe(segmenter_dir, tmp_path)
    assert second["status"] == {"256x256": "hit"}
    assert second["inductor"].get("fxgraph_cache_miss", 0) == 0
    assert second["inductor"]["fxgraph_cache_hit"] == first["inductor"]["fxgraph_cache_miss"]
    for run in (first, second):
        assert run["max_difference"] <= 1e-5 * run["scale"]

    # Flip bytes in the middle of the entry: detected, rebuilt, and the result is still right
    data = bytearray(entries[0].read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    entries[0].write_bytes(bytes(data))
    third = _probe(segmenter_dir, tmp_path)
    assert third["status"] == {"256x256": "rebuilt"}
    assert third["max_difference"] <= 1e-5 * third["scale"]
    fourth = _probe(segmenter_dir, tmp_path)
    assert fourth["status"] == {"256x256": "hit"}


def test_outputs_leave_the_cuda_graph_memory_as_copies_of_the_same_structure():
    """What the CUDA-graph regions return is copied (nested tuples, dicts, ModelOutput), values unchanged."""
    import torch
    from transformers.utils import ModelOutput

    from grounded_sam_ros.models.compiled import _copied

    a, b = torch.arange(4.0), torch.ones(2, 2)
    out = _copied((a, [b, None], {"x": a}, ModelOutput(last_hidden_state=b)))
    assert isinstance(out, tuple) and isinstance(out[1], list) and isinstance(out[3], ModelOutput)
    assert torch.equal(out[0], a) and out[0].data_ptr() != a.data_ptr()
    assert out[1][1] is None and torch.equal(out[2]["x"], a) and out[2]["x"].data_ptr() != a.data_ptr()
    assert torch.equal(out[3].last_hidden_state, b) and out[3].last_hidden_state.data_ptr() != b.data_ptr()
