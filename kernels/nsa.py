r"""Triton kernels for Native Sparse Attention (NSA; DeepSeek, 2025, arXiv 2502.11089).

NSA replaces one dense causal attention by three cheap branches whose outputs are gated together
(equation (5) of the paper): a *compressed* branch over one summary token per block of ``l`` raw
tokens (stride ``d``), a *selected* branch over the ``n`` blocks of ``l'`` raw tokens that score
highest, and a *sliding-window* branch over the last ``w`` tokens. This module holds the attention
kernels of the three branches; the gating and the scoring of blocks are plain PyTorch elsewhere.
Shapes: ``B`` batch, ``T`` queries, ``S`` keys, ``H`` query heads, ``Hkv`` key/value heads,
``G = H // Hkv`` (GQA group: query head ``h`` reads kv head ``h // G``), ``D`` head dim; every
tensor is ``[B, T, H, D]`` ("BTHD"). Scores are ``scale * q . k`` with ``scale = 1/sqrt(D)``.

1. :func:`positional_attention` -- FlashAttention-2-style attention with an online softmax over
   tiles of ``BLOCK_M`` queries x ``BLOCK_N`` keys, where key ``j`` sits at position
   ``p_j = j * key_stride + key_offset`` and query ``t`` sees it iff::

       p_j <= t   and   p_j > t - window                                              (1)

   One kernel serves two branches. Sliding window (:func:`sliding_window_attention`): raw keys,
   ``key_stride=1, key_offset=0, window=w``. Compressed (:func:`compressed_attention`, paper
   equation (7)): compressed key ``j`` summarises raw tokens ``[j d, j d + l - 1]`` and becomes
   visible once its whole block is in the past, so ``key_stride=d, key_offset=l-1`` and no
   window. Key tiles in which no key is visible to any query of the tile are never loaded (the
   loop runs over the visible range only). ``window=None`` is the same as ``window=T+1``.

2. :func:`select_attention` -- the selected branch (paper equations (11)-(12)), with the paper's
   *group-centric* data loading (section 3.4): all ``G`` query heads of a GQA group select the
   same blocks (the paper sums the block scores over the group, equation (10)), so the forward
   grid has one program per ``(b, t, kv head)``. It loads the group's ``G`` query rows as one
   ``[G_PAD, D]`` tile (``G_PAD = max(16, next_pow2(G))``: ``tl.dot`` needs at least 16 rows, so
   the rows ``g >= G`` are loaded as zeros and never stored), then walks the ``n`` indices in
   ``block_indices[b, t, kv head, :]``, loading each selected K/V block ``[block_size, D]`` once
   for all ``G`` heads, with an online softmax. Query ``t`` sees raw token ``s`` of a selected
   block iff ``s <= t``: a block entirely in the future and a padding index ``-1`` are skipped,
   the block holding ``t`` is masked token by token.

Both branches return ``(o, lse)`` with ``lse = log sum_j exp(score_j)`` over the visible keys
(natural log, fp32). A query that sees no key gets ``o = 0`` and ``lse = -inf``, with no NaN in
forward or backward (the online softmax keeps a "row max" of ``-inf`` out of every subtraction).

Backward (``dS = P * (dP - delta)``, ``delta = rowsum(dO * O)``, FlashAttention-2's equations),
recomputing ``P = exp(scale * q . k - lse)`` from the saved ``lse``, deterministic, no atomics:

* positional: ``delta`` in PyTorch; a dk/dv kernel with one program per ``(b, kv head, key
  tile)`` that loops over the ``G`` heads of the group and over the query tiles that can see the
  tile, accumulating ``dk, dv`` in registers; and a dq kernel per ``(b, head, query tile)``.
* select: dq with the forward's grid. dk/dv need, for each key block, the queries that selected
  it -- the transpose of ``block_indices``. It is built in PyTorch as a CSR reverse index
  (:func:`_reverse_index`): the pairs ``(row, t)`` with ``row = (b * Hkv + kv head) *
  n_blocks + j`` for every visible selection, stably sorted by ``row`` (so each row's queries
  stay in increasing ``t``), ``searchsorted`` giving ``row_ptr`` (a ``bincount`` + ``cumsum``
  without CUDA atomics, so it also runs under ``torch.use_deterministic_algorithms``). One
  program per ``(b, kv head, key block)`` then loops over ``query_t[row_ptr[row]:row_ptr[row+1]]``,
  reloads each query group's ``q, dO, lse, delta`` and accumulates that block's ``dk, dv``.
  Every key block is owned by exactly one program, so the sums run in a fixed order.

``select_attention`` assumes no index appears twice in one row (the caller -- a top-n -- ensures
it; the kernel would count such a block twice). The public function checks this and the range of
the indices with a few PyTorch ops (a sort and one device sync); ``check_indices=False`` skips
the checks.

Dtypes: float16 and float32 storage; the kernels compute in fp32 and write outputs in the input
dtype. fp16 dots run on tensor cores with fp32 accumulation (``P`` and ``dS`` are rounded to fp16
before their products, as in FlashAttention); fp32 dots use IEEE fp32 (``input_precision=
"ieee"``, no TF32), exact but without tensor cores. bfloat16 is rejected: Triton's interpreter,
which runs these kernels on CPU in CI, computes bf16 ``tl.dot`` wrongly, so a bf16 path could not
be tested. ``D`` must be 16, 32, 64 or 128 (``tl.dot`` needs power-of-two sizes >= 16).

Pieces, in the tutorial order: kernels (``_pos_*``, ``_sel_*``), :class:`PositionalAttention`,
:class:`SelectAttention`, the references :func:`positional_attention_reference` and
:func:`select_attention_reference`, and the public functions.
"""

from __future__ import annotations

import math
import numbers

import torch

import readingroom.kernels as _backend  # noqa: I001  (sets TRITON_INTERPRET before triton loads)
import triton
import triton.language as tl

__all__ = [
    "SUPPORTED_DTYPES",
    "SUPPORTED_HEAD_DIMS",
    "PositionalAttention",
    "SelectAttention",
    "compressed_attention",
    "positional_attention",
    "positional_attention_reference",
    "select_attention",
    "select_attention_reference",
    "sliding_window_attention",
]

#: Storage dtypes the kernels accept (the references also take bfloat16 and float64).
SUPPORTED_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.float32)
_REFERENCE_DTYPES: tuple[torch.dtype, ...] = (
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
)
#: Head dims the kernels accept: ``tl.dot`` needs power-of-two tile sides of at least 16.
SUPPORTED_HEAD_DIMS: tuple[int, ...] = (16, 32, 64, 128)
_MIN_DOT = 16  # smallest tile side tl.dot accepts

