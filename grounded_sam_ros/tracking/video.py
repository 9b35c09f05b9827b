# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 / EdgeTAM video propagation through transformers' streaming inference session, with bounded memory.

transformers' ``Sam2VideoModel`` (and ``EdgeTamVideoModel``) keep a per-object memory bank in an inference session:
``model(inference_session=session, frame=pixel_values)`` adds a streamed frame and predicts every object in it.
Left alone the session keeps every frame's pixels, every frame's outputs and every conditioning frame forever, so
a long stream grows without bound (and, with ``max_cond_frame_num=-1``, so does the per-frame cost). After each
frame :meth:`VideoPropagator._prune` drops what the model will never read again:

- processed frames other than the current one (the image features of the current frame stay in the session cache);
- non-conditioning outputs older than the model's window: ``num_maskmem - 1`` mask memories and
  ``max_object_pointers_in_encoder - 1`` object pointers (6 and 15 for SAM 2.1) — in streaming the model looks no
  further back, so this part is lossless;
- conditioning outputs (the key frames where a detection refreshed the track) beyond the ``cond_frames`` most recent
  per object — this bounds what is otherwise unbounded, and is the one place where results can differ from an
  unpruned session (only once a track has been refreshed more than ``cond_frames`` times);
- per-frame bookkeeping (inputs, tracked-frame flags) of frames before the window.

Objects are removed by rebuilding the session's object tables without them (the session has no removal API), so a
finished track costs nothing afterwards.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, NamedTuple, Optional, Tuple

import numpy as np

from grounded_sam_ros.models.loading import LoadOptions, load_pretrained
from grounded_sam_ros.models.precision import inference
from grounded_sam_ros.models.sam2_preprocess import Sam2Preprocessor

# object id -> ((h, w) float32 low-res mask logits over the S x S input, object-score logit)
Predictions = Dict[int, Tuple[np.ndarray, float]]


def _classes(family: str) -> Tuple[Any, Any]:
    """(video model class, inference session class) of ``family``."""
    if family == "sam2":
        from transformers import Sam2VideoModel
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        return Sam2VideoModel, Sam2VideoInferenceSession
    if family == "edgetam":
        from transformers import EdgeTamVideoModel
        from transformers.models.edgetam_video.modeling_edgetam_video import EdgeTamVideoInferenceSession

        return EdgeTamVideoModel, EdgeTamVideoInferenceSession
    raise ValueError(f"video model family {family!r}: expected 'sam2' or 'edgetam'")


class LoadedVideoModel(NamedTuple):
    """A loaded video model and what a stream needs with it; read-only, shareable between streams."""

    model: Any  # Sam2VideoModel / EdgeTamVideoModel, float32 weights on the device
    session_class: Any
    preprocessor: Sam2Preprocessor


def load_video_model(model_id: str, family: str, options: LoadOptions) -> LoadedVideoModel:
    """Load ``model_id`` (family ``sam2`` or ``edgetam``) on ``options.device`` (float32 weights: a stream runs it
    under autocast to ``options.dtype``)."""
    import torch

    if family == "edgetam":
        from grounded_sam_ros.models.sam2 import check_edgetam_backbone

        check_edgetam_backbone()
    model_class, session_class = _classes(family)
    model = load_pretrained(model_class, model_id, options, what="video model")
    model.to(device=options.device, dtype=torch.float32)
    return LoadedVideoModel(model.eval(), session_class, Sam2Preprocessor.from_pretrained(model_id, options))


