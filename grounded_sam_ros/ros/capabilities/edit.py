# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""``edit`` (grounded_sam_ros/Edit): find the query in a given image (or the latest frame), repaint what was found.

The diffusion model loads once per node (shared by every camera): at ``configure`` when ``edit.enable`` is true,
else on the first request. Detection and repainting run as one job on the node's worker, between frames, so no two
models ever run at once on the device; the service callback only waits for that job on its own callback group,
so parameters and lifecycle requests are answered meanwhile. The service always answers: ``success=false`` with
the reason for an unknown model, nothing found, a bad image or a bad request. Nothing is published.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

from grounded_sam_ros.editing.config import DEFAULT_INPAINTER, EDIT_DTYPES, MODES, EditConfig
from grounded_sam_ros.editing.masks import NothingToEditError
from grounded_sam_ros.results import FrameResult
from grounded_sam_ros.ros import conversions
from grounded_sam_ros.ros.capabilities.base import Camera, Capability, FrameContext, NodeApi
from grounded_sam_ros.ros.capabilities.requests import request_inputs
from grounded_sam_ros.ros.model_store import models_of
from grounded_sam_ros.ros.param_table import CONFIGURE, ParamSpec
from grounded_sam_ros.srv import Edit

_DEFAULTS = EditConfig()
PARAMS = (
    ParamSpec(
        "edit.enable",
        False,
        "Load the inpainting model at configure (else the 'edit' service loads it on its first request).",
        CONFIGURE,
    ),
    ParamSpec(
        "edit.model",
        DEFAULT_INPAINTER,
        "Diffusers inpainting pipeline for 'edit': Hub id (SD 1.5, SD 2, SDXL inpainting) or local directory.",
        CONFIGURE,
    ),
    ParamSpec(
        "edit.dtype",
        _DEFAULTS.dtype,
        "Inpainting precision; auto: float16 on CUDA, else float32.",
        CONFIGURE,
        choices=EDIT_DTYPES,
    ),
    ParamSpec("edit.steps", _DEFAULTS.steps, "Denoising steps per edit.", low=1, high=200),
    ParamSpec("edit.guidance", _DEFAULTS.guidance, "Classifier-free guidance scale.", low=0.0, high=50.0),
    ParamSpec("edit.dilate", _DEFAULTS.dilate, "Grow the found masks by this many pixels.", low=0, high=512),
    ParamSpec(
        "edit.feather", _DEFAULTS.feather, "Blend over this many pixels outside the grown mask.", low=0, high=512
    ),
    ParamSpec(
        "edit.crop_padding",
        _DEFAULTS.crop_padding,
        "Context (pixels) around the mask in the repainted crop.",
        low=0,
        high=4096,
    ),
)


class _SharedEditor:
    """The node's one inpainting model (every camera's capability uses it), on the worker thread only."""

    def __init__(self) -> None:
        self.editor: Any = None

    def get(self, config: EditConfig, device: str) -> Any:
        """The loaded editor with ``config``'s per-edit settings; loads the model on first use (worker thread)."""
        if self.editor is None:
            from grounded_sam_ros.editing.editor import load_editor

            try:
                self.editor = load_editor(config, device)
            except Exception as exc:
                # Every request retries the load and answers with this reason until it succeeds
                reason = f"could not load the inpainting model {config.model!r}: {type(exc).__name__}: {exc}"
                raise RuntimeError(reason) from exc
        else:
            live = {name: getattr(config, name) for name in ("steps", "guidance", "dilate", "feather", "crop_padding")}
            if any(getattr(self.editor.config, name) != value for name, value in live.items()):
                self.editor.update(**live)
        return self.editor


_SHARED_KEY = ("edit",)  # the node's model store keeps one _SharedEditor (it loads the model on first use)


