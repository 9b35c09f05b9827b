# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ``grounded-sam`` command: argument parsing, fix-it errors, download failure offline, and end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import grounded_sam_ros
from grounded_sam_ros import cli
from grounded_sam_ros.config import DEFAULT_DETECTOR, DEFAULT_SEGMENTER, PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.visualize import BANNER_COLOR

REPO = Path(__file__).resolve().parent.parent


def _run_module(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "grounded_sam_ros.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------------------------------------------------------
# parsing


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"grounded-sam {grounded_sam_ros.__version__}"


def test_module_entry_point_runs():
    done = _run_module("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"grounded-sam {grounded_sam_ros.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no command
        ["segment", "a.jpg", "--out", "x"],  # no --query
        ["segment", "a.jpg", "--query", "cup"],  # no --out
        ["segment", "--query", "cup", "--out", "x"],  # no image
        ["segment", "a.jpg", "--query", "cup", "--out", "x", "--dtype", "float64"],
        ["segment", "a.jpg", "--query", "cup", "--out", "x", "--box-threshold", "high"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "usage: grounded-sam" in capsys.readouterr().err


def test_segment_defaults_come_from_pipeline_config():
    args = cli.build_parser().parse_args(["segment", "a.jpg", "--query", "cup", "--out", "o"])
    assert cli.config_from_args(args) == PipelineConfig()


def test_segment_flags_fill_the_config():
    argv = [
        "segment", "a.jpg", "b.png", "--query", "cup", "--out", "o",
        "--detector", "/models/gd", "--segmenter", "org/sam",
        "--box-threshold", "0.2", "--text-threshold", "0.1", "--nms-iou", "0.5", "--max-detections", "7",
        "--multimask", "--boxes-only", "--device", "cuda:1", "--dtype", "bfloat16",
        "--local-files-only", "--allow-pickle", "--cache-dir", "/tmp/hf",
    ]  # fmt: skip
    args = cli.build_parser().parse_args(argv)
    assert args.images == ["a.jpg", "b.png"]
    expected = PipelineConfig(
        detector_model="/models/gd",
        segmenter_model="org/sam",
        box_threshold=0.2,
        text_threshold=0.1,
        nms_iou=0.5,
        max_detections=7,
        multimask=True,
        segment=False,
        device="cuda:1",
        dtype="bfloat16",
        local_files_only=True,
        allow_pickle=True,
        cache_dir="/tmp/hf",
    )
    assert cli.config_from_args(args) == expected


def test_download_defaults_to_the_two_default_models():
    args = cli.build_parser().parse_args(["download"])
    assert args.models == [DEFAULT_DETECTOR, DEFAULT_SEGMENTER]
    args = cli.build_parser().parse_args(["download", "a/b", "--cache-dir", "/c"])
    assert args.models == ["a/b"] and args.cache_dir == "/c"


# ---------------------------------------------------------------------------------------------------------------
# fix-it errors before any model loads


@pytest.fixture
def no_model_loading(monkeypatch):
    import grounded_sam_ros.pipeline as pipeline

    def fail(config):
        raise AssertionError("models must not load when the arguments are bad")

    monkeypatch.setattr(pipeline, "build_pipeline", fail)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--query", " . , "], "holds no phrase"),
        (["--query", "cup", "--box-threshold", "1.5"], "box_threshold=1.5"),
        (["--query", "cup", "--device", "gpu"], "device='gpu'"),
        (["--query", "cup", "--max-detections", "-1"], "max_detections=-1"),
    ],
)
def test_bad_arguments_are_reported_without_loading_models(tmp_path, capsys, no_model_loading, extra, message):
    status = cli.main(["segment", str(sample_image("coffee")), "--out", str(tmp_path / "o"), *extra])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("grounded-sam: error:") and message in err


def test_missing_model_directory_is_a_clear_error(tmp_path, capsys):
    status = cli.main(
        ["segment", str(sample_image("coffee")), "--query", "cup", "--out", str(tmp_path / "o"),
         "--detector", str(tmp_path / "no-such-model"), "--local-files-only"]
    )  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    assert "could not load the models" in err and "no-such-model" in err


# ---------------------------------------------------------------------------------------------------------------
# download without network


def test_download_offline_fails_with_fix_it_message(tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    status = cli.main(["download", "someorg/some-model", "--cache-dir", str(tmp_path / "hf")])
    assert status == 1
    captured = capsys.readouterr()
    assert "someorg/some-model" in captured.err
    assert "machine with internet" in captured.err
    assert str(tmp_path / "hf") in captured.err
    assert "HF_HUB_OFFLINE" in captured.err
    assert "Done" not in captured.out


def test_download_success_reports_paths_and_offline_use(tmp_path, capsys, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(tmp_path / "snapshots" / repo_id)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    status = cli.main(["download", "a/one", "b/two", "--cache-dir", str(tmp_path)])
    assert status == 0
    assert [c[0] for c in calls] == ["a/one", "b/two"]
    for _, kwargs in calls:
        assert kwargs["cache_dir"] == str(tmp_path)
        # Weights as safetensors only, plus the json/txt config, tokenizer and processor files
        assert sorted(kwargs["allow_patterns"]) == ["*.json", "*.safetensors", "*.txt"]
    out = capsys.readouterr().out
    assert f"a/one -> {tmp_path / 'snapshots' / 'a/one'}" in out
    assert "--local-files-only" in out and "HF_HUB_OFFLINE=1" in out


def test_download_other_failure_is_reported_and_the_rest_still_downloads(tmp_path, capsys, monkeypatch):
    import huggingface_hub

    def flaky_snapshot_download(repo_id, **kwargs):
        if repo_id == "a/broken":
            raise RuntimeError("connection reset mid-file")
        return str(tmp_path / repo_id)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", flaky_snapshot_download)
    status = cli.main(["download", "a/broken", "b/fine", "--cache-dir", str(tmp_path)])
    assert status == 1
    captured = capsys.readouterr()
    assert "could not download a/broken" in captured.err and "connection reset mid-file" in captured.err
    assert f"b/fine -> {tmp_path / 'b/fine'}" in captured.out
    assert "1 of 2 model(s) not downloaded: a/broken" in captured.err


def test_download_unreachable_hub_fails_fast_and_names_every_model(tmp_path):
    # A closed local port: the connection is refused at once, whatever the sandbox's network policy
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "home")}
    done = _run_module("download", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    for model in (DEFAULT_DETECTOR, DEFAULT_SEGMENTER):
        assert f"could not download {model}: the Hub is unreachable" in done.stderr
        assert f"grounded-sam download {model}" in done.stderr
    assert "machine with internet" in done.stderr
    assert str(tmp_path / "home") in done.stderr  # where the cache is, so the user knows what to copy
    assert "2 of 2 model(s) not downloaded" in done.stderr


# ---------------------------------------------------------------------------------------------------------------
# end to end on the tiny random models


def _decode_rle(rle: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    height, width = rle["size"]
    return mask_utils.decode(mask_utils.frPyObjects(rle, height, width)).astype(bool)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside pycocotools on numpy 2
def test_segment_end_to_end_matches_the_pipeline(tiny_models, tmp_path, capsys):
    from grounded_sam_ros.pipeline import build_pipeline

    detector, segmenter = (str(p) for p in tiny_models)
    query = "cup . person"
    photos = [sample_image("coffee"), sample_image("astronaut")]
    # A second file with the same stem in another folder must not overwrite the first one's results
    twin = tmp_path / "other" / "coffee.jpg"
    twin.parent.mkdir()
    shutil.copy(photos[0], twin)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a picture")
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"

    thresholds = ["--box-threshold", "0.3", "--text-threshold", "0.2", "--max-detections", "4"]
    argv = ["segment", str(photos[0]), str(missing), str(not_an_image), str(photos[1]), str(twin),
            "--query", "Cup, person", "--detector", detector, "--segmenter", segmenter, "--device", "cpu",
            "--out", str(out), *thresholds]  # fmt: skip
    status = cli.main(argv)
    captured = capsys.readouterr()

    # The bad inputs are reported, the good ones still processed, and the exit status says something failed
    assert status == 1
    assert f"{missing}: image file not found" in captured.err
    assert f"{not_an_image}: cannot read" in captured.err
    assert "2 of 5 image(s) failed" in captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["coffee.png", "coffee.json", "astronaut.png", "astronaut.json", "coffee_2.png", "coffee_2.json"]
    )

    # Independent run of the same pipeline, in this process
    pipe = build_pipeline(
        PipelineConfig(
            detector_model=detector,
            segmenter_model=segmenter,
            device="cpu",
            box_threshold=0.3,
            text_threshold=0.2,
            max_detections=4,
        )
    )
    total = 0
    for photo, stem in ((photos[0], "coffee"), (photos[1], "astronaut"), (twin, "coffee_2")):
        image = load_image(photo)
        height, width = image.shape[:2]
        expected = pipe(image, query)
        got = json.loads((out / f"{stem}.json").read_text())

        assert got["image"] == str(photo)
        assert (got["width"], got["height"], got["query"]) == (width, height, query)
        assert len(got["detections"]) == len(expected.detections)
        total += len(expected.detections)
        for entry, det in zip(got["detections"], expected.detections):
            assert entry["label"] == det.label
            assert entry["score"] == pytest.approx(det.score, abs=1e-6)
            assert entry["mask_score"] == pytest.approx(det.mask_score, abs=1e-6)
            np.testing.assert_allclose(entry["box"], det.box, atol=1e-3)
            assert entry["mask"]["size"] == [height, width]
            np.testing.assert_array_equal(_decode_rle(entry["mask"]), det.full_mask(height, width))

        # Annotated PNG at the image's size, with the random-weights banner across the top
        with Image.open(out / f"{stem}.png") as png:
            assert png.size == (width, height) and png.mode == "RGB"
            top = np.asarray(png)[:3]
        assert (top == np.array(BANNER_COLOR, np.uint8)).all()
        assert f"{photo}: {len(expected.detections)} detection(s) in " in captured.out
    assert total > 0, "thresholds too high: the test compared no detections"
