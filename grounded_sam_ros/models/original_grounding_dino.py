# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Original Grounding DINO checkpoints (``groundingdino_swint_ogc.pth``, ``groundingdino_swinb_cogcoor.pth`` of
IDEA-Research/GroundingDINO) -> transformers ``GroundingDinoForObjectDetection``.

The architecture is read from the tensor shapes (Swin width, depths, heads and window from its relative-position
tables; BERT size; encoder/decoder depth, width, queries, feature levels); what the shapes cannot show is the
published configuration (8 attention heads, 4 sampling points, 256 text tokens). The key map is strict
(:func:`grounded_sam_ros.models.original.apply_key_map`); fused ``qkv`` / ``in_proj`` matrices are split into
query, key and value. The original code needs torchvision (and a compiled CUDA op), so parity with it cannot be
run here: the map is checked against the published key layout and the shapes, and an original-layout state dict
written from a transformers model must give that model's outputs (``test_original_checkpoints.py``).

The BERT tokenizer is not in the checkpoint: a ``vocab.txt`` next to the ``.pth`` is used when present, else
``bert-base-uncased`` from the Hugging Face cache (``grounded-sam download google-bert/bert-base-uncased``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from grounded_sam_ros.models.original import apply_key_map

SWIN = "model.backbone.conv_encoder.model."
HEADS, POINTS, TEXT_TOKENS = 8, 4, 256
# Original keys that hold no weights of the transformers model: buffers it recomputes, BERT's unused pooler
IGNORED = re.compile(r"(relative_position_index|attn_mask|position_ids|^bert\.pooler\.)")
# transformers weights that no original key fills: the final norm of its Swin, which the backbone never applies
UNUSED = (SWIN + "swin.layernorm.weight", SWIN + "swin.layernorm.bias")

_RULES: List[Tuple[str, str]] = [
    # Swin backbone
    (r"^backbone\.0\.patch_embed\.proj\.", SWIN + "swin.embeddings.patch_embeddings.projection."),
    (r"^backbone\.0\.patch_embed\.norm\.", SWIN + "swin.embeddings.norm."),
    (r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.norm1\.", SWIN + r"swin.encoder.layers.\1.blocks.\2.layernorm_before."),
    (r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.norm2\.", SWIN + r"swin.encoder.layers.\1.blocks.\2.layernorm_after."),
    (
        r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$",
        SWIN + r"swin.encoder.layers.\1.blocks.\2.attention.relative_position_bias.relative_position_bias_table",
    ),
    (r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.attn\.proj\.", SWIN + r"swin.encoder.layers.\1.blocks.\2.attention.o_proj."),
    (r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.mlp\.", SWIN + r"swin.encoder.layers.\1.blocks.\2.mlp."),
    (r"^backbone\.0\.layers\.(\d+)\.downsample\.", SWIN + r"swin.encoder.layers.\1.downsample."),
    # Text backbone and projections
    (r"^bert\.", "model.text_backbone."),
    (r"^feat_map\.", "model.text_projection."),
    (r"^input_proj\.", "model.input_proj_vision."),
    # Transformer: embeddings, two-stage heads, decoder norm / reference head
    (r"^transformer\.level_embed$", "model.level_embed"),
    (r"^transformer\.tgt_embed\.", "model.query_position_embeddings."),
    (r"^transformer\.enc_output\.", "model.enc_output."),
    (r"^transformer\.enc_output_norm\.", "model.enc_output_norm."),
    (r"^transformer\.enc_out_bbox_embed\.", "model.encoder_output_bbox_embed."),
    (r"^transformer\.decoder\.norm\.", "model.decoder.layer_norm."),
    (r"^transformer\.decoder\.ref_point_head\.", "model.decoder.reference_points_head."),
    (r"^transformer\.decoder\.bbox_embed\.", "model.decoder.bbox_embed."),
    (r"^bbox_embed\.", "bbox_embed."),
    # Encoder: deformable image layers, text enhancer layers, fusion layers
    (r"^transformer\.encoder\.layers\.(\d+)\.self_attn\.", r"model.encoder.layers.\1.deformable_layer.self_attn."),
    (r"^transformer\.encoder\.layers\.(\d+)\.norm1\.", r"model.encoder.layers.\1.deformable_layer.self_attn_layer_norm."),
    (r"^transformer\.encoder\.layers\.(\d+)\.linear(\d)\.", r"model.encoder.layers.\1.deformable_layer.fc\2."),
    (r"^transformer\.encoder\.layers\.(\d+)\.norm2\.", r"model.encoder.layers.\1.deformable_layer.final_layer_norm."),
    (r"^transformer\.encoder\.text_layers\.(\d+)\.self_attn\.out_proj\.", r"model.encoder.layers.\1.text_enhancer_layer.self_attn.out_proj."),
    (r"^transformer\.encoder\.text_layers\.(\d+)\.linear(\d)\.", r"model.encoder.layers.\1.text_enhancer_layer.fc\2."),
    (r"^transformer\.encoder\.text_layers\.(\d+)\.norm1\.", r"model.encoder.layers.\1.text_enhancer_layer.layer_norm_before."),
    (r"^transformer\.encoder\.text_layers\.(\d+)\.norm2\.", r"model.encoder.layers.\1.text_enhancer_layer.layer_norm_after."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.gamma_v$", r"model.encoder.layers.\1.fusion_layer.vision_param"),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.gamma_l$", r"model.encoder.layers.\1.fusion_layer.text_param"),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.layer_norm_v\.", r"model.encoder.layers.\1.fusion_layer.layer_norm_vision."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.layer_norm_l\.", r"model.encoder.layers.\1.fusion_layer.layer_norm_text."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.v_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.vision_proj."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.l_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.text_proj."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.values_v_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.values_vision_proj."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.values_l_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.values_text_proj."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.out_v_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.out_vision_proj."),
    (r"^transformer\.encoder\.fusion_layers\.(\d+)\.attn\.out_l_proj\.", r"model.encoder.layers.\1.fusion_layer.attn.out_text_proj."),
    # Decoder layers
    (r"^transformer\.decoder\.layers\.(\d+)\.cross_attn\.", r"model.decoder.layers.\1.encoder_attn."),
    (r"^transformer\.decoder\.layers\.(\d+)\.norm1\.", r"model.decoder.layers.\1.encoder_attn_layer_norm."),
    (r"^transformer\.decoder\.layers\.(\d+)\.ca_text\.out_proj\.", r"model.decoder.layers.\1.encoder_attn_text.out_proj."),
    (r"^transformer\.decoder\.layers\.(\d+)\.catext_norm\.", r"model.decoder.layers.\1.encoder_attn_text_layer_norm."),
    (r"^transformer\.decoder\.layers\.(\d+)\.self_attn\.out_proj\.", r"model.decoder.layers.\1.self_attn.out_proj."),
    (r"^transformer\.decoder\.layers\.(\d+)\.norm2\.", r"model.decoder.layers.\1.self_attn_layer_norm."),
    (r"^transformer\.decoder\.layers\.(\d+)\.linear(\d)\.", r"model.decoder.layers.\1.fc\2."),
    (r"^transformer\.decoder\.layers\.(\d+)\.norm3\.", r"model.decoder.layers.\1.final_layer_norm."),
]
# Fused projections split into three: (pattern, prefix of the three targets, their names)
_FUSED: List[Tuple[str, str, Tuple[str, str, str]]] = [
    (
        r"^backbone\.0\.layers\.(\d+)\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)$",
        SWIN + r"swin.encoder.layers.\1.blocks.\2.attention.",
        ("q_proj", "k_proj", "v_proj"),
    ),
    (
        r"^transformer\.encoder\.text_layers\.(\d+)\.self_attn\.in_proj_(weight|bias)$",
        r"model.encoder.layers.\1.text_enhancer_layer.self_attn.",
        ("query", "key", "value"),
    ),
    (
        r"^transformer\.decoder\.layers\.(\d+)\.ca_text\.in_proj_(weight|bias)$",
        r"model.decoder.layers.\1.encoder_attn_text.",
        ("query", "key", "value"),
    ),
    (
        r"^transformer\.decoder\.layers\.(\d+)\.self_attn\.in_proj_(weight|bias)$",
        r"model.decoder.layers.\1.self_attn.",
        ("query", "key", "value"),
    ),
]


def rename_grounding_dino_key(key: str, value: Any) -> List[Tuple[str, Any]]:
    """The transformers (key, tensor) pairs of one original (key, tensor); [] when the key is unknown."""
    norm = re.match(r"^backbone\.0\.norm(\d)\.(weight|bias)$", key)
    if norm:  # the norm of Swin stage k's output is transformers' stage k+1 (stages counted from the stem)
        return [(f"{SWIN}hidden_states_norms.stage{int(norm.group(1)) + 1}.{norm.group(2)}", value)]
    for pattern, prefix, names in _FUSED:
        match = re.match(pattern, key)
        if match:
            kind = match.group(match.lastindex)  # weight or bias
            base = re.sub(pattern, prefix, key)
            parts = value.chunk(3, dim=0)
            return [(f"{base}{name}.{kind}", part) for name, part in zip(names, parts)]
    for pattern, replacement in _RULES:
        if re.match(pattern, key):
            return [(re.sub(pattern, replacement, key), value)]
    return []


def _count(state: Dict[str, Any], prefix: str, position: int) -> int:
    found = {int(k.split(".")[position]) for k in state if k.startswith(prefix)}
    return max(found) + 1 if found else 0


def grounding_dino_config_from_state(state: Dict[str, Any]) -> Any:
    """A ``GroundingDinoConfig`` with the shapes of an original state dict (published values where unseen)."""
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    patch = state["backbone.0.patch_embed.proj.weight"]
    stages = _count(state, "backbone.0.layers.", 3)
    depths = [_count(state, f"backbone.0.layers.{i}.blocks.", 5) for i in range(stages)]
    tables = [state[f"backbone.0.layers.{i}.blocks.0.attn.relative_position_bias_table"] for i in range(stages)]
    window = (int(round(math.sqrt(tables[0].shape[0]))) + 1) // 2
    outputs = sorted(int(k[len("backbone.0.norm")]) for k in state if re.match(r"^backbone\.0\.norm\d\.weight$", k))
    backbone = SwinConfig(
        embed_dim=int(patch.shape[0]),
        patch_size=int(patch.shape[-1]),
        depths=depths,
        num_heads=[int(t.shape[1]) for t in tables],
        window_size=window,
        image_size=224 if window == 7 else 384,
        out_indices=[i + 1 for i in outputs],
    )
    words = state["bert.embeddings.word_embeddings.weight"]
    text = BertConfig(
        vocab_size=int(words.shape[0]),
        hidden_size=int(words.shape[1]),
        num_hidden_layers=_count(state, "bert.encoder.layer.", 3),
        num_attention_heads=max(1, int(words.shape[1]) // 64),  # BERT's 64-wide heads (not in the shapes)
        intermediate_size=int(state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0]),
        max_position_embeddings=int(state["bert.embeddings.position_embeddings.weight"].shape[0]),
        type_vocab_size=int(state["bert.embeddings.token_type_embeddings.weight"].shape[0]),
    )
    levels, width = (int(v) for v in state["transformer.level_embed"].shape)
    return GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=width,
        num_feature_levels=levels,
        encoder_layers=_count(state, "transformer.encoder.layers.", 3),
        decoder_layers=_count(state, "transformer.decoder.layers.", 3),
        encoder_ffn_dim=int(state["transformer.encoder.layers.0.linear1.weight"].shape[0]),
        decoder_ffn_dim=int(state["transformer.decoder.layers.0.linear1.weight"].shape[0]),
        num_queries=int(state["transformer.tgt_embed.weight"].shape[0]),
        encoder_attention_heads=HEADS,
        decoder_attention_heads=HEADS,
        encoder_n_points=POINTS,
        decoder_n_points=POINTS,
        max_text_len=TEXT_TOKENS,
    )


def _tokenizer(checkpoint: Optional[str]) -> Any:
    from transformers import BertTokenizer

    if checkpoint:
        vocab = Path(checkpoint).expanduser().parent / "vocab.txt"
        if vocab.is_file():
            return BertTokenizer(str(vocab))
    try:
        return BertTokenizer.from_pretrained("google-bert/bert-base-uncased")
    except OSError as exc:
        raise FileNotFoundError(
            "the original Grounding DINO checkpoint needs the bert-base-uncased tokenizer, which is neither next to "
            "it (vocab.txt) nor in the Hugging Face cache; on a machine with internet run "
            "`grounded-sam download google-bert/bert-base-uncased` (or put its vocab.txt next to the .pth)"
        ) from exc


def convert_grounding_dino(state: Dict[str, Any], what: str) -> Tuple[Any, Any]:
    """(transformers model, processor) holding the weights of an original Grounding DINO state dict."""
    import torch
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import GroundingDinoImageProcessorPil

    config = grounding_dino_config_from_state(state)
    with torch.device("meta"):
        skeleton = GroundingDinoForObjectDetection(config)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items() if k not in UNUSED}
    ignore = [k for k in state if IGNORED.search(k)]
    weights = apply_key_map(state, expected, rename_grounding_dino_key, what, ignore=ignore)
    model = GroundingDinoForObjectDetection(config).eval()
    missing, unexpected = model.load_state_dict({k: v.contiguous() for k, v in weights.items()}, strict=False)
    left = sorted(set(missing) - set(UNUSED))
    if left or unexpected:  # apply_key_map already checked both; this guards the UNUSED list itself
        raise ValueError(f"{what}: not loaded: {left[:8]}; unexpected: {unexpected[:8]}")
    processor = GroundingDinoProcessor(image_processor=GroundingDinoImageProcessorPil(), tokenizer=_tokenizer(what))
    return model, processor
