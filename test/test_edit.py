# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Editing pipeline on a tiny random SD inpainting model, against plain diffusers calls and scipy's distances."""

from __future__ import annotations

import numpy as np
import pytest

from grounded_sam_ros.editing import EditConfig, NothingToEditError
from grounded_sam_ros.results import Detection, FrameResult

STEPS = 3


def _weight(mask: np.ndarray, dilate: int, feather: int) -> np.ndarray:
    """Reference blend weight from scipy's exact Euclidean distance transform."""
    from scipy.ndimage import distance_transform_edt

    distance = distance_transform_edt(~mask)
    if feather == 0:
        return (distance <= dilate).astype(np.float32)
    return np.clip((dilate + feather - distance) / feather, 0.0, 1.0).astype(np.float32)


def _blend(image: np.ndarray, repainted: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None].astype(np.float64)
    mixed = np.rint(image * (1.0 - w) + repainted.astype(np.float64) * w).astype(np.uint8)
    return np.where(w > 0, mixed, image)


def _scene(height: int, width: int, box: tuple, seed: int = 0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return image, mask


@pytest.fixture(scope="module")
def editor(tiny_inpainter):
    from grounded_sam_ros.editing.editor import load_editor

    return load_editor(EditConfig(model=str(tiny_inpainter), device="cpu", steps=STEPS, dilate=3, feather=4))


@pytest.fixture(scope="module")
def plain_pipe(tiny_inpainter):
    from diffusers import StableDiffusionInpaintPipeline

    pipe = StableDiffusionInpaintPipeline.from_pretrained(str(tiny_inpainter))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _with(editor, **changes):
    from grounded_sam_ros.editing.editor import ImageEditor

    return ImageEditor(editor.inpainter, editor.config.replace(**changes))


def _plain_call(pipe, image, mask, seed, **kwargs):
    import torch
    from PIL import Image

    return np.asarray(
        pipe(
            prompt="a red sofa",
            image=Image.fromarray(image),
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
            num_inference_steps=STEPS,
            guidance_scale=7.5,
            strength=1.0,
            generator=torch.Generator("cpu").manual_seed(seed),
            **kwargs,
        ).images[0]
    )


def test_loads_through_auto_pipeline_at_native_resolution(editor):
    from grounded_sam_ros.editing.tiny import TINY_RESOLUTION

    assert type(editor.inpainter.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert editor.resolution == TINY_RESOLUTION


def test_weight_is_dilated_and_feathered_euclidean_distance():
    from grounded_sam_ros.editing.masks import blend_weight

    mask = np.zeros((50, 70), dtype=bool)
    mask[10:20, 30:33] = True
    mask[35, 5] = True
    for dilate, feather in ((0, 0), (3, 0), (3, 5), (0, 7)):
        np.testing.assert_allclose(blend_weight(mask, dilate, feather), _weight(mask, dilate, feather), atol=1e-5)


def test_outside_the_weight_is_the_input_exactly_and_inside_changed(editor):
    image, mask = _scene(120, 200, (100, 40, 115, 60))
    result = editor.edit(image, mask, "a red sofa", seed=0)
    weight = _weight(mask, 3, 4)
    np.testing.assert_allclose(result.weight, weight, atol=1e-5)
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    outside = weight == 0
    assert np.array_equal(result.image[outside], image[outside])
    inside = weight == 1
    assert np.any(result.image[inside] != image[inside], axis=-1).mean() > 0.9


def test_same_seed_same_image_other_seed_other_image(editor):
    image, mask = _scene(96, 96, (30, 30, 60, 50))
    first = editor.edit(image, mask, "a red sofa", seed=7).image
    assert np.array_equal(editor.edit(image, mask, "a red sofa", seed=7).image, first)
    other = editor.edit(image, mask, "a red sofa", seed=8).image
    assert np.any(other != first, axis=-1)[mask].mean() > 0.5


def test_full_frame_equals_a_plain_diffusers_call(editor, plain_pipe):
    # A 64x64 image is the model's own size: no resizing, the mask given to diffusers is where the weight is > 0
    image, mask = _scene(64, 64, (20, 24, 34, 40), seed=1)
    got = _with(editor, crop=False).edit(image, mask, "a red sofa", seed=3).image
    weight = _weight(mask, 3, 4)
    repainted = _plain_call(plain_pipe, image, weight > 0, seed=3, height=64, width=64)
    expected = _blend(image, repainted, weight)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_crop_equals_diffusers_padding_mask_crop(editor, plain_pipe):
    # diffusers crops around the mask, repaints at 64x64, pastes back (binary composite); we then feather the same way
    image, mask = _scene(180, 240, (110, 80, 122, 90), seed=2)
    got = _with(editor, crop_padding=8).edit(image, mask, "a red sofa", seed=5)
    weight = _weight(mask, 3, 4)
    composite = _plain_call(plain_pipe, image, weight > 0, seed=5, height=64, width=64, padding_mask_crop=8)
    expected = _blend(image, composite, weight)
    assert got.image.shape == image.shape
    assert np.abs(got.image.astype(int) - expected.astype(int)).max() <= 1


def test_small_object_in_a_large_frame_is_repainted_at_model_resolution(editor):
    image, mask = _scene(720, 1280, (600, 300, 630, 340), seed=3)
    edit = _with(editor, resolution=128, crop_padding=16)
    seen = []
    real_call = edit.inpainter.__call__

    class Spy:
        native_resolution = editor.inpainter.native_resolution

        def __call__(self, crop, crop_mask, *args, **kwargs):
            seen.append((crop.size, crop_mask.size))
            return real_call(crop, crop_mask, *args, **kwargs)

    edit.inpainter = Spy()
    result = edit.edit(image, mask, "a red sofa", seed=0)
    assert seen == [((128, 128), (128, 128))]
    region = result.region
    # The 30x40 object + dilation, feather and padding: a crop far smaller than the model's 128x128 input
    assert region.width == region.height < 128 and (region.model_width, region.model_height) == (128, 128)
    assert result.image.shape == image.shape
    changed = np.any(result.image != image, axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed[mask].mean() > 0.9
    assert region.x0 <= xs.min() and xs.max() < region.x1 and region.y0 <= ys.min() and ys.max() < region.y1
    assert not changed[_weight(mask, 3, 4) == 0].any()


def test_remove_starts_from_the_surroundings_and_names_the_object(editor):
    image = np.full((96, 96, 3), 120, dtype=np.uint8)
    image[40:56, 40:56] = (255, 0, 0)  # a red square on grey
    mask = np.all(image == (255, 0, 0), axis=-1)
    seen = {}
    real_call = editor.inpainter.__call__

    class Spy:
        native_resolution = editor.inpainter.native_resolution

        def __call__(self, crop, crop_mask, prompt, negative, **kwargs):
            seen.update(crop=np.asarray(crop), mask=np.asarray(crop_mask), prompt=prompt, negative=negative, **kwargs)
            return real_call(crop, crop_mask, prompt, negative, **kwargs)

    edit = _with(editor)
    edit.inpainter = Spy()
    result = edit.edit(image, mask, mode="remove", labels=["red square"], seed=0)
    from grounded_sam_ros.editing.config import REMOVE_PROMPT

    assert seen["prompt"] == REMOVE_PROMPT and "red square" in seen["negative"]
    assert seen["strength"] == editor.config.remove_strength < 1.0
    # The model starts from grey where the red square was: no red left in its input
    crop = seen["crop"].astype(int)
    assert np.abs(crop - 120).max() <= 2
    assert result.image.shape == image.shape


def _frame(labels_scores, height=60, width=80):
    dets = []
    for i, (label, score) in enumerate(labels_scores):
        crop = np.ones((5, 5), dtype=bool)
        dets.append(Detection(label, score, np.zeros(4, np.float32), crop, mask_x=10 * i, mask_y=i, id=str(i)))
    return FrameResult(width, height, "cup . bench", dets)


def test_instance_choice_by_label_index_and_top_k():
    from grounded_sam_ros.editing.masks import select_instances, union_mask

    result = _frame([("cup", 0.9), ("bench", 0.8), ("cup", 0.7), ("cup", 0.5)])
    assert [d.id for d in select_instances(result)] == ["0", "1", "2", "3"]
    assert [d.id for d in select_instances(result, labels=["CUP"])] == ["0", "2", "3"]
    assert [d.id for d in select_instances(result, indices=[2, 1])] == ["1", "2"]
    assert [d.id for d in select_instances(result, labels=["cup"], top_k=2)] == ["0", "2"]
    union = union_mask(select_instances(result, indices=[0, 2]), 60, 80)
    expected = result.detections[0].full_mask(60, 80) | result.detections[2].full_mask(60, 80)
    assert np.array_equal(union, expected)
    with pytest.raises(NothingToEditError, match=r"found bench, cup .*label in"):
        select_instances(result, labels=["sofa"])
    with pytest.raises(ValueError, match="index 9 out of range"):
        select_instances(result, indices=[9])
    with pytest.raises(NothingToEditError, match="found nothing"):
        select_instances(_frame([]))


def test_bad_inputs_give_a_reason(editor):
    image, mask = _scene(64, 64, (10, 10, 20, 20))
    with pytest.raises(NothingToEditError, match="empty"):
        editor.edit(image, np.zeros_like(mask), "a sofa")
    with pytest.raises(ValueError, match="needs a prompt"):
        editor.edit(image, mask, "")
    with pytest.raises(ValueError, match="mode="):
        editor.edit(image, mask, "a sofa", mode="recolour")
    with pytest.raises(ValueError, match="mask shape"):
        editor.edit(image, mask[:10], "a sofa")
    with pytest.raises(ValueError, match="HxWx3"):
        editor.edit(image[..., 0], mask, "a sofa")
    with pytest.raises(ValueError, match="steps"):
        EditConfig(steps=0).validate()


def test_bad_models_give_a_reason(tmp_path, tiny_models, monkeypatch):
    from grounded_sam_ros.editing.inpainter import load_inpainter
    from grounded_sam_ros.models.loading import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_inpainter(EditConfig(model=str(tmp_path / "nope")), device="cpu")
    detector_dir = tiny_models[0]
    with pytest.raises(ModelNotFoundError, match=r"not a diffusers pipeline.*transformers model"):
        load_inpainter(EditConfig(model=str(detector_dir)), device="cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_id = "someone/no-such-inpainting"
    with pytest.raises(ModelNotFoundError, match=rf"(?s){hub_id}.*grounded-sam download {hub_id}"):
        load_inpainter(EditConfig(model="someone/no-such-inpainting", cache_dir=str(tmp_path / "cache")), device="cpu")


def test_pickle_only_pipeline_is_refused(tmp_path, tiny_inpainter):
    import shutil

    from grounded_sam_ros.editing.inpainter import check_pipeline_dir

    copy = shutil.copytree(tiny_inpainter, tmp_path / "pickled")
    weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_name("diffusion_pytorch_model.bin"))
    with pytest.raises(ValueError, match="pickle"):
        check_pipeline_dir(copy, allow_pickle=False)
    check_pipeline_dir(copy, allow_pickle=True)


def test_query_to_edit_repaints_the_union_of_the_found_masks(editor, tiny_pipeline):
    from grounded_sam_ros.data import load_image, sample_image
    from grounded_sam_ros.editing.editor import edit_query

    image = load_image(sample_image("coffee"))[::4, ::4].copy()
    found = tiny_pipeline(image, "cup")
    assert found.detections, "the tiny detector should keep boxes at the fixture's thresholds"
    result = edit_query(tiny_pipeline, editor, image, "cup", "a red cup", seed=0, top_k=2)
    height, width = image.shape[:2]
    expected = np.zeros((height, width), dtype=bool)
    for det in found.detections[:2]:
        expected |= det.full_mask(height, width)
    assert np.array_equal(result.mask, expected)
    assert [d.id for d in result.detections] == [d.id for d in found.detections[:2]]
    assert np.array_equal(result.image[result.weight == 0], image[result.weight == 0])


def test_crop_region_is_square_inside_the_image_and_follows_the_aspect_when_clipped():
    from grounded_sam_ros.editing.crop import mask_region

    mask = np.zeros((720, 1280), dtype=bool)
    mask[300:340, 600:630] = True  # 30x40 object + 16 padding: a 62x72 box, grown to 72x72 around its centre
    region = mask_region(mask, 512, 16)
    assert (region.x0, region.y0, region.x1, region.y1) == (579, 284, 651, 356)
    assert (region.model_width, region.model_height) == (512, 512)
    mask[:] = False
    mask[5:15, 1270:1280] = True  # in the corner: the square is shifted inside the image
    region = mask_region(mask, 512, 16)
    assert (region.x1, region.y0) == (1280, 0) and region.width == region.height == 31
    wide = np.zeros((100, 1000), dtype=bool)
    wide[40:60, 10:990] = True  # the square cannot fit: the whole height, the model input follows the aspect
    region = mask_region(wide, 512, 8)
    assert (region.y0, region.y1) == (0, 100) and region.model_width > 4 * region.model_height
    assert region.model_width % 8 == 0 and region.model_height % 8 == 0
