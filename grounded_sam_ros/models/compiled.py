# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The compiled path: ``torch.compile`` of the heavy model regions, with shape buckets and a persistent cache.

Regions (compiled in place: ``nn.Module.compile`` on the CPU, ``torch.compile`` of each region's ``forward`` with
CUDA graphs on a GPU; weights, state dicts and the adapters stay as they are):
Grounding DINO's image backbone (Swin) and each encoder and decoder layer; SAM's image encoder layers and neck.
Layers of the same kind share one compiled graph, which keeps tracing short. On CUDA the regions use
``mode="reduce-overhead"`` (CUDA graphs) and their outputs are copied out of the graphs' static memory (see
:func:`_compile_with_cuda_graphs`); on CPU inductor's default mode.

Shapes: every distinct input shape is a separate compiled graph, so the detector's inputs are padded to a small set
of buckets (:func:`bucket_size`): the resized image's short side up to a multiple of 32 px, its long side up to a
multiple of 64 px (zeros, with ``pixel_mask`` 0 over the padding, as batching pads in training), and the text up to
a multiple of 16 tokens (attention mask 0: exact for the real tokens). For Grounding DINO's default 800 px short side
that is 800 x {832, 896, ..., 1344} in either orientation: 9 buckets per orientation, one per camera in practice.
SAM's encoder input is always its padded 1024x1024 square: one shape.

