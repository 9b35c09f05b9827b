# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Automatic labels: tagger cost per image, and ``grounded-sam label`` images/s in-process vs on Ray.

    python -m bench.bench_label                 # tiny models only (~2 min on 2 cores)
    flock /tmp/gsr-heavy.lock python -m bench.bench_label --full-size   # + full-size random taggers and models

Every model has RANDOM weights (none are downloadable here): timings are those of the real architectures, outputs
are meaningless. Full size: RAM / RAM++ = Swin-L 384 + 4585 tags (RAM++: x51 descriptions); BLIP = ViT-L 384 +
BERT-base decoder (blip-image-captioning-large), 20 caption tokens forced; label job = Grounding-DINO-T + SAM ViT-B.
Label rows time the whole command (model loading, and for Ray the cluster start, included) on the same frames.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from bench.machine import load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results" / "label-cpu.json"
QUERY = "cup . person . cat"


def _reinit(model: Any) -> Any:
    """Random weights at the usual 0.02 scale (some default inits make activations subnormal and CPUs slow)."""
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                param.normal_(0.0, 0.02)
            elif name.endswith("weight"):
                param.fill_(1.0)
    return model.eval()


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def ram_tagger(descriptions: int) -> Any:
    """RAM (1) or RAM++ (51) at release size with random weights, behind the real adapter."""
    import torch

    from grounded_sam_ros.models.ram import RamPlusTagger, RamTagger, build_ram_model
    from grounded_sam_ros.models.ram_checkpoint import RamSizes

    sizes = RamSizes(384, 4, 192, (2, 2, 18, 2), (6, 12, 24, 48), 12, 512, 768, 2, 4, 3072, 4585, descriptions)
    torch.manual_seed(0)
    model = _reinit(build_ram_model(sizes))
    cls = RamTagger if descriptions == 1 else RamPlusTagger
    return cls(model, [f"tag{i}" for i in range(4585)], np.full(4585, 0.68, np.float32))


def blip_large_tagger(tokens: int = 20) -> Any:
    """BLIP captioning large (ViT-L 384) with random weights; ``tokens`` caption tokens forced."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    from grounded_sam_ros.models.blip import BlipTagger

    vision = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
              "image_size": 384, "patch_size": 16}  # fmt: skip
    config = BlipConfig(vision_config=vision, text_config={"encoder_hidden_size": 1024})
    torch.manual_seed(0)
    model = _reinit(BlipForConditionalGeneration(config))
    tmp = Path(tempfile.mkdtemp())
    (tmp / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "cup"]))
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=BertTokenizer(str(tmp / "vocab.txt")))
    tagger = BlipTagger(model, processor, max_new_tokens=tokens)
    model.generation_config.min_new_tokens = tokens  # a full caption every time, as trained weights give
    return tagger


def time_taggers(full_size: bool, repeats: int) -> List[Dict[str, Any]]:

    from grounded_sam_ros.models import LoadOptions, build_tagger
    from grounded_sam_ros.models.tiny_taggers import build_tiny_blip

    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    rows = []
    tmp = Path(tempfile.mkdtemp())  # the tiny BLIP; removed at the end
    taggers = {"blip (tiny)": lambda: build_tagger("blip", str(build_tiny_blip(tmp / "tiny-blip")), LoadOptions())}
    if full_size:
        taggers.update(
            {
                "ram (Swin-L 384, 4585 tags)": lambda: ram_tagger(1),
                "ram_plus (Swin-L 384, 4585x51)": lambda: ram_tagger(51),
                "blip-large (ViT-L 384, 20 tokens)": blip_large_tagger,
            }
        )
    for name, make in taggers.items():
        tagger = make()
        inputs = tagger.preprocess(image)
        tagger.forward(inputs)  # warm-up
        seconds = _median_seconds(lambda t=tagger: t(image), repeats)
        params = sum(p.numel() for p in tagger.model.parameters())
        rows.append({"tagger": name, "params_m": round(params / 1e6, 1), "s_per_image": round(seconds, 3)})
        print(f"  {name}: {seconds:.3f} s/image", file=sys.stderr, flush=True)
        del tagger, inputs
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _images(folder: Path, count: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k in range(count):
        Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(folder / f"im{k:03d}.png")
    return folder


def time_label(detector: str, segmenter: str, images: Path, ray_configs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Wall seconds of the whole ``grounded-sam label`` job, in-process and on Ray (one local instance)."""
    from grounded_sam_ros import cli

    count = len(list(images.iterdir()))
    base = ["label", str(images), "--query", QUERY, "--detector", detector, "--segmenter", segmenter, "--device", "cpu",
            "--dtype", "float32", "--local-files-only", "--max-detections", "10"]  # fmt: skip
    rows = []
    runs = [("in-process", [])] + [
        (f"ray c={c['concurrency']} b={c['batch_size']}", ["--ray", "--concurrency", str(c["concurrency"]),
         "--batch-size", str(c["batch_size"]), "--num-cpus", str(c["num_cpus"])])
        for c in ray_configs
    ] + [("in-process (again)", [])]  # fmt: skip
    for name, extra in runs:
        out = Path(tempfile.mkdtemp())
        start = time.perf_counter()
        code = cli.main(base + ["--out", str(out)] + extra)
        seconds = time.perf_counter() - start
        coco = json.loads((out / "instances.json").read_text()) if code == 0 else {"annotations": []}
        rows.append(
            {
                "run": name,
                "images": count,
                "seconds": round(seconds, 1),
                "images_per_s": round(count / seconds, 3),
                "annotations": len(coco["annotations"]),
                "ok": code == 0,
            }
        )
        print(f"  {name}: {seconds:.1f} s for {count} images", file=sys.stderr, flush=True)
        shutil.rmtree(out, ignore_errors=True)
    return rows


