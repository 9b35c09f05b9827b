# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The diffusion model: any diffusers inpainting pipeline (SD 1.5, SD 2, SDXL), loaded under the package's policy.

``AutoPipelineForInpainting`` picks the pipeline class from the checkpoint's ``model_index.json``. Loading follows
:func:`grounded_sam_ros.models.loading.load_pretrained`: Hub id or local directory, offline-aware, safetensors only
unless pickle checkpoints are allowed, never remote code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

from grounded_sam_ros.editing.config import EditConfig
from grounded_sam_ros.models.loading import LoadOptions, ModelNotFoundError, load_pretrained

_LOG = logging.getLogger(__name__)

# Components whose weights a pipeline directory must hold (the safety checker is optional: null in model_index)
_WEIGHTED = ("unet", "vae", "text_encoder", "text_encoder_2", "safety_checker", "image_encoder")
_PICKLE = ("diffusion_pytorch_model.bin", "pytorch_model.bin")


class SafetyCheckerError(RuntimeError):
    """The checkpoint's own safety checker replaced the result with a black image."""


def check_pipeline_dir(path: Path, allow_pickle: bool) -> None:
    """Raise a fix-it error when ``path`` is not a loadable diffusers pipeline directory under the policy."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        hint = " (it is a transformers model, not a diffusers pipeline)" if (path / "config.json").is_file() else ""
        raise ModelNotFoundError(
            f"{path} is not a diffusers pipeline directory (no model_index.json){hint}. Save one with "
            "pipeline.save_pretrained(DIR), or pass a Hub id such as stable-diffusion-v1-5/stable-diffusion-inpainting."
        )
    index = json.loads(index_file.read_text())
    for name in _WEIGHTED:
        entry = index.get(name)
        if not isinstance(entry, list) or entry[0] is None:
            continue
        folder = path / name
        has_safetensors = any(folder.glob("*.safetensors")) or any(folder.glob("*.safetensors.index.json"))
        has_pickle = any((folder / file).is_file() for file in _PICKLE)
        if not has_safetensors and has_pickle and not allow_pickle:
            raise ValueError(
                f"{folder} holds only pickle weights (*.bin), which can run arbitrary code when loaded; refusing by "
                "default. Convert them to safetensors, or allow pickle checkpoints explicitly (--allow-pickle)."
            )
        if not has_safetensors and not has_pickle:
            raise ModelNotFoundError(f"{folder} has no weights (*.safetensors) for the pipeline's {name}")


def resolve_edit_dtype(dtype: str, device: str) -> Any:
    """``auto`` -> float16 on CUDA, float32 elsewhere (SD's VAE and schedulers are validated in fp32 on CPU)."""
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


class Inpainter:
    """A loaded inpainting pipeline that repaints one image at its own resolution. Not thread-safe."""

    def __init__(self, pipe: Any, model: str, device: str) -> None:
        self._pipe = pipe
        self.model = model
        self.device = device
        pipe.set_progress_bar_config(disable=True)

    @property
    def pipe(self) -> Any:
        """The underlying diffusers pipeline."""
        return self._pipe

    @property
    def native_resolution(self) -> int:
        """Side of the square the checkpoint was trained at (512 for SD 1.5/2 inpainting, 1024 for SDXL)."""
        pipe = self._pipe
        return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)

    def __call__(
        self,
        image: Any,
        mask: Any,
        prompt: str,
        negative_prompt: str = "",
        seed: int = 0,
        steps: int = 30,
        guidance: float = 7.5,
        strength: float = 1.0,
    ) -> Any:
        """Repaint ``image`` (PIL RGB) where ``mask`` (PIL L, 255 = repaint) is set; returns PIL RGB, same size.

        The noise comes from a CPU ``torch.Generator`` seeded with ``seed``: the same seed gives the same image on
        any device of the same kind.
        """
        import torch

        width, height = image.size
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        with torch.inference_mode():
            out = self._pipe(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                image=image,
                mask_image=mask,
                height=height,
                width=width,
                num_inference_steps=int(steps),
                guidance_scale=float(guidance),
                strength=float(strength),
                generator=generator,
                output_type="pil",
            )
        flagged = getattr(out, "nsfw_content_detected", None)
        if flagged and any(flagged):
            raise SafetyCheckerError(
                f"the safety checker of {self.model} flagged the result and blanked it; change the prompt or seed"
            )
        return out.images[0]


def load_inpainter(config: EditConfig, device: Optional[str] = None) -> Inpainter:
    """Load ``config.model`` with ``AutoPipelineForInpainting`` onto ``device`` (default: ``config.device``)."""
    from diffusers import AutoPipelineForInpainting

    from grounded_sam_ros.pipeline import resolve_device

    config = config.validate()
    device = device or resolve_device(config.device)
    options = LoadOptions(
        device=device,
        dtype=resolve_edit_dtype(config.dtype, device),
        local_files_only=config.local_files_only,
        allow_pickle=config.allow_pickle,
        cache_dir=config.cache_dir or None,
    )
    _LOG.info("loading inpainting model %s on %s (%s)", config.model, device, options.dtype)
    pipe = load_pretrained(
        AutoPipelineForInpainting,
        config.model,
        options,
        what="inpainting model",
        check_dir=check_pipeline_dir,
        extra={"dtype": options.dtype},
    )
    return Inpainter(pipe.to(device), config.model, device)
