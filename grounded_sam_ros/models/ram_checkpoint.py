# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The published Recognize Anything checkpoints (``ram_swin_large_14m.pth``, ``ram_plus_swin_large_14m.pth``):
their key layout, the sizes they imply, and a strict key map onto :class:`~grounded_sam_ros.models.ram.RamModel`.

The release stores ``{"model": state_dict}`` of the original training module. Its image encoder is Microsoft's
Swin (``visual_encoder.layers.{i}.blocks.{j}.attn.qkv`` packs query, key and value in one (3C, C) matrix); ours is
transformers' ``SwinModel`` with separate ``q_proj``/``k_proj``/``v_proj``, so the map splits ``qkv`` in three. Keys
the tagger does not use are listed in :data:`IGNORED` and dropped by name; any other key that does not map, and any
parameter of ours that no key fills, is an error listing them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

# Keys of the release that tagging does not use (dropped by name, nothing else is):
IGNORED = (
    re.compile(r"^(tag_encoder|text_decoder)\."),  # RAM's captioning branch (Tag2Text heritage)
    re.compile(r"\.(relative_position_index|attn_mask)$"),  # Swin buffers derived from the sizes
    re.compile(r"^tagging_head\.embeddings\."),  # the published model deletes the head's embeddings...
    re.compile(r"^tagging_head\.encoder\.layer\.\d+\.attention\."),  # ...and its self-attention (Query2Label)
)

_SWIN_BLOCK = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.proj": "attention.o_proj",
    "attn.relative_position_bias_table": "attention.relative_position_bias.relative_position_bias_table",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
