# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OpenVINO backend (CPU): Grounding DINO and SAM's image encoder converted once, cached as IR, run by the CPU plugin.

``backend: openvino`` converts each model with ``openvino.convert_model`` (TorchScript tracing of the torch module,
with example inputs) the first time it meets an input shape and saves the IR (``.xml`` + ``.bin``) under
``~/.cache/grounded_sam_ros/compile/openvino/``, keyed by architecture, weights dtype, shape, torch and OpenVINO
versions (not by precision: one IR serves f32 and bf16). The CPU plugin then compiles the IR for this CPU and
precision; that result is cached too (the plugin's ``CACHE_DIR``, one folder per IR and precision under ``blobs/``,
with a manifest of CRC-32 sums written by us), so a warm start imports the compiled blob straight from the IR's
path: no IR parsing, no graph compilation. A stale IR (other key), a changed ``.xml`` or ``.bin`` size, a blob
folder that does not match its manifest, or an IR the plugin refuses is deleted and built again, never fatal.

Shapes: with ``shape_buckets`` on, the detector's inputs are padded to the compiled path's size buckets
(:mod:`grounded_sam_ros.models.compiled`), one static-shape IR per bucket; off (the float32 default), one IR per
exact input size, and the outputs are eager's on the same unpadded input (a fixed camera has one size anyway).

Precision: ``float32`` runs with ``INFERENCE_PRECISION_HINT=f32``; ``bfloat16`` (what ``dtype=auto`` picks on CPUs
with AMX or AVX512-BF16) with ``bf16``: the plugin then runs matrix products in bf16 and keeps what it deems
sensitive in f32. SAM's prompt encoder and mask decoder stay in torch (float32), as on the torch path.

Grounding DINO as transformers writes it uses four operations OpenVINO's PyTorch front end has no rule for
(``cummax``/``cummin`` in the text-mask helper, ``isin``, ``special.logit``): the text masks are computed in torch
before the call and enter the IR as inputs (same function, same values), and ``isin`` / ``logit`` are traced through
equivalent elementary operations; the two-stage proposals' border test is traced in exact arithmetic, since the
plugin's division would flip it (:mod:`grounded_sam_ros.models.openvino_trace`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from grounded_sam_ros.models.openvino_trace import traceable

_LOG = logging.getLogger(__name__)

# Part of every IR's cache key: bumped whenever what is traced changes, so IRs of an older graph are converted again
# (2: the two-stage proposals' exact border test, see models.openvino_trace; 3: deformable attention, one bag per
# corner; 4: SAM's folded attention without padding v)
GRAPH_VERSION = 4

_DETECTOR_INPUTS = ("pixel_values", "pixel_mask", "input_ids", "attention_mask", "token_type_ids",
                    "text_self_attention_masks", "position_ids")  # fmt: skip


def precision_hint(dtype: Any) -> str:
    """The CPU plugin's ``INFERENCE_PRECISION_HINT`` for a torch compute dtype."""
    import torch

    return {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}[dtype]


