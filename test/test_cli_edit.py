# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``grounded-sam edit`` and ``grounded-sam synth`` end to end on the tiny random models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grounded_sam_ros import cli
from grounded_sam_ros.data import load_image, sample_image


@pytest.fixture(scope="module")
def small_images(tmp_path_factory):
    """Two small sample photos as PNG files."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("inputs")
    paths = []
    for name in ("coffee", "chelsea"):
        path = folder / f"{name}.png"
        Image.fromarray(load_image(sample_image(name))[::5, ::5]).save(path)
        paths.append(path)
    return paths


def _model_flags(tiny_models, tiny_inpainter):
    detector, segmenter = tiny_models
    return ["--detector", str(detector), "--segmenter", str(segmenter), "--inpainter", str(tiny_inpainter),
            "--device", "cpu", "--dtype", "float32", "--box-threshold", "0.3", "--text-threshold", "0.2",
            "--steps", "2", "--local-files-only"]  # fmt: skip


def test_edit_writes_the_edit_the_mask_and_a_before_after_strip(
    tiny_models, tiny_inpainter, tiny_pipeline, small_images, tmp_path, capsys
):
    from grounded_sam_ros.editing import EditConfig
    from grounded_sam_ros.editing.editor import edit_query, load_editor

    path = small_images[0]
    flags = ["--query", "cup", "--prompt", "a red cup", "--top-k", "1", "--dilate", "5", "--seed", "3"]
    status = cli.main(["edit", str(path), "--out", str(tmp_path), *flags, *_model_flags(tiny_models, tiny_inpainter)])
    assert status == 0, capsys.readouterr().err
    # The same edit through the library
    editor = load_editor(EditConfig(model=str(tiny_inpainter), device="cpu", steps=2, dilate=5))
    image = load_image(path)
    expected = edit_query(tiny_pipeline, editor, image, "cup", "a red cup", seed=3, top_k=1)
    edited = load_image(tmp_path / "coffee_edited.png")
    assert np.array_equal(edited, expected.image)
    mask = np.asarray(__import__("PIL.Image").Image.open(tmp_path / "coffee_mask.png"))
    assert np.array_equal(mask, np.rint(expected.weight * 255).astype(np.uint8))
    strip = load_image(tmp_path / "coffee_before_after.png")
    width = image.shape[1]
    assert np.array_equal(strip[:, :width], image) and np.array_equal(strip[:, -width:], expected.image)
    summary = json.loads((tmp_path / "coffee_edit.json").read_text())
    assert summary["seed"] == 3 and summary["instances"][0]["id"] == expected.detections[0].id


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (["--query", "cup"], 2, "needs --prompt"),
        (["--query", "cup", "--prompt", "x", "--dilate", "-1"], 2, "dilate=-1"),
        (["--query", "cup", "--prompt", "x", "--box-threshold", "1.0"], 1, "nothing to edit"),
        (["--query", "cup", "--prompt", "x", "--inpainter", "/no/such/inpainter"], 1, "could not load the inpainting"),
    ],
)
def test_edit_failures_say_why(tiny_models, tiny_inpainter, small_images, tmp_path, capsys, extra, status, message):
    argv = ["edit", str(small_images[0]), "--out", str(tmp_path), *_model_flags(tiny_models, tiny_inpainter), *extra]
    assert cli.main(argv) == status
    assert message in capsys.readouterr().err


def test_synth_writes_a_coco_dataset_of_the_source_masks_and_resumes(
    tiny_models, tiny_inpainter, tiny_pipeline, small_images, tmp_path, capsys
):
    from pycocotools.coco import COCO

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# appearances\na red cup\n\na glass cup\n")
    out = tmp_path / "synth"
    base = ["synth", *map(str, small_images), "--query", "cup", "--prompts", str(prompts), "--out", str(out),
            "--top-k", "2", *_model_flags(tiny_models, tiny_inpainter)]  # fmt: skip
    assert cli.main([*base, "--variants", "1"]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    assert len(first) == 2
    # Resume with one more variant: only the new ones are repainted
    assert cli.main([*base, "--variants", "2"]) == 0
    printed = capsys.readouterr().out
    assert "2 image(s) written, 2 already done, 0 failed" in printed, printed
    now = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    assert len(now) == 4 and all(now[name] == mtime for name, mtime in first.items())

    coco = COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 4 and [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cup"]
    for path in small_images:
        image = load_image(path)
        found = tiny_pipeline(image, "cup").detections[:2]
        height, width = image.shape[:2]
        stem = path.stem
        img_ids = [i["id"] for i in coco.loadImgs(coco.getImgIds()) if i["file_name"].startswith(f"images/{stem}_")]
        assert len(img_ids) == 2
        for img_id in img_ids:
            info = coco.loadImgs(img_id)[0]
            assert (info["width"], info["height"]) == (width, height)
            edited = load_image(out / info["file_name"])
            assert edited.shape == image.shape and not np.array_equal(edited, image)
            masks = [coco.annToMask(a).astype(bool) for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id))]
            assert len(masks) == len(found)
            for mask, det in zip(masks, found):
                assert np.array_equal(mask, det.full_mask(height, width))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--variants", "0"], "--variants 0"),
        (["--mode", "remove"], "replace"),
        (["--prompts", "/no/such/prompts.txt"], "cannot read --prompts"),
    ],
)
def test_synth_usage_errors_load_no_model(small_images, tmp_path, capsys, monkeypatch, extra, message):
    import grounded_sam_ros.pipeline as pipeline

    monkeypatch.setattr(pipeline, "build_pipeline", lambda config: pytest.fail("no model may load"))
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red cup\n")
    argv = ["synth", str(small_images[0]), "--query", "cup", "--prompts", str(prompts), "--out", str(tmp_path)]
    assert cli.main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
