# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam models`` and ``grounded-sam download --family``: no network (the Hub client is replaced)."""

from __future__ import annotations

import pytest

from grounded_sam_ros.cli import main
from grounded_sam_ros.models import KINDS
from grounded_sam_ros.models.catalog import CATALOG, default_entry


def test_every_registered_family_has_a_default_entry():
    for registry in KINDS.values():
        for family in registry:
            entry = default_entry(family)
            assert entry is not None and entry.kind in KINDS, family


def test_models_lists_families_ids_sizes_licences_and_cache(monkeypatch, capsys):
    from grounded_sam_ros.cli import models

    monkeypatch.setattr(models, "cached", lambda model_id, cache_dir=None: model_id == "facebook/sam-vit-base")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = {}
    for line in out.splitlines()[1:]:
        ids = [token for token in line.split() if "/" in token]
        if ids:
            lines[ids[0]] = line
    registered = {family for registry in KINDS.values() for family in registry}
    for entry in CATALOG:
        if entry.family in registered:
            assert entry.model_id in lines, entry.model_id
            line = lines[entry.model_id]
            assert entry.licence.split()[0] in line and entry.kind in line
    assert " yes " in lines["facebook/sam-vit-base"] and " no " in lines["facebook/sam3"]
    assert "840M" in lines["facebook/sam3"] and "9.7M" in lines["Zigeng/SlimSAM-uniform-77"]


def test_models_cache_check_reads_the_hf_cache_layout(tmp_path):
    from grounded_sam_ros.cli.models import cached

    snapshot = tmp_path / "models--org--tiny" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("abc")
    (snapshot / "config.json").write_text("{}")
    assert not cached("org/tiny", str(tmp_path))  # no weights yet
    (snapshot / "model.safetensors").write_bytes(b"")
    assert cached("org/tiny", str(tmp_path))


@pytest.mark.parametrize("family", sorted({e.family for e in CATALOG if e.default}))
def test_download_family_fetches_its_default(family, monkeypatch, tmp_path, capsys):
    import huggingface_hub

    if family not in {f for registry in KINDS.values() for f in registry}:
        pytest.skip(f"{family} is not registered on this branch")
    calls = []

    def fake_snapshot_download(model_id, cache_dir=None, allow_patterns=None):
        calls.append((model_id, tuple(allow_patterns)))
        return str(tmp_path / model_id)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert main(["download", "--family", family, "--cache-dir", str(tmp_path)]) == 0
    assert calls == [(default_entry(family).model_id, ("*.safetensors", "*.json", "*.txt"))]


def test_download_unknown_family_says_where_to_look(capsys):
    assert main(["download", "--family", "yolo"]) == 2
    assert "unknown family 'yolo'" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside pycocotools on numpy 2
@pytest.mark.parametrize("models", ["owlv2+sam_hq", "sam3"])
def test_segment_with_zoo_models_matches_the_pipeline(models, tmp_path, capsys):
    """`grounded-sam segment` with families read from the checkpoints (no family flag) writes the pipeline's result."""
    import json

    import numpy as np
    from pycocotools import mask as mask_utils

    from grounded_sam_ros.config import PipelineConfig
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.models import tiny_zoo
    from grounded_sam_ros.pipeline import build_pipeline

    if models == "sam3":
        sam3 = tiny_zoo.build_tiny_sam3(tmp_path / "sam3")
        flags, config = ["--one-stage", str(sam3)], {"one_stage_model": str(sam3)}
        thresholds = ["--box-threshold", "0.55"]
    else:
        owlv2, sam_hq = tiny_zoo.build_tiny_owlv2(tmp_path / "owlv2"), tiny_zoo.build_tiny_sam_hq(tmp_path / "sam-hq")
        flags = ["--detector", str(owlv2), "--segmenter", str(sam_hq)]
        config = {"detector_model": str(owlv2), "segmenter_model": str(sam_hq)}
        thresholds = ["--box-threshold", "0.5"]
    photo = sample_image("chelsea")
    out = tmp_path / "out"
    argv = ["segment", str(photo), "--query", "cat . red cup", "--device", "cpu", "--dtype", "float32"]
    assert main([*argv, *flags, *thresholds, "--max-detections", "3", "--out", str(out)]) == 0
    got = json.loads((out / "chelsea.json").read_text())

    pipe = build_pipeline(
        PipelineConfig(device="cpu", dtype="float32", box_threshold=float(thresholds[1]), max_detections=3, **config)
    )
    image = load_image(photo)
    expected = pipe(image, "cat . red cup")
    assert len(expected.detections) > 0 and len(got["detections"]) == len(expected.detections)
    height, width = image.shape[:2]
    for entry, det in zip(got["detections"], expected.detections):
        assert entry["label"] == det.label and entry["score"] == pytest.approx(det.score, abs=1e-6)
        np.testing.assert_allclose(entry["box"], det.box, atol=1e-3)
        rle = entry["mask"]
        mask = mask_utils.decode(mask_utils.frPyObjects(rle, *rle["size"])).astype(bool)
        np.testing.assert_array_equal(mask, det.full_mask(height, width))
    if models == "sam3":
        assert "(one-stage)" in capsys.readouterr().out
