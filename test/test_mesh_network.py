# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The OSX network and its checkpoints: published layout loads strictly, mismatches are named, pieces match
straightforward references, sizes match the published parameter counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grounded_sam_ros.mesh.checkpoint import load_network
from grounded_sam_ros.mesh.config import ARCHITECTURES, DEPTH_FACTOR, Architecture
from grounded_sam_ros.mesh.heads import restore_box, sample_joint_features, soft_argmax_3d
from grounded_sam_ros.mesh.network import OSXNetwork, camera_translation
from grounded_sam_ros.mesh.synthetic import original_state_dict, random_network, write_original_checkpoint

TINY = ARCHITECTURES["tiny_random"]  # 32 wide, 2 blocks: random weights only


@pytest.fixture(scope="module")
def tiny_net():
    return random_network(TINY, seed=1)


@pytest.fixture(scope="module")
def crops():
    return torch.rand(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))


def test_published_layout_loads_strictly_and_reproduces_outputs(tmp_path, tiny_net, crops):
    path = write_original_checkpoint(tmp_path / "osx_tiny_wo_decoder.pth.tar", tiny_net)
    raw = torch.load(path, weights_only=True)
    assert any(k.startswith("module.backbone.blocks.0.attn.qkv") for k in raw["network"])
    assert any(k.startswith("module.body_rotation_net.") for k in raw["network"])
    loaded = load_network(path)
    assert loaded.arch.name == "tiny_random"  # width and depth read from the weights
    want, got = tiny_net(crops), loaded(crops)
    for name, value in vars(want).items():
        torch.testing.assert_close(getattr(got, name), value, rtol=0, atol=0, msg=name)
    shapes = {k: tuple(v.shape) for k, v in vars(got).items()}
    assert shapes == {
        "root_pose": (2, 3), "body_pose": (2, 63), "lhand_pose": (2, 45), "rhand_pose": (2, 45), "jaw_pose": (2, 3),
        "betas": (2, 10), "expression": (2, 10), "cam_trans": (2, 3), "lhand_box": (2, 4), "rhand_box": (2, 4),
        "face_box": (2, 4),
    }  # fmt: skip
    assert all(torch.isfinite(v).all() for v in vars(got).values())


def test_split_qkv_and_unprefixed_keys_load(tmp_path, tiny_net, crops):
    state = {k.removeprefix("module."): v for k, v in original_state_dict(tiny_net).items()}
    for key in [k for k in state if k.endswith("attn.qkv.weight") or k.endswith("attn.qkv.bias")]:
        stem, kind = key.rsplit(".qkv.", 1)
        for name, part in zip("qkv", state.pop(key).chunk(3, dim=0)):
            state[f"{stem}.{name}.{kind}"] = part
    path = tmp_path / "split.pth"
    torch.save({"network": state}, path)
    torch.testing.assert_close(load_network(path)(crops).body_pose, tiny_net(crops).body_pose, rtol=0, atol=0)


@pytest.mark.parametrize(
    "change, pattern",
    [
        ("drop", r"missing \(1\): body_regressor\.cam_out\.0\.bias"),
        ("extra", r"unexpected \(1\): encoder\.blocks\.0\.attn\.relative_position_bias_table"),
        ("shape", r"wrong shape \(1\): face_regressor\.expr_out\.0\.weight \(11, 32\) != \(10, 32\)"),
    ],
)
def test_mismatched_checkpoint_names_the_key(tmp_path, tiny_net, change, pattern):
    state = original_state_dict(tiny_net)
    if change == "drop":
        del state["module.body_rotation_net.cam_out.0.bias"]
    elif change == "extra":
        state["module.backbone.blocks.0.attn.relative_position_bias_table"] = torch.zeros(3)
    else:
        state["module.face_regressor.expr_out.0.weight"] = torch.zeros(11, 32)
    path = tmp_path / "bad.pth.tar"
    torch.save({"network": state}, path)
    with pytest.raises(ValueError, match=pattern):
        load_network(path)


def test_full_osx_with_decoders_is_refused(tmp_path, tiny_net):
    path = write_original_checkpoint(
        tmp_path / "osx_l.pth.tar", tiny_net, {"module.hand_decoder.layers.0.w": torch.zeros(1)}
    )
    with pytest.raises(ValueError, match=r"keypoint-guided decoders.*osx_l_wo_decoder"):
        load_network(path)


def test_missing_and_unreadable_checkpoints_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mesh\.model.*osx_l_wo_decoder\.pth\.tar.*SMPLer-X"):
        load_network(tmp_path / "nope.pth.tar")
    bad = tmp_path / "garbage.pth.tar"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="weights_only=True"):
        load_network(bad)


def test_unknown_size_is_refused(tmp_path):
    net = random_network(Architecture("odd", 48, 3, 3, "-"))
    path = write_original_checkpoint(tmp_path / "odd.pth.tar", net)
    with pytest.raises(ValueError, match="48 wide and 3 blocks deep"):
        load_network(path)


