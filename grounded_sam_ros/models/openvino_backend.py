# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""OpenVINO backend (CPU): Grounding DINO and SAM's image encoder converted once, cached as IR, run by the CPU plugin.

``backend: openvino`` converts each model with ``openvino.convert_model`` (TorchScript tracing of the torch module,
with example inputs) the first time it meets an input shape, saves the IR (``.xml`` + ``.bin``) under
``~/.cache/grounded_sam_ros/compile/openvino/`` keyed like the compiled path (architecture, precision, shape, torch
and OpenVINO versions), and loads it from there afterwards; the CPU plugin's own compiled-blob cache sits next to it.
A file that does not load is deleted and converted again. The detector's inputs are padded to the same size buckets
as the compiled path (:mod:`grounded_sam_ros.models.compiled`), so each bucket is one static-shape IR.

Precision: ``float32`` runs with ``INFERENCE_PRECISION_HINT=f32``; ``bfloat16`` (what ``dtype=auto`` picks on CPUs
with AMX or AVX512-BF16) with ``bf16``: the plugin then runs matrix products in bf16 and keeps what it deems
sensitive in f32. SAM's prompt encoder and mask decoder stay in torch (float32), as on the torch path.

Grounding DINO as transformers writes it uses four operations OpenVINO's PyTorch front end has no rule for
(``cummax``/``cummin`` in the text-mask helper, ``isin``, ``special.logit``): the text masks are computed in torch
before the call and enter the IR as inputs (same function, same values), and ``isin`` / ``logit`` are traced through
equivalent elementary operations.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

_LOG = logging.getLogger(__name__)

_DETECTOR_INPUTS = ("pixel_values", "pixel_mask", "input_ids", "attention_mask", "token_type_ids",
                    "text_self_attention_masks", "position_ids")  # fmt: skip


def precision_hint(dtype: Any) -> str:
    """The CPU plugin's ``INFERENCE_PRECISION_HINT`` for a torch compute dtype."""
    import torch

    return {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}[dtype]


class IrCache:
    """IR files per key under ``root``: ``<name>.xml`` + ``<name>.bin`` + ``<name>.json`` (the key, checked)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def stem(self, key: Dict[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        shape = "x".join(str(v) for v in key["shape"])
        return self.root / f"{key['family']}-{key['precision']}-{shape}-{digest}"

    def load_or_convert(self, key: Dict[str, Any], convert: Callable[[], Any]) -> Tuple[Any, str]:
        """(``openvino.Model``, 'hit' | 'converted' | 'rebuilt'): the cached IR of ``key``, else ``convert()`` saved."""
        import openvino as ov

        stem = self.stem(key)
        xml, meta = stem.with_suffix(".xml"), stem.with_suffix(".json")
        state = "converted"
        if xml.exists():
            try:
                if json.loads(meta.read_text()) != key:
                    raise ValueError("stale (made for another key)")
                return ov.Core().read_model(str(xml)), "hit"
            except Exception as exc:  # noqa: BLE001 - any bad entry is converted again, never fatal
                _LOG.warning("OpenVINO IR %s is unusable (%s); converting again", xml.name, exc)
                state = "rebuilt"
        model = convert()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = stem.with_name(f"{stem.name}.tmp{os.getpid()}")
            ov.save_model(model, str(tmp.with_suffix(".xml")), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), stem.with_suffix(".bin"))
            os.replace(tmp.with_suffix(".xml"), xml)
            meta.write_text(json.dumps(key, sort_keys=True))
        except OSError as exc:
            _LOG.warning("could not cache the OpenVINO IR %s (%s); the next start converts again", xml, exc)
        return model, state


class OpenVinoRunner:
    """One torch module run through OpenVINO, one IR per input shape (converted on first use, then cached)."""

    def __init__(self, family: str, module: Any, dtype: Any, cache_root: Path) -> None:
        import openvino as ov

        from grounded_sam_ros.models.compiled import architecture_id

        self.family = family
        self._module, self._dtype = module, dtype
        self._cache = IrCache(cache_root / "openvino")
        self._core = ov.Core()
        self._core.set_property({"CACHE_DIR": str(cache_root / "openvino" / "blobs")})
        self._config = {"INFERENCE_PRECISION_HINT": precision_hint(dtype)}
        self._architecture = architecture_id(module.model)
        self._compiled: Dict[Tuple[int, ...], Any] = {}
        self.status: Dict[Tuple[int, ...], str] = {}

    def __call__(self, inputs: Dict[str, Any], shape: Tuple[int, ...]) -> List[Any]:
        """Run on ``inputs`` (name -> torch tensor, in the module's argument order) of input size ``shape`` (the
        bucket); returns the outputs as torch tensors."""
        import openvino as ov
        import torch

        shape = tuple(int(v) for v in shape)
        compiled = self._compiled.get(shape)
        if compiled is None:
            key = {"family": self.family, "architecture": self._architecture, "precision": self._config[
                "INFERENCE_PRECISION_HINT"], "shape": list(shape), "torch": torch.__version__,
                   "openvino": ov.__version__}  # fmt: skip

            def convert() -> Any:
                with torch.no_grad(), _traceable(), warnings.catch_warnings():
                    # The trace bakes this bucket's sizes in (each bucket is its own IR): the warnings say just that
                    warnings.simplefilter("ignore", torch.jit.TracerWarning)
                    model = ov.convert_model(self._module, example_input=dict(inputs))
                # Static shapes: the trace baked this bucket's sizes in anyway
                model.reshape({port: ov.PartialShape(list(t.shape)) for port, t in zip(model.inputs, inputs.values())})
                return model

            model, self.status[shape] = self._cache.load_or_convert(key, convert)
            compiled = self._compiled[shape] = self._core.compile_model(model, "CPU", self._config)
        outputs = compiled([t.numpy() for t in inputs.values()])
        return [torch.from_numpy(outputs[o].copy()) for o in compiled.outputs]


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


@contextlib.contextmanager
def _traceable() -> Iterator[None]:
    """``torch.isin`` and ``torch.special.logit`` as elementary operations while tracing (same values)."""
    import torch

    isin, logit = torch.isin, torch.special.logit

    def plain_isin(elements, test_elements, **kwargs):
        return (elements.unsqueeze(-1) == test_elements.reshape(-1)).any(-1)

    def plain_logit(x, eps=None):
        if eps is not None:
            x = x.clamp(eps, 1.0 - eps)
        return torch.log(x / (1.0 - x))

    torch.isin, torch.special.logit = plain_isin, plain_logit
    try:
        yield
    finally:
        torch.isin, torch.special.logit = isin, logit


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