Persistence: after the first call in a new bucket, the compiled artefacts (torch's "Mega-Cache",
``torch.compiler.save_cache_artifacts``: the FX graphs and inductor's generated code) are written to one file per
key — model architecture, dtype, device type, torch version, bucket — under ``~/.cache/grounded_sam_ros/compile/``;
the next process loads them (``load_cache_artifacts``) before its first call in that bucket, and inductor then skips
code generation. The built kernels (C++ shared objects on CPU, Triton binaries on CUDA) are not in those artefacts:
they stay in inductor's own cache, which is pointed at ``compile/inductor/`` next to them (instead of ``/tmp``) unless
``TORCHINDUCTOR_CACHE_DIR`` is set. With both, a warm start only re-traces the Python (dynamo). A file whose
checksum or key does not match, or that torch refuses, is deleted, logged and rebuilt; it never stops the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

_LOG = logging.getLogger(__name__)

CACHE_FORMAT = 2  # bump when the regions, their code or the bucket rules change: old entries then no longer match
# (2: the deformable attention inside the encoder/decoder layers gathers one bag per corner)
SHORT_STEP, LONG_STEP, TEXT_STEP = 32, 64, 16
_MAGIC = b"GSRCOMPILE\n"


def compile_cache_root(override: str = "") -> Path:
    """``override`` or ``~/.cache/grounded_sam_ros/compile`` (under ``$XDG_CACHE_HOME`` when set)."""
    if override:
        return Path(os.path.expanduser(override))
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "grounded_sam_ros" / "compile"


def bucket_size(height: int, width: int) -> Tuple[int, int]:
    """(H, W) of the padded detector input for a resized input of ``height`` x ``width`` pixels.

    The short side goes up to a multiple of :data:`SHORT_STEP`, the long side to a multiple of :data:`LONG_STEP`
    (a square goes up by :data:`SHORT_STEP` on both). Sizes already on a bucket edge stay as they are.
    """
    if height < 1 or width < 1:
        raise ValueError(f"bucket_size({height}, {width}): sides must be positive")

    def up(value: int, step: int) -> int:
        return int(math.ceil(value / step) * step)

    if height < width:
        return up(height, SHORT_STEP), up(width, LONG_STEP)
    if width < height:
        return up(height, LONG_STEP), up(width, SHORT_STEP)
    return up(height, SHORT_STEP), up(width, SHORT_STEP)


def text_bucket(length: int, max_length: int) -> int:
    """Token count the text is padded to: ``length`` up to a multiple of :data:`TEXT_STEP`, at most ``max_length``."""
    return min(int(math.ceil(length / TEXT_STEP) * TEXT_STEP), max(max_length, length))


def pad_detector_image(inputs: Dict[str, Any]) -> Dict[str, Any]:
    """``pixel_values`` (1, 3, h, w) and ``pixel_mask`` (1, h, w) zero-padded at the bottom/right to their bucket."""
    import torch.nn.functional as F

    height, width = inputs["pixel_values"].shape[-2:]
    bucket_h, bucket_w = bucket_size(height, width)
    pad = (0, bucket_w - width, 0, bucket_h - height)
    if pad == (0, 0, 0, 0):
        return inputs
    return {
        **inputs,
        "pixel_values": F.pad(inputs["pixel_values"], pad),
        "pixel_mask": F.pad(inputs["pixel_mask"], pad),
    }


def pad_text(tensors: Dict[str, Any], max_length: int) -> Dict[str, Any]:
    """Token tensors (1, T) padded with zeros (``[PAD]``, attention mask 0) to :func:`text_bucket` tokens."""
    import torch.nn.functional as F

    length = tensors["input_ids"].shape[1]
    target = text_bucket(length, max_length)
    if target == length:
        return tensors
    return {name: F.pad(value, (0, target - length)) for name, value in tensors.items()}


def detector_regions(model: Any) -> List[Any]:
    """Grounding DINO's compiled regions: the image backbone, every encoder layer, every decoder layer."""
    core = model.model
    return [core.backbone, *core.encoder.layers, *core.decoder.layers]


def sam_regions(model: Any) -> List[Any]:
    """SAM's compiled regions: every image-encoder layer and the neck."""
    encoder = model.vision_encoder
    return [*encoder.layers, encoder.neck]


def architecture_id(model: Any) -> str:
    """Short hash of a model's architecture (its config without weights): compiled code depends on nothing else."""
    config = model.config.to_dict()
    for volatile in ("_name_or_path", "transformers_version", "_commit_hash"):
        config.pop(volatile, None)
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(family: str, model: Any, dtype: Any, device: Any, shape: Iterable[int]) -> Dict[str, Any]:
    """Everything a compiled artefact depends on, as a JSON-able dict (also stored in the file and checked)."""
    import torch

    return {
        "format": CACHE_FORMAT,
        "family": family,
        "architecture": architecture_id(model),
        "dtype": str(dtype).replace("torch.", ""),
        "device": str(device).split(":")[0],
        "torch": torch.__version__,
        "shape": [int(v) for v in shape],
    }


class ArtifactCache:
    """One file per :func:`cache_key` under ``root``: a header line (key, sha256, size), then torch's artefacts."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: Dict[str, Any]) -> Path:
        shape = "x".join(str(v) for v in key["shape"])
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        name = f"{key['family']}-{key['dtype']}-{key['device']}-{shape}-torch{key['torch']}-{digest}.bin"
        return self.root / name.replace("+", "_").replace("/", "_")

    def load(self, key: Dict[str, Any]) -> str:
        """Load the entry of ``key`` into torch's compile caches: 'hit', 'miss' (no file) or 'rebuild' (bad file,
        deleted: the next compile rebuilds it)."""
        import torch

        path = self.path(key)
        if not path.exists():
            return "miss"
        try:
            payload = self._read(path, key)
            if torch.compiler.load_cache_artifacts(payload) is None:  # torch logs why and returns None
                raise ValueError("torch could not read the artefacts")
        except Exception as exc:  # noqa: BLE001 - any bad entry is rebuilt, never fatal
            _LOG.warning("compile cache entry %s is unusable (%s); rebuilding it", path.name, exc)
            path.unlink(missing_ok=True)
            return "rebuild"
        return "hit"

    def save(self, key: Dict[str, Any]) -> Optional[Path]:
        """Write what this process has compiled so far under ``key`` (atomically); None when there is nothing."""
        import torch

        saved = torch.compiler.save_cache_artifacts()
        if saved is None:
            return None
        return self.write(key, saved[0])

    def write(self, key: Dict[str, Any], payload: bytes) -> Optional[Path]:
        """Store ``payload`` (torch's serialised artefacts) under ``key``, atomically; None when it cannot."""
        header = {"key": key, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload)
            os.replace(tmp, path)
        except OSError as exc:
            _LOG.warning("could not write the compile cache entry %s (%s); the next start compiles again", path, exc)
            return None
        return path

    @staticmethod
    def _read(path: Path, key: Dict[str, Any]) -> bytes:
        data = path.read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError("not a grounded_sam_ros compile cache file")
        header_line, _, payload = data[len(_MAGIC) :].partition(b"\n")
        header = json.loads(header_line)
        if header.get("key") != key:
            raise ValueError(f"stale: made for {header.get('key')}")
        if header.get("size") != len(payload) or header.get("sha256") != hashlib.sha256(payload).hexdigest():
            raise ValueError("checksum mismatch (truncated or corrupted)")
        return payload


class CompiledRegions:
    """A model whose regions are compiled; runs each forward through the cache of its input shape.

    ``family`` names the cache entries; ``shape_of(args)`` is not needed: callers pass the bucket they padded to.
    """

    def __init__(self, family: str, model: Any, regions: List[Any], dtype: Any, device: Any, cache: ArtifactCache):
        import torch

        self.family = family
        self._model, self._dtype, self._device, self._cache = model, dtype, device, cache
        self._ready: Dict[Tuple[int, ...], str] = {}
        # Each bucket and each layer shape is one graph: allow many per code object
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 256)
        torch._dynamo.config.accumulated_recompile_limit = max(torch._dynamo.config.accumulated_recompile_limit, 4096)
        if str(device).startswith("cuda"):
            for region in regions:
                _compile_with_cuda_graphs(region)
        else:
            for region in regions:
                region.compile(dynamic=False)

    @property
    def status(self) -> Dict[Tuple[int, ...], str]:
        """bucket -> how its first call went: 'hit' (loaded from the cache), 'compiled' or 'rebuilt'."""
        return dict(self._ready)

    def run(self, shape: Tuple[int, ...], forward: Callable[[], Any]) -> Any:
        """``forward()`` for inputs padded to ``shape``; on the first call for ``shape``: cache load before, save after."""
        shape = tuple(int(v) for v in shape)
        if shape in self._ready:
            return forward()
        key = cache_key(self.family, self._model, self._dtype, self._device, shape)
        loaded = self._cache.load(key)
        out = forward()
        if loaded == "hit":
            _LOG.info("%s %s: compiled code loaded from the cache", self.family, shape)
        else:
            path = self._cache.save(key)
            _LOG.info("%s %s: compiled (first use of this size); cached in %s", self.family, shape, path)
        self._ready[shape] = {"hit": "hit", "miss": "compiled", "rebuild": "rebuilt"}[loaded]
        return out


