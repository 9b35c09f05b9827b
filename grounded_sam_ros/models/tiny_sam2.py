# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A tiny randomly initialised SAM 2 (video model, so the image model loads from it too), saved in HF format.

Same pattern as :mod:`grounded_sam_ros.models.tiny`: the real architecture (Hiera image encoder, FPN neck, prompt
encoder, mask decoder, memory attention / encoder) at toy sizes, 256x256 input, so every code path runs as with
``facebook/sam2.1-hiera-tiny`` and a frame costs a few milliseconds. Constraints found in transformers 5.24: the
memory attention's key/value width is fixed at 64 (``memory_encoder_output_channels`` must be 64) and the hidden
size must be a multiple of it above it (object pointers are split into 64-wide tokens).
"""

from __future__ import annotations

import os
from pathlib import Path

from grounded_sam_ros.models.tiny import mark_random_weights

TINY_SAM2_DIR = "tiny-sam2"
TINY_SAM2_SIZE = 256


def tiny_sam2_config(size: int = TINY_SAM2_SIZE) -> object:
    """A ``Sam2VideoConfig`` at toy sizes (about 1 M parameters)."""
    from transformers import Sam2VideoConfig
    from transformers.models.sam2.configuration_sam2 import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    hidden = 128
    backbone = Sam2HieraDetConfig(
        hidden_size=8,
        num_attention_heads=1,
        image_size=[size, size],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[8, 16, 32, 64],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[4, 4, 4, 4],
        global_attention_blocks=[3],  # not a stage's first (query-pooling) block
        window_positional_embedding_background_size=[2, 2],
    )
    strides = (4, 8, 16)
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[size // s, size // s] for s in strides],
        fpn_hidden_size=hidden,
    )
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(
            hidden_size=hidden, image_size=size, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=Sam2MaskDecoderConfig(
            hidden_size=hidden, mlp_dim=32, num_attention_heads=2, iou_head_hidden_dim=16
        ),
        image_size=size,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=32,
        memory_fuser_num_layers=1,
    )


def build_tiny_sam2(out_dir: os.PathLike, seed: int = 0) -> Path:
    """Build and save a tiny random ``Sam2VideoModel`` + ``preprocessor_config.json`` into ``out_dir``."""
    import torch
    from transformers import Sam2VideoModel

    from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Sam2VideoModel(tiny_sam2_config()).eval()
    # Random weights put the object-score logit at ~0, where the video model blanks a mask whenever it dips below
    # 0; bias it to "object present" (+3) so propagated masks are there to compare, as with a trained model.
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(3.0)
    model.save_pretrained(out)
    Sam2Preprocessor(size=(TINY_SAM2_SIZE, TINY_SAM2_SIZE)).save_pretrained(out)
    mark_random_weights(out)
    return out


def tiny_sam2(root: os.PathLike, seed: int = 0) -> Path:
    """The tiny SAM 2 under ``root`` (built when missing)."""
    path = Path(root) / TINY_SAM2_DIR
    if not (path / "model.safetensors").exists():
        build_tiny_sam2(path, seed)
    return path


RANDOM_SAM2_TINY_DIR = "random-sam2.1-hiera-tiny"


def build_random_sam2_tiny(out_dir: os.PathLike, seed: int = 0) -> Path:
    """SAM 2.1 Hiera-T at full size (``Sam2VideoConfig()`` defaults: Hiera-T, 1024x1024 input, 7 memories) with
    RANDOM weights + pre-processor, for benchmarks: the compute of ``facebook/sam2.1-hiera-tiny``, meaningless masks.

    transformers initialises it at the usual scale (normal 0.02 / zeros), which keeps activations normal floats
    (checked by ``bench/bench_tracking.py``, which counts subnormal activations before timing anything).
    """
    import torch
    from transformers import Sam2VideoConfig, Sam2VideoModel

    from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Sam2VideoModel(Sam2VideoConfig()).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(3.0)  # objects "present", as for the tiny one
    model.save_pretrained(out)
    Sam2Preprocessor().save_pretrained(out)
    mark_random_weights(out)
    return out


TINY_EDGETAM_DIR = "tiny-edgetam"


def tiny_edgetam_config(size: int = TINY_SAM2_SIZE, vision: object = None) -> object:
    """An ``EdgeTamVideoConfig`` at toy sizes: timm's RepViT (``repvit_m1`` at 16..128 channels, one block per
    stage) as the image encoder, and the perceiver-resampled memory attention of EdgeTAM.

    ``vision``: another vision config (e.g. the tiny SAM 2's Hiera) to build the rest without timm.
    """
    from transformers import EdgeTamVideoConfig
    from transformers.models.edgetam.configuration_edgetam import EdgeTamVisionConfig
    from transformers.models.timm_wrapper.configuration_timm_wrapper import TimmWrapperConfig

    hidden = 128
    if vision is None:
        channels = [16, 32, 64, 128]  # RepViT stages at strides 4, 8, 16, 32
        backbone = TimmWrapperConfig(
            architecture="repvit_m1",
            do_pooling=False,
            model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3],
                        "embed_dim": channels, "depth": [1, 1, 1, 1]},
        )  # fmt: skip
        vision = EdgeTamVisionConfig(
            backbone_config=backbone,
            backbone_channel_list=channels[::-1],
            backbone_feature_sizes=[[size // s, size // s] for s in (4, 8, 16)],
            fpn_hidden_size=hidden,
        )
    sam2 = tiny_sam2_config(size)
    return EdgeTamVideoConfig(
        vision_config=vision,
        prompt_encoder_config=sam2.prompt_encoder_config.to_dict(),
        mask_decoder_config=sam2.mask_decoder_config.to_dict(),
        image_size=size,
        memory_attention_hidden_size=hidden,
        memory_attention_num_layers=1,
        memory_attention_mlp_hidden_size=32,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_attention_rope_k_sizes=[4, 4],
        perceiver_resampler_num_latents=16,
        perceiver_resampler_num_latents_2d=16,  # 4 x 4 windows: the rope's k sizes
        perceiver_resampler_hidden_size=64,
        perceiver_resampler_mlp_intermediate_size=32,
        perceiver_resampler_num_layers=1,
        memory_encoder_hidden_size=hidden,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=hidden,
        memory_fuser_embed_dim=hidden,
        memory_fuser_intermediate_dim=32,
        memory_fuser_num_layers=1,
    )


def build_tiny_edgetam(out_dir: os.PathLike, seed: int = 0, vision: object = None) -> Path:
    """Build and save a tiny random ``EdgeTamVideoModel`` + ``preprocessor_config.json`` (needs timm unless
    ``vision`` is given, see :func:`tiny_edgetam_config`)."""
    import torch
    from transformers import EdgeTamVideoModel

    from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = EdgeTamVideoModel(tiny_edgetam_config(vision=vision)).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(3.0)  # objects "present", as for SAM 2
    model.save_pretrained(out)
    Sam2Preprocessor(size=(TINY_SAM2_SIZE, TINY_SAM2_SIZE)).save_pretrained(out)
    mark_random_weights(out)
    return out
