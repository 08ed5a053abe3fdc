"""Every bad input to the Triton kernels (readingroom.kernels.nsa and .softmax) is refused with a
clear error naming it, before any kernel is launched.

One table: ``(id, call, exception, match)``. The compiled-mode and interpreter-mode device rules
are rows too: :func:`_compiled` and :func:`_interpreted` set ``readingroom.kernels.INTERPRETED``
for the length of one call.
"""

from __future__ import annotations

import math

import readingroom.kernels as rk  # noqa: I001  (first: decides TRITON_INTERPRET)
import pytest
import torch

from readingroom.kernels.nsa import (
    compressed_attention,
    positional_attention,
    positional_attention_reference,
    select_attention,
    select_attention_reference,
    sliding_window_attention,
)
from readingroom.kernels.softmax import MAX_COLS, softmax
from refusals import refusal_test

DEVICE = rk.kernel_device()


def _t(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype, device=DEVICE)


Q, K = _t(1, 32, 4, 16), _t(1, 32, 2, 16)
IDX = torch.zeros(1, 32, 2, 1, dtype=torch.int64, device=DEVICE)


def _compiled(call):
    """``call()`` as if the kernels were compiled for a GPU (no interpreter)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rk, "INTERPRETED", False)
        return call()


def _interpreted(call):
    """``call()`` as if the kernels ran under Triton's interpreter."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rk, "INTERPRETED", True)
        return call()