# Tiles. Under the interpreter each program is Python-level work, and 16 (the smallest tl.dot
# side) keeps tile boundaries inside the small test shapes. The compiled sizes are the usual
# FlashAttention-2 choices, not autotuned: with no GPU at hand, every kernel was compiled for
# sm_90 (triton.compile with a GPUTarget) and, in fp16 at D=64 and 128, spilled no registers.
_INTERPRET_TILES = (16, 16)


def _pos_tiles(head_dim: int) -> tuple[int, int, int]:
    """``(BLOCK_M, BLOCK_N, num_warps)`` for the positional kernels."""
    if _backend.INTERPRETED:
        return (*_INTERPRET_TILES, 4)
    return (64, 64, 4) if head_dim <= 64 else (64, 32, 8)


def _sel_num_warps(head_dim: int, block_size: int) -> int:
    """``num_warps`` for the select kernels: 8 once a K/V block outgrows 64 x 64 (compiled for
    sm_90 without a GPU at hand, 4 warps spilled registers at D=128, block 64; 8 did not)."""
    return 4 if head_dim * block_size <= 64 * 64 else 8


def _dot_precision(dtype: torch.dtype) -> str:
    """``input_precision`` for ``tl.dot``: IEEE fp32 for fp32 storage (no TF32), else default."""
    return "ieee" if dtype == torch.float32 else "tf32"


# --------------------------------------------------------------------------------------------
# Kernels: positional attention (sliding-window and compressed branches)
# --------------------------------------------------------------------------------------------


@triton.jit
def _pos_fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr,  # q, o [B, T, H, D]; k, v [B, S, Hkv, D]; lse [B, T, H]
    stride_qb, stride_qt, stride_qh,  # q and o (last dim contiguous)
    stride_kb, stride_ks, stride_kh,  # k and v
    stride_lb, stride_lt,  # lse (head stride 1)
    T, S, H, G,
    key_stride, key_offset, window,  # equation (1); window = T + 1 means "no window"
    scale,
    D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PRECISION: tl.constexpr,
):
    """One program per (query tile, b * H + h): online softmax over the visible key tiles."""
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1).to(tl.int64)
    b = pid_bh // H
    h = pid_bh % H
    kvh = h // G
    m0 = pid_m * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)  # [BM] query positions t
    offs_d = tl.arange(0, D)
    q_rows = q_ptr + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt
    q = tl.load(q_rows + offs_d[None, :], mask=offs_m[:, None] < T, other=0.0)  # [BM, D]
    k_base = k_ptr + b * stride_kb + kvh * stride_kh
    v_base = v_ptr + b * stride_kb + kvh * stride_kh

    m_i = tl.full([BLOCK_M], -float("inf"), tl.float32)  # running max of the scores
    l_i = tl.zeros([BLOCK_M], tl.float32)  # running sum of exp(score - m_i)
    acc = tl.zeros([BLOCK_M, D], tl.float32)  # running sum of exp(score - m_i) * v

    # Keys visible to some query of the tile: p_j <= m0 + BLOCK_M - 1 and p_j > m0 - window.
    # (Written with non-negative operands only, so // is floor division on every backend.)
    hi = tl.minimum(S, tl.maximum(m0 + BLOCK_M - 1 - key_offset + key_stride, 0) // key_stride)
    first = (tl.maximum(m0 - window - key_offset + 1, 0) + key_stride - 1) // key_stride
    lo = (first // BLOCK_N) * BLOCK_N
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)  # [BN] key indices j
        k_mask = offs_n < S
        k = tl.load(k_base + offs_n[:, None] * stride_ks + offs_d[None, :],
                    mask=k_mask[:, None], other=0.0)  # [BN, D]
        v = tl.load(v_base + offs_n[:, None] * stride_ks + offs_d[None, :],
                    mask=k_mask[:, None], other=0.0)  # [BN, D]
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [BM, BN]
        pos = offs_n * key_stride + key_offset  # [BN] p_j
        visible = ((pos[None, :] <= offs_m[:, None]) & (pos[None, :] > offs_m[:, None] - window)
                   & k_mask[None, :])  # [BM, BN], equation (1)
        s = tl.where(visible, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))  # [BM]; -inf while a row has seen nothing
        m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)  # never subtract -inf from -inf
        alpha = tl.exp(m_i - m_safe)  # [BM] rescales the old sums (0 when m_i = -inf)
        p = tl.exp(s - m_safe[:, None])  # [BM, BN], 0 where invisible
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new

    seen = l_i > 0.0  # False for a query with no visible key
    l_div = tl.where(seen, l_i, 1.0)
    o = tl.where(seen[:, None], acc / l_div[:, None], 0.0)
    lse = tl.where(seen, m_i + tl.log(l_div), -float("inf"))
    o_rows = o_ptr + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt
    tl.store(o_rows + offs_d[None, :], o.to(o_ptr.dtype.element_ty), mask=offs_m[:, None] < T)
    tl.store(lse_ptr + b * stride_lb + offs_m * stride_lt + h, lse, mask=offs_m < T)