class EditService(Capability):
    """The ``edit`` service of one camera (its latest frame when the request has no image)."""

    PARAMS = PARAMS

    def __init__(self, node: NodeApi, camera: Camera) -> None:
        super().__init__(node, camera)
        self._edits = 0
        self._last_s = 0.0

    def _shared(self) -> _SharedEditor:
        return models_of(self.node).get(_SHARED_KEY, _SharedEditor)

    def _config(self) -> EditConfig:
        s = self.node.settings
        return EditConfig(
            model=getattr(s, "edit.model").strip(),
            device=self.node.pipeline.config.device,
            dtype=getattr(s, "edit.dtype"),
            local_files_only=self.node.pipeline.config.local_files_only,
            allow_pickle=self.node.pipeline.config.allow_pickle,
            cache_dir=self.node.pipeline.config.cache_dir,
            steps=getattr(s, "edit.steps"),
            guidance=getattr(s, "edit.guidance"),
            dilate=getattr(s, "edit.dilate"),
            feather=getattr(s, "edit.feather"),
            crop_padding=getattr(s, "edit.crop_padding"),
        )

    def configure(self) -> None:
        self.service(Edit, "edit", self._on_edit, callback_group=MutuallyExclusiveCallbackGroup())
        if self.camera.index == 0 and getattr(self.node.settings, "edit.enable"):
            # The worker is not running yet during configure: load here, once for every camera
            config = self._config()
            started = time.monotonic()
            try:
                self._shared().get(config, config.device)
                self.node.get_logger().info(f"edit: loaded {config.model} in {time.monotonic() - started:.1f} s")
            except RuntimeError as exc:
                self.node.get_logger().error(f"edit: {exc}; the 'edit' service answers with this reason")

    def cleanup(self) -> None:
        super().cleanup()  # the node releases the model with its model store

    def diagnostics(self) -> Dict[str, str]:
        shared = models_of(self.node).peek(_SHARED_KEY)
        loaded = shared is not None and shared.editor is not None
        values = {"edit_model_loaded": str(loaded).lower(), "edits": str(self._edits)}
        if self._edits:
            values["last_edit_s"] = f"{self._last_s:.2f}"
        return values

    def _on_edit(self, request: Edit.Request, response: Edit.Response) -> Edit.Response:
        node = self.node
        response.success = False
        try:
            mode = request.mode.strip() or "replace"
            if mode not in MODES:
                raise ValueError(f"mode {request.mode!r}: expected one of {', '.join(MODES)} (empty = replace)")
            if mode == "replace" and not request.prompt.strip():
                raise ValueError("mode 'replace' needs a prompt saying what to paint (or use mode 'remove')")
            frame, query, reason = request_inputs(node, self.camera, request.image, request.query)
            if frame is None:
                response.message = reason
                return response
            started = time.monotonic()
            answer = node.run_on_worker(lambda: self._edit(frame, query, request, mode))
            if answer is None:
                response.message = "the node is shutting down"
                return response
            found, edited = answer
            response.detections = conversions.result_to_msg(found, frame.header)
            if edited is None:
                response.message = f"nothing to edit: query '{found.query}' found nothing in the image"
                return response
            response.edited = conversions.rgb_to_image_msg(edited.image, frame.header)
            self._edits += 1
            self._last_s = time.monotonic() - started
            response.success = True
            labels = ", ".join(d.label for d in edited.detections)
            response.message = (
                f"{mode}: repainted {len(edited.detections)} instance(s) [{labels}] in {self._last_s:.1f} s"
            )
        except NothingToEditError as exc:
            response.message = str(exc)
        except ValueError as exc:
            response.message = f"invalid request: {exc}"
        except Exception as exc:  # noqa: BLE001 - a service answers, it never raises
            node.count_error(self.camera, f"{type(exc).__name__}: {exc}")
            response.message = f"edit failed: {exc}"
        if not response.success:
            node.log_throttled(f"edit: {response.message}")
        return response

    def _edit(self, frame: FrameContext, query: str, request: Edit.Request, mode: str):
        """On the worker: detection (with every capability's hooks) then the edit; (FrameResult, EditResult|None)."""
        found = self.node.process(frame, query)
        if found is None:
            return None
        if not found.detections:
            return found, None
        config = self._config()
        editor = self._shared().get(config, config.device)
        edited = editor.edit_detections(
            frame.image, found, request.prompt, request.negative_prompt, mode, int(request.seed) % 2**63
        )
        used = FrameResult(found.image_width, found.image_height, found.query, edited.detections, found.timings)
        return used, edited
