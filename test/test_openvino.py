# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""backend=openvino (grounded_sam_ros.models.openvino_backend) against eager PyTorch on tiny models.

Documented tolerances (README "Performance"): float32 equals eager to 1e-4 (boxes, token scores, SAM embedding
relative error); bfloat16 (the CPU plugin's bf16 hint) keeps SAM's embedding within 2 % relative error of float32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def sam_normal_weights(tiny_models, tmp_path_factory) -> Path:
    """The tiny SAM with its image encoder re-drawn at ViT scale: its default init gives ~1e-21 embeddings, too
    small to compare precisions on."""
    import torch
    from transformers import SamModel, SamProcessor

    out = tmp_path_factory.mktemp("sam-normal")
    model = SamModel.from_pretrained(tiny_models[1])
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.vision_encoder.named_parameters():
            if param.ndim >= 2 or name.endswith(("pos_embed", "rel_pos_h", "rel_pos_w")):
                param.normal_(0.0, 0.02)
    model.save_pretrained(out)
    SamProcessor.from_pretrained(tiny_models[1]).save_pretrained(out)
    return out


def _pipelines(detector_dir, segmenter_dir, cache: Path, dtype: str):
    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    config = PipelineConfig(detector_model=str(detector_dir), segmenter_model=str(segmenter_dir), device="cpu",
                            dtype="float32", compile_cache_dir=str(cache))  # fmt: skip
    return build_pipeline(config), build_pipeline(config.replace(backend="openvino", dtype=dtype))


def _relative(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_openvino_float32_equals_eager_and_its_ir_is_cached(tiny_models, sam_normal_weights, tmp_path):
    eager, ov = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prompt = ov.text_prompt("cup . person")

    def check(pipe, expected_state):
        inputs = pipe.detector.preprocess(image)  # padded to the bucket; eager runs the same padded inputs
        out, reference = pipe.detector.forward(inputs, prompt), eager.detector.forward(inputs, prompt)
        np.testing.assert_allclose(out.token_probs, reference.token_probs, atol=1e-4)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.boxes_cxcywh, atol=1e-4)
        sam_inputs = pipe.segmenter.preprocess(image)
        embedding = pipe.segmenter.embed(sam_inputs).embedding
        assert _relative(embedding, eager.segmenter.embed(sam_inputs).embedding) < 1e-4
        assert set(pipe.detector.openvino.status.values()) == {expected_state}
        assert set(pipe.segmenter.openvino.status.values()) == {expected_state}
        # The whole frame through the pipeline: same boxes as eager on the padded input
        result = pipe(image, "cup . person")
        assert all(np.isfinite(d.box).all() for d in result.detections)

    check(ov, "converted")
    # A new pipeline (as in a new process) loads the IR
    _, again = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    check(again, "hit")
    # A damaged IR is converted again
    for xml in (tmp_path / "openvino").glob("*.xml"):
        xml.write_text(xml.read_text()[:200])
    _, rebuilt = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "float32")
    check(rebuilt, "rebuilt")


def test_openvino_bfloat16_sam_embedding_within_two_percent(tiny_models, sam_normal_weights, tmp_path):
    from grounded_sam_ros.pipeline import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (AMX / AVX512-BF16)")
    eager, ov = _pipelines(tiny_models[0], sam_normal_weights, tmp_path, "bfloat16")
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    inputs = ov.segmenter.preprocess(image)
    error = _relative(ov.segmenter.embed(inputs).embedding, eager.segmenter.embed(inputs).embedding)
    assert 0.0 < error < 0.02  # not zero: it did run in bf16
    boxes = ov.detector.forward(ov.detector.preprocess(image), ov.text_prompt("cup")).boxes_cxcywh
    assert np.isfinite(boxes).all() and (boxes >= 0).all() and (boxes <= 1).all()