class IrCache:
    """IR files per key under ``root``: ``<name>.xml`` + ``<name>.bin`` + ``<name>.json`` (the key and the files'
    fingerprint, checked), and the CPU plugin's compiled blobs of that IR in ``blobs/<name>-<precision>/`` with a
    manifest of their CRC-32 sums."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def stem(self, key: Dict[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        shape = "x".join(str(v) for v in key["shape"])
        return self.root / f"{key['family']}-{shape}-{digest}"

    def blobs(self, key: Dict[str, Any], precision: str) -> Path:
        """The plugin's ``CACHE_DIR`` for ``key`` compiled with ``precision`` (its own folder: checked as one)."""
        return self.root / "blobs" / f"{self.stem(key).name}-{precision}"

    def ensure_ir(self, key: Dict[str, Any], convert: Callable[[], Any]) -> Tuple[Any, str]:
        """(path of the IR's ``.xml``, 'hit' | 'converted' | 'rebuilt'): the cached IR of ``key``, else ``convert()``
        (an ``openvino.Model``) saved; converting drops the blobs compiled from an older IR of that key. When the
        IR cannot be saved (e.g. a read-only folder), the converted ``openvino.Model`` itself instead of a path."""
        import openvino as ov

        stem = self.stem(key)
        xml, meta = stem.with_suffix(".xml"), stem.with_suffix(".json")
        state = "converted"
        if xml.exists():
            try:
                stored = json.loads(meta.read_text())
                if stored.get("key") != key:
                    raise ValueError("stale (made for another key)")
                if stored.get("files") != self._fingerprint(stem):
                    raise ValueError("its files changed since it was written (truncated or corrupted)")
                return xml, "hit"
            except Exception as exc:  # noqa: BLE001 - any bad entry is converted again, never fatal
                _LOG.warning("OpenVINO IR %s is unusable (%s); converting again", xml.name, exc)
                state = "rebuilt"
        self.drop(key)
        self.prune_older_graphs(int(key.get("graph", 1)))
        model = convert()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = stem.with_name(f"{stem.name}.tmp{os.getpid()}")
            ov.save_model(model, str(tmp.with_suffix(".xml")), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), stem.with_suffix(".bin"))
            os.replace(tmp.with_suffix(".xml"), xml)
            meta.write_text(json.dumps({"key": key, "files": self._fingerprint(stem)}, sort_keys=True))
        except (OSError, RuntimeError) as exc:
            _LOG.warning("could not cache the OpenVINO IR %s (%s); the next start converts again", xml, exc)
            return model, state
        return xml, state

    def prune_older_graphs(self, graph: int) -> List[str]:
        """Delete the IRs (and their blobs) traced by an older graph version than ``graph``: this code never uses
        them again, and each detector IR is ~0.7 GB. Returns the names removed; files that are not ours are left."""
        removed = []
        for meta in sorted(self.root.glob("*.json")):
            try:
                stored = json.loads(meta.read_text())["key"]
                older = int(stored.get("graph", 1)) < graph and self.stem(stored) == meta.with_suffix("")
            except Exception:  # noqa: BLE001 - not one of our entries: not ours to delete
                continue
            if older:
                self.drop(stored)
                removed.append(meta.stem)
        if removed:
            _LOG.info("removed %d OpenVINO IR(s) of an older graph version: %s", len(removed), ", ".join(removed))
        return removed

    @staticmethod
    def _fingerprint(stem: Path) -> Dict[str, Any]:
        """The IR's graph checksum and weights size (the weights are not hashed: that would cost a warm start ~1 s
        per GB; a damaged ``.bin`` of the right size fails to compile and is converted again)."""
        return {"xml_crc32": _checksum(stem.with_suffix(".xml")), "bin_size": stem.with_suffix(".bin").stat().st_size}

    def drop(self, key: Dict[str, Any]) -> None:
        """Delete the IR of ``key`` and every blob compiled from it."""
        stem = self.stem(key)
        try:
            for suffix in (".xml", ".bin", ".json"):
                stem.with_suffix(suffix).unlink(missing_ok=True)
            for folder in (self.root / "blobs").glob(f"{stem.name}-*"):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError as exc:  # an unusable cache folder: ensure_ir then runs without it
            _LOG.warning("could not clean the OpenVINO cache entry %s (%s)", stem, exc)

    @staticmethod
    def check_blobs(folder: Path) -> str:
        """'hit' when every blob in ``folder`` matches its manifest, 'miss' when there is none; a folder that does
        not match (truncated, corrupted, files missing or added) is deleted: 'rebuild'."""
        manifest = folder / "manifest.json"
        if not folder.exists():
            return "miss"
        try:
            expected = json.loads(manifest.read_text())
            found = {p.name: _checksum(p) for p in folder.iterdir() if p.is_file() and p.name != manifest.name}
            if not expected or found != expected:
                raise ValueError("blob checksums do not match the manifest")
        except Exception as exc:  # noqa: BLE001 - rebuilt by the next compile
            _LOG.warning("OpenVINO blob cache %s is unusable (%s); compiling again", folder.name, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return "rebuild"
        return "hit"

    @staticmethod
    def seal_blobs(folder: Path) -> None:
        """Write the manifest of the blobs the plugin has just written to ``folder``."""
        blobs = {p.name: _checksum(p) for p in folder.iterdir() if p.is_file() and p.name != "manifest.json"}
        if blobs:
            (folder / "manifest.json").write_text(json.dumps(blobs, sort_keys=True))


def _checksum(path: Path) -> str:
    """CRC-32 of a file: catches truncation and flipped bytes (not tampering), ~4x faster than SHA-256 here,
    which matters since a warm start checks ~1.3 GB of blobs."""
    value = 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 24), b""):
            value = zlib.crc32(block, value)
    return f"crc32:{value:08x}"