def _compile_with_cuda_graphs(region: Any) -> None:
    """Compile ``region.forward`` with CUDA graphs (``mode="reduce-overhead"``) and copy its outputs out of the
    graph's memory. Layers of one kind replay the same graph, which writes its outputs to the same static buffers:
    without the copy, the next layer's replay overwrites what the previous one returned while the model still holds
    it (the decoder keeps every layer's output; torch raises "accessing tensor output of CUDAGraphs that has been
    overwritten by a subsequent run"). The copies are a few MB per layer, microseconds on a GPU."""
    import torch

    compiled = torch.compile(region.forward, dynamic=False, mode="reduce-overhead")

    def forward(*args: Any, **kwargs: Any) -> Any:
        return _copied(compiled(*args, **kwargs))

    region.forward = forward


def _copied(value: Any) -> Any:
    """``value`` with every tensor in it (nested tuples, lists, dicts, ``ModelOutput``) cloned."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(_copied(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_copied(v) for v in value)
    if isinstance(value, dict):  # ModelOutput is an OrderedDict whose constructor takes the fields
        return type(value)(**{k: _copied(v) for k, v in value.items()})
    return value


def enable_compile(adapters: Iterable[Any], cache_dir: str = "") -> None:
    """Compile the regions of each adapter's model in place (a detector then pads to buckets; all use the cache)."""
    root = compile_cache_root(cache_dir)
    cache = ArtifactCache(root)
    # Inductor's own cache (the C++ / Triton kernels the artefacts point at) next to the entries instead of /tmp,
    # unless the user chose one (inductor writes its default into the variable once it has looked)
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    regions = {"grounding_dino": detector_regions, "mm_grounding_dino": detector_regions, "sam": sam_regions}
    for adapter in adapters:
        if adapter.family not in regions:
            raise ValueError(f"compile: no compiled regions known for the {adapter.family!r} family; set compile=false")
        adapter.compiled = CompiledRegions(
            adapter.family, adapter.model, regions[adapter.family](adapter.model), adapter.dtype, adapter.device, cache
        )