@triton.jit
def _pos_bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
    stride_qb, stride_qt, stride_qh,  # q and do
    stride_kb, stride_ks, stride_kh,  # k, v, dk, dv
    stride_lb, stride_lt,  # lse and delta
    T, S, Hkv, G,
    key_stride, key_offset, window,
    scale,
    D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PRECISION: tl.constexpr,
):
    """One program per (key tile, b * Hkv + kv head): ``dk, dv`` summed over the G heads of the
    group and the query tiles that see the tile, in registers (deterministic, no atomics)."""
    pid_n = tl.program_id(0)
    pid_bk = tl.program_id(1).to(tl.int64)
    b = pid_bk // Hkv
    kvh = pid_bk % Hkv
    n0 = pid_n * BLOCK_N
    offs_n = n0 + tl.arange(0, BLOCK_N)  # [BN] key indices j
    offs_d = tl.arange(0, D)
    k_mask = offs_n < S
    kv_off = b * stride_kb + kvh * stride_kh + offs_n[:, None] * stride_ks + offs_d[None, :]
    k = tl.load(k_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BN, D]
    v = tl.load(v_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BN, D]
    pos = offs_n * key_stride + key_offset  # [BN] p_j
    dk = tl.zeros([BLOCK_N, D], tl.float32)
    dv = tl.zeros([BLOCK_N, D], tl.float32)

    # Queries that see some key of the tile: t >= p_{n0} and t < p_last + window.
    last = tl.minimum(n0 + BLOCK_N, S) - 1
    t_lo = ((n0 * key_stride + key_offset) // BLOCK_M) * BLOCK_M
    t_hi = tl.minimum(T, last * key_stride + key_offset + window)
    for g in range(G):
        h = kvh * G + g
        q_base = q_ptr + b * stride_qb + h * stride_qh
        do_base = do_ptr + b * stride_qb + h * stride_qh
        l_base = b * stride_lb + h
        for m0 in range(t_lo, t_hi, BLOCK_M):
            offs_m = m0 + tl.arange(0, BLOCK_M)  # [BM] query positions t
            q_mask = offs_m < T
            q = tl.load(q_base + offs_m[:, None] * stride_qt + offs_d[None, :],
                        mask=q_mask[:, None], other=0.0)  # [BM, D]
            do = tl.load(do_base + offs_m[:, None] * stride_qt + offs_d[None, :],
                         mask=q_mask[:, None], other=0.0)  # [BM, D]
            lse = tl.load(lse_ptr + l_base + offs_m * stride_lt, mask=q_mask, other=0.0)
            delta = tl.load(delta_ptr + l_base + offs_m * stride_lt, mask=q_mask, other=0.0)
            s_t = tl.dot(k, tl.trans(q), input_precision=PRECISION) * scale  # [BN, BM] = S^T
            visible = ((pos[:, None] <= offs_m[None, :])
                       & (pos[:, None] > offs_m[None, :] - window)
                       & k_mask[:, None] & q_mask[None, :])  # [BN, BM]
            p_t = tl.exp(tl.where(visible, s_t - lse[None, :], -float("inf")))  # P^T
            dv += tl.dot(p_t.to(do.dtype), do, input_precision=PRECISION)  # [BN, D]
            dp_t = tl.dot(v, tl.trans(do), input_precision=PRECISION)  # [BN, BM] = dP^T
            ds_t = p_t * (dp_t - delta[None, :])  # [BN, BM] = dS^T
            dk += tl.dot(ds_t.to(q.dtype), q, input_precision=PRECISION)  # [BN, D]
    dk = dk * scale
    tl.store(dk_ptr + kv_off, dk.to(dk_ptr.dtype.element_ty), mask=k_mask[:, None])
    tl.store(dv_ptr + kv_off, dv.to(dv_ptr.dtype.element_ty), mask=k_mask[:, None])


@triton.jit
def _pos_bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr,
    stride_qb, stride_qt, stride_qh,  # q, do, dq
    stride_kb, stride_ks, stride_kh,  # k, v
    stride_lb, stride_lt,  # lse and delta
    T, S, H, G,
    key_stride, key_offset, window,
    scale,
    D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PRECISION: tl.constexpr,
):
    """One program per (query tile, b * H + h): ``dq = scale * dS K`` over the visible tiles."""
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1).to(tl.int64)
    b = pid_bh // H
    h = pid_bh % H
    kvh = h // G
    m0 = pid_m * BLOCK_M
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    q_mask = offs_m < T
    q_off = b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :]
    q = tl.load(q_ptr + q_off, mask=q_mask[:, None], other=0.0)  # [BM, D]
    do = tl.load(do_ptr + q_off, mask=q_mask[:, None], other=0.0)  # [BM, D]
    lse = tl.load(lse_ptr + b * stride_lb + offs_m * stride_lt + h, mask=q_mask, other=0.0)
    delta = tl.load(delta_ptr + b * stride_lb + offs_m * stride_lt + h, mask=q_mask, other=0.0)
    k_base = k_ptr + b * stride_kb + kvh * stride_kh
    v_base = v_ptr + b * stride_kb + kvh * stride_kh
    dq = tl.zeros([BLOCK_M, D], tl.float32)

    hi = tl.minimum(S, tl.maximum(m0 + BLOCK_M - 1 - key_offset + key_stride, 0) // key_stride)
    first = (tl.maximum(m0 - window - key_offset + 1, 0) + key_stride - 1) // key_stride
    lo = (first // BLOCK_N) * BLOCK_N
    for n0 in range(lo, hi, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        k_mask = offs_n < S
        k = tl.load(k_base + offs_n[:, None] * stride_ks + offs_d[None, :],
                    mask=k_mask[:, None], other=0.0)  # [BN, D]
        v = tl.load(v_base + offs_n[:, None] * stride_ks + offs_d[None, :],
                    mask=k_mask[:, None], other=0.0)  # [BN, D]
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [BM, BN]
        pos = offs_n * key_stride + key_offset
        visible = ((pos[None, :] <= offs_m[:, None]) & (pos[None, :] > offs_m[:, None] - window)
                   & k_mask[None, :] & q_mask[:, None])
        p = tl.exp(tl.where(visible, s - lse[:, None], -float("inf")))  # [BM, BN]
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)  # [BM, BN]
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)  # [BM, D]
    dq = dq * scale
    tl.store(dq_ptr + q_off, dq.to(dq_ptr.dtype.element_ty), mask=q_mask[:, None])


# --------------------------------------------------------------------------------------------
# Kernels: selected attention (group-centric)
# --------------------------------------------------------------------------------------------


@triton.jit
def _sel_fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, idx_ptr,  # idx: block_indices [B, T, Hkv, n] int32
    stride_qb, stride_qt, stride_qh,  # q and o
    stride_kb, stride_kt, stride_kh,  # k and v
    stride_lb, stride_lt,  # lse
    stride_ib, stride_it, stride_ih,  # block_indices (last dim contiguous)
    T, Hkv, G, n_sel,
    scale,
    D: tl.constexpr, BLOCK_SIZE: tl.constexpr, G_PAD: tl.constexpr, PRECISION: tl.constexpr,
):
    """One program per (query t, b * Hkv + kv head): the G heads of the group as one [G_PAD, D]
    tile, each selected K/V block loaded once and shared by all G heads."""
    t = tl.program_id(0).to(tl.int64)
    pid_bk = tl.program_id(1).to(tl.int64)
    b = pid_bk // Hkv
    kvh = pid_bk % Hkv
    offs_g = tl.arange(0, G_PAD)  # [G_PAD] head within the group; rows >= G are padding
    g_mask = offs_g < G
    heads = kvh * G + offs_g
    offs_d = tl.arange(0, D)
    q_off = b * stride_qb + t * stride_qt + heads[:, None] * stride_qh + offs_d[None, :]
    q = tl.load(q_ptr + q_off, mask=g_mask[:, None], other=0.0)  # [G_PAD, D]
    kv_base = b * stride_kb + kvh * stride_kh
    idx_base = idx_ptr + b * stride_ib + t * stride_it + kvh * stride_ih
    offs_s = tl.arange(0, BLOCK_SIZE)

    m_i = tl.full([G_PAD], -float("inf"), tl.float32)
    l_i = tl.zeros([G_PAD], tl.float32)
    acc = tl.zeros([G_PAD, D], tl.float32)
    for i in range(n_sel):
        blk = tl.load(idx_base + i)
        # Padding (-1) and blocks entirely in the future contribute nothing: skip them.
        if (blk >= 0) & (blk * BLOCK_SIZE <= t):
            kpos = blk * BLOCK_SIZE + offs_s  # [BS] raw token positions s
            k_mask = kpos <= t  # causal inside the block holding t (and kpos < T since t < T)
            kv_off = kv_base + kpos[:, None] * stride_kt + offs_d[None, :]
            k = tl.load(k_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
            v = tl.load(v_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [G_PAD, BS]
            s = tl.where(k_mask[None, :], s, -float("inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))  # finite: the block holds a token s <= t
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
            m_i = m_new

    seen = l_i > 0.0
    l_div = tl.where(seen, l_i, 1.0)
    o = tl.where(seen[:, None], acc / l_div[:, None], 0.0)
    lse = tl.where(seen, m_i + tl.log(l_div), -float("inf"))
    tl.store(o_ptr + q_off, o.to(o_ptr.dtype.element_ty), mask=g_mask[:, None])
    tl.store(lse_ptr + b * stride_lb + t * stride_lt + heads, lse, mask=g_mask)


@triton.jit
def _sel_bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr, idx_ptr,
    stride_qb, stride_qt, stride_qh,  # q, do, dq
    stride_kb, stride_kt, stride_kh,  # k, v
    stride_lb, stride_lt,  # lse, delta
    stride_ib, stride_it, stride_ih,
    T, Hkv, G, n_sel,
    scale,
    D: tl.constexpr, BLOCK_SIZE: tl.constexpr, G_PAD: tl.constexpr, PRECISION: tl.constexpr,
):
    """``dq`` with the forward's grid and group-centric loads."""
    t = tl.program_id(0).to(tl.int64)
    pid_bk = tl.program_id(1).to(tl.int64)
    b = pid_bk // Hkv
    kvh = pid_bk % Hkv
    offs_g = tl.arange(0, G_PAD)
    g_mask = offs_g < G
    heads = kvh * G + offs_g
    offs_d = tl.arange(0, D)
    q_off = b * stride_qb + t * stride_qt + heads[:, None] * stride_qh + offs_d[None, :]
    q = tl.load(q_ptr + q_off, mask=g_mask[:, None], other=0.0)  # [G_PAD, D]
    do = tl.load(do_ptr + q_off, mask=g_mask[:, None], other=0.0)  # [G_PAD, D]
    l_off = b * stride_lb + t * stride_lt + heads
    lse = tl.load(lse_ptr + l_off, mask=g_mask, other=0.0)  # [G_PAD]
    delta = tl.load(delta_ptr + l_off, mask=g_mask, other=0.0)  # [G_PAD]
    kv_base = b * stride_kb + kvh * stride_kh
    idx_base = idx_ptr + b * stride_ib + t * stride_it + kvh * stride_ih
    offs_s = tl.arange(0, BLOCK_SIZE)
    dq = tl.zeros([G_PAD, D], tl.float32)
    for i in range(n_sel):
        blk = tl.load(idx_base + i)
        if (blk >= 0) & (blk * BLOCK_SIZE <= t):
            kpos = blk * BLOCK_SIZE + offs_s
            k_mask = kpos <= t
            kv_off = kv_base + kpos[:, None] * stride_kt + offs_d[None, :]
            k = tl.load(k_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
            v = tl.load(v_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
            s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [G_PAD, BS]
            visible = g_mask[:, None] & k_mask[None, :]
            p = tl.exp(tl.where(visible, s - lse[:, None], -float("inf")))
            dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)  # [G_PAD, BS]
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)  # [G_PAD, D]
    dq = dq * scale
    tl.store(dq_ptr + q_off, dq.to(dq_ptr.dtype.element_ty), mask=g_mask[:, None])


@triton.jit
def _sel_bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
    row_ptr_ptr, query_t_ptr,  # CSR reverse index: queries of row (b * Hkv + kvh) * NB + j
    stride_qb, stride_qt, stride_qh,
    stride_kb, stride_kt, stride_kh,  # k, v, dk, dv
    stride_lb, stride_lt,
    T, Hkv, G, n_blocks,
    scale,
    D: tl.constexpr, BLOCK_SIZE: tl.constexpr, G_PAD: tl.constexpr, PRECISION: tl.constexpr,
):
    """One program per (key block j, b * Hkv + kv head): loops over the queries that selected
    block j (the CSR row) and accumulates the block's ``dk, dv`` in registers."""
    j = tl.program_id(0).to(tl.int64)
    pid_bk = tl.program_id(1).to(tl.int64)
    b = pid_bk // Hkv
    kvh = pid_bk % Hkv
    row = pid_bk * n_blocks + j
    start = tl.load(row_ptr_ptr + row)
    end = tl.load(row_ptr_ptr + row + 1)
    offs_s = tl.arange(0, BLOCK_SIZE)
    offs_d = tl.arange(0, D)
    kpos = j * BLOCK_SIZE + offs_s  # [BS] raw token positions of the block
    k_mask = kpos < T
    kv_off = b * stride_kb + kvh * stride_kh + kpos[:, None] * stride_kt + offs_d[None, :]
    k = tl.load(k_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
    v = tl.load(v_ptr + kv_off, mask=k_mask[:, None], other=0.0)  # [BS, D]
    offs_g = tl.arange(0, G_PAD)
    g_mask = offs_g < G
    heads = kvh * G + offs_g
    dk = tl.zeros([BLOCK_SIZE, D], tl.float32)
    dv = tl.zeros([BLOCK_SIZE, D], tl.float32)
    for i in range(start, end):
        t = tl.load(query_t_ptr + i).to(tl.int64)  # a query that selected block j (j*BS <= t)
        q_off = b * stride_qb + t * stride_qt + heads[:, None] * stride_qh + offs_d[None, :]
        q = tl.load(q_ptr + q_off, mask=g_mask[:, None], other=0.0)  # [G_PAD, D]
        do = tl.load(do_ptr + q_off, mask=g_mask[:, None], other=0.0)  # [G_PAD, D]
        l_off = b * stride_lb + t * stride_lt + heads
        lse = tl.load(lse_ptr + l_off, mask=g_mask, other=0.0)
        delta = tl.load(delta_ptr + l_off, mask=g_mask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale  # [G_PAD, BS]
        visible = g_mask[:, None] & (kpos[None, :] <= t)
        p = tl.exp(tl.where(visible, s - lse[:, None], -float("inf")))  # [G_PAD, BS]
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PRECISION)  # [BS, D]
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)  # [G_PAD, BS]
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PRECISION)  # [BS, D]
    dk = dk * scale
    tl.store(dk_ptr + kv_off, dk.to(dk_ptr.dtype.element_ty), mask=k_mask[:, None])
    tl.store(dv_ptr + kv_off, dv.to(dv_ptr.dtype.element_ty), mask=k_mask[:, None])


# --------------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------------


def _delta(o: torch.Tensor, do: torch.Tensor) -> torch.Tensor:
    """``delta = rowsum(dO * O)`` in fp32, ``[B, T, H]`` (FlashAttention-2's ``D_i``)."""
    return (do.float() * o.float()).sum(-1).contiguous()


class PositionalAttention(torch.autograd.Function):
    """Equation (1) attention with the positional kernels above.

    Internal: call :func:`positional_attention`, which validates its inputs. Expects contiguous
    ``q [B, T, H, D]``, ``k, v [B, S, Hkv, D]`` of one supported dtype and already-clamped integer
    parameters (``window = T + 1`` for none).
    """

    @staticmethod
    def forward(ctx, q, k, v, key_stride: int, key_offset: int, window: int, scale: float):
        B, T, H, D = q.shape
        S, Hkv = k.shape[1], k.shape[2]
        o = torch.empty_like(q)  # [B, T, H, D]
        lse = torch.empty(B, T, H, device=q.device, dtype=torch.float32)  # [B, T, H]
        block_m, block_n, num_warps = _pos_tiles(D)
        if B * T * H > 0:
            grid = (triton.cdiv(T, block_m), B * H)
            _pos_fwd_kernel[grid](
                q, k, v, o, lse,
                q.stride(0), q.stride(1), q.stride(2),
                k.stride(0), k.stride(1), k.stride(2),
                lse.stride(0), lse.stride(1),
                T, S, H, H // Hkv, key_stride, key_offset, window, scale,
                D=D, BLOCK_M=block_m, BLOCK_N=block_n, PRECISION=_dot_precision(q.dtype),
                num_warps=num_warps,
            )
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.params = (key_stride, key_offset, window, scale)
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do, _dlse):
        q, k, v, o, lse = ctx.saved_tensors
        key_stride, key_offset, window, scale = ctx.params
        B, T, H, D = q.shape
        S, Hkv = k.shape[1], k.shape[2]
        do = do.contiguous()  # [B, T, H, D]; may arrive expanded, e.g. from o.sum()
        delta = _delta(o, do)  # [B, T, H]
        dq = torch.empty_like(q)
        dk = torch.empty_like(k)
        dv = torch.empty_like(v)
        block_m, block_n, num_warps = _pos_tiles(D)
        common = {"D": D, "BLOCK_M": block_m, "BLOCK_N": block_n,
                  "PRECISION": _dot_precision(q.dtype), "num_warps": num_warps}
        strides = (q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
                   lse.stride(0), lse.stride(1))
        if B * S * Hkv > 0:
            _pos_bwd_dkdv_kernel[(triton.cdiv(S, block_n), B * Hkv)](
                q, k, v, do, lse, delta, dk, dv, *strides,
                T, S, Hkv, H // Hkv, key_stride, key_offset, window, scale, **common,
            )
        if B * T * H > 0:
            _pos_bwd_dq_kernel[(triton.cdiv(T, block_m), B * H)](
                q, k, v, do, lse, delta, dq, *strides,
                T, S, H, H // Hkv, key_stride, key_offset, window, scale, **common,
            )
        return dq, dk, dv, None, None, None, None