CASES = [
    # (id, call, exception, match)
    # -- readingroom.kernels.nsa ---------------------------------------------------------------
    ("positional: q a list",
     lambda: positional_attention([1.0], K, K), TypeError, r"q must be a torch\.Tensor, got list"),
    ("positional: bfloat16",
     lambda: positional_attention(Q.bfloat16(), K.bfloat16(), K.bfloat16()), TypeError,
     r"bfloat16 is not supported because Triton's interpreter .* bf16 tl\.dot wrongly"),
    ("positional: float64",
     lambda: positional_attention(Q.double(), K.double(), K.double()), TypeError,
     r"q\.dtype must be one of torch\.float16, torch\.float32, got torch\.float64"),
    ("positional: k float16, q float32",
     lambda: positional_attention(Q, K.half(), K), TypeError, r"k\.dtype must equal q\.dtype"),
    ("positional: 3-D q",
     lambda: positional_attention(Q[0], K, K), ValueError, r"q must be 4-D \[B, T, H, D\]"),
    ("positional: v of another length",
     lambda: positional_attention(Q, K, K[:, :5]), ValueError, r"k and v must have the same"),
    ("positional: k's batch 2",
     lambda: positional_attention(Q, _t(2, 32, 2, 16), _t(2, 32, 2, 16)), ValueError,
     r"k's batch size 2 must equal q's 1"),
    ("positional: k's head dim 32",
     lambda: positional_attention(Q, _t(1, 32, 2, 32), _t(1, 32, 2, 32)), ValueError,
     r"k's head dim 32 must equal q's 16"),
    ("positional: 3 kv heads for 4",
     lambda: positional_attention(Q, _t(1, 32, 3, 16), _t(1, 32, 3, 16)), ValueError,
     r"H=4 must be a positive multiple of .* Hkv=3"),
    ("positional: head dim 24",
     lambda: positional_attention(_t(1, 8, 2, 24), _t(1, 8, 1, 24), _t(1, 8, 1, 24)), ValueError,
     r"head dim D=24 is not supported; expected one of \(16, 32, 64, 128\)"),
    ("positional: key_stride 0",
     lambda: positional_attention(Q, K, K, key_stride=0), ValueError, r"key_stride must be >= 1"),
    ("positional: key_stride 1.5",
     lambda: positional_attention(Q, K, K, key_stride=1.5), TypeError,
     r"key_stride must be an int, got float"),
    ("positional: key_offset -1",
     lambda: positional_attention(Q, K, K, key_offset=-1), ValueError, r"key_offset must be >= 0"),
    ("positional: window 0",
     lambda: positional_attention(Q, K, K, window=0), ValueError, r"window must be >= 1"),
    ("positional: window True",
     lambda: positional_attention(Q, K, K, window=True), TypeError, r"window must be an int"),
    ("positional: scale 'x'", lambda: positional_attention(Q, K, K, scale="x"), TypeError,
     r"scale must be a real number"),
    ("positional: scale inf",
     lambda: positional_attention(Q, K, K, scale=math.inf), ValueError, r"scale must be finite"),
    ("sliding_window: window None",
     lambda: sliding_window_attention(Q, K, K, None), TypeError, r"window must be an int"),
    ("compressed: block_len 0",
     lambda: compressed_attention(Q, K, K, 0, 16), ValueError, r"block_len must be >= 1"),
    ("compressed: stride 0",
     lambda: compressed_attention(Q, K, K, 32, 0), ValueError, r"stride must be >= 1"),
    ("select: k and v shorter than q",
     lambda: select_attention(Q, K[:, :30], K[:, :30], IDX, 16), ValueError,
     r"k and v must have q's length T=32, got 30"),
    ("select: block_size 24",
     lambda: select_attention(Q, K, K, IDX, 24), ValueError,
     r"block_size must be a power of two >= 16 .*got 24"),
    ("select: block_size 8",
     lambda: select_attention(Q, K, K, IDX, 8), ValueError, r"block_size must be a power of two"),
    ("select: block_size 16.0",
     lambda: select_attention(Q, K, K, IDX, 16.0), TypeError, r"block_size must be an int"),
    ("select: float block_indices",
     lambda: select_attention(Q, K, K, IDX.float(), 16), TypeError,
     r"block_indices must be an int32 or int64 tensor, got torch\.float32"),
    ("select: block_indices a list",
     lambda: select_attention(Q, K, K, [[0]], 16), TypeError,
     r"block_indices must be a torch\.Tensor"),
    ("select: block_indices for 1 kv head of 2",
     lambda: select_attention(Q, K, K, IDX[:, :, :1], 16), ValueError,
     r"block_indices must have shape \[B, T, Hkv, n\] = \[1, 32, 2, n\]"),
    ("select: block index 2 of 2",
     lambda: select_attention(Q, K, K, IDX + 2, 16), ValueError,
     r"-1 \(padding\) or a block index in \[0, 2\) .* got values in \[2, 2\]"),
    ("select: block index -2",
     lambda: select_attention(Q, K, K, IDX - 2, 16), ValueError,
     r"block_indices entries must be -1 \(padding\)"),
    ("select: a block twice",
     lambda: select_attention(Q, K, K, torch.cat([IDX, IDX], -1), 16), ValueError,
     r"must not repeat a block .* block 0 appears twice in block_indices\[0, 0, 0, :\]"),
    ("select reference: a block twice",
     lambda: select_attention_reference(Q, K, K, torch.cat([IDX, IDX], -1), 16), ValueError,
     r"select_attention_reference: block_indices must not repeat a block"),
    ("positional reference: window 0",
     lambda: positional_attention_reference(Q, K, K, window=0), ValueError,
     r"positional_attention_reference: window must be >= 1"),
    ("positional: cpu tensors when compiled",
     lambda: _compiled(lambda: positional_attention(Q.cpu(), K.cpu(), K.cpu())), ValueError,
     r"q must be on a CUDA device for compiled Triton"),
    ("select: cpu tensors when compiled",
     lambda: _compiled(lambda: select_attention(Q.cpu(), K.cpu(), K.cpu(), IDX.cpu(), 16)),
     ValueError, r"q must be on a CUDA device for compiled Triton"),
    ("positional: k on meta", lambda: positional_attention(Q, K.to("meta"), K), ValueError,
     r"k is on meta but q is on"),
    ("select: block_indices on meta", lambda: select_attention(Q, K, K, IDX.to("meta"), 16),
     ValueError, r"block_indices is on meta but q is on"),
    # -- readingroom.kernels.softmax -----------------------------------------------------------
    ("softmax: x a list", lambda: softmax([[1.0, 2.0]]), TypeError,
     r"x must be a torch\.Tensor, got list"),
    *[(f"softmax: {dtype}", lambda dtype=dtype: softmax(_t(2, 3, dtype=dtype)), TypeError,
       r"x\.dtype must be one of torch\.float16, torch\.float32")
      for dtype in (torch.bfloat16, torch.float64, torch.int32)],
    ("softmax: bfloat16, and why", lambda: softmax(_t(2, 3, dtype=torch.bfloat16)), TypeError,
     r"bfloat16 is not supported because Triton's interpreter"),
    ("softmax: 0-dim x", lambda: softmax(torch.tensor(1.0, device=DEVICE)), ValueError,
     r"x must have at least 1 dimension.*0-dim"),
    ("softmax: empty last dimension", lambda: softmax(torch.empty(3, 0, device=DEVICE)),
     ValueError, r"x's last dimension must be at least 1, got shape \(3, 0\)"),
    ("softmax: rows wider than MAX_COLS",  # never launched: rejected before the kernel
     lambda: softmax(torch.empty(1, MAX_COLS + 1, device=DEVICE)), ValueError,
     rf"last dimension is {MAX_COLS + 1}, above the limit MAX_COLS={MAX_COLS}"),
    ("softmax: cpu tensor when compiled", lambda: _compiled(lambda: softmax(torch.zeros(2, 3))),
     ValueError, r"x must be on a CUDA device for compiled Triton kernels, got cpu"),
    ("softmax: meta tensor when interpreted",
     lambda: _interpreted(lambda: softmax(torch.zeros(2, 3, device="meta"))), ValueError,
     r"x must be on a cpu or cuda device under Triton's interpreter, got meta"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
