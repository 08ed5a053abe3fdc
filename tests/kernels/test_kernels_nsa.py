"""Tests for readingroom.kernels.nsa: the NSA attention kernels against their PyTorch references.

On a machine without CUDA these run under Triton's interpreter (slow: each program is Python
work), so shapes stay tiny: T <= 80, D of 16 or 32, a few blocks of 16. Under the interpreter the
positional kernels use 16 x 16 tiles, so T = 37, 45, 50 leave a partial last tile.

Tolerances: fp32 uses torch.testing.assert_close's defaults (rtol 1.3e-6, atol 1e-5); fp16
kernels are compared with the fp32 reference on the same fp16 inputs at atol = rtol = 1e-2.
"""

from __future__ import annotations

import math

import readingroom.kernels as rk  # noqa: I001  (first: decides TRITON_INTERPRET)
import pytest
import torch
import torch.nn.functional as F

from readingroom.kernels.nsa import (
    SUPPORTED_HEAD_DIMS,
    _reverse_index,
    compressed_attention,
    positional_attention,
    positional_attention_reference,
    select_attention,
    select_attention_reference,
    sliding_window_attention,
)

DEVICE = rk.kernel_device()
FP16_TOL = {"atol": 1e-2, "rtol": 1e-2}


def _qkv(B, T, S, H, Hkv, D, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, T, H, D, generator=gen)
    k = torch.randn(B, S, Hkv, D, generator=gen)
    v = torch.randn(B, S, Hkv, D, generator=gen)
    do = torch.randn(B, T, H, D, generator=gen)
    return [x.to(DEVICE, dtype) for x in (q, k, v, do)]


def _run(fn, q, k, v, do):
    """``fn(q, k, v) -> (o, lse)`` on fresh leaves; returns ``(o, lse, dq, dk, dv)``."""
    q, k, v = (x.detach().clone().requires_grad_(True) for x in (q, k, v))
    o, lse = fn(q, k, v)
    o.backward(do)
    return o.detach(), lse, q.grad, k.grad, v.grad


def _assert_matches(got, want, **tol):
    """Compare (o, lse, dq, dk, dv); ``got`` may be fp16, ``want`` is computed in fp32."""
    for name, a, b in zip(("o", "lse", "dq", "dk", "dv"), got, want, strict=True):
        assert torch.isfinite(a).all() or name == "lse", f"{name} has inf/nan"
        assert not torch.isnan(a).any(), f"{name} has NaN"
        torch.testing.assert_close(a.float(), b.float(), msg=lambda m, n=name: f"{n}: {m}",
                                   **tol)


def _random_indices(B, T, Hkv, n, block_size, seed=0, pad_prob=0.25):
    """n distinct blocks per row drawn from all ceil(T / block_size) (future ones included),
    some entries replaced by -1."""
    gen = torch.Generator().manual_seed(seed)
    n_blocks = math.ceil(T / block_size)
    idx = torch.rand(B, T, Hkv, n_blocks, generator=gen).topk(n, dim=-1).indices
    pad = torch.rand(B, T, Hkv, n, generator=gen) < pad_prob
    return torch.where(pad, -1, idx).to(DEVICE)


# --------------------------------------------------------------------------------------------
# positional_attention: sliding window and compressed branches
# --------------------------------------------------------------------------------------------

# (B, T, S, H, Hkv, D, key_stride, key_offset, window)
POSITIONAL_CASES = {
    "sliding-w7-G1": (1, 50, 50, 2, 2, 16, 1, 0, 7),
    "sliding-w1-G2": (2, 37, 37, 4, 2, 32, 1, 0, 1),
    "sliding-w100>T-G4": (1, 45, 45, 4, 1, 16, 1, 0, 100),
    "causal-G2": (1, 33, 33, 2, 1, 16, 1, 0, None),
    "compressed-16-31-G2": (1, 80, 4, 4, 2, 16, 16, 31, None),
    "compressed-16-31-G4-D32": (2, 70, 3, 4, 1, 32, 16, 31, None),
    "stride3-offset5-w12-G1": (2, 50, 20, 1, 1, 32, 3, 5, 12),
}


@pytest.mark.parametrize("case", list(POSITIONAL_CASES), ids=str)
def test_positional_fp32_matches_reference(case):
    B, T, S, H, Hkv, D, stride, offset, window = POSITIONAL_CASES[case]
    q, k, v, do = _qkv(B, T, S, H, Hkv, D)
    kw = {"key_stride": stride, "key_offset": offset, "window": window}
    got = _run(lambda *a: positional_attention(*a, **kw), q, k, v, do)
    want = _run(lambda *a: positional_attention_reference(*a, **kw), q, k, v, do)
    assert got[0].dtype == torch.float32 and got[0].shape == (B, T, H, D)
    assert got[1].dtype == torch.float32 and got[1].shape == (B, T, H)
    _assert_matches(got, want)


