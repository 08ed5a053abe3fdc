"""Tests for readingroom.nsa.attention: the dense nsa_attention against the per-token float64
loop of readingroom.nsa.reference, masked_attention's empty rows and gradients (bad input:
test_nsa_bad_input)."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.nsa import (
    BRANCHES,
    BlockCompressor,
    NativeSparseAttention,
    NSAConfig,
    NSAParts,
    compressed_mask,
    compression_blocks,
    masked_attention,
    nsa_attention,
    nsa_loop_reference,
    num_compressed,
    num_selection_blocks,
    selection_scores,
)

F64 = torch.float64


def _phi(D: int, l: int, kind: str, seed: int) -> BlockCompressor:
    """φ in double with random weights (std 0.3), so that the MLP path changes the numbers."""
    torch.manual_seed(seed)
    phi = BlockCompressor(D, l, kind).double()
    with torch.no_grad():
        for p in phi.parameters():
            p.normal_(0.0, 0.3)
    return phi


def _case(cfg, *, B=2, T=23, H=2, H_kv=2, D=4, separate=False, seed=0):
    """Random inputs; returns (kwargs for nsa_attention, args for nsa_loop_reference)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=F64)

    q = rnd(B, T, H, D)
    n_sets = 3 if separate else 1
    ks = [rnd(B, T, H_kv, D) for _ in range(n_sets)]
    vs = [rnd(B, T, H_kv, D) for _ in range(n_sets)]
    if not separate:
        ks, vs = ks * 3, vs * 3
    gates = torch.rand(B, T, H, 3, generator=g, dtype=F64)
    phi_k = _phi(D, cfg.block_len, cfg.phi, seed + 1)
    phi_v = _phi(D, cfg.block_len, cfg.phi, seed + 2)
    with torch.no_grad():
        k_cmp = phi_k(compression_blocks(ks[0], cfg.block_len, cfg.stride))
        v_cmp = phi_v(compression_blocks(vs[0], cfg.block_len, cfg.stride))
    kwargs = dict(q=q, k=ks[1], v=vs[1], k_cmp=k_cmp, v_cmp=v_cmp, gates=gates, cfg=cfg)
    if separate:
        kwargs.update(k_win=ks[2], v_win=vs[2])
    ref_args = (q, tuple(ks), tuple(vs), gates, cfg, phi_k, phi_v)
    return kwargs, ref_args


def _check_against_loop(cfg, scale=None, **shape):
    kwargs, ref_args = _case(cfg, **shape)
    parts = nsa_attention(**kwargs, scale=scale, return_parts=True)
    with torch.no_grad():
        ref, selected = nsa_loop_reference(*ref_args, scale=scale)
    assert isinstance(parts, NSAParts)
    torch.testing.assert_close(parts.out, ref, rtol=0, atol=1e-10)
    assert set(parts.branch) == set(cfg.branches)
    # Eq. (5): the output is the gated sum of the branch outputs.
    gated = sum(kwargs["gates"][..., BRANCHES.index(c), None] * o for c, o in parts.branch.items())
    torch.testing.assert_close(parts.out, gated, rtol=0, atol=0)
    if "slc" in cfg.branches:
        B, T, H_kv = parts.indices.shape[:3]
        assert parts.indices.shape[-1] == cfg.top_n
        for b in range(B):
            for t in range(T):
                for h in range(H_kv):
                    got = [j for j in parts.indices[b, t, h].tolist() if j >= 0]
                    assert got == selected[b][t][h], (b, t, h)
    else:
        assert parts.indices is None and parts.scores is None
    if "cmp" not in cfg.branches:
        assert parts.p_cmp is None
    return parts, kwargs


def _cfg(l, d, lp, n, w, **kw) -> NSAConfig:
    return NSAConfig(block_len=l, stride=d, select_block=lp, top_n=n, window=w, **kw)


LOOP_CASES = [
    # G = 1, divisible sizes, T = 23 not a multiple of l = 4, d = 2, l' = 4
    (_cfg(4, 2, 4, 3, 5), dict(H=2, H_kv=2, T=23)),
    # G = 2, nothing divides anything (l = 6, d = 4, l' = 10, T = 37)
    (_cfg(6, 4, 10, 3, 7, n_initial=1, n_local=1), dict(H=4, H_kv=2, T=37)),
    # G = 4, several free blocks to choose
    (_cfg(8, 4, 4, 5, 9), dict(H=4, H_kv=1, T=45, D=3)),
    # no forced block at all, and non-overlapping compression blocks (d = l)
    (_cfg(3, 3, 5, 2, 4, n_initial=0, n_local=0), dict(H=2, H_kv=1, T=29)),
    # mean pooling φ
    (_cfg(4, 2, 8, 3, 6, phi="mean"), dict(H=4, H_kv=2, T=30)),
    # separate keys/values per branch (the paper's choice)
    (_cfg(4, 2, 4, 3, 5, separate_kv=True), dict(H=4, H_kv=2, T=26, separate=True)),
    # window longer than the sequence, top_n more than the blocks
    (_cfg(4, 4, 4, 16, 512), dict(H=2, H_kv=1, T=19)),
]


