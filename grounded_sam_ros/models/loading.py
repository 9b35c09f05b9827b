# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Loading Hugging Face models safely: Hub ids or local directories, offline-aware, safetensors by default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")


class ModelNotFoundError(FileNotFoundError):
    """The weights of a model could not be found (locally or on the Hub)."""


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model: where it runs, in which precision, and where weights may come from."""

    device: str = "cpu"  # a resolved torch device string: "cpu", "cuda:0", ...
    dtype: Any = None  # a torch.dtype; None = float32
    local_files_only: bool = False
    allow_pickle: bool = False
    cache_dir: Optional[str] = None


def hub_cache_dir(cache_dir: Optional[str] = None) -> str:
    """Where Hugging Face looks for downloaded models."""
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def offline_requested(options: LoadOptions) -> bool:
    return options.local_files_only or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or os.sep in model_id.strip("/").replace("/", "", 1)


def check_local_dir(path: Path, allow_pickle: bool) -> None:
    """Raise a fix-it error when a local model directory cannot be loaded under the security policy."""
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"{path} is not a Hugging Face model directory (no config.json). Save one with "
            "model.save_pretrained(DIR) and processor.save_pretrained(DIR), or pass a Hub id."
        )
    has_safetensors = any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file()
    has_pickle = any((path / name).is_file() for name in PICKLE_WEIGHTS)
    if not has_safetensors and has_pickle and not allow_pickle:
        raise ValueError(
            f"{path} holds only pickle weights (pytorch_model.bin), which can run arbitrary code when loaded; "
            "refusing by default. Convert them to safetensors, or allow pickle checkpoints explicitly "
            "(allow_pickle=True / --allow-pickle; they are then loaded with weights_only=True)."
        )
    if not has_safetensors and not has_pickle:
        raise ModelNotFoundError(f"{path} has a config.json but no weights (*.safetensors)")


def load_pretrained(
    model_cls: Any,
    model_id: str,
    options: LoadOptions,
    what: str = "model",
    check_dir: Callable[[Path, bool], None] = check_local_dir,
    extra: Optional[Mapping[str, Any]] = None,
) -> Any:
    """``model_cls.from_pretrained(model_id)`` under the package's policy.

    - ``model_id`` is a Hub id, a local directory or an original ``.pth`` checkpoint (converted once and cached,
      see :mod:`grounded_sam_ros.models.original`); ``~`` is expanded.
    - safetensors only unless ``options.allow_pickle`` (transformers then loads with ``weights_only=True``);
      never ``trust_remote_code``.
    - offline when ``options.local_files_only`` or ``HF_HUB_OFFLINE=1``; a missing model raises
      :class:`ModelNotFoundError` naming the id, where it looked and the command that downloads it.
    - ``check_dir(path, allow_pickle)`` vets a local directory first (a diffusers pipeline has its own layout);
      ``extra`` are further ``from_pretrained`` keyword arguments (e.g. ``torch_dtype``).
    """
    path = Path(os.path.expanduser(model_id))
    if path.suffix in (".pth", ".pt"):
        from grounded_sam_ros.models.original import converted_dir

        # An original release checkpoint: converted once into a cached Hugging Face directory
        path = converted_dir(model_id)
        model_id = str(path)
    if path.is_dir():
        check_dir(path, options.allow_pickle)
        source = str(path)
    elif _looks_like_path(model_id):
        raise ModelNotFoundError(f"{what} directory {model_id!r} does not exist")
    else:
        source = model_id
    offline = offline_requested(options)
    kwargs = {
        "local_files_only": offline,
        "trust_remote_code": False,
        "cache_dir": options.cache_dir or None,
    }
    if not options.allow_pickle:
        kwargs["use_safetensors"] = True
    kwargs.update(extra or {})
    try:
        return model_cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        if source != model_id or not _is_missing_weights(exc):
            raise
        where = hub_cache_dir(options.cache_dir)
        mode = "offline (local_files_only / HF_HUB_OFFLINE)" if offline else "online"
        raise ModelNotFoundError(
            f"could not load {what} {model_id!r} ({mode}): not found in the Hugging Face cache {where}"
            f"{'' if offline else ' and the Hub was unreachable'}. On a machine with internet run:\n"
            f"    grounded-sam download {model_id}"
            f"{' --cache-dir ' + options.cache_dir if options.cache_dir else ''}\n"
            f"then copy {where} here (or pass a local model directory). Cause: {str(exc).splitlines()[0][:200]}"
        ) from exc


def _is_missing_weights(exc: Exception) -> bool:
    text = str(exc).lower()
    needles = (
        "couldn't connect",
        "can't load",
        "cannot find",
        "not found",
        "does not appear",
        "offline",
        "no such file",
        "connection",
        "resolve",
        "safetensors",
        "local_files_only",
        "is not a local folder",
    )
    return any(n in text for n in needles)


def load_json(model_id: str, filename: str, options: LoadOptions, what: str = "model") -> dict:
    """``filename`` (a json file such as ``preprocessor_config.json``) of a Hub id or local model directory.

    For processors whose transformers class cannot be used here (those that import torchvision): their settings are
    read from the same file the official processor reads, and the adapter applies them itself.
    """
    import json

    path = Path(os.path.expanduser(model_id))
    if path.suffix in (".pth", ".pt"):
        from grounded_sam_ros.models.original import converted_dir

        path = converted_dir(model_id)
    if path.is_dir():
        file = path / filename
        if not file.is_file():
            raise ModelNotFoundError(f"{what} directory {path} has no {filename}")
        return json.loads(file.read_text())
    if _looks_like_path(model_id):
        raise ModelNotFoundError(f"{what} directory {model_id!r} does not exist")
    from huggingface_hub import hf_hub_download

    try:
        file = hf_hub_download(
            model_id, filename, cache_dir=options.cache_dir or None, local_files_only=offline_requested(options)
        )
    except Exception as exc:
        raise ModelNotFoundError(
            f"could not load {filename} of {what} {model_id!r}: not in the Hugging Face cache "
            f"{hub_cache_dir(options.cache_dir)} (or the Hub was unreachable). On a machine with internet run:\n"
            f"    grounded-sam download {model_id}\nCause: {str(exc).splitlines()[0][:200]}"
        ) from exc
    return json.loads(Path(file).read_text())