def test_openvino_float32_exact_sizes_equal_plain_transformers_at_every_bucket_edge(tiny_models, tmp_path):
    """The fp32 exact path: with shape_buckets auto (= off in float32) the detector's input is not padded, and its
    outputs equal plain transformers (unmodified model, the processor's own image inputs) at sizes on a bucket edge,
    one pixel past it and the portrait of that; with shape_buckets on, the input is padded to the bucket and the
    outputs equal eager's on that padded input."""
    import torch
    from PIL import Image
    from transformers import AutoModelForZeroShotObjectDetection

    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.pipeline import build_pipeline

    config = PipelineConfig(detector_model=str(tiny_models[0]), segmenter_model=str(tiny_models[1]), device="cpu",
                            dtype="float32", segment=False, detector_max_size=256, backend="openvino",
                            compile_cache_dir=str(tmp_path))  # fmt: skip
    exact = build_pipeline(config).detector
    bucketed = build_pipeline(config.replace(shape_buckets="on")).detector
    eager = build_pipeline(config.replace(backend="torch")).detector
    plain = AutoModelForZeroShotObjectDetection.from_pretrained(tiny_models[0]).eval()
    assert exact.shape_buckets is False and bucketed.shape_buckets is True
    prompt = exact.encode_text(["cup", "person"])
    length = len(prompt.spans.input_ids)
    rng = np.random.default_rng(3)
    # (width, height) -> detector input: on a bucket edge (320 = 5 x 64: no padding), one past it, portrait
    sizes = {(320, 256): ((256, 320), (256, 320)), (321, 256): ((256, 321), (256, 384)),
             (256, 321): ((321, 256), (384, 256))}  # fmt: skip
    for (width, height), (exact_hw, bucket_hw) in sizes.items():
        image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        inputs = exact.preprocess(image)
        assert tuple(inputs["pixel_values"].shape[-2:]) == exact_hw
        processor = exact.processor.image_processor
        processed = processor(images=Image.fromarray(image), return_tensors="pt", size=exact._size)
        with torch.inference_mode():
            reference = plain(**processed, **prompt.tensors)
        out = exact.forward(inputs, prompt)
        np.testing.assert_allclose(out.token_probs, torch.sigmoid(reference.logits[0, :, :length]).numpy(), atol=1e-4)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.pred_boxes[0].numpy(), atol=1e-4)

        padded = bucketed.preprocess(image)
        assert tuple(padded["pixel_values"].shape[-2:]) == bucket_hw
        out, reference = bucketed.forward(padded, prompt), eager.forward(padded, prompt)
        np.testing.assert_allclose(out.token_probs, reference.token_probs, atol=1e-4)
        np.testing.assert_allclose(out.boxes_cxcywh, reference.boxes_cxcywh, atol=1e-4)
    assert set(exact.openvino.status) == {(*hw, 16) for hw, _ in sizes.values()}
    assert set(bucketed.openvino.status) == {(*hw, 16) for _, hw in sizes.values()}


