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


TINY_FLORENCE2_DIR = "tiny-florence2"


def build_tiny_florence2(out_dir: os.PathLike, seed: int = 0) -> Path:
    """Build and save a tiny random ``Florence2ForConditionalGeneration`` + ``Florence2Processor`` into ``out_dir``.

    Byte-level BPE vocabulary of single characters plus a few words, Florence-2's 1000 ``<loc_i>`` tokens and
    ``<image>``; a 64x64 image gives the DaViT encoder 2x2 patches + 1 pooled token = 5 image tokens.
    """
    import json

    import torch
    from transformers import (
        BartConfig,
        BartTokenizer,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token in list(bytes_to_unicode().values()) + ["\u0120" + w for w in ("cup", "cat", "person", "table")]:
        vocab.setdefault(token, len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = BartTokenizer(
        str(out / "vocab.json"), str(out / "merges.txt"), extra_special_tokens={"image_token": "<image>"}
    )
    tokenizer.add_tokens([f"<loc_{i}>" for i in range(1000)] + ["<od>", "</od>"])
    vision = Florence2VisionConfig(
        depths=(1, 1, 1, 1),
        embed_dim=(8, 16, 32, 32),
        num_heads=(1, 1, 2, 2),
        num_groups=(1, 1, 2, 2),
        window_size=2,
        projection_dim=16,
    )
    text = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=256,
    )
    config = Florence2Config(
        text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_id=tokenizer.image_token_id
    )
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(config).eval()
    model.generation_config.min_new_tokens = 16  # random weights would end at once
    model.save_pretrained(out)
    image_processor = CLIPImageProcessorPil(
        size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64}, do_center_crop=False
    )
    image_processor.image_seq_length = 5
    # The parse rules the released processors carry, for the two kinds of task the tagger uses
    parse = {"pure_text": {}, "description_with_bboxes": {}}
    Florence2Processor(image_processor=image_processor, tokenizer=tokenizer, post_processor_config=parse).save_pretrained(
        out
    )
    mark_random_weights(out)
    return out