@pytest.mark.parametrize("case", ["sliding-w7-G1", "compressed-16-31-G2"], ids=str)
def test_positional_fp16_matches_fp32_reference(case):
    B, T, S, H, Hkv, D, stride, offset, window = POSITIONAL_CASES[case]
    q, k, v, do = _qkv(B, T, S, H, Hkv, D, dtype=torch.float16)
    kw = {"key_stride": stride, "key_offset": offset, "window": window}
    got = _run(lambda *a: positional_attention(*a, **kw), q, k, v, do)
    assert got[0].dtype == torch.float16 and got[1].dtype == torch.float32
    want = _run(lambda *a: positional_attention_reference(*a, **kw),
                *(x.float() for x in (q, k, v, do)))
    _assert_matches(got, want, **FP16_TOL)


def test_wrappers_are_the_nsa_parameterisations():
    q, k, v, _ = _qkv(1, 40, 40, 2, 1, 16)
    o, lse = sliding_window_attention(q, k, v, 5)
    o2, lse2 = positional_attention(q, k, v, key_stride=1, key_offset=0, window=5)
    assert torch.equal(o, o2) and torch.equal(lse, lse2)
    k_cmp, v_cmp = k[:, :2], v[:, :2]  # (40 - 32) // 16 + 1 = 1 full block; 2 still fine
    o, lse = compressed_attention(q, k_cmp, v_cmp, 32, 16)
    o2, lse2 = positional_attention(q, k_cmp, v_cmp, key_stride=16, key_offset=31)
    assert torch.equal(o, o2) and torch.equal(lse, lse2)


def test_compressed_queries_before_first_block_see_nothing():
    """t < l - 1: no compressed token is complete yet -> o = 0, lse = -inf, zero dq, no NaN."""
    q, k, v, do = _qkv(1, 40, 2, 2, 1, 16)
    o, lse, dq, dk, dv = _run(lambda *a: compressed_attention(*a, 32, 16), q, k, v, do)
    assert torch.equal(o[:, :31], torch.zeros_like(o[:, :31]))
    assert torch.isneginf(lse[:, :31]).all() and torch.isfinite(lse[:, 31:]).all()
    assert torch.equal(dq[:, :31], torch.zeros_like(dq[:, :31]))
    assert not any(torch.isnan(x).any() for x in (o, dq, dk, dv))
    # Key 1 (position 47) is visible to no query of 40: it gets no gradient.
    assert torch.equal(dk[:, 1], torch.zeros_like(dk[:, 1]))


def test_positional_no_keys_at_all():
    """S = 0 compressed tokens (T shorter than one block): all queries empty."""
    q, k, v, do = _qkv(1, 20, 0, 2, 1, 16)
    o, lse, dq, dk, dv = _run(lambda *a: compressed_attention(*a, 32, 16), q, k, v, do)
    assert torch.equal(o, torch.zeros_like(o)) and torch.isneginf(lse).all()
    assert dk.shape == k.shape and dv.shape == v.shape
    assert torch.equal(dq, torch.zeros_like(dq))


def test_window_one_returns_own_value():
    q, k, v, _ = _qkv(1, 20, 20, 4, 2, 16)
    o, lse = sliding_window_attention(q, k, v, 1)
    torch.testing.assert_close(o, v.repeat_interleave(2, dim=2))  # head h reads kv head h // 2
    torch.testing.assert_close(lse, (q * k.repeat_interleave(2, dim=2)).sum(-1) / 4.0)


def test_causal_matches_torch_sdpa():
    """No window, stride 1: plain causal attention, checked against PyTorch itself."""
    q, k, v, _ = _qkv(2, 40, 40, 4, 2, 16)
    o, _ = positional_attention(q, k, v)
    want = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.repeat_interleave(2, 2).transpose(1, 2),
        v.repeat_interleave(2, 2).transpose(1, 2), is_causal=True).transpose(1, 2)
    torch.testing.assert_close(o, want)


