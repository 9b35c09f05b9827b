# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The zoo's published architectures at full size with RANDOM weights, saved in Hugging Face format, for benchmarks.

Same idea as :mod:`grounded_sam_ros.models.architectures` (Grounding-DINO-T, SAM ViT-B): the configurations of the
default Hub models, so their compute is that of the real ones; outputs are meaningless and every table measured on
them says so. Tokenizers are the tiny character-level ones (a query is a few more tokens than with the real BPE
vocabulary; the text encoders are a negligible part of a frame). Before timing, :func:`subnormal_fraction` checks
that random activations do not go subnormal (which slows CPU matmuls ~10x); SAM-style ViTs are re-drawn at std 0.02
because their default init (std 1e-10) does. Every builder takes ``device``: where the weights are created and
initialised (a GPU does it in a fraction of the CPU's time; the files saved are the same kind).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict

from grounded_sam_ros.models.tiny import mark_random_weights
from grounded_sam_ros.models.tiny_zoo import _redraw_vit, write_clip_tokenizer


def _save(model: Any, out: Path) -> None:
    model.save_pretrained(out)
    mark_random_weights(out)


def build_full_owlv2(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """OWLv2 ViT-B/16 at 960x960 (``Owlv2Config`` with the 960-pixel vision input of
    google/owlv2-base-patch16-ensemble; the class default is 768)."""
    import torch
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Owlv2ForObjectDetection(Owlv2Config(vision_config={"image_size": 960})).eval()
    _save(model, out)
    tokenizer = CLIPTokenizer.from_pretrained(out)
    Owlv2Processor(image_processor=Owlv2ImageProcessorPil(), tokenizer=tokenizer).save_pretrained(out)
    return out


def build_full_omdet_turbo(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """OmDet-Turbo-T with a transformers Swin-T backbone in place of the published timm one (same layers)."""
    import torch
    from transformers import OmDetTurboConfig, OmDetTurboForObjectDetection, SwinConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    backbone = SwinConfig(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], out_indices=[2, 3, 4])
    config = OmDetTurboConfig(
        backbone_config=backbone, use_timm_backbone=False, apply_layernorm_after_vision_backbone=False
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = OmDetTurboForObjectDetection(config).eval()
    _save(model, out)
    settings = {
        "image_processor_type": "DetrImageProcessor",
        "size": {"height": 640, "width": 640},
        "resample": 2,
        "do_rescale": False,
        "image_mean": [123.675, 116.28, 103.53],
        "image_std": [58.395, 57.12, 57.375],
        "do_pad": False,
    }
    (out / "preprocessor_config.json").write_text(json.dumps(settings, indent=2))
    return out


def _build_sam_like(out: Path, model: Any, processor: Any) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    _redraw_vit(model.vision_encoder)
    _save(model.eval(), out)
    processor.save_pretrained(out)
    return out


def build_full_slimsam(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """SlimSAM-77 (``SamConfig`` with the pruned encoder widths of Zigeng/SlimSAM-uniform-77)."""
    import torch
    from transformers import SamConfig, SamModel, SamProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    torch.manual_seed(seed)
    with torch.device(device):
        model = SamModel(SamConfig(vision_config={"hidden_size": 168, "mlp_dim": 696}))
    return _build_sam_like(Path(out_dir), model, SamProcessor(image_processor=SamImageProcessorPil()))


def build_full_sam_hq(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """SAM-HQ ViT-B (``SamHQConfig()``, as syscv-community/sam-hq-vit-base)."""
    import torch
    from transformers import SamHQConfig, SamHQModel, SamHQProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    torch.manual_seed(seed)
    with torch.device(device):
        model = SamHQModel(SamHQConfig())
    return _build_sam_like(Path(out_dir), model, SamHQProcessor(image_processor=SamImageProcessorPil()))


def build_full_sam3(out_dir: os.PathLike, seed: int = 0, device: str = "cpu") -> Path:
    """SAM 3 (``Sam3Config()``: ViT-L/14-sized PE encoder at 1008x1008, CLIP text encoder; as facebook/sam3)."""
    import torch
    from transformers import Sam3Config, Sam3Model

    from grounded_sam_ros.models.sam3 import DEFAULT_IMAGE_SETTINGS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_clip_tokenizer(out)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Sam3Model(Sam3Config()).eval()
    _save(model, out)
    settings = {"image_processor_type": "Sam3ImageProcessor", "resample": 2, **DEFAULT_IMAGE_SETTINGS}
    (out / "preprocessor_config.json").write_text(json.dumps(settings, indent=2))
    return out


BUILDERS: Dict[str, Callable[..., Path]] = {
    "random-owlv2-base-patch16": build_full_owlv2,
    "random-omdet-turbo-swin-tiny": build_full_omdet_turbo,
    "random-slimsam-77": build_full_slimsam,
    "random-sam-hq-vit-base": build_full_sam_hq,
    "random-sam3": build_full_sam3,
}


def build_zoo_models(root: os.PathLike, names=None, seed: int = 0, device: str = "cpu") -> Dict[str, Path]:
    """Build (once; weights created on ``device``) the named full-size random models under ``root``; returns name ->
    directory."""
    root = Path(root)
    out = {}
    for name in names or BUILDERS:
        target = root / name
        if not (target / "config.json").is_file() or not any(target.glob("*.safetensors")):
            BUILDERS[name](target, seed, device)
        out[name] = target
    return out


def subnormal_fraction(module: Any, run: Callable[[], Any]) -> float:
    """The largest fraction of subnormal float values (non-zero, below the dtype's smallest normal) in the output
    of any submodule while ``run()`` executes — 0 for healthy activations."""
    import torch

    worst = [0.0]

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        tensors = output if isinstance(output, (tuple, list)) else (output,)
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.numel():
                tiny = torch.finfo(tensor.dtype).tiny
                value = tensor.detach().abs()
                fraction = float(((value > 0) & (value < tiny)).float().mean())
                worst[0] = max(worst[0], fraction)

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return worst[0]
