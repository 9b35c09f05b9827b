# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Test helpers for original checkpoints: the original model classes (imported from a checkout outside this
repository, never copied into it) and the published key layout of original checkpoints.

The original segment-anything / SAM-HQ code is found through ``$GSR_SEGMENT_ANYTHING`` / ``$GSR_SAM_HQ`` (a
checkout: the directory holding ``segment_anything/``) or in ``~/.cache/grounded_sam_ros/reference/segment-anything``
and ``.../sam-hq``. Only ``segment_anything/modeling`` is imported (it needs torch alone); the package's
``__init__`` (its predictor imports torchvision) is never run.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import types
from pathlib import Path
from typing import Dict, Optional, Tuple

REFERENCES = {"segment-anything": "GSR_SEGMENT_ANYTHING", "sam-hq": "GSR_SAM_HQ"}
# Read once at import: tests redirect XDG_CACHE_HOME to temporary directories
_CACHED = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "grounded_sam_ros" / "reference"


def reference_dir(name: str) -> Optional[Path]:
    """The checkout holding ``segment_anything/modeling`` for ``name``, or None when there is none here."""
    candidates = [os.environ.get(REFERENCES[name], ""), str(_CACHED / name)]
    for candidate in candidates:
        if candidate and (Path(candidate) / "segment_anything" / "modeling" / "image_encoder.py").is_file():
            return Path(candidate)
    return None


def import_modeling(root: Path, alias: str) -> Dict[str, types.ModuleType]:
    """Import the modules of ``root/segment_anything/modeling`` under the package name ``alias`` (so the SAM and
    SAM-HQ copies do not collide), without running either package ``__init__``."""
    package = root / "segment_anything"
    for name, path in ((alias, package), (f"{alias}.modeling", package / "modeling")):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
    names = ["common", "image_encoder", "prompt_encoder", "transformer", "mask_decoder", "sam"]
    if (package / "modeling" / "mask_decoder_hq.py").is_file():
        names.append("mask_decoder_hq")
    return {name: importlib.import_module(f"{alias}.modeling.{name}") for name in names}


