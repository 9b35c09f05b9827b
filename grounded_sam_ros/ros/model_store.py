# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's shared models: loaded once, used by every camera's capabilities, released at cleanup.

A capability that needs a model of its own (the tracker's video model, the mesh network, the auto-query tagger, the
inpainting model) asks the node's store for it by key instead of loading it per camera::

    model = models_of(self.node).get(("video", family, model_id, dtype, device), load)

``load()`` runs once per key (under the store's lock, so two cameras configuring at once still load it once); later
calls return the same object. The key names everything that makes two loads different (kind, id, dtype, device and
any setting baked into the model). What a capability keeps per camera (a tracker's memory, a camera's intrinsics)
stays on the capability. The node releases the whole store on ``cleanup``/``shutdown`` (:func:`release_models`), after
its capabilities dropped their references, so the weights are freed then.

Models are used on the node's one worker thread (per-frame hooks, ``run_on_worker``), never concurrently.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any, Callable, Dict, Hashable, Optional


class ModelStore:
    """Loaded models by key (a tuple such as ``(kind, model_id, dtype, device)``)."""

    def __init__(self) -> None:
        self._models: Dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The model stored under ``key``; ``load()`` it first if there is none (its exception propagates and
        nothing is stored, so the next call tries again)."""
        with self._lock:
            if key not in self._models:
                self._models[key] = load()
            return self._models[key]

    def peek(self, key: Hashable) -> Optional[Any]:
        """The model stored under ``key``, or None (never loads)."""
        with self._lock:
            return self._models.get(key)

    def drop(self, key: Hashable) -> None:
        """Forget one model (e.g. a failed or replaced one)."""
        with self._lock:
            self._models.pop(key, None)

    def loaded(self) -> list:
        """The keys of the loaded models."""
        with self._lock:
            return list(self._models)

    def release(self) -> None:
        """Forget every model and collect, so their memory is returned once nothing else refers to them."""
        with self._lock:
            self._models.clear()
        gc.collect()


_STORES: "weakref.WeakKeyDictionary[Any, ModelStore]" = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def models_of(node: Any) -> ModelStore:
    """The store of ``node`` (made on first use)."""
    with _STORES_LOCK:
        store = _STORES.get(node)
        if store is None:
            store = _STORES[node] = ModelStore()
        return store


def release_models(node: Any) -> None:
    """Release ``node``'s store (the node's cleanup / shutdown)."""
    with _STORES_LOCK:
        store = _STORES.pop(node, None)
    if store is not None:
        store.release()
