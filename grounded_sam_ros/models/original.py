# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Original release checkpoints (``sam_vit_h_4b8939.pth``, ``sam_hq_vit_l.pth``, ``groundingdino_swint_ogc.pth``)
converted on load into the transformers models, and cached as safetensors so the next start is fast.

A checkpoint file is read with ``torch.load(weights_only=True)``; its layout (SAM, SAM-HQ or Grounding DINO) is
recognised from its keys, every key is renamed by a strict map (any original key left over, or any model weight
not filled, is an error listing them), and the result is saved with ``save_pretrained`` (model + processor) under
``~/.cache/grounded_sam_ros/converted/<file stem>-<key>/``, keyed by the file's size, modification time and a hash
of its first and last MiB. A model path ending in ``.pth`` then loads from that directory like any other.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

_LOG = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pth", ".pt")


def is_checkpoint_file(model_id: str) -> bool:
    return Path(os.path.expanduser(model_id)).suffix in CHECKPOINT_SUFFIXES


def converted_cache_root() -> Path:
    from grounded_sam_ros.models.tiny import local_cache

    return local_cache("converted")


def file_key(path: Path) -> str:
    """Size, modification time and a SHA-256 of the first and last MiB: cheap, and changes with the file."""
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        if stat.st_size > 2 << 20:
            handle.seek(-(1 << 20), os.SEEK_END)
            digest.update(handle.read())
    return digest.hexdigest()[:16]


def read_checkpoint(path: Path) -> Dict[str, Any]:
    """The tensors of an original checkpoint (``weights_only=True``; a ``{"model": ...}`` wrapper and ``module.``
    prefixes are removed). ``ValueError`` naming the file when it is not a readable checkpoint."""
    import torch

    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        size = path.stat().st_size
        raise ValueError(
            f"{path} ({size} bytes) is not a readable PyTorch checkpoint (truncated download or not a .pth file?); "
            f"download it again. Cause: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ValueError(f"{path} holds no state dict of tensors (got {type(data).__name__}); is it a checkpoint?")
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in data.items()}


def layout_of(state: Dict[str, Any]) -> str:
    """``"sam"``, ``"sam_hq"`` or ``"grounding_dino"`` from the keys of an original state dict."""
    keys = state.keys()
    if "image_encoder.patch_embed.proj.weight" in keys and "mask_decoder.iou_token.weight" in keys:
        return "sam_hq" if "mask_decoder.hf_token.weight" in keys else "sam"
    if any(k.startswith("backbone.0.") for k in keys) and any(k.startswith("transformer.") for k in keys):
        return "grounding_dino"
    sample = ", ".join(sorted(keys)[:6])
    raise ValueError(
        f"not an original SAM, SAM-HQ or Grounding DINO checkpoint ({len(state)} tensors; first keys: {sample}); "
        "for other models pass a Hugging Face model directory or Hub id"
    )


def apply_key_map(
    state: Dict[str, Any], expected: Dict[str, Tuple[int, ...]], rename: Any, what: str, ignore: Iterable[str] = ()
) -> Dict[str, Any]:
    """Rename every original key with ``rename(key) -> [new keys]`` (several for tied weights) and check the result
    strictly against ``expected`` (model key -> shape): unmapped, unexpected, missing or wrongly shaped keys raise a
    ``ValueError`` listing them."""
    ignore = set(ignore)
    out: Dict[str, Any] = {}
    unmapped: List[str] = []
    for key, value in state.items():
        if key in ignore:
            continue
        new = rename(key, value)
        if not new:
            unmapped.append(key)
            continue
        for name, tensor in new:
            out[name] = tensor
    unexpected = sorted(k for k in out if k not in expected)
    missing = sorted(k for k in expected if k not in out)
    shapes = sorted(
        f"{k}: {tuple(out[k].shape)} vs {expected[k]}" for k in out if k in expected and tuple(out[k].shape) != expected[k]
    )
    problems = []
    for label, items in (
        ("original keys with no mapping", unmapped),
        ("mapped to unknown model keys", unexpected),
        ("model weights not in the file", missing),
        ("shape mismatches", shapes),
    ):
        if items:
            more = f" (+{len(items) - 8} more)" if len(items) > 8 else ""
            problems.append(f"{label}: {', '.join(items[:8])}{more}")
    if problems:
        raise ValueError(f"{what}: the checkpoint does not match the expected architecture; " + "; ".join(problems))
    return out


def converted_dir(model_id: str, expected_layouts: Optional[Tuple[str, ...]] = None) -> Path:
    """The Hugging Face directory of an original checkpoint file, converting (once) when not cached."""
    path = Path(os.path.expanduser(model_id))
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint file {model_id!r} does not exist (original SAM / SAM-HQ / Grounding DINO .pth files are "
            "accepted; download them from their release pages)"
        )
    target = converted_cache_root() / f"{path.stem}-{file_key(path)}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    state = read_checkpoint(path)
    layout = layout_of(state)
    if expected_layouts is not None and layout not in expected_layouts:
        raise ValueError(f"{path} is an original {layout} checkpoint, expected {' or '.join(expected_layouts)}")
    _LOG.info("converting %s (%s) to %s (once; later starts load the converted copy)", path, layout, target)
    model, processor = _convert(layout, state, str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        (staging / "CONVERTED_FROM").write_text(f"{path.resolve()}\n{layout}\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(layout: str, state: Dict[str, Any], what: str) -> Tuple[Any, Any]:
    if layout in ("sam", "sam_hq"):
        from grounded_sam_ros.models.original_sam import convert_sam

        return convert_sam(state, what)
    from grounded_sam_ros.models.original_grounding_dino import convert_grounding_dino

    return convert_grounding_dino(state, what)
