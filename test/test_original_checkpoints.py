# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Original release checkpoints (.pth) converted on load: parity, caching, and clear failures.

- With the original segment-anything / SAM-HQ code available outside the repository (see
  ``original_reference.reference_dir``), a tiny SAM built from the ORIGINAL classes is saved as a .pth, loaded
  through the pipeline's loader, and must give the same low-res logits, IoU predictions and masks.
- Always: an original-layout state dict written from the published key layout (``original_sam_keys``) of a tiny
  transformers model loads strictly and gives that model's outputs exactly.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from grounded_sam_ros.config import PipelineConfig
from grounded_sam_ros.data import load_image, sample_image
from grounded_sam_ros.models import LoadOptions, build_segmenter
from grounded_sam_ros.models.families import infer_family
from grounded_sam_ros.postprocess import MaskUpsampler

sys.path.insert(0, str(Path(__file__).parent))
from original_reference import import_modeling, original_grounding_dino_keys, original_sam_keys, reference_dir

IMAGE = load_image(sample_image("chelsea"))  # 451x300
BOXES = np.array([[20, 30, 200, 250], [150, 60, 440, 290]], np.float32)


@pytest.fixture(autouse=True)
def converted_cache(tmp_path, monkeypatch):
    """Converted checkpoints go to a per-test cache (``local_cache`` follows XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "grounded_sam_ros" / "converted"


def _decode(segmenter, image=IMAGE, boxes=BOXES):
    state = segmenter.embed(segmenter.preprocess(image))
    return segmenter.decode(state, boxes, multimask=False), state


# Parity with the original classes (where their code is available)


def _original_tiny_sam(name: str):
    root = reference_dir(name)
    if root is None:
        pytest.skip(
            f"original {name} code not found (set ${'GSR_SAM_HQ' if name == 'sam-hq' else 'GSR_SEGMENT_ANYTHING'})"
        )
    modules = import_modeling(root, f"_reference_{name.replace('-', '_')}")
    torch.manual_seed(0)
    encoder = modules["image_encoder"].ImageEncoderViT(
        img_size=256,
        patch_size=16,
        embed_dim=32,
        depth=2,
        num_heads=2,
        out_chans=32,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        global_attn_indexes=[1],
        window_size=4,
    )
    prompt = modules["prompt_encoder"].PromptEncoder(
        embed_dim=32, image_embedding_size=(16, 16), input_image_size=(256, 256), mask_in_chans=16
    )
    transformer = modules["transformer"].TwoWayTransformer(depth=2, embedding_dim=32, mlp_dim=64, num_heads=8)
    decoder_args = {
        "num_multimask_outputs": 3,
        "transformer": transformer,
        "transformer_dim": 32,
        "iou_head_hidden_dim": 32,
    }
    if name == "sam-hq":
        decoder = modules["mask_decoder_hq"].MaskDecoderHQ(**decoder_args, vit_dim=32)
    else:
        decoder = modules["mask_decoder"].MaskDecoder(**decoder_args)
    sam = modules["sam"].Sam(image_encoder=encoder, prompt_encoder=prompt, mask_decoder=decoder).eval()
    with torch.no_grad():  # zero-initialised position tables would hide a wrong mapping
        for name_, param in sam.named_parameters():
            if "pos_embed" in name_ or "rel_pos" in name_:
                param.normal_(0.0, 0.05)
    return sam


@pytest.mark.parametrize("name", ["segment-anything", "sam-hq"])
def test_original_classes_parity(name, tmp_path):
    sam = _original_tiny_sam(name)
    path = tmp_path / f"{name}_tiny.pth"
    torch.save(sam.state_dict(), path)

    family = infer_family(str(path), LoadOptions())
    assert family == ("sam_hq" if name == "sam-hq" else "sam")
    segmenter = build_segmenter(family, str(path), LoadOptions())
    (logits, scores), state = _decode(segmenter)

    # The original model on the same input tensor and the same boxes (in the resized frame, as SamPredictor)
    inputs = segmenter.preprocess(IMAGE)
    (height, width), (rh, rw) = state.original_size, state.resized_size
    boxes = torch.as_tensor(BOXES * np.array([rw / width, rh / height] * 2, np.float32))
    with torch.no_grad():
        encoded = sam.image_encoder(inputs["pixel_values"])
        embedding, interm = encoded if name == "sam-hq" else (encoded, None)
        sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
        extra = {"hq_token_only": False, "interm_embeddings": interm} if name == "sam-hq" else {}
        ref_logits, ref_iou = sam.mask_decoder(
            image_embeddings=embedding,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
            **extra,
        )
        ref_masks = sam.postprocess_masks(ref_logits, (rh, rw), (height, width))[:, 0] > 0
    np.testing.assert_allclose(logits, ref_logits[:, 0].numpy(), atol=1e-4)
    np.testing.assert_allclose(scores, ref_iou[:, 0].numpy(), atol=1e-4)
    upsample = MaskUpsampler.create(logits.shape[-2:], segmenter.pad_size, (rh, rw), (height, width))
    for mask_logits, ref in zip(logits, ref_masks.numpy()):
        crop, x, y = upsample(mask_logits)
        mask = np.zeros((height, width), bool)
        mask[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        union = np.logical_or(mask, ref).sum()
        assert union == 0 or np.logical_and(mask, ref).sum() / union >= 0.99
    if name == "sam-hq":
        # Without use_original_hq_upscaling, transformers' SAM-HQ decoder does not reproduce the original
        from transformers import SamHQModel

        from grounded_sam_ros.models.original import converted_dir

        plain = SamHQModel.from_pretrained(converted_dir(str(path))).eval()
        with torch.no_grad():
            out = plain(
                image_embeddings=embedding,
                intermediate_embeddings=interm,
                input_boxes=boxes[None],
                multimask_output=False,
            )
        assert np.abs(out.pred_masks[0, :, 0].numpy() - ref_logits[:, 0].numpy()).max() > 1e-2


def test_published_key_layout_matches_original_classes():
    """The key list the CI fallback writes equals the original classes' state dict, key for key and shape."""
    from grounded_sam_ros.models.original_sam import sam_config_from_state

    for name in ("segment-anything", "sam-hq"):
        state = _original_tiny_sam(name).state_dict()
        layout = original_sam_keys(sam_config_from_state(state))
        assert layout == {k: tuple(v.shape) for k, v in state.items()}


