# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The default architectures at full size with RANDOM weights, saved in Hugging Face format, for benchmarks.

Grounding-DINO-T is ``GroundingDinoConfig()`` (Swin-T backbone, BERT-base text encoder, 900 queries, 6+6 layers) and
SAM ViT-B is ``SamConfig()``: the same layers, shapes and processors as ``IDEA-Research/grounding-dino-tiny`` and
``facebook/sam-vit-base``, so their compute (FLOPs, memory traffic) is that of the real models. The BERT vocabulary is
synthetic: word pieces covering the benchmark queries, padded with ``[unusedN]`` entries to BERT's 30522 so the
embedding table has the real size. Detections from these models are meaningless — any table measured on them must say
"RANDOM WEIGHTS".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple

from grounded_sam_ros.models.tiny import _VOCAB, local_cache, mark_random_weights

DEFAULT_DETECTOR_DIR = "random-grounding-dino-tiny"
DEFAULT_SEGMENTER_DIR = "random-sam-vit-base"
BERT_VOCAB_SIZE = 30522

# Words of the benchmark queries (bench/workloads.py) beyond the tiny models' vocabulary.
_EXTRA_WORDS = [
    "laptop",
    "keyboard",
    "lamp",
    "bag",
    "shoe",
    "hat",
    "glasses",
    "plant",
    "pot",
    "bowl",
    "knife",
    "fork",
    "face",
    "head",
    "cookie",
    "saucer",
    "ear",
    "eye",
    "whisker",
    "tail",
    "glove",
    "boot",
]


def default_vocab() -> list:
    """Word pieces of the synthetic BERT vocabulary: the tiny vocabulary, benchmark words, ``[unusedN]`` padding."""
    words = list(_VOCAB) + [w for w in _EXTRA_WORDS if w not in _VOCAB]
    return words + [f"[unused{i}]" for i in range(BERT_VOCAB_SIZE - len(words))]


def build_default_grounding_dino(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """Grounding-DINO-T (``GroundingDinoConfig()`` defaults) with random weights + processor, saved into ``out_dir``.

    ``device``: where the weights are created and initialised (``cuda`` is much faster than a CPU); saved the same.
    """
    import torch
    from transformers import BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection, GroundingDinoProcessor

    try:
        from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
            GroundingDinoImageProcessorPil as ImageProcessor,
        )
    except ImportError:  # transformers before the PIL/torchvision split of image processors
        from transformers import GroundingDinoImageProcessor as ImageProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(default_vocab()) + "\n")
    tokenizer = BertTokenizer(str(vocab_file))

    config = GroundingDinoConfig()  # Swin-T + BERT-base, as IDEA-Research/grounding-dino-tiny
    if config.text_config.vocab_size != BERT_VOCAB_SIZE:
        raise RuntimeError(f"GroundingDinoConfig() text vocab is {config.text_config.vocab_size}, not BERT's 30522")
    torch.manual_seed(seed)
    with torch.device(device):
        model = GroundingDinoForObjectDetection(config).eval()
    # Random weights saturate the sigmoid (every score ~1.0); shrink the contrastive logits so scores spread over
    # (0, 1) as with trained weights (same trick as the tiny test model). Compute is unchanged.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("model.decoder.layer_norm."):
                param.mul_(0.05)
    model.save_pretrained(out)
    processor = GroundingDinoProcessor(image_processor=ImageProcessor(), tokenizer=tokenizer)
    processor.save_pretrained(out)
    mark_random_weights(out)
    return out


def build_default_sam(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """SAM ViT-B (``SamConfig()`` defaults) with random weights + processor, saved into ``out_dir`` (weights created
    on ``device``)."""
    import torch
    from transformers import SamConfig, SamModel, SamProcessor

    try:
        from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil as ImageProcessor
    except ImportError:  # transformers before the PIL/torchvision split of image processors
        from transformers import SamImageProcessor as ImageProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with torch.device(device):
        model = SamModel(SamConfig()).eval()  # ViT-B, as facebook/sam-vit-base
    # SamVisionConfig initialises the image encoder with std 1e-10 (and zero position embeddings): its activations
    # are then ~1e-8 and turn subnormal, which makes CPU matmuls 10x slower than with trained weights. Re-draw them
    # at the usual ViT scale so the timings are those of real weights.
    with torch.no_grad():
        for name, param in model.vision_encoder.named_parameters():
            if param.ndim >= 2 or name.endswith(("pos_embed", "rel_pos_h", "rel_pos_w")):
                param.normal_(0.0, 0.02)
    model.save_pretrained(out)
    SamProcessor(image_processor=ImageProcessor()).save_pretrained(out)
    mark_random_weights(out)
    return out


def default_models_cache() -> Path:
    """Where the random default-size models are kept between runs (``~/.cache/grounded_sam_ros/random-models``)."""
    return local_cache("random-models")


def build_default_models(root: os.PathLike | None = None, seed: int = 0, device: str = "cpu") -> Tuple[Path, Path]:
    """Build both random default-size models under ``root`` (skipped when already there), their weights created on
    ``device``.

    Returns (detector_dir, segmenter_dir). Takes about a minute on a CPU (seconds on a GPU) and ~1.1 GB of disk the
    first time.
    """
    root = Path(root) if root is not None else default_models_cache()
    detector, segmenter = root / DEFAULT_DETECTOR_DIR, root / DEFAULT_SEGMENTER_DIR
    if not (detector / "model.safetensors").exists():
        build_default_grounding_dino(detector, seed, device)
    if not (segmenter / "model.safetensors").exists():
        build_default_sam(segmenter, seed, device)
    return detector, segmenter