_HEAD_LAYER = {
    "crossattention.self.query": "query",
    "crossattention.self.key": "key",
    "crossattention.self.value": "value",
    "crossattention.output.dense": "attn_out",
    "crossattention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}
_DIRECT = ("image_proj.", "wordvec_proj.", "fc.")
_BLOCK = re.compile(r"^visual_encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)\.(weight|bias|relative_position_bias_table)$")
_HEAD = re.compile(r"^tagging_head\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")


@dataclass(frozen=True)
class RamSizes:
    """Sizes of a RAM model, read off a checkpoint's tensor shapes (the release ships no config file)."""

    image_size: int  # square input side in pixels
    patch_size: int
    embed_dim: int
    depths: Tuple[int, ...]
    num_heads: Tuple[int, ...]
    window_size: int
    text_width: int  # label embedding width (512)
    hidden_size: int  # tagging head width (768)
    head_layers: int
    head_heads: int  # not in the shapes: Query2Label's 4 of the release's q2l_config.json
    intermediate_size: int
    num_classes: int
    descriptions: int  # label embeddings per class: 1 for RAM, 51 for RAM++

    @property
    def vision_width(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


def unpack(checkpoint: Any, path: str) -> Dict[str, Any]:
    """The state dict inside a loaded release file (``{"model": {...}}``, or a bare state dict)."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path} holds no state dict (expected the release's {{'model': state_dict}})")
    # Older releases called the tagging head "vision_multi"
    return {
        k.replace("vision_multi.", "tagging_head.", 1) if k.startswith("vision_multi.") else k: v
        for k, v in state.items()
    }


def infer_sizes(state: Dict[str, Any], num_classes: int, image_size: int = 0, head_heads: int = 4) -> RamSizes:
    """Read the model sizes off the checkpoint's shapes; ``image_size`` 0 = from the shifted-window masks, else 384."""
    try:
        proj = state["visual_encoder.patch_embed.proj.weight"]
        label_embed = state["label_embed"]
        fc = state["fc.weight"]
    except KeyError as exc:
        raise ValueError(f"not a RAM checkpoint: key {exc.args[0]!r} is missing") from exc
    depths: List[int] = []
    heads: List[int] = []
    for key, value in state.items():
        match = _BLOCK.match(key)
        if match and match.group(3) == "attn" and match.group(4) == "relative_position_bias_table":
            stage, block = int(match.group(1)), int(match.group(2))
            while len(depths) <= stage:
                depths.append(0)
                heads.append(0)
            depths[stage] = max(depths[stage], block + 1)
            heads[stage] = int(value.shape[1])
    if not depths or 0 in depths:
        raise ValueError("not a RAM checkpoint: no Swin blocks under visual_encoder.layers")
    table = state["visual_encoder.layers.0.blocks.0.attn.relative_position_bias_table"]
    window = (math.isqrt(int(table.shape[0])) + 1) // 2
    patch = int(proj.shape[2])
    if not image_size:
        image_size = 384
        mask = state.get("visual_encoder.layers.0.blocks.1.attn_mask")
        if mask is not None:  # (windows, w*w, w*w) over the first stage's (side/patch)^2 tokens
            image_size = math.isqrt(int(mask.shape[0])) * window * patch
    layers = sorted({int(m.group(1)) for m in map(_HEAD.match, state) if m})
    if not layers:
        raise ValueError("not a RAM checkpoint: no tagging head layers under tagging_head.encoder.layer")
    rows = int(label_embed.shape[0])
    if rows % num_classes:
        raise ValueError(
            f"the checkpoint has {rows} label embeddings, not a multiple of the tag list's {num_classes} tags: "
            "use the tag list released with this checkpoint (ram_tag_list.txt for both RAM and RAM++)"
        )
    return RamSizes(
        image_size=int(image_size),
        patch_size=patch,
        embed_dim=int(proj.shape[0]),
        depths=tuple(depths),
        num_heads=tuple(heads),
        window_size=window,
        text_width=int(label_embed.shape[1]),
        hidden_size=int(fc.shape[1]),
        head_layers=len(layers),
        head_heads=head_heads,
        intermediate_size=int(state[f"tagging_head.encoder.layer.{layers[0]}.intermediate.dense.weight"].shape[0]),
        num_classes=num_classes,
        descriptions=rows // num_classes,
    )


def map_keys(state: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """Published key -> our key, splitting Swin's ``qkv``. Returns (mapped state, keys that map nowhere)."""
    mapped: Dict[str, Any] = {}
    unmapped: List[str] = []
    for key, value in state.items():
        if any(p.search(key) for p in IGNORED):
            continue
        block, head = _BLOCK.match(key), _HEAD.match(key)
        if block:
            stage, index, name, kind = block.groups()
            prefix = f"encoder.encoder.layers.{stage}.blocks.{index}."
            if name == "attn.qkv":
                for part, chunk in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                    mapped[f"{prefix}attention.{part}.{kind}"] = chunk.clone()
            elif name == "attn" and kind == "relative_position_bias_table":
                mapped[prefix + _SWIN_BLOCK["attn.relative_position_bias_table"]] = value
            elif name in _SWIN_BLOCK:
                mapped[f"{prefix}{_SWIN_BLOCK[name]}.{kind}"] = value
            else:
                unmapped.append(key)
        elif head and head.group(2) in _HEAD_LAYER:
            mapped[f"head.layers.{head.group(1)}.{_HEAD_LAYER[head.group(2)]}.{head.group(3)}"] = value
        elif key.startswith("visual_encoder."):
            ours = _swin_outer(key[len("visual_encoder.") :])
            if ours is None:
                unmapped.append(key)
            else:
                mapped["encoder." + ours] = value
        elif key in ("label_embed", "reweight_scale") or key.startswith(_DIRECT):
            mapped[key] = value
        else:
            unmapped.append(key)
    return mapped, unmapped


def _swin_outer(key: str) -> Any:
    """Swin keys outside the blocks: patch embedding, patch merging, final norm."""
    if key.startswith("patch_embed.proj."):
        return "embeddings.patch_embeddings.projection." + key.rsplit(".", 1)[1]
    if key.startswith("patch_embed.norm."):
        return "embeddings.norm." + key.rsplit(".", 1)[1]
    match = re.match(r"^layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$", key)
    if match:
        return f"encoder.layers.{match.group(1)}.downsample.{match.group(2)}.{match.group(3)}"
    if key.startswith("norm."):
        return "layernorm." + key.rsplit(".", 1)[1]
    return None


def published_name(key: str) -> str:
    """Inverse of :func:`map_keys` for one of our keys: the release's name for it (for error messages)."""
    block = re.match(r"^encoder\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)\.(\w+)$", key)
    if block:
        stage, index, name, kind = block.groups()
        if name in ("attention.q_proj", "attention.k_proj", "attention.v_proj"):
            name = "attn.qkv"
        elif name == "attention.relative_position_bias":
            name, kind = "attn", "relative_position_bias_table"
        else:
            name = {v: k for k, v in _SWIN_BLOCK.items()}.get(name, name)
        return f"visual_encoder.layers.{stage}.blocks.{index}.{name}.{kind}"
    head = re.match(r"^head\.layers\.(\d+)\.(\w+)\.(\w+)$", key)
    if head:
        name = {v: k for k, v in _HEAD_LAYER.items()}.get(head.group(2), head.group(2))
        return f"tagging_head.encoder.layer.{head.group(1)}.{name}.{head.group(3)}"
    for ours, theirs in (
        ("encoder.embeddings.patch_embeddings.projection.", "visual_encoder.patch_embed.proj."),
        ("encoder.embeddings.norm.", "visual_encoder.patch_embed.norm."),
        ("encoder.encoder.layers.", "visual_encoder.layers."),
        ("encoder.layernorm.", "visual_encoder.norm."),
    ):
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    return key


def load_strict(model: Any, state: Dict[str, Any], path: str) -> None:
    """Map ``state`` onto ``model``; raise ``ValueError`` listing unexpected, missing and mis-shaped keys."""
    mapped, unmapped = map_keys(state)
    ours = model.state_dict()
    missing = sorted({published_name(k) for k in set(ours) - set(mapped)})
    unexpected = sorted(unmapped + [k for k in mapped if k not in ours])
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(ours[k].shape)}"
        for k, v in mapped.items()
        if k in ours and tuple(v.shape) != tuple(ours[k].shape)
    ]
    if missing or unexpected or shapes:
        lines = [f"{path} does not match the {type(model).__name__} it was sized for:"]
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected[:12])}")
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {', '.join(missing[:12])}")
        if shapes:
            lines.append(f"  shape mismatches ({len(shapes)}): {'; '.join(shapes[:6])}")
        raise ValueError("\n".join(lines))
    model.load_state_dict(mapped, strict=True)
