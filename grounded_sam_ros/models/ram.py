# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Recognize Anything (RAM, RAM++) image tagging in pure PyTorch, loading the published ``.pth`` checkpoints.

Architecture (Huang et al. 2023, "Recognize Anything"; RAM++: Huang et al. 2023, "Open-Set Image Tagging with
Multi-Grained Text Supervision"): a Swin-L image encoder (transformers' ``SwinModel``) gives N patch tokens plus their
mean; a linear layer projects them to the 512-d text width. Each of the C tags has a frozen label embedding (RAM++:
51 per tag, mixed per image by their similarity to the image's mean token). A two-layer Query2Label head lets the C
label queries cross-attend to the image tokens (no self-attention), and one linear unit per query gives the tag's
logit; a tag is kept when its sigmoid exceeds that tag's threshold.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
from PIL import Image

from grounded_sam_ros.models.loading import LoadOptions, ModelNotFoundError
from grounded_sam_ros.models.precision import inference, weights_dtype
from grounded_sam_ros.models.ram_checkpoint import RamSizes, infer_sizes, load_strict, unpack
from grounded_sam_ros.models.tagging import TagResult, read_tag_list, read_thresholds

_LOG = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_THRESHOLD = 0.68  # the release's uniform threshold, used for tags without a per-class one
RELEASES = {
    "ram": "https://huggingface.co/spaces/xinyu1205/Recognize_Anything-Tag2Text/blob/main/ram_swin_large_14m.pth",
    "ram_plus": "https://huggingface.co/xinyu1205/recognize-anything-plus-model/blob/main/ram_plus_swin_large_14m.pth",
}


def _modules():
    """The torch modules, built on first use so that importing this file does not import torch."""
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812
    from transformers import SwinConfig, SwinModel

    class HeadLayer(nn.Module):
        """Cross-attention (label queries -> image tokens) + feed-forward, each with a post-norm residual."""

        def __init__(self, hidden: int, width: int, heads: int, intermediate: int) -> None:
            super().__init__()
            self.heads = heads
            self.query = nn.Linear(hidden, hidden)
            self.key = nn.Linear(width, hidden)
            self.value = nn.Linear(width, hidden)
            self.attn_out = nn.Linear(hidden, hidden)
            self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
            self.ffn_in = nn.Linear(hidden, intermediate)
            self.ffn_out = nn.Linear(intermediate, hidden)
            self.ffn_norm = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, queries: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
            batch, count, hidden = queries.shape

            def split(x: torch.Tensor) -> torch.Tensor:  # (B, L, H) -> (B, heads, L, H / heads)
                return x.view(batch, -1, self.heads, hidden // self.heads).transpose(1, 2)

            context = F.scaled_dot_product_attention(
                split(self.query(queries)), split(self.key(image)), split(self.value(image))
            )
            context = context.transpose(1, 2).reshape(batch, count, hidden)
            x = self.attn_norm(self.attn_out(context) + queries)
            return self.ffn_norm(self.ffn_out(F.gelu(self.ffn_in(x))) + x)

    class TaggingHead(nn.Module):
        def __init__(self, sizes: RamSizes) -> None:
            super().__init__()
            self.layers = nn.ModuleList(
                HeadLayer(sizes.hidden_size, sizes.text_width, sizes.head_heads, sizes.intermediate_size)
                for _ in range(sizes.head_layers)
            )

        def forward(self, queries: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                queries = layer(queries, image)
            return queries

    class RamModel(nn.Module):
        """pixel_values (B, 3, S, S) ImageNet-normalised -> (B, C) tag logits."""

        def __init__(self, sizes: RamSizes) -> None:
            super().__init__()
            self.sizes = sizes
            config = SwinConfig(
                image_size=sizes.image_size,
                patch_size=sizes.patch_size,
                embed_dim=sizes.embed_dim,
                depths=list(sizes.depths),
                num_heads=list(sizes.num_heads),
                window_size=sizes.window_size,
                drop_path_rate=0.0,
            )
            self.encoder = SwinModel(config, add_pooling_layer=True)
            self.image_proj = nn.Linear(sizes.vision_width, sizes.text_width)
            rows = sizes.num_classes * sizes.descriptions
            self.label_embed = nn.Parameter(torch.zeros(rows, sizes.text_width))
            if sizes.hidden_size != sizes.text_width:
                self.wordvec_proj = nn.Linear(sizes.text_width, sizes.hidden_size)
            else:
                self.wordvec_proj = nn.Identity()
            self.head = TaggingHead(sizes)
            self.fc = nn.Linear(sizes.hidden_size, 1)
            if sizes.descriptions > 1:  # RAM++: temperature of the description mixing
                self.reweight_scale = nn.Parameter(torch.zeros(()))

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            out = self.encoder(pixel_values=pixel_values)
            # The mean token first, then the patch tokens, projected to the text width
            tokens = torch.cat([out.pooler_output[:, None], out.last_hidden_state], dim=1)
            image = self.image_proj(tokens)
            queries = self.label_queries(image[:, 0]).to(image.dtype)
            return self.fc(self.head(queries, image)).squeeze(-1)

        def label_queries(self, image_mean: torch.Tensor) -> torch.Tensor:
            """(B, D) projected mean image token -> (B, C, hidden) label queries."""
            batch = image_mean.shape[0]
            sizes = self.sizes
            if sizes.descriptions == 1:
                embed = self.label_embed[None].expand(batch, -1, -1)
            else:
                # RAM++: mix each tag's description embeddings by their similarity to the image
                unit = image_mean / image_mean.norm(dim=-1, keepdim=True)
                similarity = self.reweight_scale.exp() * unit @ self.label_embed.t()  # (B, C * K)
                weights = similarity.view(batch, sizes.num_classes, sizes.descriptions).softmax(dim=-1)
                per_class = self.label_embed.view(sizes.num_classes, sizes.descriptions, -1)
                embed = torch.einsum("bck,ckd->bcd", weights, per_class.to(weights.dtype))
            return F.relu(self.wordvec_proj(embed))

    return RamModel


def build_ram_model(sizes: RamSizes) -> Any:
    """An uninitialised ``RamModel`` of the given sizes (fill it with :func:`load_strict`)."""
    return _modules()(sizes)


class RamTagger:
    """Recognize Anything tagger. Given a built ``RamModel``, its tag names and per-tag thresholds.

    tag_names: C strings; thresholds: (C,) float32 in [0, 1] (a tag is kept when sigmoid(logit) > its threshold).
    """

    family = "ram"

    def __init__(self, model: Any, tag_names: list, thresholds: np.ndarray, device: str = "cpu", dtype: Any = None):
        import torch

        if len(tag_names) != model.sizes.num_classes or thresholds.shape != (len(tag_names),):
            raise ValueError(
                f"{len(tag_names)} tag names and {thresholds.shape} thresholds for a model of "
                f"{model.sizes.num_classes} tags: they must match one to one"
            )
        self.model = model.eval()
        self.tag_names = list(tag_names)
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self._stored = next(model.parameters()).dtype
        self._thresholds = torch.as_tensor(thresholds, dtype=torch.float32, device=self.device)
        self.image_size = model.sizes.image_size

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str,
        options: LoadOptions,
        tag_list: str = "",
        tag_thresholds: str = "",
        threshold: float = DEFAULT_THRESHOLD,
        image_size: int = 0,
        head_heads: int = 4,
    ) -> "RamTagger":
        """Load a release checkpoint (``{"model": state_dict}``, read with ``weights_only=True``) strictly.

        ``tag_list``/``tag_thresholds``: the release's ``ram_tag_list.txt`` / ``ram_tag_list_threshold.txt`` (no
        thresholds file = ``threshold`` for every tag). ``image_size`` 0 = read off the checkpoint (384 for both
        releases).
        """
        import torch

        names = read_tag_list(tag_list)
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(
                f"{cls.family} checkpoint {checkpoint!r} not found (looked at {path.resolve()}). Download "
                f"{RELEASES[cls.family].rsplit('/', 1)[1]} from {RELEASES[cls.family]} and pass its path"
            )
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(
                f"cannot load {path} with weights_only=True ({str(exc).splitlines()[0][:200]}); it must hold "
                "only tensors. In a trusted environment re-save its state dict: "
                "torch.save({'model': torch.load(p, weights_only=False)['model']}, p)"
            ) from exc
        state = unpack(raw, str(path))
        sizes = infer_sizes(state, len(names), image_size, head_heads)
        expected = 1 if cls.family == "ram" else None
        if expected is not None and sizes.descriptions != expected:
            raise ValueError(
                f"{path} has {sizes.descriptions} label embeddings per tag: a RAM++ checkpoint; use family ram_plus"
            )
        if cls.family == "ram_plus" and "reweight_scale" not in state:
            raise ValueError(f"{path} has no reweight_scale: a RAM (not RAM++) checkpoint; use family ram")
        model = build_ram_model(sizes)
        load_strict(model, state, str(path))
        thresholds = (
            read_thresholds(tag_thresholds, len(names))
            if str(tag_thresholds).strip()
            else np.full(len(names), threshold, dtype=np.float32)
        )
        model.to(device=options.device, dtype=weights_dtype(options.device, options.dtype))
        _LOG.info("loaded %s %s: %d tags, %s", cls.family, path, len(names), sizes)
        return cls(model, names, thresholds, options.device, options.dtype)

    def preprocess(self, image: np.ndarray) -> Dict[str, Any]:
        """image: HxWx3 uint8 RGB -> ``pixel_values`` (1, 3, S, S): bilinear resize to S x S, ImageNet normalised."""
        import torch

        size = self.image_size
        resized = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.float32)
        pixels = (resized / 255.0 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        return {"pixel_values": tensor.to(self.device).to(self._stored)}

    def forward(self, inputs: Dict[str, Any]) -> Any:
        """(1, C) float32 tag probabilities."""
        import torch

        with inference(self.device, self.dtype, self._stored):
            logits = self.model(inputs["pixel_values"])
        return torch.sigmoid(logits.float())

    def postprocess(self, probs: Any, thresholds: Optional[np.ndarray] = None) -> TagResult:
        """Keep each tag whose probability exceeds its own threshold; most probable first."""
        limit = self._thresholds if thresholds is None else thresholds
        p = probs[0].cpu().numpy() if hasattr(probs, "cpu") else np.asarray(probs)[0]
        limit = limit.cpu().numpy() if hasattr(limit, "cpu") else np.asarray(limit)
        kept = np.flatnonzero(p > limit)
        order = kept[np.argsort(-p[kept], kind="stable")]
        return TagResult([self.tag_names[i] for i in order], [float(p[i]) for i in order])

    def __call__(self, image: np.ndarray) -> TagResult:
        return self.postprocess(self.forward(self.preprocess(image)))


class RamPlusTagger(RamTagger):
    """RAM++ (``ram_plus_swin_large_14m.pth``): RAM with 51 description embeddings per tag."""

    family = "ram_plus"