class OpenVinoRunner:
    """One torch module run through OpenVINO, one IR per input shape (converted on first use, then cached).

    The plugin compiles the IR for this CPU and precision once and keeps the result in its blob cache
    (``CACHE_DIR``): a later start imports the blob instead of reading and compiling the IR. ``status`` says per
    shape how its first call went: 'hit' (IR and blob cached), 'compiled' (IR cached, blob built), 'converted' (IR
    built) or 'rebuilt' (a bad IR or blob was deleted and built again).
    """

    def __init__(self, family: str, module: Any, dtype: Any, cache_root: Path) -> None:
        import openvino as ov

        from grounded_sam_ros.models.compiled import architecture_id

        self.family = family
        self._module, self._dtype = module, dtype
        self._cache = IrCache(cache_root / "openvino")
        self._core = ov.Core()
        self._precision = precision_hint(dtype)
        self._architecture = architecture_id(module.model)
        self._weights = str(next(module.parameters()).dtype).replace("torch.", "")
        self._compiled: Dict[Tuple[int, ...], Any] = {}
        self.status: Dict[Tuple[int, ...], str] = {}
        self.loaded_from_cache: Dict[Tuple[int, ...], bool] = {}  # the plugin's own word: blob imported, no compile

    def key(self, shape: Tuple[int, ...]) -> Dict[str, Any]:
        """What the IR of ``shape`` depends on (the precision hint is not: it applies when the plugin compiles)."""
        import openvino as ov
        import torch

        return {"family": self.family, "architecture": self._architecture, "weights": self._weights,
                "shape": list(shape), "torch": torch.__version__, "openvino": ov.__version__,
                "graph": GRAPH_VERSION}  # fmt: skip

    @property
    def plugin_config(self) -> Dict[str, str]:
        """The CPU plugin's compile properties (without the cache folder)."""
        return {"INFERENCE_PRECISION_HINT": self._precision}

    def ir_path(self, shape: Tuple[int, ...]) -> Path:
        """The cached IR (``.xml``) of ``shape``."""
        return self._cache.stem(self.key(tuple(int(v) for v in shape))).with_suffix(".xml")

    def __call__(self, inputs: Dict[str, Any], shape: Tuple[int, ...]) -> List[Any]:
        """Run on ``inputs`` (name -> torch tensor, in the module's argument order) of input size ``shape`` (the
        bucket); returns the outputs as torch tensors."""
        import torch

        shape = tuple(int(v) for v in shape)
        compiled = self._compiled.get(shape)
        if compiled is None:
            compiled = self._compiled[shape] = self._prepare(shape, inputs)
        outputs = compiled([t.numpy() for t in inputs.values()])
        return [torch.from_numpy(outputs[o].copy()) for o in compiled.outputs]

    def _prepare(self, shape: Tuple[int, ...], inputs: Dict[str, Any]) -> Any:
        """The compiled model of ``shape``: IR from the cache or converted, blob from the cache or compiled."""
        import openvino as ov
        import torch

        def convert() -> Any:
            _LOG.info("openvino %s %s: converting to OpenVINO IR (first use of this input size; minutes on a small "
                      "CPU, once: `grounded-sam warmup --backend openvino` does it ahead)", self.family,
                      "x".join(map(str, shape)))  # fmt: skip
            with torch.no_grad(), traceable(self._module), warnings.catch_warnings():
                # The trace bakes this bucket's sizes in (each bucket is its own IR): the warnings say just that
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                model = ov.convert_model(self._module, example_input=dict(inputs))
            # Static shapes: the trace baked this bucket's sizes in anyway
            model.reshape({port: ov.PartialShape(list(t.shape)) for port, t in zip(model.inputs, inputs.values())})
            return model

        key = self.key(shape)
        damaged = False
        while True:
            xml, ir_state = self._cache.ensure_ir(key, convert)
            if isinstance(xml, ov.Model):  # could not be saved (e.g. a read-only cache folder): run it uncached
                self.status[shape], self.loaded_from_cache[shape] = "converted", False
                return self._core.compile_model(xml, "CPU", self.plugin_config)
            blobs = self._cache.blobs(key, self._precision)
            blob_state = self._cache.check_blobs(blobs)
            config = {**self.plugin_config, "CACHE_DIR": str(blobs)}
            try:
                compiled = self._core.compile_model(str(xml), "CPU", config)
                break
            except Exception as exc:  # a damaged IR (e.g. a truncated .bin): converted again, once
                if damaged:
                    raise
                _LOG.warning("OpenVINO could not compile %s (%s); converting it again", xml.name, exc)
                self._cache.drop(key)
                damaged = True
        self.loaded_from_cache[shape] = bool(compiled.get_property("LOADED_FROM_CACHE"))
        if blob_state == "hit" and not self.loaded_from_cache[shape]:
            blob_state = "miss"  # the plugin compiled anyway (its own key changed: e.g. another CPU)
        if blob_state != "hit":
            self._cache.seal_blobs(blobs)
        if damaged or "rebuil" in ir_state + blob_state:
            state = "rebuilt"
        else:
            state = "compiled" if ir_state == "hit" and blob_state == "miss" else ir_state
        self.status[shape] = state
        _LOG.info("openvino %s %s: %s", self.family, "x".join(map(str, shape)), state)
        return compiled