def test_positional_non_contiguous_inputs():
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(1, 2, 30, 16, generator=gen).to(DEVICE).transpose(1, 2)  # [B, T, H, D] view
    k = torch.randn(1, 16, 30, 1, generator=gen).to(DEVICE).permute(0, 2, 3, 1)
    v = torch.randn(1, 30, 1, 16, generator=gen).to(DEVICE)
    assert not q.is_contiguous() and not k.is_contiguous()
    # o.sum() sends back an expanded (stride-0) gradient.
    do = torch.ones(()).to(DEVICE).expand(1, 30, 2, 16)
    got = _run(lambda *a: sliding_window_attention(*a, 9), q, k, v, do)
    want = _run(lambda *a: positional_attention_reference(*a, window=9), q, k, v,
                torch.ones(1, 30, 2, 16, device=DEVICE))
    _assert_matches(got, want)


def test_positional_backward_is_deterministic():
    q, k, v, do = _qkv(1, 45, 45, 4, 1, 16, seed=5)
    first = _run(lambda *a: sliding_window_attention(*a, 20), q, k, v, do)
    second = _run(lambda *a: sliding_window_attention(*a, 20), q, k, v, do)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


# --------------------------------------------------------------------------------------------
# select_attention
# --------------------------------------------------------------------------------------------

# (B, T, H, Hkv, D, block_size, n)
SELECT_CASES = {
    "G1-T50-bs16": (1, 50, 2, 2, 16, 16, 3),
    "G2-T37-bs16-D32": (2, 37, 4, 2, 32, 16, 2),
    "G4-T64-bs32": (1, 64, 4, 1, 16, 32, 2),
    "G2-T70-bs16-n4": (1, 70, 4, 2, 32, 16, 4),  # n = 4 of 5 blocks, partial last block
    "G16-T20-bs16": (1, 20, 16, 1, 16, 16, 2),  # G_PAD = G: no padding rows
}


def _select_fn(idx, block_size, **kw):
    return lambda q, k, v: select_attention(q, k, v, idx, block_size, return_lse=True, **kw)


def _select_ref_fn(idx, block_size):
    return lambda q, k, v: select_attention_reference(q, k, v, idx, block_size, return_lse=True)


@pytest.mark.parametrize("case", list(SELECT_CASES), ids=str)
def test_select_fp32_matches_reference(case):
    B, T, H, Hkv, D, bs, n = SELECT_CASES[case]
    q, k, v, do = _qkv(B, T, T, H, Hkv, D)
    idx = _random_indices(B, T, Hkv, n, bs)
    idx_dtype = torch.int64 if case.startswith("G2") else torch.int32
    idx = idx.to(idx_dtype)
    got = _run(_select_fn(idx, bs), q, k, v, do)
    want = _run(_select_ref_fn(idx, bs), q, k, v, do)
    assert got[0].dtype == torch.float32 and got[0].shape == (B, T, H, D)
    _assert_matches(got, want)


def test_select_fp16_matches_fp32_reference():
    B, T, H, Hkv, D, bs, n = SELECT_CASES["G2-T37-bs16-D32"]
    q, k, v, do = _qkv(B, T, T, H, Hkv, D, dtype=torch.float16, seed=1)
    idx = _random_indices(B, T, Hkv, n, bs, seed=1)
    got = _run(_select_fn(idx, bs), q, k, v, do)
    assert got[0].dtype == torch.float16
    want = _run(_select_ref_fn(idx, bs), *(x.float() for x in (q, k, v, do)))
    _assert_matches(got, want, **FP16_TOL)


def test_select_padding_rows_give_zero_output_and_gradients():
    q, k, v, do = _qkv(1, 40, 40, 4, 2, 16, seed=2)
    idx = _random_indices(1, 40, 2, 2, 16, seed=2, pad_prob=0.0)
    idx[:, 10:25, 1] = -1  # kv head 1: queries 10..24 select nothing
    o, lse, dq, dk, dv = _run(_select_fn(idx, 16), q, k, v, do)
    assert torch.equal(o[:, 10:25, 2:], torch.zeros_like(o[:, 10:25, 2:]))
    assert torch.isneginf(lse[:, 10:25, 2:]).all()
    assert torch.equal(dq[:, 10:25, 2:], torch.zeros_like(dq[:, 10:25, 2:]))
    assert not any(torch.isnan(x).any() for x in (o, dq, dk, dv))
    _assert_matches((o, lse, dq, dk, dv), _run(_select_ref_fn(idx, 16), q, k, v, do))
    # Nothing selected anywhere: everything is zero.
    none = torch.full_like(idx, -1)
    o, lse, dq, dk, dv = _run(_select_fn(none, 16), q, k, v, do)
    for x in (o, dq, dk, dv):
        assert torch.equal(x, torch.zeros_like(x))
    assert torch.isneginf(lse).all()


