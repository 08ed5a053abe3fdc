"""Tests for readingroom.nsa.blocks: block counts, masks, Eq. (9) overlaps and the selection of
Eq. (11), each against a brute-force count written from the definitions."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.nsa import (
    NSAConfig,
    compressed_mask,
    compression_blocks,
    num_compressed,
    num_selection_blocks,
    overlap_matrix,
    select_blocks,
    selection_mask,
    selection_scores,
    window_mask,
)

PAPER = NSAConfig()  # l=32, d=16, l'=64


def _brute_select(scores: list[float], t: int, cfg: NSAConfig) -> list[int]:
    """Eq. (11) by hand: forced blocks, then the best scores (ties to the lower index)."""
    own = t // cfg.select_block
    past = range(min(own + 1, len(scores)))
    forced = [j for j in past if j < cfg.n_initial or j > own - cfg.n_local]
    free = sorted((j for j in past if j not in forced), key=lambda j: (-scores[j], j))
    chosen = sorted(forced + free[: cfg.top_n - len(forced)])
    return chosen + [-1] * (cfg.top_n - len(chosen))


# --- counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "length,l,d,expected",
    [
        (0, 4, 2, 0),
        (3, 4, 2, 0),  # S < l
        (4, 4, 2, 1),  # S == l
        (5, 4, 2, 1),
        (6, 4, 2, 2),
        (7, 4, 2, 2),  # S not a multiple of d
        (31, 32, 16, 0),
        (32, 32, 16, 1),
        (47, 32, 16, 1),
        (48, 32, 16, 2),
        (100, 32, 16, 5),
        (12, 4, 4, 3),
        (13, 6, 4, 2),
    ],
)
def test_num_compressed(length, l, d, expected):
    assert num_compressed(length, l, d) == expected
    # Brute force: blocks whose last token i*d + l - 1 exists.
    assert expected == sum(1 for i in range(length + 1) if i * d + l - 1 <= length - 1)


@pytest.mark.parametrize(
    "length,lp,expected",
    [(0, 4, 0), (1, 4, 1), (3, 4, 1), (4, 4, 1), (5, 4, 2), (8, 4, 2), (9, 4, 3), (130, 64, 3)],
)
def test_num_selection_blocks(length, lp, expected):
    assert num_selection_blocks(length, lp) == expected == math.ceil(length / lp)


# --- compression_blocks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "S,l,d", [(13, 4, 2), (12, 4, 4), (11, 6, 4), (7, 3, 1), (4, 4, 2), (3, 4, 2), (20, 5, 3)]
)
def test_compression_blocks_equal_slices(S, l, d):
    k = torch.randn(2, S, 3, 5, dtype=torch.float64)
    blocks = compression_blocks(k, l, d)
    n = num_compressed(S, l, d)
    assert blocks.shape == (2, n, 3, l, 5)
    for i in range(n):
        # [B, l, H, D] -> [B, H, l, D]
        assert torch.equal(blocks[:, i], k[:, i * d : i * d + l].permute(0, 2, 1, 3))


def test_compression_blocks_empty_keeps_dtype():
    k = torch.randn(1, 2, 1, 3, dtype=torch.float64)
    blocks = compression_blocks(k, 4, 2)
    assert blocks.shape == (1, 0, 1, 4, 3) and blocks.dtype == torch.float64


def test_compression_blocks_carry_gradients():
    k = torch.randn(1, 9, 1, 2, dtype=torch.float64, requires_grad=True)
    compression_blocks(k, 4, 2).sum().backward()
    # token s lies in the blocks i with i*2 <= s <= i*2+3 and i < N_c = 3
    expected = [sum(1 for i in range(3) if 2 * i <= s <= 2 * i + 3) for s in range(9)]
    assert k.grad[0, :, 0, 0].tolist() == expected


# --- masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg",
    [
        PAPER,
        NSAConfig(block_len=6, stride=4, select_block=10, top_n=3),
        NSAConfig(block_len=4, stride=4, select_block=4, top_n=3),
    ],
)
@pytest.mark.parametrize("q_start", [0, 5, 40])
def test_compressed_mask_brute_force(cfg, q_start):
    T = 90
    S = q_start + T
    n_cmp = num_compressed(S, cfg.block_len, cfg.stride)
    q_pos = torch.arange(q_start, S)
    m = compressed_mask(q_pos, n_cmp, cfg)
    assert m.shape == (T, n_cmp) and m.dtype == torch.bool
    for ti, t in enumerate(range(q_start, S)):
        for i in range(n_cmp):
            assert bool(m[ti, i]) == (i * cfg.stride + cfg.block_len - 1 <= t)


@pytest.mark.parametrize("window", [1, 3, 7, 100])
@pytest.mark.parametrize("q_start", [0, 4])
def test_window_mask_brute_force(window, q_start):
    T = 12
    S = q_start + T
    q_pos = torch.arange(q_start, S)
    m = window_mask(q_pos, S, window)
    assert m.shape == (T, S) and m.dtype == torch.bool
    for ti, t in enumerate(range(q_start, S)):
        for s in range(S):
            assert bool(m[ti, s]) == (t - window < s <= t)
        assert int(m[ti].sum()) == min(window, t + 1)


# --- overlap_matrix (Eq. 9) -----------------------------------------------------------------


def test_overlap_matrix_paper_sizes_are_eq_9():
    n_cmp, n_slc = num_compressed(512, 32, 16), num_selection_blocks(512, 64)  # 31, 8
    W = overlap_matrix(n_cmp, n_slc, PAPER, dtype=torch.float64)
    assert W.shape == (31, 8) and W.dtype == torch.float64
    # Each compression block (32 tokens) spreads l/d = 2 over the selection blocks.
    assert torch.equal(W.sum(1), torch.full((31,), 2.0, dtype=torch.float64))
    # Selection block j collects compression blocks 4j-1 .. 4j+3 with weights 1, 2, 2, 2, 1.
    for j in range(n_slc):
        expected = torch.zeros(n_cmp, dtype=torch.float64)
        for i, w in zip(range(4 * j - 1, 4 * j + 4), (1.0, 2.0, 2.0, 2.0, 1.0)):
            if 0 <= i < n_cmp:
                expected[i] = w
        assert torch.equal(W[:, j], expected), j
    # Eq. (9) as a double sum: sum_{m<l'/d} sum_{n<l/d} p[l'/d j + m - n].
    p = torch.rand(n_cmp, dtype=torch.float64)
    for j in range(1, n_slc - 1):  # interior blocks, where no index falls off the ends
        eq9 = sum(p[4 * j + m - n] for m in range(4) for n in range(2))
        torch.testing.assert_close(p @ W[:, j], eq9, rtol=1e-14, atol=0)


def test_overlap_matrix_non_divisible_brute_force():
    cfg = NSAConfig(block_len=6, stride=4, select_block=10, top_n=3)
    S = 47
    n_cmp, n_slc = num_compressed(S, 6, 4), num_selection_blocks(S, 10)
    W = overlap_matrix(n_cmp, n_slc, cfg, dtype=torch.float64)
    for i in range(n_cmp):
        tokens_i = set(range(i * 4, i * 4 + 6))
        for j in range(n_slc):
            shared = len(tokens_i & set(range(j * 10, (j + 1) * 10)))
            assert W[i, j].item() == shared / 4, (i, j)
    # every compression block lies inside the covered range: its weights add up to l/d
    torch.testing.assert_close(W.sum(1), torch.full((n_cmp,), 6 / 4, dtype=torch.float64))


def test_overlap_matrix_default_dtype_and_empty():
    W = overlap_matrix(3, 2, NSAConfig(block_len=4, stride=2, select_block=4, top_n=3))
    assert W.dtype == torch.float32
    assert overlap_matrix(0, 2, PAPER).shape == (0, 2)


# --- selection_scores (Eq. 9-10) ------------------------------------------------------------


def test_selection_scores_sums_over_the_gqa_group():
    cfg = NSAConfig(block_len=6, stride=4, select_block=10, top_n=3)
    B, T, H, H_kv, n_cmp, n_slc = 2, 5, 4, 2, 7, 4
    p = torch.rand(B, T, H, n_cmp, dtype=torch.float64)
    s = selection_scores(p, n_slc, H_kv, cfg)
    assert s.shape == (B, T, H_kv, n_slc)
    W = overlap_matrix(n_cmp, n_slc, cfg, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            for g in range(H_kv):
                for j in range(n_slc):
                    expected = sum(
                        p[b, t, h, i].item() * W[i, j].item()
                        for h in (2 * g, 2 * g + 1)
                        for i in range(n_cmp)
                    )
                    assert s[b, t, g, j].item() == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_selection_scores_one_kv_head_per_query_head():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3)
    p = torch.rand(1, 3, 2, 5, dtype=torch.float64)
    s = selection_scores(p, 3, 2, cfg)
    torch.testing.assert_close(s, p @ overlap_matrix(5, 3, cfg, dtype=torch.float64))


# --- select_blocks (Eq. 11) -----------------------------------------------------------------


SELECT_CFGS = [
    NSAConfig(block_len=4, stride=2, select_block=4, top_n=4, n_initial=1, n_local=2),
    NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, n_initial=0, n_local=1),
    NSAConfig(block_len=4, stride=2, select_block=5, top_n=5, n_initial=2, n_local=1),
    NSAConfig(block_len=4, stride=2, select_block=3, top_n=2, n_initial=0, n_local=0),
]


@pytest.mark.parametrize("cfg", SELECT_CFGS)
@pytest.mark.parametrize("q_start", [0, 7])
def test_select_blocks_matches_brute_force(cfg, q_start):
    g = torch.Generator().manual_seed(3)
    B, T, H_kv = 2, 30, 2
    S = q_start + T
    n_slc = num_selection_blocks(S, cfg.select_block)
    scores = torch.rand(B, T, H_kv, n_slc, generator=g, dtype=torch.float64)
    # some exact ties, to check that they go to the lower index
    scores[0, :, 0] = torch.round(scores[0, :, 0] * 2) / 2
    scores[1, :, 1] = 0.0
    q_pos = torch.arange(q_start, S)
    idx = select_blocks(scores, q_pos, cfg)
    assert idx.shape == (B, T, H_kv, cfg.top_n) and idx.dtype == torch.int64
    for b in range(B):
        for ti, t in enumerate(range(q_start, S)):
            for h in range(H_kv):
                expected = _brute_select(scores[b, ti, h].tolist(), t, cfg)
                assert idx[b, ti, h].tolist() == expected, (b, t, h)


def test_select_blocks_properties():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=4, n_initial=1, n_local=2)
    T = 40
    n_slc = num_selection_blocks(T, 4)
    scores = torch.rand(1, T, 1, n_slc, dtype=torch.float64)
    scores[..., 5] = 100.0  # a block every query past it wants
    idx = select_blocks(scores, torch.arange(T), cfg)[0, :, 0]
    for t in range(T):
        row = idx[t].tolist()
        own = t // 4
        real = [j for j in row if j >= 0]
        assert row == real + [-1] * (4 - len(real))  # padding at the end
        assert real == sorted(set(real))  # ascending, no repeats
        assert all(j <= own for j in real)  # no future block
        assert 0 in real and own in real  # initial and own block
        if own >= 1:
            assert own - 1 in real  # the other local block
        if own > 5:
            assert 5 in real  # the top-scoring free block
        assert len(real) == min(4, own + 1)


def test_select_blocks_future_scores_are_ignored():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, n_initial=0, n_local=1)
    scores = torch.zeros(1, 1, 1, 6, dtype=torch.float64)
    scores[..., 4:] = 1e9  # future blocks with huge scores
    scores[..., 1] = 0.5
    idx = select_blocks(scores, torch.tensor([9]), cfg)  # own block 2
    assert idx[0, 0, 0].tolist() == [0, 1, 2]
    scores[..., 0] = 0.7
    idx = select_blocks(scores, torch.tensor([9]), cfg.replace(top_n=2))
    assert idx[0, 0, 0].tolist() == [0, 2]


def test_select_blocks_width_is_top_n_when_fewer_blocks_exist():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=6)
    scores = torch.rand(2, 5, 1, 2, dtype=torch.float64)  # only 2 blocks in the whole sequence
    idx = select_blocks(scores, torch.arange(5), cfg)
    assert idx.shape == (2, 5, 1, 6)
    assert idx[0, 0, 0].tolist() == [0, -1, -1, -1, -1, -1]
    assert idx[1, 4, 0].tolist() == [0, 1, -1, -1, -1, -1]


def test_select_blocks_all_zero_scores_take_the_earliest():
    cfg = NSAConfig(block_len=4, stride=2, select_block=2, top_n=4, n_initial=1, n_local=1)
    scores = torch.zeros(1, 1, 1, 10)
    idx = select_blocks(scores, torch.tensor([19]), cfg)  # own block 9
    assert idx[0, 0, 0].tolist() == [0, 1, 2, 9]


# --- selection_mask -------------------------------------------------------------------------


@pytest.mark.parametrize("lp,q_start", [(4, 0), (5, 0), (3, 6)])
def test_selection_mask_brute_force(lp, q_start):
    cfg = NSAConfig(block_len=4, stride=2, select_block=lp, top_n=3, n_initial=1, n_local=1)
    B, T, H_kv = 2, 17, 2
    S = q_start + T
    n_slc = num_selection_blocks(S, lp)
    q_pos = torch.arange(q_start, S)
    g = torch.Generator().manual_seed(lp)
    idx = select_blocks(torch.rand(B, T, H_kv, n_slc, generator=g), q_pos, cfg)
    if q_start == 0:
        assert (idx == -1).any()  # the early queries are padded
    m = selection_mask(idx, q_pos, S, lp)
    assert m.shape == (B, H_kv, T, S) and m.dtype == torch.bool
    for b in range(B):
        for h in range(H_kv):
            for ti, t in enumerate(range(q_start, S)):
                blocks = {j for j in idx[b, ti, h].tolist() if j >= 0}
                for s in range(S):
                    assert bool(m[b, h, ti, s]) == (s // lp in blocks and s <= t), (b, h, t, s)


def test_selection_mask_ignores_padding():
    idx = torch.tensor([[[[1, -1, -1]]]])  # [B=1, T=1, H_kv=1, n=3]
    m = selection_mask(idx, torch.tensor([7]), 8, 2)
    assert m[0, 0, 0].tolist() == [False, False, True, True, False, False, False, False]
    # the last block (index n_slc - 1 = 3) is not switched on by the -1 entries
    only_pad = torch.full((1, 1, 1, 3), -1)
    assert not selection_mask(only_pad, torch.tensor([7]), 8, 2).any()
