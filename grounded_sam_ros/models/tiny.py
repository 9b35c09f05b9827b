# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tiny randomly initialised Grounding DINO and SAM models, saved in Hugging Face format.

They have the real architectures at toy sizes, so every code path (processors, tokenizer, batched decoding,
post-processing) runs exactly as with real weights — only the numbers are meaningless. Tests build them, and the
demo falls back to them when no real weights are available (and says so loudly).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple

# A small word-piece vocabulary covering the queries used by tests and the demo.
_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ".",
    ",",
    "a",
    "an",
    "the",
    "of",
    "and",
    "on",
    "in",
    "with",
    "red",
    "green",
    "blue",
    "yellow",
    "black",
    "white",
    "orange",
    "small",
    "big",
    "left",
    "right",
    "cup",
    "mug",
    "bottle",
    "person",
    "man",
    "woman",
    "astronaut",
    "robot",
    "arm",
    "hand",
    "cat",
    "dog",
    "table",
    "chair",
    "coffee",
    "rocket",
    "flag",
    "suit",
    "helmet",
    "plate",
    "spoon",
    "book",
    "phone",
    "car",
    "tree",
    "sky",
    "ground",
    "window",
    "door",
    "box",
    "ball",
    "##s",
    "##ed",
    "##ing",
]

TINY_DETECTOR_DIR = "tiny-grounding-dino"
# Input sizes of the tiny models: (shortest, longest) edge of the detector's resized input, side of SAM's square input
TINY_DETECTOR_EDGES = (240, 400)
TINY_SAM_SIZE = 256
TINY_SEGMENTER_DIR = "tiny-sam"
# A file of this name in a model directory marks its weights as random (the CLI and demo then warn on every image).
RANDOM_WEIGHTS_MARKER = "RANDOM_WEIGHTS"
_MARKER_TEXT = "Randomly initialised weights built by grounded_sam_ros: outputs are meaningless.\n"


def mark_random_weights(model_dir: os.PathLike) -> None:
    """Write the marker file that :func:`has_random_weights` looks for into ``model_dir``."""
    (Path(model_dir) / RANDOM_WEIGHTS_MARKER).write_text(_MARKER_TEXT)


def local_cache(name: str) -> Path:
    """``~/.cache/grounded_sam_ros/<name>`` (under ``$XDG_CACHE_HOME`` when set): where built models are kept."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "grounded_sam_ros" / name


def has_random_weights(model: str) -> bool:
    """True when ``model`` is a local directory of random weights (tiny models, or any with the marker file)."""
    path = Path(os.path.expanduser(model))
    return path.is_dir() and (
        path.name in (TINY_DETECTOR_DIR, TINY_SEGMENTER_DIR) or (path / RANDOM_WEIGHTS_MARKER).exists()
    )


def build_tiny_grounding_dino(out_dir: os.PathLike, seed: int = 0) -> Path:
    """Build and save a tiny random ``GroundingDinoForObjectDetection`` + processor into ``out_dir``."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        SwinConfig,
    )
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(vocab_file))

    backbone = SwinConfig(
        window_size=7,
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        image_size=64,
        out_features=["stage2", "stage3", "stage4"],
        out_indices=[2, 3, 4],
    )
    text = BertConfig(
        vocab_size=len(_VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=256,
    )
    # d_model must be a multiple of 32 (GroupNorm(32)); decoder_layers >= 2.
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=16,
        decoder_ffn_dim=16,
        num_queries=30,
        num_feature_levels=4,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=256,
    )
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config).eval()
    # Random weights saturate the sigmoid (every score ~1.0); shrink the contrastive logits so scores spread
    # over (0, 1) and thresholds, label assignment and NMS have something to do.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("model.decoder.layer_norm."):
                param.mul_(0.15)
    model.save_pretrained(out)
    # Inputs at a quarter of the real 800x1333 keep tests fast; every code path is the same at any size.
    image_processor = GroundingDinoImageProcessorPil(
        size={"shortest_edge": TINY_DETECTOR_EDGES[0], "longest_edge": TINY_DETECTOR_EDGES[1]}
    )
    GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    mark_random_weights(out)
    return out


def build_tiny_sam(out_dir: os.PathLike, seed: int = 0) -> Path:
    """Build and save a tiny random ``SamModel`` + processor into ``out_dir``."""
    import torch
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # vision num_pos_feats must equal prompt_encoder hidden_size // 2
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            output_channels=16,
            image_size=TINY_SAM_SIZE,
            patch_size=16,
            global_attn_indexes=[1],
            window_size=4,
            num_pos_feats=8,
            mlp_dim=32,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            hidden_size=16, image_size=TINY_SAM_SIZE, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16
        ),
    )
    torch.manual_seed(seed)
    model = SamModel(config).eval()
    model.save_pretrained(out)
    # A 256x256 encoder input instead of SAM's 1024x1024 (64x64 low-res masks instead of 256x256): same code paths
    image_processor = SamImageProcessorPil(
        size={"longest_edge": TINY_SAM_SIZE},
        pad_size={"height": TINY_SAM_SIZE, "width": TINY_SAM_SIZE},
        mask_size={"longest_edge": TINY_SAM_SIZE // 4},
        mask_pad_size={"height": TINY_SAM_SIZE // 4, "width": TINY_SAM_SIZE // 4},
    )
    SamProcessor(image_processor=image_processor).save_pretrained(out)
    mark_random_weights(out)
    return out


def build_tiny_models(root: os.PathLike, seed: int = 0) -> Tuple[Path, Path]:
    """Build both tiny models under ``root`` (skipped when already there); returns (detector_dir, segmenter_dir)."""
    root = Path(root)
    detector, segmenter = root / TINY_DETECTOR_DIR, root / TINY_SEGMENTER_DIR
    if not (detector / "model.safetensors").exists():
        build_tiny_grounding_dino(detector, seed)
    if not (segmenter / "model.safetensors").exists():
        build_tiny_sam(segmenter, seed)
    return detector, segmenter
