# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Loading the published OSX / SMPLer-X checkpoints into :class:`OSXNetwork`, strictly.

The files are ``torch.save``-d dicts with the weights under ``network``, saved from a ``DataParallel`` model (keys
start with ``module.``). Like the original loaders we rename ``backbone`` -> ``encoder``, ``body_rotation_net`` ->
``body_regressor`` and ``hand_rotation_net`` -> ``hand_regressor``; we also fuse separate q/k/v projections into
``attn.qkv`` if a file has them split, and drop the SMPL-X layer's buffers (the training code strips them on save).
Everything else must match exactly: a missing or unexpected key, or a shape mismatch, is an error that names it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import torch

from grounded_sam_ros.mesh.config import Architecture, architecture_for
from grounded_sam_ros.mesh.network import OSXNetwork

WHERE_TO_GET = (
    "download osx_l_wo_decoder.pth.tar from the OSX release (github.com/IDEA-Research/OSX, 'Pretrained models', "
    "MIT licence) or smpler_x_{s,b,l,h}32.pth.tar from github.com/caizhongang/SMPLer-X (S-Lab licence, "
    "non-commercial)"
)
RENAMES = (
    ("backbone.", "encoder."),
    ("body_rotation_net.", "body_regressor."),
    ("hand_rotation_net.", "hand_regressor."),
)
DECODER_PREFIXES = ("hand_decoder.", "face_decoder.", "face_roi_net.", "face_position_net.")
DROPPED_PREFIXES = ("smplx_layer.",)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The network weights of a checkpoint file, keys normalised to :class:`OSXNetwork`'s names."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"mesh model checkpoint {path} not found (mesh.model / --mesh-model); {WHERE_TO_GET}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same fix-it message
        raise ValueError(
            f"cannot read {path} as a PyTorch checkpoint with weights_only=True ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); {WHERE_TO_GET}"
        ) from None
    state = ckpt.get("network", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no weights dict under 'network' (is it an OSX/SMPLer-X checkpoint?)")
    return normalise_keys(state, str(path))


def normalise_keys(state: dict[str, torch.Tensor], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        for old, new in RENAMES:
            if key.startswith(old) or f".{old}" in key:
                key = key.replace(old, new, 1)
        if key.startswith(DROPPED_PREFIXES):
            continue
        out[key] = value
    decoders = sorted({k.split(".")[0] for k in out if k.startswith(DECODER_PREFIXES)})
    if decoders:
        raise ValueError(
            f"{source} is the full OSX model with keypoint-guided decoders ({', '.join(decoders)}), e.g. "
            "osx_l.pth.tar; only the encoder-only graph is implemented. Use osx_l_wo_decoder.pth.tar (OSX) or a "
            "SMPLer-X checkpoint instead."
        )
    return _fuse_qkv(out)


def _fuse_qkv(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``attn.q/k/v.{weight,bias}`` -> ``attn.qkv.{weight,bias}`` (the published files already have qkv fused)."""
    for key in [k for k in state if re.search(r"\.attn\.q\.(weight|bias)$", k)]:
        stem, kind = key.rsplit(".q.", 1)
        parts = [f"{stem}.{name}.{kind}" for name in ("q", "k", "v")]
        if all(p in state for p in parts):
            state[f"{stem}.qkv.{kind}"] = torch.cat([state.pop(p) for p in parts], dim=0)
    return state


def infer_architecture(state: dict[str, torch.Tensor]) -> Architecture:
    """The encoder size from the weights: width from the position embedding, depth from the block count."""
    if "encoder.pos_embed" not in state:
        raise ValueError("the checkpoint has no encoder.pos_embed: not an OSX/SMPLer-X network")
    width = state["encoder.pos_embed"].shape[-1]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"encoder\.blocks\.(\d+)\.", k))}
    return architecture_for(width, len(blocks))


def load_network(
    path: str | Path, arch: Optional[Architecture] = None, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> OSXNetwork:
    """Build the network the checkpoint describes and load it strictly (eval mode, no gradients)."""
    state = read_state_dict(path)
    net = OSXNetwork(arch or infer_architecture(state))
    load_strict(net, state, str(path))
    return net.to(device=device, dtype=dtype).eval().requires_grad_(False)


def load_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)`` with one readable error listing missing, unexpected and mis-shaped keys."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        lines = [f"{source} does not match the {getattr(net, 'arch', None) and net.arch.name} network:"]
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
            if keys:
                shown = ", ".join(keys[:12]) + (f", ... (+{len(keys) - 12})" if len(keys) > 12 else "")
                lines.append(f"{title} ({len(keys)}): {shown}")
        raise ValueError(" ".join(lines))
    net.load_state_dict(state, strict=True)