def test_select_future_blocks_contribute_nothing():
    q, k, v, do = _qkv(1, 48, 48, 2, 1, 16, seed=4)
    t = torch.arange(48, device=DEVICE)
    current = (t // 16).view(1, 48, 1, 1)  # the block holding t: always visible (causally)
    future = torch.where(t < 32, 2, -1).view(1, 48, 1, 1)  # block 2 is the future for t < 32
    with_future = torch.cat([current, future], dim=-1)
    without = torch.cat([current, torch.full_like(future, -1)], dim=-1)
    got = _run(_select_fn(with_future, 16), q, k, v, do)
    want = _run(_select_fn(without, 16), q, k, v, do)
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)


def test_select_all_blocks_is_dense_causal_attention():
    q, k, v, _ = _qkv(1, 40, 40, 4, 2, 16, seed=6)
    idx = torch.arange(3, device=DEVICE).expand(1, 40, 2, 3)  # every block, in order
    o = select_attention(q, k, v, idx, 16)
    want = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.repeat_interleave(2, 2).transpose(1, 2),
        v.repeat_interleave(2, 2).transpose(1, 2), is_causal=True).transpose(1, 2)
    torch.testing.assert_close(o, want)


def test_select_backward_is_deterministic():
    q, k, v, do = _qkv(1, 48, 48, 4, 1, 16, seed=7)
    idx = _random_indices(1, 48, 1, 2, 16, seed=7)
    first = _run(_select_fn(idx, 16), q, k, v, do)
    second = _run(_select_fn(idx, 16), q, k, v, do)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_reverse_index_lists_visible_selections_per_block():
    # B=1, T=5, Hkv=1, n=2, block_size=2 -> 3 blocks. Row t selects:
    idx = torch.tensor([[0, -1], [0, 1], [1, 2], [2, 0], [-1, 2]]).view(1, 5, 1, 2)
    row_ptr, query_t = _reverse_index(idx, block_size=2, n_blocks=3)
    # block 0: t = 0, 1, 3; block 1 (tokens 2-3): t = 2 (t = 1 selected it in its future);
    # block 2 (token 4): t = 4 (t = 2, 3 selected it in their future).
    assert row_ptr.tolist() == [0, 3, 4, 5]
    assert query_t.tolist() == [0, 1, 3, 2, 4]
    assert row_ptr.dtype == query_t.dtype == torch.int32


# --------------------------------------------------------------------------------------------
# The references themselves
# --------------------------------------------------------------------------------------------


def test_references_pass_gradcheck_in_float64():
    gen = torch.Generator().manual_seed(8)
    q = torch.randn(1, 20, 2, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 20, 1, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 20, 1, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[0, 1], [-1, -1], [1, -1], [0, -1]]).repeat(5, 1).view(1, 20, 1, 2)

    def select(q, k, v):
        return select_attention_reference(q, k, v, idx, 16)

    def sliding(q, k, v):
        return positional_attention_reference(q, k, v, window=3)[0]

    def compressed(q, k, v):  # keys at 3, 5, 7, ...; queries 0-2 see nothing
        return positional_attention_reference(q, k[:, :8], v[:, :8], key_stride=2,
                                              key_offset=3)[0]

    for fn in (select, sliding, compressed):
        assert torch.autograd.gradcheck(fn, (q, k, v))
        out = fn(q, k, v)
        out.sum().backward()
        assert not any(torch.isnan(x.grad).any() for x in (q, k, v))
        for x in (q, k, v):
            x.grad = None


# --------------------------------------------------------------------------------------------
# Inputs that are allowed (the bad ones: test_kernels_bad_input.py)
# --------------------------------------------------------------------------------------------


def _t(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype, device=DEVICE)


Q, K = _t(1, 32, 4, 16), _t(1, 32, 2, 16)
IDX = torch.zeros(1, 32, 2, 1, dtype=torch.int64, device=DEVICE)


def test_duplicate_padding_is_allowed_and_checks_can_be_skipped():
    idx = torch.full((1, 32, 2, 3), -1, dtype=torch.int64, device=DEVICE)  # -1 repeats: fine
    assert torch.equal(select_attention(Q, K, K, idx, 16), torch.zeros_like(Q))
    select_attention(Q, K, K, IDX, 16, check_indices=False)


def test_supported_head_dims_are_dot_sizes():
    assert all(d >= 16 and d & (d - 1) == 0 for d in SUPPORTED_HEAD_DIMS)
