# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM's image-encoder attention with the relative-position bias folded into the query/key product.

transformers' ``SamVisionSdpaAttention`` adds SAM's decomposed relative positions as an explicit bias: for the global
layers (64x64 tokens) that is a (heads, 4096, 4096) tensor per layer — 200 M values built, converted and read again
by attention. The bias is ``q . Rh[row(q), row(k)] + q . Rw[col(q), col(k)]``, which is itself a dot product: append
``rel_h(q)`` (H values) and ``rel_w(q)`` (W values) to each scaled query, and one-hot row/column indicators of each
key to the key, and a plain ``scaled_dot_product_attention`` (scale 1) computes ``scale * q.k + bias`` without ever
storing the bias. Same result up to float rounding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _folded_forward(self: Any, hidden_states: torch.Tensor, output_attentions: bool = False):
    batch, height, width, _ = hidden_states.shape
    heads, tokens = self.num_attention_heads, height * width
    # (3, B, heads, tokens, head_dim)
    qkv = self.qkv(hidden_states).reshape(batch, tokens, 3, heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv.unbind(0)
    scale = query.shape[-1] ** -0.5
    if self.use_rel_pos:
        # Per query: its dot product with the relative-position embedding of every key row / column
        table_h = self.get_rel_pos(height, height, self.rel_pos_h).to(query.dtype)  # (H, H, C)
        table_w = self.get_rel_pos(width, width, self.rel_pos_w).to(query.dtype)  # (W, W, C)
        grid = query.reshape(batch, heads, height, width, -1)
        rel_h = torch.einsum("bnhwc,hkc->bnhwk", grid, table_h).reshape(batch, heads, tokens, height)
        rel_w = torch.einsum("bnhwc,wkc->bnhwk", grid, table_w).reshape(batch, heads, tokens, width)
        # Per key: one-hot of its row and of its column
        index = torch.arange(tokens, device=query.device)
        rows = nn.functional.one_hot(index // width, height).to(key.dtype)
        cols = nn.functional.one_hot(index % width, width).to(key.dtype)
        query = torch.cat((query * scale, rel_h, rel_w), dim=-1)
        key = torch.cat((key, rows.expand(batch, heads, -1, -1), cols.expand(batch, heads, -1, -1)), dim=-1)
        scale = 1.0
    if query.shape[-1] != value.shape[-1] and not torch.jit.is_tracing():
        # torch's fused CPU kernel wants one head size for q, k and v: pad v with zeros and drop them after. Not
        # when traced for OpenVINO, whose attention takes a narrower v: the padding tripled the A.V product of the
        # global layers there (SAM-B's encoder 1.96 -> 1.76 s in bf16, 4.04 -> 3.51 s in float32 without it)
        dim = value.shape[-1]
        value = nn.functional.pad(value, (0, query.shape[-1] - dim))
        out = nn.functional.scaled_dot_product_attention(query, key, value, scale=scale)[..., :dim]
    else:
        out = nn.functional.scaled_dot_product_attention(query, key, value, scale=scale)
    out = out.view(batch, heads, height, width, -1).permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1)
    return self.proj(out), None


def use_folded_rel_pos_attention(model: Any) -> int:
    """Give every SDPA attention of SAM's image encoder the folded forward; returns how many were changed.

    Only ``SamVisionSdpaAttention`` (and SAM-HQ's identical ``SamHQVisionSdpaAttention``) modules change (eager attention, which can return attention weights, is left
    alone); their parameters are untouched.
    """
    changed = 0
    for module in model.modules():
        if type(module).__name__ in ("SamVisionSdpaAttention", "SamHQVisionSdpaAttention"):
            module.forward = _folded_forward.__get__(module)
            changed += 1
    return changed
