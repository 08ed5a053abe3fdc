"""Tests for the fast paths of readingroom.nsa.attention: nsa_decode (one decoding step that
gathers only the tokens NSA reads) against nsa_attention(q_start=S-1), window_attention (chunked
sliding window) against a dense window mask, and overlap_pairs against overlap_matrix."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.nsa import NSAConfig, masked_attention, nsa_attention, num_compressed, window_mask
from readingroom.nsa.attention import nsa_decode, window_attention
from readingroom.nsa.blocks import num_selection_blocks, overlap_matrix, overlap_pairs

F64 = torch.float64


def _cfg(l, d, lp, n, w, **kw) -> NSAConfig:
    return NSAConfig(block_len=l, stride=d, select_block=lp, top_n=n, window=w, **kw)


def _decode_case(cfg: NSAConfig, S: int, *, B=2, H=4, H_kv=2, D=3, separate=False, seed=0):
    """Random float64 inputs of one decoding step: the query is position S - 1."""
    g = torch.Generator().manual_seed(seed * 1000 + S)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=F64)

    n_cmp = num_compressed(S, cfg.block_len, cfg.stride)
    kw = dict(
        q=rnd(B, H, D), k=rnd(B, S, H_kv, D), v=rnd(B, S, H_kv, D),
        k_cmp=rnd(B, n_cmp, H_kv, D), v_cmp=rnd(B, n_cmp, H_kv, D),
        gates=torch.rand(B, H, 3, generator=g, dtype=F64),
    )
    if separate:
        kw.update(k_win=rnd(B, S, H_kv, D), v_win=rnd(B, S, H_kv, D))
    return kw


def _check_decode(cfg: NSAConfig, S: int, **shape):
    kw = _decode_case(cfg, S, **shape)
    out, idx = nsa_decode(**kw, cfg=cfg)
    dense = dict(kw, q=kw["q"][:, None], gates=kw["gates"][:, None])
    ref = nsa_attention(**dense, cfg=cfg, q_start=S - 1, return_parts=True)
    B, H, D = kw["q"].shape
    H_kv = kw["k"].shape[2]
    assert out.shape == (B, H, D) and out.dtype == F64
    assert idx.shape == (B, H_kv, cfg.top_n) and idx.dtype == torch.long
    torch.testing.assert_close(out, ref.out[:, 0], rtol=0, atol=1e-12)
    if "slc" in cfg.branches:
        assert torch.equal(idx, ref.indices[:, 0])
    else:
        assert torch.equal(idx, torch.full_like(idx, -1))
    return kw, out, idx


# l = 4, d = 2, l' = 8: S = 1 (nothing compressed), l - 1, l, l + 1, non-multiples, multiples of l'
DECODE_CFG = _cfg(4, 2, 8, 3, 5)
DECODE_SIZES = [1, 3, 4, 5, 7, 8, 13, 16, 29, 32, 41]


@pytest.mark.parametrize("S", DECODE_SIZES)
def test_decode_equals_the_last_query_of_nsa_attention(S):
    _check_decode(DECODE_CFG, S)


@pytest.mark.parametrize("S", [1, 5, 9, 24, 37])
def test_decode_with_separate_window_keys(S):
    _check_decode(DECODE_CFG.replace(separate_kv=True), S, separate=True, seed=1)


@pytest.mark.parametrize(
    "cfg,sizes",
    [
        # nothing divides anything
        (_cfg(6, 4, 10, 3, 7, n_initial=1, n_local=1), [5, 6, 10, 11, 23, 30, 47]),
        (_cfg(8, 4, 4, 5, 9), [7, 8, 12, 13, 31, 40]),  # l > l'
        (_cfg(3, 3, 5, 2, 4, n_initial=0, n_local=0), [2, 3, 14, 26]),  # no forced block, d = l
        (_cfg(4, 4, 4, 16, 512), [19, 64]),  # window and top_n larger than the sequence
    ],
    ids=["l6-d4-lp10", "l8-d4-lp4", "no-forced", "big-n-w"],
)
def test_decode_other_sizes(cfg, sizes):
    for S in sizes:
        _check_decode(cfg, S, seed=2)


@pytest.mark.parametrize(
    "branches", [("cmp",), ("win",), ("cmp", "slc"), ("cmp", "win"), ("cmp", "slc", "win")]
)
@pytest.mark.parametrize("S", [1, 4, 17, 32])
def test_decode_every_branch_subset(branches, S):
    _check_decode(DECODE_CFG.replace(branches=branches), S, seed=3)


@pytest.mark.parametrize("H,H_kv", [(2, 2), (4, 2), (4, 1)])
def test_decode_gqa_groups(H, H_kv):
    for S in (6, 25):
        _check_decode(DECODE_CFG, S, H=H, H_kv=H_kv, seed=4)


def test_decode_selects_only_the_queries_past_and_gathers_the_selected_tokens():
    cfg = _cfg(4, 2, 8, 3, 5)
    kw, out, idx = _check_decode(cfg, 29, seed=5)
    n_slc = num_selection_blocks(29, cfg.select_block)  # 4
    own = 28 // cfg.select_block  # 3
    for row in idx.flatten(0, 1).tolist():
        assert row == sorted(row) and len(set(row)) == len(row)
        assert row[0] == 0 and own - 1 in row and own in row  # 1 initial + 2 local blocks
        assert all(0 <= j < n_slc for j in row)
    # Only the selection branch on (cmp gate 0): the output ignores every key outside the
    # selected blocks, so changing those keys changes nothing.
    kw = dict(kw, gates=kw["gates"].clone())
    kw["gates"][..., 0] = 0.0
    kw["gates"][..., 2] = 0.0
    out1, idx1 = nsa_decode(**kw, cfg=cfg)
    k2, v2 = kw["k"].clone(), kw["v"].clone()
    for b in range(k2.shape[0]):
        for h in range(k2.shape[2]):
            for j in range(n_slc):
                if j not in idx1[b, h].tolist():
                    sl = slice(j * cfg.select_block, (j + 1) * cfg.select_block)
                    k2[b, sl, h] = 100.0
                    v2[b, sl, h] = -100.0
    out2, idx2 = nsa_decode(**dict(kw, k=k2, v=v2), cfg=cfg)
    assert torch.equal(idx1, idx2)
    torch.testing.assert_close(out2, out1, rtol=0, atol=1e-12)


def test_decode_scale_and_gradients_match_nsa_attention():
    cfg = _cfg(4, 2, 8, 3, 5)
    kw = _decode_case(cfg, 21, seed=6)
    leaves = {n: x.clone().requires_grad_(True) for n, x in kw.items()}
    out, _ = nsa_decode(**leaves, cfg=cfg, scale=0.7)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    dense_leaves = {n: x.detach().clone().requires_grad_(True) for n, x in kw.items()}
    dense = dict(dense_leaves, q=dense_leaves["q"][:, None], gates=dense_leaves["gates"][:, None])
    ref = nsa_attention(**dense, cfg=cfg, q_start=20, scale=0.7)
    torch.testing.assert_close(out, ref[:, 0], rtol=0, atol=1e-12)
    (ref[:, 0] * w).sum().backward()
    for name in kw:
        torch.testing.assert_close(leaves[name].grad, dense_leaves[name].grad, rtol=0, atol=1e-12,
                                   msg=name)
    # the default scale is 1/sqrt(D)
    o1, _ = nsa_decode(**kw, cfg=cfg)
    o2, _ = nsa_decode(**kw, cfg=cfg, scale=1 / math.sqrt(3))
    assert torch.equal(o1, o2)


def test_decode_float32_close_to_float64():
    cfg = _cfg(4, 2, 8, 3, 5)
    kw = _decode_case(cfg, 30, seed=7)
    o64, i64 = nsa_decode(**kw, cfg=cfg)
    o32, i32 = nsa_decode(**{n: x.float() for n, x in kw.items()}, cfg=cfg)
    assert o32.dtype == torch.float32
    torch.testing.assert_close(o32.double(), o64, rtol=1e-4, atol=1e-5)


# --- window_attention -----------------------------------------------------------------------


def _dense_window(q, k, v, w, scale):
    T = q.shape[1]
    mask = window_mask(torch.arange(T), T, w)[None, None]
    return masked_attention(q, k, v, mask, scale)[0]


@pytest.mark.parametrize("w", [1, 4, 5])
@pytest.mark.parametrize("H,H_kv", [(2, 2), (4, 2)])
def test_window_attention_equals_the_dense_window_mask(w, H, H_kv):
    for T in sorted({1, max(1, w - 1), w, w + 1, 3 * w + 5}):
        g = torch.Generator().manual_seed(100 * w + T)
        B, D = 2, 3
        q = torch.randn(B, T, H, D, generator=g, dtype=F64, requires_grad=True)
        k = torch.randn(B, T, H_kv, D, generator=g, dtype=F64, requires_grad=True)
        v = torch.randn(B, T, H_kv, D, generator=g, dtype=F64, requires_grad=True)
        o = window_attention(q, k, v, w, 0.6)
        ref = _dense_window(q, k, v, w, 0.6)
        assert o.shape == (B, T, H, D) and o.dtype == F64
        torch.testing.assert_close(o, ref, rtol=0, atol=1e-12, msg=f"T={T}")
        gw = torch.randn(o.shape, generator=g, dtype=F64)
        grads = torch.autograd.grad((o * gw).sum(), (q, k, v))
        grads_ref = torch.autograd.grad((ref * gw).sum(), (q, k, v))
        for name, a, b in zip("qkv", grads, grads_ref):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=f"d{name}, T={T}")


def test_window_attention_of_one_token_window_returns_the_values():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 7, 4, 2, generator=g, dtype=F64)
    k = torch.randn(1, 7, 2, 2, generator=g, dtype=F64)
    v = torch.randn(1, 7, 2, 2, generator=g, dtype=F64)
    o = window_attention(q, k, v, 1, 1.0)  # each query sees only itself
    torch.testing.assert_close(o, v.repeat_interleave(2, dim=2), rtol=0, atol=1e-15)


def test_window_attention_is_what_nsa_attention_uses_for_long_sequences():
    # With q_start = 0 and w < T, nsa_attention takes the chunked path; with q_start > 0 the
    # dense mask. Both must give the same window branch.
    cfg = _cfg(4, 2, 4, 3, 5, branches=("win",))
    g = torch.Generator().manual_seed(1)
    B, T, H, H_kv, D = 1, 23, 4, 2, 3
    q = torch.randn(B, T, H, D, generator=g, dtype=F64)
    k = torch.randn(B, T, H_kv, D, generator=g, dtype=F64)
    v = torch.randn(B, T, H_kv, D, generator=g, dtype=F64)
    n_cmp = num_compressed(T, 4, 2)
    kc = torch.zeros(B, n_cmp, H_kv, D, dtype=F64)
    gates = torch.ones(B, T, H, 3, dtype=F64)
    full = nsa_attention(q, k, v, kc, kc, gates, cfg)
    torch.testing.assert_close(full, window_attention(q, k, v, 5, 1 / math.sqrt(D)), rtol=0, atol=0)
    tail = nsa_attention(q[:, 1:], k, v, kc, kc, gates[:, 1:], cfg, q_start=1)
    torch.testing.assert_close(tail, full[:, 1:], rtol=0, atol=1e-12)


# --- overlap_pairs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg,lengths",
    [
        (NSAConfig(), [31, 32, 33, 64, 100, 1000, 4096]),  # the paper's l=32, d=16, l'=64
        (_cfg(6, 4, 10, 3, 7), [5, 6, 10, 23, 61, 100]),  # nothing divides anything
        (_cfg(8, 4, 4, 3, 7), [7, 8, 13, 40, 57]),  # l > l': each block spans 2 selection blocks
        (_cfg(8, 2, 4, 3, 7), [8, 9, 27, 50]),  # l > l', d < l': odd blocks span 3
        (_cfg(3, 3, 5, 2, 4, n_initial=0, n_local=0), [3, 29]),  # d = l, no overlap between blocks
        (_cfg(4, 1, 8, 3, 5), [4, 19, 64]),  # d = 1
    ],
    ids=["paper", "l6-d4-lp10", "l8-d4-lp4", "l8-d2-lp4", "d-eq-l", "d1"],
)
def test_overlap_pairs_reconstruct_the_overlap_matrix(cfg, lengths):
    for S in lengths:
        n_cmp = num_compressed(S, cfg.block_len, cfg.stride)
        n_slc = num_selection_blocks(S, cfg.select_block)
        i, j, w = overlap_pairs(n_cmp, cfg, "cpu")
        assert i.dtype == j.dtype == torch.long and i.shape == j.shape == w.shape
        assert bool((w > 0).all())
        if n_cmp:
            assert int(j.max()) < n_slc and int(i.max()) == n_cmp - 1  # inside the matrix
        pairs = list(zip(i.tolist(), j.tolist()))
        assert len(set(pairs)) == len(pairs)  # each entry once
        dense = torch.zeros(n_cmp, n_slc)
        dense[i, j] = w
        # overlap_matrix is built from these pairs, so check both against a count of tokens.
        brute = torch.tensor([[len(set(range(a * cfg.stride, a * cfg.stride + cfg.block_len))
                                   & set(range(b * cfg.select_block, (b + 1) * cfg.select_block)))
                               / cfg.stride for b in range(n_slc)] for a in range(n_cmp)])
        assert torch.equal(dense, brute.reshape(n_cmp, n_slc)), f"S={S}"
        assert torch.equal(overlap_matrix(n_cmp, n_slc, cfg), dense), f"S={S}"


def test_overlap_pairs_of_no_compressed_token_are_empty():
    i, j, w = overlap_pairs(0, NSAConfig(), "cpu")
    assert i.numel() == j.numel() == w.numel() == 0


def test_overlap_pairs_paper_weights():
    # Eq. (9) for l=32, d=16, l'=64: selection block j collects compression blocks
    # 4j-1 .. 4j+3 with weights 1, 2, 2, 2, 1.
    i, j, w = overlap_pairs(20, NSAConfig(), "cpu")
    got = {(a, b): c for a, b, c in zip(i.tolist(), j.tolist(), w.tolist())}
    assert {a: got[(a, 2)] for a in range(7, 12)} == {7: 1.0, 8: 2.0, 9: 2.0, 10: 2.0, 11: 1.0}
    assert sum(c for (a, b), c in got.items() if b == 2) == 8.0  # l' / d * l / d
