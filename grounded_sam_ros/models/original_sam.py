# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Original SAM (segment-anything ViT-B/L/H) and SAM-HQ checkpoints -> transformers ``SamModel`` / ``SamHQModel``.

The architecture is read from the tensor shapes (width, depth, heads from the relative-position tables, which
blocks attend globally, image size from the position embedding), so every size of both releases converts with
the same code; the key map is strict (:func:`grounded_sam_ros.models.original.apply_key_map`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from grounded_sam_ros.models.original import apply_key_map

# (pattern, replacement) on original keys, first match wins
_RULES = [
    (r"^image_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"^image_encoder\.pos_embed$", "vision_encoder.pos_embed"),
    (r"^image_encoder\.blocks\.(\d+)\.norm(\d)\.", r"vision_encoder.layers.\1.layer_norm\2."),
    (r"^image_encoder\.blocks\.(\d+)\.(attn|mlp)\.", r"vision_encoder.layers.\1.\2."),
    (r"^image_encoder\.neck\.0\.", "vision_encoder.neck.conv1."),
    (r"^image_encoder\.neck\.1\.", "vision_encoder.neck.layer_norm1."),
    (r"^image_encoder\.neck\.2\.", "vision_encoder.neck.conv2."),
    (r"^image_encoder\.neck\.3\.", "vision_encoder.neck.layer_norm2."),
    (r"^prompt_encoder\.point_embeddings\.(\d+)\.", r"prompt_encoder.point_embed.\1."),
    (r"^prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"^prompt_encoder\.(not_a_point_embed|no_mask_embed)\.", r"prompt_encoder.\1."),
    (r"^mask_decoder\.transformer\.layers\.(\d+)\.norm(\d)\.", r"mask_decoder.transformer.layers.\1.layer_norm\2."),
    (r"^mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (r"^mask_decoder\.transformer\.", "mask_decoder.transformer."),
    (r"^mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"^mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"^mask_decoder\.(iou_token|mask_tokens)\.", r"mask_decoder.\1."),
    # SAM-HQ's additions
    (r"^mask_decoder\.hf_token\.", "mask_decoder.hq_token."),
    (r"^mask_decoder\.compress_vit_feat\.0\.", "mask_decoder.compress_vit_conv1."),
    (r"^mask_decoder\.compress_vit_feat\.1\.", "mask_decoder.compress_vit_norm."),
    (r"^mask_decoder\.compress_vit_feat\.3\.", "mask_decoder.compress_vit_conv2."),
    (r"^mask_decoder\.embedding_encoder\.0\.", "mask_decoder.encoder_conv1."),
    (r"^mask_decoder\.embedding_encoder\.1\.", "mask_decoder.encoder_norm."),
    (r"^mask_decoder\.embedding_encoder\.3\.", "mask_decoder.encoder_conv2."),
    (r"^mask_decoder\.embedding_maskfeature\.0\.", "mask_decoder.mask_conv1."),
    (r"^mask_decoder\.embedding_maskfeature\.1\.", "mask_decoder.mask_norm."),
    (r"^mask_decoder\.embedding_maskfeature\.3\.", "mask_decoder.mask_conv2."),
]
_MLP = re.compile(r"^mask_decoder\.(iou_prediction_head|output_hypernetworks_mlps\.\d+|hf_mlp)\.layers\.(\d+)\.(.*)$")
_POSITIONAL = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"


def rename_sam_key(key: str, depths: Dict[str, int]) -> List[str]:
    """The transformers key(s) of one original key ([] when unknown). ``depths``: layer count of each MLP."""
    if key == _POSITIONAL:  # one tensor, shared by the prompt encoder in transformers (tied)
        return ["shared_image_embedding.positional_embedding", "prompt_encoder.shared_embedding.positional_embedding"]
    mlp = _MLP.match(key)
    if mlp:
        name, index, rest = mlp.group(1), int(mlp.group(2)), mlp.group(3)
        target = "hq_mask_mlp" if name == "hf_mlp" else name
        depth = depths[name.split(".")[0] if name != "hf_mlp" else name]
        layer = "proj_in" if index == 0 else "proj_out" if index == depth - 1 else f"layers.{index - 1}"
        return [f"mask_decoder.{target}.{layer}.{rest}"]
    for pattern, replacement in _RULES:
        if re.match(pattern, key):
            return [re.sub(pattern, replacement, key)]
    return []


def _mlp_depths(state: Dict[str, Any]) -> Dict[str, int]:
    depths: Dict[str, int] = {}
    for key in state:
        mlp = _MLP.match(key)
        if mlp:
            name = mlp.group(1) if mlp.group(1) == "hf_mlp" else mlp.group(1).split(".")[0]
            depths[name] = max(depths.get(name, 0), int(mlp.group(2)) + 1)
    return depths


def sam_config_from_state(state: Dict[str, Any]) -> Any:
    """A ``SamConfig`` / ``SamHQConfig`` with the shapes of an original state dict."""
    from transformers import SamConfig, SamHQConfig

    hq = "mask_decoder.hf_token.weight" in state
    patch = state["image_encoder.patch_embed.proj.weight"]
    hidden, patch_size = int(patch.shape[0]), int(patch.shape[-1])
    grid = int(state["image_encoder.pos_embed"].shape[1])
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks."))
    head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
    spans = [int(state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]) for i in range(depth)]
    global_layers = [i for i, span in enumerate(spans) if span == 2 * grid - 1]
    windows = {(span + 1) // 2 for span in spans if span != 2 * grid - 1}
    prompt_hidden = int(state["prompt_encoder.not_a_point_embed.weight"].shape[1])
    transformer_layers = 1 + max(
        int(k.split(".")[3]) for k in state if k.startswith("mask_decoder.transformer.layers.")
    )
    cross = state["mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight"]
    vision = {
        "hidden_size": hidden,
        "num_hidden_layers": depth,
        "num_attention_heads": hidden // head_dim,
        "mlp_dim": int(state["image_encoder.blocks.0.mlp.lin1.weight"].shape[0]),
        "output_channels": int(state["image_encoder.neck.0.weight"].shape[0]),
        "image_size": grid * patch_size,
        "patch_size": patch_size,
        "global_attn_indexes": global_layers,
        "window_size": windows.pop() if windows else 14,
        "num_pos_feats": int(state[_POSITIONAL].shape[1]),
    }
    prompt = {
        "hidden_size": prompt_hidden,
        "image_size": grid * patch_size,
        "patch_size": patch_size,
        "mask_input_channels": int(state["prompt_encoder.mask_downscaling.3.weight"].shape[0]),
        "num_point_embeddings": sum(1 for k in state if k.startswith("prompt_encoder.point_embeddings.")),
    }
    decoder = {
        "hidden_size": int(state["mask_decoder.iou_token.weight"].shape[1]),
        "num_hidden_layers": transformer_layers,
        "num_attention_heads": 8,  # not visible in the shapes; every SAM and SAM-HQ release uses 8
        "mlp_dim": int(state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]),
        "attention_downsample_rate": int(cross.shape[1]) // int(cross.shape[0]),
        "num_multimask_outputs": int(state["mask_decoder.mask_tokens.weight"].shape[0]) - 1,
        "iou_head_depth": _mlp_depths(state)["iou_prediction_head"],
        "iou_head_hidden_dim": int(state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]),
    }
    if hq:
        decoder["vit_dim"] = int(state["mask_decoder.compress_vit_feat.0.weight"].shape[0])
        return SamHQConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)
    return SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)


