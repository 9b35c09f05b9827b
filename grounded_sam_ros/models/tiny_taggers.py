# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tiny randomly initialised taggers saved in Hugging Face format, for tests and benchmarks (outputs meaningless)."""

from __future__ import annotations

import os
from pathlib import Path

from grounded_sam_ros.models.tiny import _VOCAB, mark_random_weights

TINY_BLIP_DIR = "tiny-blip"
TINY_BLIP_SIZE = 32
# Caption words: the tiny detector's vocabulary plus a few function words and verbs the noun extractor skips
_CAPTION_WORDS = ["[DEC]", "is", "sitting", "holding", "there", "next", "to"]


def build_tiny_blip(out_dir: os.PathLike, seed: int = 0) -> Path:
    """Build and save a tiny random ``BlipForConditionalGeneration`` + ``BlipProcessor`` into ``out_dir``."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = list(_VOCAB) + [w for w in _CAPTION_WORDS if w not in _VOCAB]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(str(out / "vocab.txt"), bos_token="[DEC]")
    text = BlipTextConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        encoder_hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=vocab.index("[DEC]"),
        sep_token_id=vocab.index("[SEP]"),
        pad_token_id=vocab.index("[PAD]"),
    )
    vision = BlipVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8
    )
    config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(out)
    image_processor = BlipImageProcessorPil(size={"height": TINY_BLIP_SIZE, "width": TINY_BLIP_SIZE})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    mark_random_weights(out)
    return out
