# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A straightforward reference of the published Recognize Anything model, in the release's key layout.

Written from the papers and the release's module/key names (Microsoft's Swin with a packed ``qkv``; a BERT-style
Query2Label head under ``tagging_head.encoder.layer.N``), deliberately plain: windows are attended one at a time in
Python loops, the shift mask is built from region labels, attention is an explicit softmax. Its ``state_dict()`` is a
checkpoint in the published layout; tests save it as ``{"model": state_dict}`` and compare the adapter with it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class WindowAttention(nn.Module):
    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.5)
        coords = [(y, x) for y in range(window) for x in range(window)]
        index = [
            [(a[0] - b[0] + window - 1) * (2 * window - 1) + (a[1] - b[1] + window - 1) for b in coords] for a in coords
        ]
        self.register_buffer("relative_position_index", torch.tensor(index))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # tokens: (N, C) of one window; mask: (N, N) additive
        n, c = tokens.shape
        q, k, v = self.qkv(tokens).view(n, 3, self.heads, c // self.heads).permute(1, 2, 0, 3)
        scores = q @ k.transpose(-1, -2) / math.sqrt(c // self.heads)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        attn = torch.softmax(scores + bias + mask, dim=-1)
        return self.proj((attn @ v).permute(1, 0, 2).reshape(n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, side: int) -> None:
        super().__init__()
        if side <= window:
            window, shift = side, 0
        self.window, self.shift, self.side = window, shift, side
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.mlp = Mlp(dim)
        if shift:
            # Region label of every position of the shifted map: 3 bands per axis
            def band(i: int) -> int:
                return 0 if i < side - window else (1 if i < side - shift else 2)

            labels = torch.tensor([[band(y) * 3 + band(x) for x in range(side)] for y in range(side)])
            # Published layout: one (w*w, w*w) additive mask per window, windows in row-major order
            masks = []
            for wy in range(0, side, window):
                for wx in range(0, side, window):
                    lab = labels[wy : wy + window, wx : wx + window].reshape(-1)
                    masks.append((lab[:, None] != lab[None, :]).float() * -100.0)
            self.register_buffer("attn_mask", torch.stack(masks))
        else:
            self.attn_mask = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side, w, s = self.side, self.window, self.shift
        grid = self.norm1(x).view(side, side, -1)
        grid = torch.roll(grid, shifts=(-s, -s), dims=(0, 1))
        out = torch.zeros_like(grid)
        for wy in range(0, side, w):
            for wx in range(0, side, w):
                tokens = grid[wy : wy + w, wx : wx + w].reshape(w * w, -1)
                mask = self.attn_mask[(wy // w) * (side // w) + wx // w] if s else torch.zeros(w * w, w * w)
                out[wy : wy + w, wx : wx + w] = self.attn(tokens, mask).view(w, w, -1)
        out = torch.roll(out, shifts=(s, s), dims=(0, 1)).reshape(side * side, -1)
        x = x + out
        return x + self.mlp(self.norm2(x))


class Merge(nn.Module):
    def __init__(self, dim: int, side: int) -> None:
        super().__init__()
        self.side = side
        self.norm, self.reduction = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.view(self.side, self.side, -1)
        parts = [g[0::2, 0::2], g[1::2, 0::2], g[0::2, 1::2], g[1::2, 1::2]]
        return self.reduction(self.norm(torch.cat(parts, dim=-1).reshape(-1, 4 * x.shape[-1])))


class Stage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, window: int, side: int, merge: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(dim, heads, window, 0 if i % 2 == 0 else window // 2, side) for i in range(depth)
        )
        self.downsample = Merge(dim, side) if merge else None


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj, self.norm = nn.Conv2d(3, dim, patch, patch), nn.LayerNorm(dim)


class Swin(nn.Module):
    def __init__(self, image: int, patch: int, dim: int, depths, heads, window: int) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        side = image // patch
        self.layers = nn.ModuleList()
        for i, (depth, h) in enumerate(zip(depths, heads)):
            self.layers.append(Stage(dim * 2**i, depth, h, window, side // 2**i, i < len(depths) - 1))
        self.norm = nn.LayerNorm(dim * 2 ** (len(depths) - 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # One image (3, S, S) -> (1 + L, C): mean token then patch tokens
        x = self.patch_embed.norm(self.patch_embed.proj(image[None])[0].flatten(1).t())
        for stage in self.layers:
            for block in stage.blocks:
                x = block(x)
            if stage.downsample is not None:
                x = stage.downsample(x)
        x = self.norm(x)
        return torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)


class Attention(nn.Module):
    def __init__(self, hidden: int, width: int) -> None:
        super().__init__()
        self.self = nn.Module()
        self.self.query, self.self.key, self.self.value = (
            nn.Linear(hidden, hidden),
            nn.Linear(width, hidden),
            nn.Linear(width, hidden),
        )
        self.output = nn.Module()
        self.output.dense, self.output.LayerNorm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)


class HeadLayer(nn.Module):
    def __init__(self, hidden: int, width: int, intermediate: int) -> None:
        super().__init__()
        self.crossattention = Attention(hidden, width)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, intermediate)
        self.output = nn.Module()
        self.output.dense, self.output.LayerNorm = nn.Linear(intermediate, hidden), nn.LayerNorm(hidden, eps=1e-12)


class ReferenceRam(nn.Module):
    """The published RAM (``descriptions == 1``) or RAM++ (``descriptions > 1``) at any size, with random weights."""

    def __init__(
        self,
        num_classes=10,
        descriptions=1,
        image=32,
        patch=2,
        dim=8,
        depths=(2, 2, 2, 2),
        heads=(1, 2, 2, 4),
        window=2,
        width=12,
        hidden=16,
        head_heads=4,
        head_layers=2,
        intermediate=32,
        seed=0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.num_classes, self.descriptions, self.head_heads = num_classes, descriptions, head_heads
        self.visual_encoder = Swin(image, patch, dim, depths, heads, window)
        self.image_proj = nn.Linear(dim * 2 ** (len(depths) - 1), width)
        self.label_embed = nn.Parameter(torch.randn(num_classes * descriptions, width))
        self.wordvec_proj = nn.Linear(width, hidden)
        self.tagging_head = nn.Module()
        self.tagging_head.encoder = nn.Module()
        self.tagging_head.encoder.layer = nn.ModuleList(
            HeadLayer(hidden, width, intermediate) for _ in range(head_layers)
        )
        self.fc = nn.Linear(hidden, 1)
        if descriptions > 1:
            self.reweight_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        # Non-trivial norms so a mis-mapped LayerNorm shows
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "norm" in name.lower():
                    p.add_(torch.randn_like(p) * 0.3)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """One image (3, S, S) ImageNet-normalised -> (C,) logits."""
        img = self.image_proj(self.visual_encoder(image))  # (1 + L, width)
        if self.descriptions == 1:
            embed = self.label_embed
        else:
            cls = img[0] / img[0].norm()
            weights = torch.softmax(
                (self.reweight_scale.exp() * self.label_embed @ cls).view(self.num_classes, -1), dim=1
            )
            embed = (weights[:, :, None] * self.label_embed.view(self.num_classes, self.descriptions, -1)).sum(dim=1)
        x = F.relu(self.wordvec_proj(embed))
        for layer in self.tagging_head.encoder.layer:
            att = layer.crossattention
            h = x.shape[-1] // self.head_heads
            out = []
            for head in range(self.head_heads):
                cols = slice(head * h, (head + 1) * h)
                q, k, v = att.self.query(x)[:, cols], att.self.key(img)[:, cols], att.self.value(img)[:, cols]
                out.append(torch.softmax(q @ k.t() / math.sqrt(h), dim=-1) @ v)
            a = att.output.LayerNorm(att.output.dense(torch.cat(out, dim=1)) + x)
            x = layer.output.LayerNorm(layer.output.dense(F.gelu(layer.intermediate.dense(a))) + a)
        return self.fc(x)[:, 0]

    def checkpoint(self, extra_captioning_keys: bool = True) -> dict:
        """``{"model": state_dict}`` as the release stores it (RAM's release also carries its captioning branch)."""
        state = {k: v.clone() for k, v in self.state_dict().items()}
        if extra_captioning_keys and self.descriptions == 1:
            state["tag_encoder.encoder.layer.0.attention.self.query.weight"] = torch.zeros(4, 4)
            state["text_decoder.cls.predictions.bias"] = torch.zeros(7)
        return {"model": state}