class DetectorGraph:
    """Grounding DINO as one traceable module: the text masks are inputs (computed in torch by :meth:`inputs`)."""

    @staticmethod
    def module(model: Any) -> Any:
        import torch
        from transformers.models.grounding_dino import modeling_grounding_dino as gd

        class _Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, pixel_values, pixel_mask, input_ids, attention_mask, token_type_ids,
                        text_self_attention_masks, position_ids):  # fmt: skip
                original = gd.generate_masks_with_special_tokens_and_transfer_map
                gd.generate_masks_with_special_tokens_and_transfer_map = lambda *a, **k: (
                    text_self_attention_masks, position_ids)  # fmt: skip
                try:
                    out = self.model(pixel_values=pixel_values, pixel_mask=pixel_mask, input_ids=input_ids,
                                     attention_mask=attention_mask, token_type_ids=token_type_ids)  # fmt: skip
                finally:
                    gd.generate_masks_with_special_tokens_and_transfer_map = original
                return out.logits, out.pred_boxes

        return _Graph().eval()

    @staticmethod
    def inputs(model: Any, image: Dict[str, Any], text: Dict[str, Any]) -> Dict[str, Any]:
        from transformers.models.grounding_dino import modeling_grounding_dino as gd

        masks, positions = gd.generate_masks_with_special_tokens_and_transfer_map(
            text["input_ids"], special_tokens=model.model.special_tokens
        )
        values = {**image, **text, "text_self_attention_masks": masks, "position_ids": positions}
        return {name: values[name] for name in _DETECTOR_INPUTS}


class EncoderGraph:
    """SAM's image encoder as a module returning the embedding tensor."""

    @staticmethod
    def module(model: Any) -> Any:
        import torch

        class _Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, pixel_values):
                return self.model.vision_encoder(pixel_values)[0]

        return _Graph().eval()


def enable_openvino(detector: Any, segmenter: Any, cache_dir: str = "") -> None:
    """Run the detector and SAM's image encoder through OpenVINO (CPU only)."""
    from grounded_sam_ros.models.compiled import compile_cache_root

    if str(detector.device) != "cpu":
        raise ValueError(f"backend='openvino' runs on the CPU; got device={detector.device} (use device='cpu')")
    root = compile_cache_root(cache_dir)
    detector.openvino = OpenVinoRunner(detector.family, DetectorGraph.module(detector.model), detector.dtype, root)
    if segmenter is not None:
        segmenter.openvino = OpenVinoRunner(segmenter.family, EncoderGraph.module(segmenter.model), segmenter.dtype,
                                            root)  # fmt: skip