@pytest.mark.parametrize("cfg,shape", LOOP_CASES, ids=[f"case{i}" for i in range(len(LOOP_CASES))])
def test_matches_loop_reference(cfg, shape):
    parts, kwargs = _check_against_loop(cfg, **shape)
    # The probabilities of Eq. (8) cover the visible compressed tokens only, and sum to 1 once
    # there is one; the scores are Eq. (9)-(10) of those probabilities.
    T = kwargs["q"].shape[1]
    visible = compressed_mask(torch.arange(T), kwargs["k_cmp"].shape[1], cfg)  # [T, N_c]
    hidden = ~visible[None, :, None, :].expand_as(parts.p_cmp)
    assert torch.all(parts.p_cmp.masked_select(hidden) == 0)
    sums = parts.p_cmp.sum(-1)  # [B, T, H]
    has = visible.any(-1)[None, :, None].expand_as(sums)
    torch.testing.assert_close(sums[has], torch.ones_like(sums[has]))
    assert torch.all(sums[~has] == 0)
    n_slc = num_selection_blocks(T, cfg.select_block)
    torch.testing.assert_close(
        parts.scores,
        selection_scores(parts.p_cmp, n_slc, kwargs["k"].shape[2], cfg),
        rtol=0,
        atol=0,
    )


def test_matches_loop_reference_with_a_scale():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
    _check_against_loop(cfg, scale=0.77, H=4, H_kv=2, T=17)


@pytest.mark.parametrize(
    "branches", [("cmp",), ("win",), ("cmp", "slc"), ("cmp", "win"), ("cmp", "slc", "win")]
)
@pytest.mark.parametrize("separate", [False, True])
def test_branch_subsets_match_loop_reference(branches, separate):
    cfg = _cfg(4, 2, 4, 3, 5, branches=branches, separate_kv=separate)
    parts, kwargs = _check_against_loop(cfg, H=4, H_kv=2, T=21, separate=separate, seed=7)
    if branches == ("win",):
        assert parts.p_cmp is None


def test_short_sequence_has_no_compressed_token():
    cfg = NSAConfig(block_len=8, stride=4, select_block=2, top_n=3, n_local=1, window=3)
    T = 7  # T < l: N_c = 0
    parts, kwargs = _check_against_loop(cfg, H=4, H_kv=2, T=T)
    assert kwargs["k_cmp"].shape[1] == 0
    assert torch.equal(parts.branch["cmp"], torch.zeros_like(parts.branch["cmp"]))
    assert parts.p_cmp.shape == (2, T, 4, 0)
    assert all(torch.isfinite(x).all() for x in (parts.out, *parts.branch.values()))
    # all scores are 0, so the free slot goes to the earliest free block (ties -> lower index)
    assert torch.equal(parts.scores, torch.zeros_like(parts.scores))
    assert parts.indices[0, 6, 0].tolist() == [0, 1, 3]  # initial 0, own 3, free: 1 (tied with 2)


def test_queries_from_q_start_equal_the_tail_of_a_full_pass():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
    kwargs, _ = _case(cfg, H=4, H_kv=2, T=25, separate=True, seed=3)
    full = nsa_attention(**kwargs, return_parts=True)
    for q_start in (1, 10, 24):
        tail = dict(kwargs, q=kwargs["q"][:, q_start:], gates=kwargs["gates"][:, q_start:])
        part = nsa_attention(**tail, q_start=q_start, return_parts=True)
        torch.testing.assert_close(part.out, full.out[:, q_start:], rtol=0, atol=1e-12)
        assert torch.equal(part.indices, full.indices[:, q_start:])


def test_float32_close_to_float64():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
    kwargs, _ = _case(cfg, H=4, H_kv=2, T=20)
    out64 = nsa_attention(**kwargs)
    out32 = nsa_attention(**{k: v.float() if torch.is_tensor(v) else v for k, v in kwargs.items()})
    assert out32.dtype == torch.float32 and out32.shape == out64.shape
    torch.testing.assert_close(out32.double(), out64, rtol=1e-4, atol=1e-5)