# Parity with the transformers model the original-layout file was written from (always runs)


def _write_original(model, path: Path) -> None:
    """Save ``model``'s weights under the original release's key names (the inverse of the loader's map)."""
    from grounded_sam_ros.models.original_sam import _mlp_depths, rename_sam_key

    layout = original_sam_keys(model.config)
    depths = _mlp_depths(layout)
    hf_state = model.state_dict()
    original = {key: hf_state[rename_sam_key(key, depths)[0]].clone() for key in layout}
    assert {k: tuple(v.shape) for k, v in original.items()} == layout
    torch.save(original, path)


@pytest.mark.parametrize("kind", ["sam", "sam_hq"])
def test_original_layout_loads_strictly_with_equal_outputs(kind, tmp_path, converted_cache):
    from grounded_sam_ros.models import tiny_zoo
    from grounded_sam_ros.models.tiny import build_tiny_sam

    source = (build_tiny_sam if kind == "sam" else tiny_zoo.build_tiny_sam_hq)(tmp_path / "source")
    expected_segmenter = build_segmenter(kind, str(source), LoadOptions())
    path = tmp_path / f"{kind}_vit_tiny.pth"
    _write_original(expected_segmenter.model, path)

    segmenter = build_segmenter(kind, str(path), LoadOptions())
    (logits, scores), _ = _decode(segmenter)
    (ref_logits, ref_scores), _ = _decode(expected_segmenter)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-5)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
    # Cached as safetensors: the next load does not read the .pth again
    (cached,) = converted_cache.iterdir()
    assert (cached / "model.safetensors").is_file() and (cached / "config.json").is_file()


def test_second_start_uses_the_cache(tmp_path, converted_cache, monkeypatch, tiny_models):
    from grounded_sam_ros.models import original

    path = tmp_path / "sam_vit_tiny.pth"
    _write_original(build_segmenter("sam", str(tiny_models[1]), LoadOptions()).model, path)
    first = original.converted_dir(str(path))

    def no_reading(_path):
        raise AssertionError("the checkpoint was read again instead of using the converted cache")

    monkeypatch.setattr(original, "read_checkpoint", no_reading)
    assert original.converted_dir(str(path)) == first
    # Through the pipeline config, family inferred, from the cache
    config = PipelineConfig(segmenter_model=str(path), detector_model=str(tiny_models[0]), device="cpu")
    from grounded_sam_ros.pipeline import resolve_families

    assert resolve_families(config, LoadOptions()) == {"detector": "grounding_dino", "segmenter": "sam"}


# Wrong or truncated files fail with a clear reason


def test_bad_files_fail_with_the_reason(tmp_path, tiny_models):
    good = tmp_path / "sam_vit_tiny.pth"
    model = build_segmenter("sam", str(tiny_models[1]), LoadOptions()).model
    _write_original(model, good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"not a readable PyTorch checkpoint.*truncated"):
        build_segmenter("sam", str(truncated), LoadOptions())

    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        build_segmenter("sam", str(text), LoadOptions())

    state = torch.load(good, weights_only=True)
    missing = dict(state)
    del missing["image_encoder.blocks.0.attn.qkv.weight"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(
        ValueError, match=r"model weights not in the file: vision_encoder\.layers\.0\.attn\.qkv\.weight"
    ):
        build_segmenter("sam", str(tmp_path / "missing.pth"), LoadOptions())

    extra = dict(state, **{"mask_decoder.extra_head.weight": torch.zeros(2)})
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match=r"original keys with no mapping: mask_decoder\.extra_head\.weight"):
        build_segmenter("sam", str(tmp_path / "extra.pth"), LoadOptions())

    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="not an original SAM, SAM-HQ or Grounding DINO checkpoint"):
        build_segmenter("sam", str(other), LoadOptions())

    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_segmenter("sam", str(tmp_path / "absent.pth"), LoadOptions())

    # A SAM file given as the detector: refused with the reason, before loading the detector
    from grounded_sam_ros.pipeline import resolve_families

    config = PipelineConfig(detector_model=str(good), segmenter_model=str(tiny_models[1]))
    with pytest.raises(ValueError, match="is a segmenter"):
        resolve_families(config, LoadOptions())