def sam_processor(image_size: int, hq: bool) -> Any:
    """SAM's pre-processing at ``image_size`` (1024 for every release): longest side resized, padded square,
    ImageNet mean/std — the original ``SamPredictor``'s transform."""
    from transformers import SamHQProcessor, SamProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    image_processor = SamImageProcessorPil(
        size={"longest_edge": image_size},
        pad_size={"height": image_size, "width": image_size},
        mask_size={"longest_edge": image_size // 4},
        mask_pad_size={"height": image_size // 4, "width": image_size // 4},
    )
    return (SamHQProcessor if hq else SamProcessor)(image_processor=image_processor)


def convert_sam(state: Dict[str, Any], what: str) -> Tuple[Any, Any]:
    """(transformers model, processor) holding the weights of an original SAM / SAM-HQ state dict."""
    import torch
    from transformers import SamHQModel, SamModel

    config = sam_config_from_state(state)
    hq = config.model_type == "sam_hq"
    with torch.device("meta"):
        skeleton = (SamHQModel if hq else SamModel)(config)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    depths = _mlp_depths(state)
    weights = apply_key_map(state, expected, lambda k, v: [(n, v) for n in rename_sam_key(k, depths)], what)
    model = (SamHQModel if hq else SamModel)(config).eval()
    model.load_state_dict({k: v.contiguous() for k, v in weights.items()}, strict=True)
    return model, sam_processor(config.vision_config.image_size, hq)