class VideoPropagator:
    """One stream's video-model state. Given a built video model; never opens files (see :meth:`from_pretrained`).

    Call :meth:`step` once per frame, then :meth:`refresh` on key frames to give objects a new mask.
    """

    def __init__(
        self,
        model: Any,
        session_class: Any,
        preprocessor: Sam2Preprocessor,
        device: str = "cpu",
        dtype: Any = None,
        cond_frames: int = 2,
        memory_frames: int = 0,
    ) -> None:
        import torch

        self.model = model.eval()
        self.preprocessor = preprocessor
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32
        self.cond_frames = int(cond_frames)
        self._session_class = session_class
        self._stored = next(model.parameters()).dtype
        config = model.config
        if 0 < memory_frames < config.num_maskmem - 1:
            # The model attends to num_maskmem - 1 recent frames (read at run time): fewer is cheaper, lossy
            model.num_maskmem = memory_frames + 1
        self.window = max(config.num_maskmem - 1, config.max_object_pointers_in_encoder - 1, 1)
        self.session: Any = None
        self.frame_idx = -1
        self.original_size: Tuple[int, int] = (0, 0)
        self.source = ""  # the checkpoint it was loaded from (set by from_pretrained)

    @classmethod
    def from_pretrained(
        cls,
        model_id: str,
        family: str,
        options: LoadOptions,
        cond_frames: int = 2,
        memory_frames: int = 0,
        loaded: Optional[LoadedVideoModel] = None,
    ) -> "VideoPropagator":
        """A propagator on ``model_id``; ``loaded``: that model already loaded (:func:`load_video_model`, shared
        by several streams, e.g. the cameras of a node; same ``memory_frames`` for all of them)."""
        loaded = loaded or load_video_model(model_id, family, options)
        propagator = cls(
            loaded.model,
            loaded.session_class,
            loaded.preprocessor,
            options.device,
            options.dtype,
            cond_frames,
            memory_frames,
        )
        propagator.source = model_id
        return propagator

    @property
    def object_ids(self) -> list:
        return list(self.session.obj_ids) if self.session is not None else []

    def reset(self) -> None:
        """Forget every object and frame (a new stream or a new query)."""
        self.session = None
        self.frame_idx = -1

    def step(self, image: np.ndarray) -> Predictions:
        """Add the next frame (image: HxWx3 uint8 RGB) and predict every object in it from memory."""
        height, width = image.shape[:2]
        if self.session is None or (height, width) != self.original_size:
            self._new_session(height, width)
        pixels = self.preprocessor.pixel_values(image, self.device)[0]
        if not self.session.obj_ids:
            self.frame_idx = self.session.add_new_frame(pixels, self.frame_idx + 1)
            self._prune()
            return {}
        with inference(self.device, self.dtype, self._stored):
            out = self.model(inference_session=self.session, frame=pixels, frame_idx=self.frame_idx + 1)
        self.frame_idx = int(out.frame_idx)
        self._prune()
        return self._predictions(out)

    def image_embeddings(self) -> list:
        """The current frame's image features as ``Sam2Model.get_image_embeddings`` returns them (computed once:
        propagation and the key frame's masks share them)."""
        session, frame = self.session, self.frame_idx
        cached = session.cache.get_vision_features(frame)
        if cached is None:
            with inference(self.device, self.dtype, self._stored):
                out = self.model.get_image_features(session.get_frame(frame)[None], return_dict=True)
            cached = {"vision_feats": out.fpn_hidden_states, "vision_pos_embeds": out.fpn_position_encoding}
            session.cache.cache_vision_features(frame, cached)
        features = list(cached["vision_feats"])  # (h*w, 1, C) per level
        features[-1] = features[-1] + self.model.no_memory_embedding  # as the image model does
        sizes = self.model.backbone_feature_sizes
        return [f.permute(1, 2, 0).reshape(1, -1, *size).float() for f, size in zip(features, sizes)]

    def refresh(self, masks: Dict[int, np.ndarray]) -> Predictions:
        """Condition objects on this frame's masks (new objects are created): ``masks`` id -> HxW bool.

        The current frame becomes a conditioning (key) frame of each of these objects, as when a user prompts it.
        """
        import torch
        from torch.nn import functional

        if not masks:
            return {}
        session, frame = self.session, self.frame_idx
        size = self.preprocessor.size
        for obj_id, mask in masks.items():
            idx = session.obj_id_to_idx(int(obj_id))
            # As Sam2VideoProcessor.process_new_mask_for_video_frame: resize to S x S, antialiased, threshold 0.5
            full = torch.as_tensor(np.asarray(mask, dtype=np.float32), device=self.device)[None, None]
            if tuple(full.shape[-2:]) != size:
                full = functional.interpolate(full, size=size, mode="bilinear", align_corners=False, antialias=True)
                full = (full >= 0.5).float()
            session.add_mask_inputs(idx, frame, full)
            session.remove_point_inputs(idx, frame)
            # A key frame for this object: drop what propagation stored for it on this frame
            session.frames_tracked_per_obj[idx].pop(frame, None)
            session.output_dict_per_obj[idx]["non_cond_frame_outputs"].pop(frame, None)
        session.obj_with_new_inputs = [int(i) for i in masks]
        with inference(self.device, self.dtype, self._stored):
            out = self.model(inference_session=session, frame_idx=frame)
        self._prune()
        return self._predictions(out)

    def remove(self, obj_ids: Iterable[int]) -> None:
        """Drop objects and their memory (rebuilds the session's object tables without them)."""
        drop = {int(i) for i in obj_ids}
        old = self.session
        if old is None or not drop & set(old.obj_ids):
            return
        new = self._session_class(
            video_height=old.video_height,
            video_width=old.video_width,
            inference_device=old.inference_device,
            inference_state_device=old.inference_state_device,
            video_storage_device=old.video_storage_device,
            dtype=old.dtype,
        )
        new.processed_frames, new.cache = old.processed_frames, old.cache
        for obj_id in old.obj_ids:
            if obj_id in drop:
                continue
            src, dst = old.obj_id_to_idx(obj_id), new.obj_id_to_idx(obj_id)
            new.point_inputs_per_obj[dst] = old.point_inputs_per_obj[src]
            new.mask_inputs_per_obj[dst] = old.mask_inputs_per_obj[src]
            new.output_dict_per_obj[dst] = old.output_dict_per_obj[src]
            new.frames_tracked_per_obj[dst] = old.frames_tracked_per_obj[src]
        self.session = new

    def _new_session(self, height: int, width: int) -> None:
        import torch

        self.session = self._session_class(
            video_height=height,
            video_width=width,
            inference_device=self.device,
            inference_state_device=self.device,
            video_storage_device=self.device,
            dtype=torch.float32,
        )
        self.original_size = (height, width)
        self.frame_idx = -1

    def _predictions(self, out: Any) -> Predictions:
        logits = out.pred_masks.float().reshape(len(out.object_ids), *out.pred_masks.shape[-2:]).cpu().numpy()
        scores = out.object_score_logits.float().reshape(-1).cpu().numpy()
        return {int(i): (logits[k], float(scores[k])) for k, i in enumerate(out.object_ids)}

    def _prune(self) -> None:
        """Bound the session's memory (see the module docstring)."""
        session, frame = self.session, self.frame_idx
        oldest = frame - self.window + 1  # the next frame reads frames next-1 .. next-window
        for key in [k for k in session.processed_frames or {} if k != frame]:
            del session.processed_frames[key]
        for idx in list(session.output_dict_per_obj):
            outputs = session.output_dict_per_obj[idx]
            for key in [k for k in outputs["non_cond_frame_outputs"] if k < oldest]:
                del outputs["non_cond_frame_outputs"][key]
            cond = sorted(outputs["cond_frame_outputs"])
            for key in cond[: max(0, len(cond) - self.cond_frames)]:
                del outputs["cond_frame_outputs"][key]
            for table in (session.frames_tracked_per_obj, session.point_inputs_per_obj, session.mask_inputs_per_obj):
                for key in [k for k in table[idx] if k < oldest]:
                    del table[idx][key]