# Grounding DINO: its original code needs torchvision and a compiled op, so no original-classes run here; the map is
# checked against the published layout (original_grounding_dino_keys) and the transformers model's outputs


def _tiny_grounding_dino_config():
    """Tiny sizes, but the published head and point counts (8 heads, 4 points: not visible in the shapes) and
    BERT's 64-wide heads, which the converter assumes."""
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    return GroundingDinoConfig(
        backbone_config=SwinConfig(
            window_size=7, embed_dim=8, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], out_indices=[2, 3, 4]
        ),
        text_config=BertConfig(
            vocab_size=60, hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=32
        ),
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=16,
        decoder_ffn_dim=16,
        num_queries=30,
        max_text_len=256,
    )


def test_grounding_dino_original_layout_loads_strictly_with_equal_outputs(tmp_path, tiny_models):
    from transformers import BertTokenizer, GroundingDinoForObjectDetection, GroundingDinoProcessor
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import (
        GroundingDinoImageProcessorPil,
    )

    from grounded_sam_ros.models import build_detector
    from grounded_sam_ros.models.original_grounding_dino import IGNORED, rename_grounding_dino_key

    # The transformers model the original-layout file is written from
    config = _tiny_grounding_dino_config()
    torch.manual_seed(0)
    source = GroundingDinoForObjectDetection(config).eval()
    with torch.no_grad():
        source.model.decoder.layer_norm.weight.mul_(0.15)  # spread the scores (as the tiny test models do)
    reference_dir_ = tmp_path / "reference"
    source.save_pretrained(reference_dir_)
    vocab = Path(tiny_models[0]) / "vocab.txt"
    processor = GroundingDinoProcessor(GroundingDinoImageProcessorPil(), BertTokenizer(str(vocab)))
    processor.save_pretrained(reference_dir_)

    hf_state = source.state_dict()
    layout = original_grounding_dino_keys(config)
    original = {}
    for key, shape in layout.items():
        if IGNORED.search(key):  # buffers and the unused BERT pooler: any value
            original[key] = torch.zeros(shape)
            continue
        targets = [name for name, _ in rename_grounding_dino_key(key, torch.zeros(shape))]
        original[key] = torch.cat([hf_state[t] for t in targets]) if len(targets) == 3 else hf_state[targets[0]]
        assert tuple(original[key].shape) == shape, key
    folder = tmp_path / "release"
    folder.mkdir()
    path = folder / "groundingdino_tiny.pth"
    torch.save({"model": original}, path)  # the release files wrap the state dict in {"model": ...}
    (folder / "vocab.txt").write_bytes(vocab.read_bytes())

    assert infer_family(str(path), LoadOptions()) == "grounding_dino"
    converted = build_detector("grounding_dino", str(path), LoadOptions())
    expected = build_detector("grounding_dino", str(reference_dir_), LoadOptions())
    for detector in (converted, expected):
        detector.prompt = detector.encode_text(["cat", "red cup"])
    got = converted.forward(converted.preprocess(IMAGE), converted.prompt)
    want = expected.forward(expected.preprocess(IMAGE), expected.prompt)
    np.testing.assert_allclose(got.token_probs, want.token_probs, atol=1e-5)
    np.testing.assert_allclose(got.boxes_cxcywh, want.boxes_cxcywh, atol=1e-5)
    assert 0.05 < float(want.token_probs.max(axis=1).mean()) < 0.95  # scores spread: a real comparison

    # A Grounding DINO file is not a segmenter
    from grounded_sam_ros.pipeline import resolve_families

    with pytest.raises(ValueError, match="is a detector"):
        resolve_families(PipelineConfig(detector_model=str(path), segmenter_model=str(path)), LoadOptions())


def test_grounding_dino_published_layout_has_the_published_parameter_count():
    """The layout the converter maps, at the Swin-T OGC configuration (``GroundingDinoConfig()``), holds exactly
    the 172,839,682 parameters a public parameter dump of IDEA-Research's Swin-T OGC model reports (shared box
    heads counted once, buffers excluded) — and every one of its keys has a mapping."""
    import math
    import re

    from transformers import GroundingDinoConfig

    from grounded_sam_ros.models.original_grounding_dino import IGNORED, rename_grounding_dino_key

    layout = original_grounding_dino_keys(GroundingDinoConfig())
    shared = re.compile(r"^(transformer\.decoder\.bbox_embed\.|bbox_embed\.[1-9])")
    buffers = re.compile(r"relative_position_index|position_ids")
    total = sum(math.prod(s) for k, s in layout.items() if not shared.match(k) and not buffers.search(k))
    assert total == 172_839_682
    unmapped = [
        k for k, s in layout.items() if not IGNORED.search(k) and not rename_grounding_dino_key(k, torch.zeros(s))
    ]
    assert unmapped == []
