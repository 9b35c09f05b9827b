# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A model's forward without transformers' assertions on tensor values (each one reads a tensor back to the host).

transformers checks, in every multi-scale deformable attention call of Grounding DINO, that the feature levels' sizes
add up to the sequence length: ``torch_compilable_check`` on a tensor, which eagerly is ``tensor.item()``. On a GPU
that is one host synchronisation per layer — 12 per frame for Grounding-DINO-T, each stalling the host until the GPU
has drained its queue — and under ``torch.compile`` a graph break in every encoder and decoder layer. The pipeline's
inputs satisfy that check by construction (the levels and the sequence come from the same backbone), so the detector
runs its forward inside :func:`without_tensor_checks`: checks on tensors are skipped there, every other check runs.

The switch replaces the module-level ``torch_compilable_check`` name of the model's transformers modules for the
duration of the block, with one replacement object per module (torch.compile guards on its identity: a new object per
call would recompile every frame). Nested and concurrent blocks are counted, so the original comes back when the last
one leaves.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections import Counter
from typing import Any, Callable, Dict, Iterator, Tuple

import torch

_NAME = "torch_compilable_check"
_LOCK = threading.Lock()
_ACTIVE: Counter = Counter()  # module name -> blocks inside
_ORIGINAL: Dict[str, Callable[..., Any]] = {}
_REPLACEMENT: Dict[str, Callable[..., Any]] = {}


def check_modules(model: Any) -> Tuple[types.ModuleType, ...]:
    """The Python modules defining ``model``'s submodules that call ``torch_compilable_check`` (find them once)."""
    names = {type(module).__module__ for module in model.modules()}
    found = (sys.modules.get(name) for name in sorted(names))
    return tuple(module for module in found if module is not None and callable(getattr(module, _NAME, None)))


def _replacement(module: types.ModuleType) -> Callable[..., Any]:
    name = module.__name__
    if name not in _REPLACEMENT:
        original = _ORIGINAL.setdefault(name, getattr(module, _NAME))

        def check(cond: Any, msg: Any, error_type: type = ValueError) -> None:
            if isinstance(cond, torch.Tensor):
                return None  # would read the tensor back to the host
            return original(cond, msg, error_type)

        _REPLACEMENT[name] = check
    return _REPLACEMENT[name]


@contextlib.contextmanager
def without_tensor_checks(modules: Tuple[types.ModuleType, ...]) -> Iterator[None]:
    """Within this block, ``torch_compilable_check`` of ``modules`` (from :func:`check_modules`) skips tensor
    conditions."""
    with _LOCK:
        for module in modules:
            if _ACTIVE[module.__name__] == 0:
                setattr(module, _NAME, _replacement(module))
            _ACTIVE[module.__name__] += 1
    try:
        yield
    finally:
        with _LOCK:
            for module in modules:
                _ACTIVE[module.__name__] -= 1
                if _ACTIVE[module.__name__] == 0:
                    setattr(module, _NAME, _ORIGINAL[module.__name__])