def render(report: Dict[str, Any]) -> str:
    lines = [f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; load "
             f"{report['load_average_start']} -> {report['load_average_end']} (RANDOM WEIGHTS)", "",
             "| tagger | params (M) | s / image |", "|---|---:|---:|"]  # fmt: skip
    lines += [f"| {r['tagger']} | {r['params_m']} | {r['s_per_image']:.3f} |" for r in report["taggers"]]
    for title, rows in report["label"].items():
        lines += ["", f"`grounded-sam label` ({title})", "", "| run | images | s (whole job) | images/s |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        lines += [f"| {r['run']} | {r['images']} | {r['seconds']} | {r['images_per_s']} |" for r in rows]
    return "\n".join(lines)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-size", action="store_true", help="also full-size random taggers and models (heavy)")
    parser.add_argument("--images", type=int, default=12, help="frames per label run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    from grounded_sam_ros.models.architectures import build_default_models
    from grounded_sam_ros.models.tiny import build_tiny_models

    report: Dict[str, Any] = {
        "machine": machine_info("cpu"),
        "load_average_start": [round(v, 2) for v in load_average()],
    }
    print("taggers:", file=sys.stderr)
    report["taggers"] = time_taggers(args.full_size, args.repeats)
    tmp = Path(tempfile.mkdtemp())
    images = _images(tmp / "images", args.images)
    ray_configs = [
        {"concurrency": 1, "batch_size": 4, "num_cpus": 2},
        {"concurrency": 2, "batch_size": 4, "num_cpus": 1},
    ]
    try:
        import ray.data  # noqa: F401
    except ImportError as exc:
        print(f"no Ray Data here ({exc}): Ray rows skipped (pip install 'ray[data]')", file=sys.stderr)
        ray_configs = []
    report["label"] = {}
    print("label, tiny models:", file=sys.stderr)
    detector, segmenter = build_tiny_models(tmp / "tiny")
    report["label"]["tiny models"] = time_label(str(detector), str(segmenter), images, ray_configs)
    if args.full_size:
        print("label, Grounding-DINO-T + SAM ViT-B:", file=sys.stderr)
        few = _images(tmp / "few", max(2, args.images // 3))
        detector, segmenter = build_default_models()
        report["label"]["Grounding-DINO-T + SAM ViT-B"] = time_label(str(detector), str(segmenter), few, ray_configs)
    shutil.rmtree(tmp, ignore_errors=True)
    report["load_average_end"] = [round(v, 2) for v in load_average()]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
