# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tiny randomly initialised Stable Diffusion inpainting pipelines, saved as diffusers pipeline directories.

The real component classes (9-channel ``UNet2DConditionModel``, ``AutoencoderKL`` with SD's x8 down-sampling,
``CLIPTextModel`` with a CLIP BPE tokenizer built here from a character vocabulary, SD 1.5's PNDM scheduler) at toy
sizes, so every code path of loading and inpainting runs as with real weights; the pictures are noise. Also the
full-size SD 1.5 inpainting architecture with random weights, for timing (see ``bench/bench_edit.py``).
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

from grounded_sam_ros.models.tiny import local_cache, mark_random_weights

TINY_INPAINTER_DIR = "tiny-sd-inpainting"
# The tiny UNet works on 8x8 latents: the model repaints 64x64 pixels
TINY_RESOLUTION = 64


def _write_tokenizer(out: Path, vocab_size: int) -> None:
    """A CLIP BPE tokenizer over lower-case letters, digits and punctuation (no merges), saved into ``out``."""
    from transformers import CLIPTokenizer

    out.mkdir(parents=True, exist_ok=True)
    symbols = list(string.ascii_lowercase + string.digits + ",.!?'-")
    vocab = {}
    for suffix in ("", "</w>"):
        for symbol in symbols:
            vocab[symbol + suffix] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    if len(vocab) > vocab_size:
        raise ValueError(f"vocab_size={vocab_size} is below the {len(vocab)} symbols of the tiny tokenizer")
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), model_max_length=77)
    tokenizer.save_pretrained(out)


def _components(full_size: bool):
    """(unet, vae, text_encoder config kwargs) of SD 1.5 inpainting, or of its toy version."""
    if full_size:
        unet = {
            "sample_size": 64,
            "in_channels": 9,
            "out_channels": 4,
            "block_out_channels": (320, 640, 1280, 1280),
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "layers_per_block": 2,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
        }
        vae = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "sample_size": 512}
        text = {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "projection_dim": 768,
            "hidden_act": "quick_gelu",
        }
        return unet, vae, text
    unet = {
        "sample_size": TINY_RESOLUTION // 8,
        "in_channels": 9,
        "out_channels": 4,
        "block_out_channels": (32, 64),
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
        "layers_per_block": 1,
        "cross_attention_dim": 32,
        "attention_head_dim": 4,
    }
    vae = {"block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 64}
    text = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    return unet, vae, text


def make_sd_inpainting(tokenizer_dir: os.PathLike, seed: int = 0, full_size: bool = False):
    """A random SD 1.5-style ``StableDiffusionInpaintPipeline`` in memory (tiny, or full-size with ``full_size``).

    The CLIP tokenizer is written to ``tokenizer_dir`` first (it has no random part).
    """
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    unet_kwargs, vae_kwargs, text_kwargs = _components(full_size)
    vocab_size = 49408 if full_size else 128
    _write_tokenizer(Path(tokenizer_dir), vocab_size)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**unet_kwargs)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        **vae_kwargs,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            max_position_embeddings=77,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            **text_kwargs,
        )
    )
    # SD 1.5's scheduler settings
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )
    return StableDiffusionInpaintPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=CLIPTokenizer.from_pretrained(tokenizer_dir),
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_sd_inpainting(out_dir: os.PathLike, seed: int = 0, full_size: bool = False) -> Path:
    """Build and save a random SD 1.5-style inpainting pipeline directory (tiny, or full-size with ``full_size``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    make_sd_inpainting(out / "tokenizer", seed, full_size).save_pretrained(out, safe_serialization=True)
    mark_random_weights(out)
    return out


def tiny_inpainting_model(root: os.PathLike | None = None) -> Path:
    """The tiny pipeline directory under ``root`` (default: the package cache), built on first use."""
    out = Path(root or local_cache("models")) / TINY_INPAINTER_DIR
    if not (out / "model_index.json").is_file():
        build_sd_inpainting(out)
    return out