def test_openvino_blob_cache_hit_on_restart_and_bad_entries_rebuilt(sam_normal_weights, tmp_path):
    """A second runner (as a new process) imports the plugin's compiled blob instead of compiling; a corrupted
    blob, a stale IR (made for another key) and a truncated IR weights file are each detected and rebuilt, and the
    output stays equal to eager's."""
    import torch
    from transformers import SamModel

    from grounded_sam_ros.models.openvino_backend import EncoderGraph, OpenVinoRunner

    model = SamModel.from_pretrained(sam_normal_weights).eval()
    pixels = torch.from_numpy(np.random.default_rng(4).normal(size=(1, 3, 256, 256)).astype(np.float32))
    with torch.inference_mode():
        expected = model.vision_encoder(pixels)[0]

    def start() -> OpenVinoRunner:
        runner = OpenVinoRunner("sam", EncoderGraph.module(model), torch.float32, tmp_path)
        (embedding,) = runner({"pixel_values": pixels}, (256, 256))
        assert _relative(embedding, expected) < 1e-4
        return runner

    assert start().status == {(256, 256): "converted"}
    warm = start()
    assert warm.status == {(256, 256): "hit"} and warm.loaded_from_cache == {(256, 256): True}
    blobs = warm.ir_path((256, 256)).parent / "blobs"
    (folder,) = list(blobs.iterdir())
    blob = max((p for p in folder.iterdir() if p.name != "manifest.json"), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    blob.write_bytes(bytes(data))
    assert start().status == {(256, 256): "rebuilt"}
    assert start().status == {(256, 256): "hit"}
    # Stale: the IR's key file says it was made for another torch version
    meta = warm.ir_path((256, 256)).with_suffix(".json")
    stored = json.loads(meta.read_text())
    stored["key"]["torch"] = "0.0"
    meta.write_text(json.dumps(stored))
    assert start().status == {(256, 256): "rebuilt"}
    # Truncated weights (with the blob gone, the plugin must read the IR)
    shutil.rmtree(blobs)
    weights = warm.ir_path((256, 256)).with_suffix(".bin")
    weights.write_bytes(weights.read_bytes()[:-1000])
    assert start().status == {(256, 256): "rebuilt"}
    assert start().status == {(256, 256): "hit"}


def test_openvino_runs_uncached_when_the_cache_folder_is_unusable(sam_normal_weights, tmp_path):
    import torch
    from transformers import SamModel

    from grounded_sam_ros.models.openvino_backend import EncoderGraph, OpenVinoRunner

    model = SamModel.from_pretrained(sam_normal_weights).eval()
    pixels = torch.from_numpy(np.random.default_rng(5).normal(size=(1, 3, 256, 256)).astype(np.float32))
    with torch.inference_mode():
        expected = model.vision_encoder(pixels)[0]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    runner = OpenVinoRunner("sam", EncoderGraph.module(model), torch.float32, blocker)
    (embedding,) = runner({"pixel_values": pixels}, (256, 256))
    assert _relative(embedding, expected) < 1e-4
    assert runner.status == {(256, 256): "converted"} and blocker.is_file()


def test_openvino_conversion_removes_irs_of_an_older_graph_version(sam_normal_weights, tmp_path):
    """IRs traced by an older version of the graph (their key's ``graph`` below GRAPH_VERSION, or none: version 1)
    are never used again; the next conversion deletes them with their blobs, and keeps current ones and foreign
    files."""
    import torch
    from transformers import SamModel

    from grounded_sam_ros.models.openvino_backend import GRAPH_VERSION, EncoderGraph, IrCache, OpenVinoRunner

    model = SamModel.from_pretrained(sam_normal_weights).eval()
    runner = OpenVinoRunner("sam", EncoderGraph.module(model), torch.float32, tmp_path)
    cache = IrCache(tmp_path / "openvino")
    current = {**runner.key((256, 256)), "shape": [512, 512]}  # same graph version, another size: kept
    old = {key: value for key, value in runner.key((256, 256)).items() if key != "graph"}  # before versions
    older = {**runner.key((256, 256)), "graph": GRAPH_VERSION - 1}
    for key in (current, old, older):
        stem = cache.stem(key)
        stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".xml", ".bin"):
            stem.with_suffix(suffix).write_text("stand-in")
        stem.with_suffix(".json").write_text(json.dumps({"key": key, "files": {}}))
        cache.blobs(key, "f32").mkdir(parents=True)
    foreign = tmp_path / "openvino" / "notes.json"
    foreign.write_text("{}")
    pixels = torch.zeros(1, 3, 256, 256)
    runner({"pixel_values": pixels}, (256, 256))
    assert runner.status == {(256, 256): "converted"}
    for key, kept in ((current, True), (old, False), (older, False)):
        stem = cache.stem(key)
        assert stem.with_suffix(".xml").exists() is kept and stem.with_suffix(".bin").exists() is kept
        assert stem.with_suffix(".json").exists() is kept and cache.blobs(key, "f32").exists() is kept
    assert foreign.exists() and runner.ir_path((256, 256)).exists()