def original_sam_keys(config) -> Dict[str, Tuple[int, ...]]:
    """The keys and shapes of an original SAM / SAM-HQ checkpoint of this architecture (``SamConfig`` /
    ``SamHQConfig``), as the release files name them: ``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``."""
    vision, prompt, decoder = config.vision_config, config.prompt_encoder_config, config.mask_decoder_config
    hidden, patch, grid = vision.hidden_size, vision.patch_size, vision.image_size // vision.patch_size
    head_dim = hidden // vision.num_attention_heads
    keys: Dict[str, Tuple[int, ...]] = {
        "image_encoder.patch_embed.proj.weight": (hidden, 3, patch, patch),
        "image_encoder.patch_embed.proj.bias": (hidden,),
        "image_encoder.pos_embed": (1, grid, grid, hidden),
    }
    for i in range(vision.num_hidden_layers):
        span = 2 * (grid if i in vision.global_attn_indexes else vision.window_size) - 1
        block = f"image_encoder.blocks.{i}."
        keys.update(
            {
                block + "norm1.weight": (hidden,),
                block + "norm1.bias": (hidden,),
                block + "attn.rel_pos_h": (span, head_dim),
                block + "attn.rel_pos_w": (span, head_dim),
                block + "attn.qkv.weight": (3 * hidden, hidden),
                block + "attn.qkv.bias": (3 * hidden,),
                block + "attn.proj.weight": (hidden, hidden),
                block + "attn.proj.bias": (hidden,),
                block + "norm2.weight": (hidden,),
                block + "norm2.bias": (hidden,),
                block + "mlp.lin1.weight": (vision.mlp_dim, hidden),
                block + "mlp.lin1.bias": (vision.mlp_dim,),
                block + "mlp.lin2.weight": (hidden, vision.mlp_dim),
                block + "mlp.lin2.bias": (hidden,),
            }
        )
    out = vision.output_channels
    keys.update(
        {
            "image_encoder.neck.0.weight": (out, hidden, 1, 1),
            "image_encoder.neck.1.weight": (out,),
            "image_encoder.neck.1.bias": (out,),
            "image_encoder.neck.2.weight": (out, out, 3, 3),
            "image_encoder.neck.3.weight": (out,),
            "image_encoder.neck.3.bias": (out,),
        }
    )
    dim, chans = prompt.hidden_size, prompt.mask_input_channels
    keys["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = (2, dim // 2)
    for i in range(prompt.num_point_embeddings):
        keys[f"prompt_encoder.point_embeddings.{i}.weight"] = (1, dim)
    keys.update(
        {
            "prompt_encoder.not_a_point_embed.weight": (1, dim),
            "prompt_encoder.mask_downscaling.0.weight": (chans // 4, 1, 2, 2),
            "prompt_encoder.mask_downscaling.0.bias": (chans // 4,),
            "prompt_encoder.mask_downscaling.1.weight": (chans // 4,),
            "prompt_encoder.mask_downscaling.1.bias": (chans // 4,),
            "prompt_encoder.mask_downscaling.3.weight": (chans, chans // 4, 2, 2),
            "prompt_encoder.mask_downscaling.3.bias": (chans,),
            "prompt_encoder.mask_downscaling.4.weight": (chans,),
            "prompt_encoder.mask_downscaling.4.bias": (chans,),
            "prompt_encoder.mask_downscaling.6.weight": (dim, chans, 1, 1),
            "prompt_encoder.mask_downscaling.6.bias": (dim,),
            "prompt_encoder.no_mask_embed.weight": (1, dim),
        }
    )
    width, inner = decoder.hidden_size, decoder.hidden_size // decoder.attention_downsample_rate

    def attention(prefix: str, internal: int) -> None:
        for proj, (rows, cols) in (
            ("q_proj", (internal, width)),
            ("k_proj", (internal, width)),
            ("v_proj", (internal, width)),
            ("out_proj", (width, internal)),
        ):
            keys[f"{prefix}.{proj}.weight"] = (rows, cols)
            keys[f"{prefix}.{proj}.bias"] = (rows,)

    for i in range(decoder.num_hidden_layers):
        layer = f"mask_decoder.transformer.layers.{i}"
        attention(f"{layer}.self_attn", width)
        attention(f"{layer}.cross_attn_token_to_image", inner)
        attention(f"{layer}.cross_attn_image_to_token", inner)
        for n in range(1, 5):
            keys[f"{layer}.norm{n}.weight"] = (width,)
            keys[f"{layer}.norm{n}.bias"] = (width,)
        keys.update(
            {
                f"{layer}.mlp.lin1.weight": (decoder.mlp_dim, width),
                f"{layer}.mlp.lin1.bias": (decoder.mlp_dim,),
                f"{layer}.mlp.lin2.weight": (width, decoder.mlp_dim),
                f"{layer}.mlp.lin2.bias": (width,),
            }
        )
    attention("mask_decoder.transformer.final_attn_token_to_image", inner)
    keys["mask_decoder.transformer.norm_final_attn.weight"] = (width,)
    keys["mask_decoder.transformer.norm_final_attn.bias"] = (width,)
    tokens = decoder.num_multimask_outputs + 1
    keys.update(
        {
            "mask_decoder.iou_token.weight": (1, width),
            "mask_decoder.mask_tokens.weight": (tokens, width),
            "mask_decoder.output_upscaling.0.weight": (width, width // 4, 2, 2),
            "mask_decoder.output_upscaling.0.bias": (width // 4,),
            "mask_decoder.output_upscaling.1.weight": (width // 4,),
            "mask_decoder.output_upscaling.1.bias": (width // 4,),
            "mask_decoder.output_upscaling.3.weight": (width // 4, width // 8, 2, 2),
            "mask_decoder.output_upscaling.3.bias": (width // 8,),
        }
    )

    def mlp(prefix: str, sizes) -> None:
        for j, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            keys[f"{prefix}.layers.{j}.weight"] = (n_out, n_in)
            keys[f"{prefix}.layers.{j}.bias"] = (n_out,)

    for i in range(tokens):
        mlp(f"mask_decoder.output_hypernetworks_mlps.{i}", [width, width, width, width // 8])
    hidden_iou = decoder.iou_head_hidden_dim
    mlp("mask_decoder.iou_prediction_head", [width] + [hidden_iou] * (decoder.iou_head_depth - 1) + [tokens])
    if config.model_type == "sam_hq":
        vit = decoder.vit_dim
        keys["mask_decoder.hf_token.weight"] = (1, width)
        mlp("mask_decoder.hf_mlp", [width, width, width, width // 8])
        for name, layers in (
            (
                "compress_vit_feat",
                [("0", (vit, width, 2, 2), width), ("1", None, width), ("3", (width, width // 8, 2, 2), width // 8)],
            ),
            (
                "embedding_encoder",
                [
                    ("0", (width, width // 4, 2, 2), width // 4),
                    ("1", None, width // 4),
                    ("3", (width // 4, width // 8, 2, 2), width // 8),
                ],
            ),
            (
                "embedding_maskfeature",
                [
                    ("0", (width // 4, width // 8, 3, 3), width // 4),
                    ("1", None, width // 4),
                    ("3", (width // 8, width // 4, 3, 3), width // 8),
                ],
            ),
        ):
            for index, weight, channels in layers:
                keys[f"mask_decoder.{name}.{index}.weight"] = weight or (channels,)
                keys[f"mask_decoder.{name}.{index}.bias"] = (channels,)
    return keys


def original_grounding_dino_keys(config) -> Dict[str, Tuple[int, ...]]:
    """The keys and shapes of an original Grounding DINO checkpoint (IDEA-Research/GroundingDINO's
    ``groundingdino_swint_ogc.pth`` layout) of this architecture (``GroundingDinoConfig``): Swin ``backbone.0.*``,
    ``bert.*``, ``feat_map``, ``input_proj``, ``transformer.*`` and the shared ``bbox_embed`` (saved under both its
    names, as torch does for shared modules). Buffers are included (``relative_position_index``, ``position_ids``)."""
    swin, bert = config.backbone_config, config.text_config
    d, levels, heads = config.d_model, config.num_feature_levels, config.encoder_attention_heads
    keys: Dict[str, Tuple[int, ...]] = {}

    def linear(name: str, out: int, inp: int, bias: bool = True) -> None:
        keys[f"{name}.weight"] = (out, inp)
        if bias:
            keys[f"{name}.bias"] = (out,)

    def norm(name: str, size: int) -> None:
        keys[f"{name}.weight"] = (size,)
        keys[f"{name}.bias"] = (size,)

    c = swin.embed_dim
    keys["backbone.0.patch_embed.proj.weight"] = (c, 3, swin.patch_size, swin.patch_size)
    keys["backbone.0.patch_embed.proj.bias"] = (c,)
    norm("backbone.0.patch_embed.norm", c)
    w = swin.window_size
    channels = []
    for i, (depth, n_heads) in enumerate(zip(swin.depths, swin.num_heads)):
        dim = c * 2**i
        channels.append(dim)
        for j in range(depth):
            block = f"backbone.0.layers.{i}.blocks.{j}"
            norm(f"{block}.norm1", dim)
            keys[f"{block}.attn.relative_position_bias_table"] = ((2 * w - 1) ** 2, n_heads)
            keys[f"{block}.attn.relative_position_index"] = (w * w, w * w)
            linear(f"{block}.attn.qkv", 3 * dim, dim)
            linear(f"{block}.attn.proj", dim, dim)
            norm(f"{block}.norm2", dim)
            linear(f"{block}.mlp.fc1", 4 * dim, dim)
            linear(f"{block}.mlp.fc2", dim, 4 * dim)
        if i < len(swin.depths) - 1:
            linear(f"backbone.0.layers.{i}.downsample.reduction", 2 * dim, 4 * dim, bias=False)
            norm(f"backbone.0.layers.{i}.downsample.norm", 4 * dim)
    outs = [i - 1 for i in swin.out_indices]  # stage index of each output
    for k in outs:
        norm(f"backbone.0.norm{k}", channels[k])

    h, inter = bert.hidden_size, bert.intermediate_size
    keys["bert.embeddings.word_embeddings.weight"] = (bert.vocab_size, h)
    keys["bert.embeddings.position_embeddings.weight"] = (bert.max_position_embeddings, h)
    keys["bert.embeddings.token_type_embeddings.weight"] = (bert.type_vocab_size, h)
    keys["bert.embeddings.position_ids"] = (1, bert.max_position_embeddings)
    norm("bert.embeddings.LayerNorm", h)
    for i in range(bert.num_hidden_layers):
        layer = f"bert.encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            linear(f"{layer}.attention.self.{proj}", h, h)
        linear(f"{layer}.attention.output.dense", h, h)
        norm(f"{layer}.attention.output.LayerNorm", h)
        linear(f"{layer}.intermediate.dense", inter, h)
        linear(f"{layer}.output.dense", h, inter)
        norm(f"{layer}.output.LayerNorm", h)
    linear("bert.pooler.dense", h, h)
    linear("feat_map", d, h)

    for level in range(levels):
        if level < len(outs):
            keys[f"input_proj.{level}.0.weight"] = (d, channels[outs[level]], 1, 1)
        else:
            keys[f"input_proj.{level}.0.weight"] = (d, channels[outs[-1]] if level == len(outs) else d, 3, 3)
        keys[f"input_proj.{level}.0.bias"] = (d,)
        norm(f"input_proj.{level}.1", d)

    keys["transformer.level_embed"] = (levels, d)
    keys["transformer.tgt_embed.weight"] = (config.num_queries, d)
    linear("transformer.enc_output", d, d)
    norm("transformer.enc_output_norm", d)

    def box_head(prefix: str) -> None:
        linear(f"{prefix}.layers.0", d, d)
        linear(f"{prefix}.layers.1", d, d)
        linear(f"{prefix}.layers.2", 4, d)

    def deformable(prefix: str, points: int) -> None:
        linear(f"{prefix}.sampling_offsets", heads * levels * points * 2, d)
        linear(f"{prefix}.attention_weights", heads * levels * points, d)
        linear(f"{prefix}.value_proj", d, d)
        linear(f"{prefix}.output_proj", d, d)

    def mha(prefix: str) -> None:
        keys[f"{prefix}.in_proj_weight"] = (3 * d, d)
        keys[f"{prefix}.in_proj_bias"] = (3 * d,)
        linear(f"{prefix}.out_proj", d, d)

    box_head("transformer.enc_out_bbox_embed")
    ffn, half = config.encoder_ffn_dim, config.encoder_ffn_dim // 2
    for i in range(config.encoder_layers):
        layer = f"transformer.encoder.layers.{i}"
        deformable(f"{layer}.self_attn", config.encoder_n_points)
        norm(f"{layer}.norm1", d)
        linear(f"{layer}.linear1", ffn, d)
        linear(f"{layer}.linear2", d, ffn)
        norm(f"{layer}.norm2", d)
        text = f"transformer.encoder.text_layers.{i}"
        mha(f"{text}.self_attn")
        linear(f"{text}.linear1", half, d)
        linear(f"{text}.linear2", d, half)
        norm(f"{text}.norm1", d)
        norm(f"{text}.norm2", d)
        fusion = f"transformer.encoder.fusion_layers.{i}"
        keys[f"{fusion}.gamma_v"] = (d,)
        keys[f"{fusion}.gamma_l"] = (d,)
        norm(f"{fusion}.layer_norm_v", d)
        norm(f"{fusion}.layer_norm_l", d)
        for proj in ("v_proj", "l_proj", "values_v_proj", "values_l_proj"):
            linear(f"{fusion}.attn.{proj}", half, d)
        linear(f"{fusion}.attn.out_v_proj", d, half)
        linear(f"{fusion}.attn.out_l_proj", d, half)
    dffn = config.decoder_ffn_dim
    for i in range(config.decoder_layers):
        layer = f"transformer.decoder.layers.{i}"
        deformable(f"{layer}.cross_attn", config.decoder_n_points)
        norm(f"{layer}.norm1", d)
        mha(f"{layer}.ca_text")
        norm(f"{layer}.catext_norm", d)
        mha(f"{layer}.self_attn")
        norm(f"{layer}.norm2", d)
        linear(f"{layer}.linear1", dffn, d)
        linear(f"{layer}.linear2", d, dffn)
        norm(f"{layer}.norm3", d)
    norm("transformer.decoder.norm", d)
    linear("transformer.decoder.ref_point_head.layers.0", d, 2 * d)
    linear("transformer.decoder.ref_point_head.layers.1", d, d)
    for i in range(config.decoder_layers):
        box_head(f"bbox_embed.{i}")
        box_head(f"transformer.decoder.bbox_embed.{i}")
    return keys
