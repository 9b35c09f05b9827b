# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The OSX encoder: a ViTPose-style plain ViT with learnable task tokens prepended to the patch tokens.

Differences from a stock ViT that matter for the published weights: the patch embedding is a 16x16/16 convolution
with padding 2 (a 256x192 input gives a 16x12 grid); the position embedding has one extra leading slot (a former
class token) that is *added* to every patch position; the task tokens get no position embedding; LayerNorm eps is
1e-6; GELU is the exact one; q, k, v come from one fused linear layer (``attn.qkv``). Parameter names follow the
original so checkpoints load without renaming.
"""

from __future__ import annotations

import torch
from torch import nn

from grounded_sam_ros.mesh.config import INPUT_BODY_SHAPE, NUM_TASK_TOKENS, Architecture


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        x = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size, padding=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class ViTEncoder(nn.Module):
    """Nx3x256x192 image in [0, 1] -> (NxCx16x12 patch features, NxTxC task tokens)."""

    def __init__(self, arch: Architecture, num_task_tokens: int = NUM_TASK_TOKENS):
        super().__init__()
        dim = arch.embed_dim
        grid_h, grid_w = (s // arch.patch_size for s in INPUT_BODY_SHAPE)
        self.num_task_tokens = num_task_tokens
        self.patch_embed = PatchEmbed(dim, arch.patch_size)
        self.task_tokens = nn.Parameter(torch.zeros(1, num_task_tokens, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid_h * grid_w + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, arch.num_heads, arch.mlp_ratio) for _ in range(arch.depth))
        self.last_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        x, (hp, wp) = self.patch_embed(x)
        if x.shape[1] != self.pos_embed.shape[1] - 1:
            raise ValueError(f"the encoder takes {INPUT_BODY_SHAPE} images; got a {hp}x{wp} patch grid")
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        x = torch.cat((self.task_tokens.expand(b, -1, -1), x), dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        tokens, patches = x[:, : self.num_task_tokens], x[:, self.num_task_tokens :]
        return patches.transpose(1, 2).reshape(b, -1, hp, wp), tokens
