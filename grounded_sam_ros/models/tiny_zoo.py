# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tiny randomly initialised models of the zoo families (SAM-HQ, SlimSAM-shaped SAM, OWLv2, OmDet-Turbo, SAM 3).

Same idea as :mod:`grounded_sam_ros.models.tiny`: the real architectures at toy sizes, saved with
``save_pretrained`` (plus a processor or tokenizer), so that every code path runs as with real weights.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path
from typing import Dict

from grounded_sam_ros.models.tiny import TINY_SAM_SIZE, mark_random_weights

# Input sizes of the tiny models (pixels of the square model input)
TINY_OWLV2_SIZE = 96
TINY_OMDET_SIZE = 128
TINY_SAM3_SIZE = 112  # 8x8 patches of 14


def write_clip_tokenizer(out: Path) -> None:
    """A character-level CLIP BPE tokenizer (vocab.json + merges.txt with no merges) saved into ``out``."""
    from transformers import CLIPTokenizer

    chars = list(string.ascii_lowercase + string.digits)
    vocab: Dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]:
        vocab[token] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt")).save_pretrained(out)


def _clip_vocab_size() -> int:
    return 2 * len(string.ascii_lowercase + string.digits) + 2


def _tiny_clip_text(max_positions: int) -> dict:
    """A tiny CLIP text encoder config whose special tokens match :func:`write_clip_tokenizer`."""
    size = _clip_vocab_size()
    return {
        "vocab_size": size,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": max_positions,
        "bos_token_id": size - 2,
        "eos_token_id": size - 1,
        "pad_token_id": size - 1,
    }