# --- masked_attention -----------------------------------------------------------------------


def test_masked_attention_matches_softmax_and_zeroes_empty_rows():
    g = torch.Generator().manual_seed(0)
    B, T, H, H_kv, S, D = 2, 4, 4, 2, 5, 3
    q = torch.randn(B, T, H, D, generator=g, dtype=F64, requires_grad=True)
    k = torch.randn(B, S, H_kv, D, generator=g, dtype=F64, requires_grad=True)
    v = torch.randn(B, S, H_kv, D, generator=g, dtype=F64, requires_grad=True)
    mask = torch.rand(B, H_kv, T, S, generator=g) > 0.4
    mask[:, :, 0] = False  # query 0 sees nothing, in every head
    mask[1, 0, 2] = False  # query 2 sees nothing in group 0 of batch 1
    mask[0, 1, 3] = True
    o, p = masked_attention(q, k, v, mask, 0.5)
    assert o.shape == (B, T, H, D) and p.shape == (B, T, H, S)
    for b in range(B):
        for t in range(T):
            for h in range(H):
                m = mask[b, h // 2, t]
                if not m.any():
                    assert torch.equal(o[b, t, h], torch.zeros(D, dtype=F64))
                    assert torch.equal(p[b, t, h], torch.zeros(S, dtype=F64))
                    continue
                logits = (k[b, :, h // 2] @ q[b, t, h]) * 0.5
                ref = torch.softmax(logits.masked_fill(~m, float("-inf")), -1)
                torch.testing.assert_close(p[b, t, h], ref, rtol=0, atol=1e-14)
                torch.testing.assert_close(o[b, t, h], ref @ v[b, :, h // 2], rtol=0, atol=1e-14)
    (o.sum() + p.sum()).backward()
    for x in (q, k, v):
        assert torch.isfinite(x.grad).all()
    assert torch.equal(q.grad[:, 0], torch.zeros_like(q.grad[:, 0]))  # no key, no gradient


def test_masked_attention_all_masked_has_finite_gradients():
    q = torch.randn(1, 3, 2, 4, dtype=F64, requires_grad=True)
    k = torch.randn(1, 0, 1, 4, dtype=F64, requires_grad=True)  # no key at all
    v = torch.randn(1, 0, 1, 4, dtype=F64, requires_grad=True)
    o, p = masked_attention(q, k, v, torch.zeros(1, 1, 3, 0, dtype=torch.bool), 1.0)
    assert torch.equal(o, torch.zeros_like(o)) and p.shape == (1, 3, 2, 0)
    o.sum().backward()
    assert torch.equal(q.grad, torch.zeros_like(q))


def test_masked_attention_broadcasts_a_2d_mask():
    q = torch.randn(2, 3, 2, 4, dtype=F64)
    k = torch.randn(2, 3, 1, 4, dtype=F64)
    v = torch.randn(2, 3, 1, 4, dtype=F64)
    causal = torch.ones(3, 3, dtype=torch.bool).tril()
    o1, p1 = masked_attention(q, k, v, causal, 0.3)
    o2, p2 = masked_attention(q, k, v, causal[None, None].expand(2, 1, 3, 3), 0.3)
    assert torch.equal(o1, o2) and torch.equal(p1, p2)
    torch.testing.assert_close(o1[:, 0], v[:, 0].expand(2, 2, 4))  # the first query sees key 0 only


# --- gradients ------------------------------------------------------------------------------


TINY = NSAConfig(block_len=4, stride=2, select_block=4, top_n=2, n_initial=0, n_local=1, window=3)


def _tiny_inputs(separate: bool):
    g = torch.Generator().manual_seed(11)
    B, T, H, H_kv, D = 1, 13, 2, 1, 4
    n_cmp = num_compressed(T, TINY.block_len, TINY.stride)  # 5

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=F64).requires_grad_(True)

    xs = [leaf(B, T, H, D), leaf(B, T, H_kv, D), leaf(B, T, H_kv, D)]  # q, k, v
    xs += [leaf(B, n_cmp, H_kv, D), leaf(B, n_cmp, H_kv, D)]  # k_cmp, v_cmp
    xs.append(torch.rand(B, T, H, 3, generator=g, dtype=F64).requires_grad_(True))
    if separate:
        xs += [leaf(B, T, H_kv, D), leaf(B, T, H_kv, D)]
    return xs


@pytest.mark.parametrize("separate", [False, True])
def test_gradcheck_nsa_attention(separate):
    xs = _tiny_inputs(separate)

    def f(*args):
        q, k, v, kc, vc, gates = args[:6]
        extra = dict(k_win=args[6], v_win=args[7]) if separate else {}
        return nsa_attention(q, k, v, kc, vc, gates, TINY, **extra)

    # the test is meaningful only if selection has a free choice to make
    parts = nsa_attention(*xs[:6], TINY, return_parts=True)
    assert len(set(map(tuple, parts.indices[0, :, 0].tolist()))) > 3
    assert torch.autograd.gradcheck(f, tuple(xs), eps=1e-6, atol=1e-8)


def test_no_gradient_through_the_selection_choice():
    q, k, v, kc, vc, gates = _tiny_inputs(False)
    gates = gates.detach().clone()
    gates[..., 0] = 0.0  # cmp off
    gates[..., 2] = 0.0  # win off
    nsa_attention(q, k, v, kc, vc, gates, TINY).sum().backward()
    assert kc.grad is None or torch.equal(kc.grad, torch.zeros_like(kc))
    assert vc.grad is None or torch.equal(vc.grad, torch.zeros_like(vc))
    assert q.grad.abs().sum() > 0 and k.grad.abs().sum() > 0


def test_gradcheck_through_the_module():
    torch.manual_seed(5)
    layer = NativeSparseAttention(8, 2, 1, cfg=TINY).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.3)
    x = torch.randn(1, 13, 8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,), eps=1e-6, atol=1e-8)


# --- argument conventions (the refusals: test_nsa_bad_input) --------------------------------


_r = torch.randn


def _valid():
    cfg = NSAConfig(block_len=4, stride=2, select_block=4, top_n=3, window=5)
    B, T, H, H_kv, D = 2, 9, 4, 2, 3
    n_cmp = num_compressed(T, 4, 2)  # 3
    return dict(
        q=torch.randn(B, T, H, D),
        k=torch.randn(B, T, H_kv, D),
        v=torch.randn(B, T, H_kv, D),
        k_cmp=torch.randn(B, n_cmp, H_kv, D),
        v_cmp=torch.randn(B, n_cmp, H_kv, D),
        gates=torch.rand(B, T, H, 3),
        cfg=cfg,
    )


def test_valid_inputs_pass():
    kw = _valid()
    assert nsa_attention(**kw).shape == kw["q"].shape
    kw.update(k_win=torch.randn(2, 9, 2, 3), v_win=torch.randn(2, 9, 2, 3))
    assert nsa_attention(**kw).shape == kw["q"].shape


def test_queries_after_a_cached_prefix():
    kw = _valid()
    T, S = 9, 11
    kw.update(
        q=kw["q"][:, : T - 2],
        gates=kw["gates"][:, : T - 2],
        k=torch.randn(2, S - 2, 2, 3),
        v=torch.randn(2, S - 2, 2, 3),
    )
    # 7 queries at positions 2..8 of 9 keys: a valid decoding call, but not for Triton
    assert nsa_attention(**kw, q_start=2).shape == (2, 7, 4, 3)
    # (backend="triton" refuses it: test_nsa_bad_input)


def test_default_scale_is_inverse_sqrt_d():
    kw = _valid()
    assert torch.equal(nsa_attention(**kw), nsa_attention(**kw, scale=1 / math.sqrt(3)))
    assert not torch.equal(nsa_attention(**kw), nsa_attention(**kw, scale=1.0))


@pytest.mark.parametrize("H,H_kv", [(2, 2), (4, 2), (4, 1)])
def test_masked_attention_fused_path_matches_when_every_query_sees_a_key(H, H_kv):
    g = torch.Generator().manual_seed(H * 10 + H_kv)
    B, T, S, D = 2, 6, 8, 3
    q = torch.randn(B, T, H, D, generator=g, dtype=F64)
    k = torch.randn(B, S, H_kv, D, generator=g, dtype=F64)
    v = torch.randn(B, S, H_kv, D, generator=g, dtype=F64)
    mask = torch.rand(B, H_kv, T, S, generator=g) > 0.5
    mask[..., 0] = True  # every query sees key 0
    o, p = masked_attention(q, k, v, mask, 0.4)
    o_fused, p_fused = masked_attention(q, k, v, mask, 0.4, need_probs=False)
    assert p_fused is None and p.shape == (B, T, H, S)
    torch.testing.assert_close(o_fused, o, rtol=0, atol=1e-13)
