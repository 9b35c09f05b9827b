# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Which precision the weights are stored in, and the context a forward pass runs in."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


def weights_dtype(device: str, dtype: Any) -> Any:
    """The torch dtype to store the weights in, for compute in ``dtype`` on ``device``.

    bfloat16 on a CPU keeps float32 weights and runs each forward under ``torch.autocast``: matrix products and
    convolutions then run in bfloat16 while norms, softmax and element-wise work stay in float32, which measured
    faster than bfloat16 weights on both models (``python -m bench.run``, see README "Performance"). Elsewhere the
    weights are cast to ``dtype``.
    """
    import torch

    if dtype == torch.bfloat16 and str(device).startswith("cpu"):
        return torch.float32
    return dtype


@contextmanager
def inference(device: Any, dtype: Any, stored: Any) -> Iterator[None]:
    """``torch.inference_mode``, plus autocast to ``dtype`` when the weights are ``stored`` in another dtype."""
    import torch

    with torch.inference_mode():
        if dtype == stored:
            yield
        else:
            with torch.autocast(torch.device(device).type, dtype=dtype):
                yield