def _sam_image_processor(cls_name: str = "SamImageProcessorPil"):
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    return SamImageProcessorPil(
        size={"longest_edge": TINY_SAM_SIZE},
        pad_size={"height": TINY_SAM_SIZE, "width": TINY_SAM_SIZE},
        mask_size={"longest_edge": TINY_SAM_SIZE // 4},
        mask_pad_size={"height": TINY_SAM_SIZE // 4, "width": TINY_SAM_SIZE // 4},
    )


def build_tiny_sam_hq(out_dir: os.PathLike, seed: int = 0) -> Path:
    """A tiny random ``SamHQModel`` + ``SamHQProcessor`` saved into ``out_dir``."""
    import torch
    from transformers import (
        SamHQConfig,
        SamHQMaskDecoderConfig,
        SamHQModel,
        SamHQProcessor,
        SamHQPromptEncoderConfig,
        SamHQVisionConfig,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = SamHQConfig(
        vision_config=SamHQVisionConfig(
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            output_channels=16,
            image_size=TINY_SAM_SIZE,
            patch_size=16,
            global_attn_indexes=[0, 1],
            window_size=4,
            num_pos_feats=8,
            mlp_dim=32,
        ),
        prompt_encoder_config=SamHQPromptEncoderConfig(
            hidden_size=16, image_size=TINY_SAM_SIZE, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=SamHQMaskDecoderConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16, vit_dim=16
        ),
    )
    torch.manual_seed(seed)
    model = SamHQModel(config).eval()
    _redraw_vit(model.vision_encoder)
    model.save_pretrained(out)
    SamHQProcessor(image_processor=_sam_image_processor()).save_pretrained(out)
    mark_random_weights(out)
    return out


def build_tiny_slimsam(out_dir: os.PathLike, seed: int = 0) -> Path:
    """A ``SamModel`` with SlimSAM-77's pruned encoder shapes (hidden 168, MLP 696, 12 heads of 14) at 2 layers."""
    import torch
    from transformers import SamConfig, SamModel, SamProcessor, SamVisionConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # SlimSAM-uniform-77's config.json changes only these two vision fields; the rest is SamConfig's default
    vision = SamVisionConfig(
        hidden_size=168, mlp_dim=696, num_hidden_layers=2, global_attn_indexes=[1], image_size=TINY_SAM_SIZE
    )
    config = SamConfig(vision_config=vision.to_dict(), prompt_encoder_config={"image_size": TINY_SAM_SIZE})
    torch.manual_seed(seed)
    model = SamModel(config).eval()
    _redraw_vit(model.vision_encoder)
    model.save_pretrained(out)
    SamProcessor(image_processor=_sam_image_processor()).save_pretrained(out)
    mark_random_weights(out)
    return out


def _redraw_vit(encoder) -> None:
    """Re-draw SAM's ViT weights at std 0.02: its default init (std 1e-10) gives subnormal activations."""
    import torch

    with torch.no_grad():
        for name, param in encoder.named_parameters():
            if param.ndim >= 2 or name.endswith(("pos_embed", "rel_pos_h", "rel_pos_w")):
                param.normal_(0.0, 0.02)


def build_tiny_owlv2(out_dir: os.PathLike, seed: int = 0) -> Path:
    """A tiny random ``Owlv2ForObjectDetection`` + ``Owlv2Processor`` (PIL image processor) saved into ``out_dir``."""
    import torch
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    config = Owlv2Config(
        text_config=_tiny_clip_text(max_positions=16),
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": TINY_OWLV2_SIZE,
            "patch_size": 16,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = Owlv2ForObjectDetection(config).eval()
    # Random weights saturate the sigmoid (scores 0 or 1); a small logit scale spreads them over (0, 1)
    with torch.no_grad():
        model.class_head.logit_scale.weight.zero_()
        model.class_head.logit_scale.bias.fill_(-2.0)
    model.save_pretrained(out)

    image_processor = Owlv2ImageProcessorPil(size={"height": TINY_OWLV2_SIZE, "width": TINY_OWLV2_SIZE})
    Owlv2Processor(image_processor=image_processor, tokenizer=CLIPTokenizer.from_pretrained(out)).save_pretrained(out)
    mark_random_weights(out)
    return out


def build_tiny_omdet_turbo(out_dir: os.PathLike, seed: int = 0) -> Path:
    """A tiny random ``OmDetTurboForObjectDetection`` (transformers Swin backbone) + tokenizer + image settings.

    The image settings are written as the ``preprocessor_config.json`` the published checkpoint has (a
    ``DetrImageProcessor``: resize to a square, no rescale, ImageNet mean/std in 0..255 units, no padding).
    """
    import torch
    from transformers import OmDetTurboConfig, OmDetTurboForObjectDetection, SwinConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    backbone = SwinConfig(
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=4,
        image_size=TINY_OMDET_SIZE,
        out_indices=[2, 3, 4],
    )
    config = OmDetTurboConfig(
        backbone_config=backbone,
        use_timm_backbone=False,
        # transformers' Swin returns channels-first maps; the layer norms are written for timm's channels-last ones
        apply_layernorm_after_vision_backbone=False,
        text_config={**_tiny_clip_text(max_positions=77), "hidden_size": 64},
        image_size=TINY_OMDET_SIZE,
        text_projection_in_dim=64,
        # text width = class_embed_dim != decoder_hidden_dim, as in the published model (512 vs 256)
        text_projection_out_dim=64,
        task_encoder_hidden_dim=128,
        class_embed_dim=64,
        num_queries=30,
        encoder_in_channels=[16, 32, 64],
        vision_features_channels=[32, 32, 32],
        encoder_hidden_dim=32,
        encoder_attention_heads=2,
        encoder_dim_feedforward=32,
        decoder_hidden_dim=32,
        decoder_num_heads=2,
        decoder_num_layers=2,
        decoder_dim_feedforward=32,
        decoder_num_points=2,
    )
    torch.manual_seed(seed)
    model = OmDetTurboForObjectDetection(config).eval()
    model.save_pretrained(out)
    preprocessor = {
        "image_processor_type": "DetrImageProcessor",
        "do_resize": True,
        "size": {"height": TINY_OMDET_SIZE, "width": TINY_OMDET_SIZE},
        "resample": 2,
        "do_rescale": False,
        "do_normalize": True,
        "image_mean": [123.675, 116.28, 103.53],
        "image_std": [58.395, 57.12, 57.375],
        "do_pad": False,
    }
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    mark_random_weights(out)
    return out


def build_tiny_sam3(out_dir: os.PathLike, seed: int = 0) -> Path:
    """A tiny random ``Sam3Model`` + CLIP tokenizer + image settings saved into ``out_dir``.

    The image settings are the ``preprocessor_config.json`` of a ``Sam3ImageProcessor`` at a 112x112 input (the
    published model reads 1008x1008); its masks come out at 4x the patch grid (32x32 here, 288x288 there).
    """
    import torch
    from transformers import Sam3Config, Sam3Model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    grid = TINY_SAM3_SIZE // 14
    config = Sam3Config(
        vision_config={
            "backbone_config": {
                "model_type": "sam3_vit_model",
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": TINY_SAM3_SIZE,
                "patch_size": 14,
                "window_size": 4,
                "global_attn_indexes": [1],
                "pretrain_image_size": 56,
            },
            "fpn_hidden_size": 32,
            "backbone_feature_sizes": [[grid * 4, grid * 4], [grid * 2, grid * 2], [grid, grid]],
        },
        text_config={**_tiny_clip_text(max_positions=32), "projection_dim": 16},
        geometry_encoder_config={"hidden_size": 32, "num_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
        detr_encoder_config={"hidden_size": 32, "num_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
        detr_decoder_config={
            "hidden_size": 32, "num_layers": 2, "num_attention_heads": 2, "intermediate_size": 32, "num_queries": 20
        },
        mask_decoder_config={"hidden_size": 32, "num_attention_heads": 2},
    )
    torch.manual_seed(seed)
    model = Sam3Model(config).eval()
    # Random weights give every query a score of ~0.25 (logit ~0 times presence ~0.5): widen the query/text
    # product and make the concept "present" so scores spread over (0, 1) and thresholds have something to do
    with torch.no_grad():
        model.dot_product_scoring.query_proj.weight.mul_(8.0)
        model.dot_product_scoring.text_proj.weight.mul_(8.0)
        model.detr_decoder.presence_head.layer3.bias.fill_(3.0)
    model.save_pretrained(out)
    preprocessor = {
        "image_processor_type": "Sam3ImageProcessor",
        "size": {"height": TINY_SAM3_SIZE, "width": TINY_SAM3_SIZE},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    mark_random_weights(out)
    return out