def _g_pad(group: int) -> int:
    """Rows of the group tile: ``G`` rounded up to a power of two, at least 16 (``tl.dot``)."""
    return max(_MIN_DOT, triton.next_power_of_2(group))


def _reverse_index(
    block_indices: torch.Tensor, block_size: int, n_blocks: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transpose ``block_indices`` into a CSR list of queries per ``(b, kv head, key block)``.

    Args:
        block_indices: ``[B, T, Hkv, n]`` integer tensor, entries in ``[-1, n_blocks)``.

    Returns:
        ``row_ptr`` ``[B * Hkv * n_blocks + 1]`` int32 and ``query_t`` ``[nnz]`` int32: the
        queries that selected block ``j`` of kv head ``h`` in batch ``b`` are
        ``query_t[row_ptr[r]:row_ptr[r + 1]]`` with ``r = (b * Hkv + h) * n_blocks + j``, in
        increasing order. Padding (-1) and blocks entirely in the future of their query are
        left out, as the forward kernel skips them.
    """
    B, T, Hkv, _ = block_indices.shape
    device = block_indices.device
    idx = block_indices.long()  # [B, T, Hkv, n]
    t = torch.arange(T, device=device).view(1, T, 1, 1)
    valid = (idx >= 0) & (idx * block_size <= t)  # [B, T, Hkv, n]
    b = torch.arange(B, device=device).view(B, 1, 1, 1)
    h = torch.arange(Hkv, device=device).view(1, 1, Hkv, 1)
    rows = ((b * Hkv + h) * n_blocks + idx)[valid]  # [nnz], in (b, t, h, i) order
    query_t = t.expand_as(idx)[valid]  # [nnz]
    # A stable sort keeps each row's queries in the (increasing) order they were flattened in.
    rows_sorted, order = torch.sort(rows, stable=True)
    # row_ptr[r] = number of selections in rows < r: the first position of row r in the sort.
    row_ids = torch.arange(B * Hkv * n_blocks + 1, device=device)
    row_ptr = torch.searchsorted(rows_sorted, row_ids).to(torch.int32)
    query_t = query_t[order].to(torch.int32)
    if query_t.numel() == 0:  # keep a valid pointer for the kernel; it reads nothing
        query_t = torch.zeros(1, dtype=torch.int32, device=device)
    return row_ptr, query_t


class SelectAttention(torch.autograd.Function):
    """Selected-block attention with the group-centric kernels above.

    Internal: call :func:`select_attention`, which validates its inputs. Expects contiguous
    ``q [B, T, H, D]``, ``k, v [B, T, Hkv, D]`` and ``block_indices [B, T, Hkv, n]`` int32.
    """

    @staticmethod
    def forward(ctx, q, k, v, block_indices, block_size: int, scale: float):
        B, T, H, D = q.shape
        Hkv = k.shape[2]
        n_sel = block_indices.shape[3]
        o = torch.empty_like(q)
        lse = torch.empty(B, T, H, device=q.device, dtype=torch.float32)
        if B * T * H > 0:
            _sel_fwd_kernel[(T, B * Hkv)](
                q, k, v, o, lse, block_indices,
                q.stride(0), q.stride(1), q.stride(2),
                k.stride(0), k.stride(1), k.stride(2),
                lse.stride(0), lse.stride(1),
                block_indices.stride(0), block_indices.stride(1), block_indices.stride(2),
                T, Hkv, H // Hkv, n_sel, scale,
                D=D, BLOCK_SIZE=block_size, G_PAD=_g_pad(H // Hkv),
                PRECISION=_dot_precision(q.dtype), num_warps=_sel_num_warps(D, block_size),
            )
        ctx.save_for_backward(q, k, v, o, lse, block_indices)
        ctx.params = (block_size, scale)
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do, _dlse):
        q, k, v, o, lse, block_indices = ctx.saved_tensors
        block_size, scale = ctx.params
        B, T, H, D = q.shape
        Hkv = k.shape[2]
        G = H // Hkv
        do = do.contiguous()
        delta = _delta(o, do)  # [B, T, H]
        dq = torch.empty_like(q)
        dk = torch.empty_like(k)
        dv = torch.empty_like(v)
        if B * T * H == 0:
            return dq, dk.zero_(), dv.zero_(), None, None, None
        common = {"D": D, "BLOCK_SIZE": block_size, "G_PAD": _g_pad(G),
                  "PRECISION": _dot_precision(q.dtype),
                  "num_warps": _sel_num_warps(D, block_size)}
        qkl_strides = (q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1),
                       k.stride(2), lse.stride(0), lse.stride(1))
        _sel_bwd_dq_kernel[(T, B * Hkv)](
            q, k, v, do, lse, delta, dq, block_indices, *qkl_strides,
            block_indices.stride(0), block_indices.stride(1), block_indices.stride(2),
            T, Hkv, G, block_indices.shape[3], scale, **common,
        )
        n_blocks = triton.cdiv(T, block_size)
        row_ptr, query_t = _reverse_index(block_indices, block_size, n_blocks)
        _sel_bwd_dkdv_kernel[(n_blocks, B * Hkv)](
            q, k, v, do, lse, delta, dk, dv, row_ptr, query_t, *qkl_strides,
            T, Hkv, G, n_blocks, scale, **common,
        )
        return dq, dk, dv, None, None, None


# --------------------------------------------------------------------------------------------
# References (plain PyTorch: explicit boolean mask + masked softmax)
# --------------------------------------------------------------------------------------------


def _masked_attention(q, k, v, mask, scale):
    """Softmax attention of ``q [B, T, H, D]`` over ``k, v [B, S, Hkv, D]`` where ``mask``
    (broadcastable to ``[B, Hkv, G, T, S]``) says which keys each query sees.

    Computes in fp32 (fp64 for fp64 inputs). Rows with no visible key give ``o = 0`` and
    ``lse = -inf``; masked scores go through ``-inf`` *before* ``exp``, so their gradient is an
    exact 0 (never ``0 * inf``).
    """
    B, T, H, D = q.shape
    S, Hkv = k.shape[1], k.shape[2]
    G = H // Hkv
    work = torch.float64 if q.dtype == torch.float64 else torch.float32
    if S == 0:  # no keys at all: every query sees nothing (amax over an empty dim would raise)
        o = (q * 0).to(q.dtype)  # keeps q in the graph, so q.grad is 0 rather than None
        return o, torch.full((B, T, H), -math.inf, device=q.device)
    qg = q.to(work).reshape(B, T, Hkv, G, D).permute(0, 2, 3, 1, 4)  # [B, Hkv, G, T, D]
    kw = k.to(work).permute(0, 2, 1, 3).unsqueeze(2)  # [B, Hkv, 1, S, D]
    vw = v.to(work).permute(0, 2, 1, 3).unsqueeze(2)  # [B, Hkv, 1, S, D]
    scores = scale * (qg @ kw.transpose(-1, -2))  # [B, Hkv, G, T, S]
    mask = mask.expand(scores.shape)
    neg_inf = torch.tensor(-math.inf, dtype=work, device=q.device)
    row_max = torch.where(mask, scores, neg_inf).amax(-1, keepdim=True).detach()  # [..., T, 1]
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    e = torch.exp(torch.where(mask, scores - row_max, neg_inf))  # [B, Hkv, G, T, S]
    denom = e.sum(-1, keepdim=True)  # [..., T, 1], >= 1 where any key is visible
    seen = denom > 0
    denom_safe = torch.where(seen, denom, torch.ones_like(denom))
    o = (e / denom_safe) @ vw  # [B, Hkv, G, T, D], 0 on empty rows
    lse = torch.where(seen, row_max + torch.log(denom_safe), neg_inf).squeeze(-1)
    o = o.permute(0, 3, 1, 2, 4).reshape(B, T, H, D).to(q.dtype)
    lse = lse.permute(0, 3, 1, 2).reshape(B, T, H).detach().float()
    return o, lse


def positional_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, key_stride: int = 1,
    key_offset: int = 0, window: int | None = None, scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Equation (1) attention in plain PyTorch: a ``[T, S]`` boolean mask, a masked softmax.

    The slow, obviously correct version :func:`positional_attention` is tested against; same
    arguments and returns (also accepts bfloat16 and float64). ``lse`` is detached, float32.
    """
    _, _, _, D, S = _check_qkv("positional_attention_reference", q, k, v, same_len=False,
                               kernel=False)
    key_stride, key_offset, window = _check_positional_params(
        "positional_attention_reference", key_stride, key_offset, window)
    scale = _check_scale("positional_attention_reference", scale, D)
    T = q.shape[1]
    t = torch.arange(T, device=q.device)[:, None]  # [T, 1]
    pos = torch.arange(S, device=q.device)[None, :] * key_stride + key_offset  # [1, S] p_j
    mask = pos <= t  # [T, S]
    if window is not None:
        mask = mask & (pos > t - window)
    return _masked_attention(q, k, v, mask, scale)


def select_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_indices: torch.Tensor,
    block_size: int, *, scale: float | None = None, return_lse: bool = False,
    check_indices: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Selected-block attention in plain PyTorch: a ``[B, Hkv, 1, T, T]`` boolean mask (token
    ``s`` of block ``s // block_size`` is visible to query ``t`` iff the block is in
    ``block_indices[b, t, kv head]`` and ``s <= t``), then a masked softmax.

    Same arguments and returns as :func:`select_attention` (also accepts bfloat16 and float64).
    """
    name = "select_attention_reference"
    _, T, _, D, _ = _check_qkv(name, q, k, v, same_len=True, kernel=False)
    block_size = _check_block_size(name, block_size)
    scale = _check_scale(name, scale, D)
    _check_block_indices(name, block_indices, q, k, block_size, check_indices)
    B, _, Hkv, _ = block_indices.shape
    n_blocks = triton.cdiv(T, block_size)
    idx = block_indices.long()
    idx = torch.where(idx < 0, n_blocks, idx)  # padding -> an extra column, dropped below
    chosen = torch.zeros(B, T, Hkv, n_blocks + 1, dtype=torch.bool, device=q.device)
    chosen.scatter_(-1, idx, True)  # [B, T, Hkv, NB + 1]
    token_block = torch.arange(T, device=q.device) // block_size  # [S]
    mask = chosen[..., token_block]  # [B, T, Hkv, S]: s's block was selected by (b, t, h)
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # [T, S]
    mask = mask & causal[None, :, None, :]
    mask = mask.permute(0, 2, 1, 3).unsqueeze(2)  # [B, Hkv, 1, T, S]
    o, lse = _masked_attention(q, k, v, mask, scale)
    return (o, lse) if return_lse else o


# --------------------------------------------------------------------------------------------
# Validation and public API
# --------------------------------------------------------------------------------------------


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_qkv(fn: str, q, k, v, *, same_len: bool, kernel: bool):
    """Check q, k, v; return ``(B, T, H, D, S)``. ``kernel`` selects the kernel's dtype and
    device rules (the references take any floating dtype and device)."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    dtypes = SUPPORTED_DTYPES if kernel else _REFERENCE_DTYPES
    if q.dtype not in dtypes:
        names = ", ".join(str(d) for d in dtypes)
        msg = f"{fn}: q.dtype must be one of {names}, got {q.dtype}."
        if kernel and q.dtype == torch.bfloat16:
            msg += (" bfloat16 is not supported because Triton's interpreter (how these kernels "
                    "run on CPU in CI) computes bf16 tl.dot wrongly, so a bf16 path could not be "
                    "tested; cast with .half() or .float().")
        raise TypeError(msg)
    for name, x in (("k", k), ("v", v)):
        if x.dtype != q.dtype:
            raise TypeError(f"{fn}: {name}.dtype must equal q.dtype ({q.dtype}), got {x.dtype}")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.dim() != 4:
            raise ValueError(
                f"{fn}: {name} must be 4-D [B, T, H, D] (BTHD layout), got shape "
                f"{tuple(x.shape)}"
            )
    if k.shape != v.shape:
        raise ValueError(
            f"{fn}: k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}"
        )
    B, T, H, D = q.shape
    Bk, S, Hkv, Dk = k.shape
    if Bk != B:
        raise ValueError(f"{fn}: k's batch size {Bk} must equal q's {B}")
    if Dk != D:
        raise ValueError(f"{fn}: k's head dim {Dk} must equal q's {D}")
    if same_len and S != T:
        raise ValueError(f"{fn}: k and v must have q's length T={T}, got {S}")
    if Hkv < 1 or H % Hkv != 0:
        raise ValueError(
            f"{fn}: the number of query heads H={H} must be a positive multiple of the number "
            f"of key/value heads Hkv={Hkv} (GQA)"
        )
    if kernel and D not in SUPPORTED_HEAD_DIMS:
        raise ValueError(
            f"{fn}: head dim D={D} is not supported; expected one of {SUPPORTED_HEAD_DIMS} "
            "(tl.dot needs a power of two >= 16)"
        )
    for name, x in (("k", k), ("v", v)):
        if x.device != q.device:
            raise ValueError(f"{fn}: {name} is on {x.device} but q is on {q.device}")
    if kernel:
        if _backend.INTERPRETED:
            if q.device.type not in ("cpu", "cuda"):
                raise ValueError(
                    f"{fn}: q must be on a cpu or cuda device under Triton's interpreter, "
                    f"got {q.device}"
                )
        elif q.device.type != "cuda":
            raise ValueError(
                f"{fn}: q must be on a CUDA device for compiled Triton kernels, got {q.device}; "
                "move q, k, v with .cuda(), or run under the interpreter (TRITON_INTERPRET=1)"
            )
    return B, T, H, D, S


def _check_scale(fn: str, scale, head_dim: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(head_dim)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{fn}: scale must be a real number or None, got {type(scale).__name__}")
    if not math.isfinite(scale):
        raise ValueError(f"{fn}: scale must be finite, got {scale}")
    return float(scale)


def _check_positional_params(fn: str, key_stride, key_offset, window):
    for name, x in (("key_stride", key_stride), ("key_offset", key_offset)):
        if not _is_int(x):
            raise TypeError(f"{fn}: {name} must be an int, got {type(x).__name__}")
    if window is not None and not _is_int(window):
        raise TypeError(f"{fn}: window must be an int or None, got {type(window).__name__}")
    if key_stride < 1:
        raise ValueError(f"{fn}: key_stride must be >= 1, got {key_stride}")
    if key_offset < 0:
        raise ValueError(f"{fn}: key_offset must be >= 0, got {key_offset}")
    if window is not None and window < 1:
        raise ValueError(f"{fn}: window must be >= 1 (or None for no window), got {window}")
    return int(key_stride), int(key_offset), None if window is None else int(window)


def _check_block_size(fn: str, block_size) -> int:
    if not _is_int(block_size):
        raise TypeError(f"{fn}: block_size must be an int, got {type(block_size).__name__}")
    if block_size < _MIN_DOT or block_size & (block_size - 1):
        raise ValueError(
            f"{fn}: block_size must be a power of two >= {_MIN_DOT} (one selected block is one "
            f"tl.dot tile), got {block_size}"
        )
    return int(block_size)


def _check_block_indices(fn, block_indices, q, k, block_size: int, check_values: bool) -> None:
    if not isinstance(block_indices, torch.Tensor):
        raise TypeError(
            f"{fn}: block_indices must be a torch.Tensor, got {type(block_indices).__name__}"
        )
    if block_indices.dtype not in (torch.int32, torch.int64):
        raise TypeError(
            f"{fn}: block_indices must be an int32 or int64 tensor, got {block_indices.dtype}"
        )
    B, T = q.shape[:2]
    Hkv = k.shape[2]
    if block_indices.dim() != 4 or tuple(block_indices.shape[:3]) != (B, T, Hkv):
        raise ValueError(
            f"{fn}: block_indices must have shape [B, T, Hkv, n] = [{B}, {T}, {Hkv}, n], got "
            f"{tuple(block_indices.shape)}"
        )
    if block_indices.device != q.device:
        raise ValueError(f"{fn}: block_indices is on {block_indices.device} but q is on {q.device}")
    if not check_values or block_indices.numel() == 0:
        return
    n_blocks = triton.cdiv(T, block_size)
    lo, hi = torch.aminmax(block_indices)
    if lo.item() < -1 or hi.item() >= n_blocks:
        raise ValueError(
            f"{fn}: block_indices entries must be -1 (padding) or a block index in "
            f"[0, {n_blocks}) (T={T}, block_size={block_size}), got values in "
            f"[{lo.item()}, {hi.item()}]"
        )
    srt = block_indices.sort(dim=-1).values  # [B, T, Hkv, n]
    dup = (srt[..., 1:] == srt[..., :-1]) & (srt[..., 1:] >= 0)  # [B, T, Hkv, n - 1]
    if dup.any():
        b, t, h, i = (int(x) for x in dup.nonzero()[0])
        raise ValueError(
            f"{fn}: block_indices must not repeat a block within one row; block "
            f"{int(srt[b, t, h, i + 1])} appears twice in block_indices[{b}, {t}, {h}, :]"
        )


def positional_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, key_stride: int = 1,
    key_offset: int = 0, window: int | None = None, scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal attention over keys at positions ``j * key_stride + key_offset``, equation (1).

    Args:
        q: ``[B, T, H, D]`` queries, float16 or float32; query ``t`` sits at position ``t``.
        k, v: ``[B, S, Hkv, D]`` keys and values, q's dtype and device; ``H % Hkv == 0``.
        key_stride: ``>= 1``, the distance between consecutive keys' positions.
        key_offset: ``>= 0``, the position of key 0.
        window: ``None`` (no window) or ``>= 1``: query ``t`` sees only keys at positions
            ``> t - window`` (``window=1``: only position ``t`` itself).
        scale: score scale, default ``1/sqrt(D)``.

    Returns:
        ``(o, lse)``: ``o [B, T, H, D]`` in q's dtype, and ``lse [B, T, H]`` float32, the natural
        log-sum-exp of the visible scaled scores (``-inf``, with ``o = 0``, for a query that sees
        no key). ``o`` is differentiable once w.r.t. ``q, k, v``; ``lse`` is not.
    """
    _, T, _, D, _ = _check_qkv("positional_attention", q, k, v, same_len=False, kernel=True)
    key_stride, key_offset, window = _check_positional_params(
        "positional_attention", key_stride, key_offset, window)
    scale = _check_scale("positional_attention", scale, D)
    # Clamp to equivalent values that keep the kernel's int32 position arithmetic small:
    # a window > T hides nothing; a key at position >= T is visible to no query.
    window = T + 1 if window is None else min(window, T + 1)
    key_offset = min(key_offset, T)
    key_stride = min(key_stride, max(T, 1))
    return PositionalAttention.apply(
        q.contiguous(), k.contiguous(), v.contiguous(), key_stride, key_offset, window, scale)


def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, *, scale: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """NSA's sliding-window branch: query ``t`` sees raw keys ``t - window + 1 .. t``.

    :func:`positional_attention` with ``key_stride=1, key_offset=0``; ``k, v`` are the raw
    ``[B, T, Hkv, D]`` keys and values. Returns ``(o, lse)``.
    """
    if window is None or not _is_int(window):
        raise TypeError(
            f"sliding_window_attention: window must be an int, got {type(window).__name__}")
    return positional_attention(q, k, v, key_stride=1, key_offset=0, window=window, scale=scale)


def compressed_attention(
    q: torch.Tensor, k_cmp: torch.Tensor, v_cmp: torch.Tensor, block_len: int, stride: int,
    *, scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NSA's compressed branch (paper equation (7)): attention over compressed tokens.

    Compressed token ``j`` summarises raw tokens ``[j * stride, j * stride + block_len - 1]``
    and is visible to query ``t`` once that whole block is in the past: this is
    :func:`positional_attention` with ``key_stride=stride, key_offset=block_len - 1``. Queries
    ``t < block_len - 1`` see nothing (``o = 0``, ``lse = -inf``).

    Args:
        k_cmp, v_cmp: ``[B, S, Hkv, D]`` compressed keys and values, any ``S >= 0``.
        block_len: ``l >= 1``, raw tokens per compressed token (paper default 32).
        stride: ``d >= 1`` (paper default 16).
    """
    for name, x in (("block_len", block_len), ("stride", stride)):
        if not _is_int(x):
            raise TypeError(f"compressed_attention: {name} must be an int, got {type(x).__name__}")
    if block_len < 1:
        raise ValueError(f"compressed_attention: block_len must be >= 1, got {block_len}")
    if stride < 1:
        raise ValueError(f"compressed_attention: stride must be >= 1, got {stride}")
    return positional_attention(
        q, k_cmp, v_cmp, key_stride=stride, key_offset=block_len - 1, scale=scale)


def select_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_indices: torch.Tensor,
    block_size: int, *, scale: float | None = None, return_lse: bool = False,
    check_indices: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """NSA's selected branch (paper equations (11)-(12)) with group-centric loading (section 3.4).

    Query ``t`` of head ``h`` attends to the raw tokens ``s <= t`` of the blocks
    ``block_indices[b, t, h // G, :]`` (block ``j`` = tokens ``[j * block_size, (j + 1) *
    block_size)``); ``-1`` entries are padding, blocks entirely in the future contribute nothing.

    Args:
        q: ``[B, T, H, D]``, float16 or float32.
        k, v: ``[B, T, Hkv, D]``, q's dtype, device and length; ``H % Hkv == 0``.
        block_indices: ``[B, T, Hkv, n]`` int32 or int64, entries in ``[-1, ceil(T /
            block_size))``, no block twice in one row (the kernel would count it twice).
        block_size: ``l'``, a power of two ``>= 16`` (paper default 64).
        scale: score scale, default ``1/sqrt(D)``.
        return_lse: also return ``lse [B, T, H]`` float32 (not differentiable).
        check_indices: check the range and uniqueness of ``block_indices`` (a sort and one
            device sync); pass False when the caller guarantees them.

    Returns:
        ``o [B, T, H, D]`` in q's dtype (``0`` for a query that sees no token), or ``(o, lse)``.
        Differentiable once w.r.t. ``q, k, v``.
    """
    name = "select_attention"
    _, _, _, D, _ = _check_qkv(name, q, k, v, same_len=True, kernel=True)
    block_size = _check_block_size(name, block_size)
    scale = _check_scale(name, scale, D)
    _check_block_indices(name, block_indices, q, k, block_size, check_indices)
    o, lse = SelectAttention.apply(
        q.contiguous(), k.contiguous(), v.contiguous(),
        block_indices.to(torch.int32).contiguous(), block_size, scale)
    return (o, lse) if return_lse else o