def test_table_sizes_match_the_published_parameter_counts():
    # SMPLer-X README: S 32M, B 103M, L 327M, H 662M (the whole network: encoder and heads)
    published = {"smpler_x_s": 32e6, "smpler_x_b": 103e6, "smpler_x_l": 327e6, "smpler_x_h": 662e6, "osx_l": 327e6}
    for name, count in published.items():
        with torch.device("meta"):
            net = OSXNetwork(ARCHITECTURES[name])
        assert sum(p.numel() for p in net.parameters()) == pytest.approx(count, rel=0.005), name


def test_encoder_equals_a_plain_attention_reference(tiny_net, crops):
    enc = tiny_net.encoder
    feats, tokens = enc(crops)
    assert feats.shape == (2, 32, 16, 12) and tokens.shape == (2, 31, 32)
    # Reference: conv patches, explicit softmax(q k^T / sqrt(d)) v attention, exact-erf GELU, eps 1e-6
    x = torch.nn.functional.conv2d(crops, enc.patch_embed.proj.weight, enc.patch_embed.proj.bias, stride=16, padding=2)
    x = x.flatten(2).transpose(1, 2) + enc.pos_embed[:, 1:] + enc.pos_embed[:, :1]
    x = torch.cat((enc.task_tokens.expand(2, -1, -1), x), 1)

    def ln(t, m):
        mu, var = t.mean(-1, keepdim=True), t.var(-1, unbiased=False, keepdim=True)
        return (t - mu) / torch.sqrt(var + 1e-6) * m.weight + m.bias

    for blk in enc.blocks:
        h = ln(x, blk.norm1)
        q, k, v = (h @ blk.attn.qkv.weight.T + blk.attn.qkv.bias).chunk(3, dim=-1)
        heads = []
        for i in range(2):
            sl = slice(16 * i, 16 * (i + 1))
            att = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(16), dim=-1)
            heads.append(att @ v[..., sl])
        x = x + torch.cat(heads, -1) @ blk.attn.proj.weight.T + blk.attn.proj.bias
        h = ln(x, blk.norm2) @ blk.mlp.fc1.weight.T + blk.mlp.fc1.bias
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        x = x + h @ blk.mlp.fc2.weight.T + blk.mlp.fc2.bias
    x = ln(x, enc.last_norm)
    torch.testing.assert_close(tokens, x[:, :31], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(feats, x[:, 31:].transpose(1, 2).reshape(2, 32, 16, 12), rtol=1e-4, atol=1e-5)


def test_soft_argmax_and_feature_sampling_match_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 4, 5, 6, 7))
    got = soft_argmax_3d(torch.from_numpy(logits)).numpy()
    p = np.exp(logits - logits.reshape(2, 4, -1).max(-1)[..., None, None, None])
    p /= p.reshape(2, 4, -1).sum(-1)[..., None, None, None]
    zz, yy, xx = np.meshgrid(np.arange(5), np.arange(6), np.arange(7), indexing="ij")
    want = np.stack([(p * g).reshape(2, 4, -1).sum(-1) for g in (xx, yy, zz)], -1)
    np.testing.assert_allclose(got, want, atol=1e-10)
    # Bilinear sampling at (x, y) pixel positions, corners aligned
    feat = rng.normal(size=(1, 3, 6, 5))
    pts = np.array([[[0.0, 0.0], [4.0, 5.0], [1.25, 2.5]]])
    got = sample_joint_features(torch.from_numpy(feat), torch.from_numpy(pts)).numpy()
    x, y = 1.25, 2.5
    want = (
        feat[0, :, 2, 1] * 0.75 * 0.5 + feat[0, :, 2, 2] * 0.25 * 0.5 + feat[0, :, 3, 1] * 0.75 * 0.5
        + feat[0, :, 3, 2] * 0.25 * 0.5
    )  # fmt: skip
    np.testing.assert_allclose(got[0, 2], want, atol=1e-10)
    np.testing.assert_allclose(got[0, 0], feat[0, :, 0, 0], atol=1e-10)
    np.testing.assert_allclose(got[0, 1], feat[0, :, 5, 4], atol=1e-10)
    assert (x, y) == (1.25, 2.5)


def test_restore_box_and_camera_translation_follow_osx():
    # Centre (6, 8) on the 16x12 grid = (96, 128) px; size (2, 1) cells = (32, 16) px; square, x2
    box = restore_box(torch.tensor([[6.0, 8.0]]), torch.tensor([[2.0, 1.0]]), 1.0, 2.0)
    torch.testing.assert_close(box, torch.tensor([[64.0, 96.0, 128.0, 160.0]]))
    trans = camera_translation(torch.tensor([[0.1, -0.2, 0.0]]))
    torch.testing.assert_close(trans, torch.tensor([[0.1, -0.2, DEPTH_FACTOR / 2]]))
    assert DEPTH_FACTOR == pytest.approx(math.sqrt(5000 * 5000 * 2.5 * 2.5 / (256 * 192)))
