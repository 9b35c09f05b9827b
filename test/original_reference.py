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
