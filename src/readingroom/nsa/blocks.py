r"""The bookkeeping of NSA's branches: which block holds which tokens, and who may see what.

Positions are 0-indexed here (the paper counts from 1). For a sequence of ``S`` keys:

* compression block ``i`` covers tokens ``[i d, i d + l - 1]`` (Eq. 7); it exists once its last
  token exists, so there are ``N_c = floor((S - l) / d) + 1`` of them (0 when ``S < l``), and a
  query at position ``t`` may see compressed token ``i`` only when ``i d + l - 1 <= t`` — the
  whole block is in the past;
* selection block ``j`` covers tokens ``[j l', (j + 1) l' - 1]``; there are ``ceil(S / l')``;
* the window of query ``t`` is ``(t - w, t]``.

Selection (Eq. 8-11) reuses the compression branch's attention probabilities
:math:`p^{cmp}_t` (Eq. 8). A selection block's score sums the probabilities of the compression
blocks that overlap it, weighted by the overlap (Eq. 9, :func:`overlap_matrix`), then over the
query heads of a GQA group (Eq. 10, :func:`selection_scores`); each query keeps the ``n`` best
blocks, always including the initial and local ones (Eq. 11, :func:`select_blocks`).
"""

from __future__ import annotations

import torch

from readingroom.nsa.config import NSAConfig

__all__ = [
    "choose_blocks",
    "compressed_mask",
    "compression_blocks",
    "forced_blocks",
    "num_compressed",
    "num_selection_blocks",
    "overlap_matrix",
    "overlap_pairs",
    "select_blocks",
    "selection_mask",
    "selection_scores",
    "window_mask",
]


def num_compressed(length: int, block_len: int, stride: int) -> int:
    """``N_c``: complete compression blocks in ``length`` tokens (Eq. 7)."""
    return 0 if length < block_len else (length - block_len) // stride + 1


def num_selection_blocks(length: int, select_block: int) -> int:
    """Selection blocks needed to cover ``length`` tokens: ``ceil(length / l')``."""
    return -(-length // select_block)


def compression_blocks(k: torch.Tensor, block_len: int, stride: int) -> torch.Tensor:
    """The overlapping blocks φ compresses (Eq. 7): ``[B, S, H, D] -> [B, N_c, H, l, D]``."""
    B, S, H, D = k.shape
    n = num_compressed(S, block_len, stride)
    if n == 0:
        return k.new_zeros(B, 0, H, block_len, D)
    # unfold over the time axis: [B, N_c, H, D, l]; then put the block's tokens before D.
    return k[:, : (n - 1) * stride + block_len].unfold(1, block_len, stride).transpose(-1, -2)


def compressed_mask(q_pos: torch.Tensor, n_cmp: int, cfg: NSAConfig) -> torch.Tensor:
    """``[T, N_c]`` bool: query at position ``q_pos[t]`` may see compressed token ``i``
    iff block ``i`` has ended, ``i d + l - 1 <= t``."""
    ends = torch.arange(n_cmp, device=q_pos.device) * cfg.stride + cfg.block_len - 1  # [N_c]
    return ends[None, :] <= q_pos[:, None]


def window_mask(q_pos: torch.Tensor, n_keys: int, window: int) -> torch.Tensor:
    """``[T, S]`` bool: key ``s`` is in the window of query ``t`` iff ``t - w < s <= t``."""
    s = torch.arange(n_keys, device=q_pos.device)[None, :]  # [1, S]
    t = q_pos[:, None]  # [T, 1]
    return (s <= t) & (s > t - window)


def overlap_pairs(
    n_cmp: int, cfg: NSAConfig, device=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mapping of Eq. (9) as a list of its non-zero entries ``(i, j, weight)``: compression
    block ``i`` shares ``weight * d`` tokens with selection block ``j``.

    A compression block touches at most ``ceil(l / l') + 1`` selection blocks, so the list has
    ``O(N_c)`` entries — what lets a decoding step score blocks without an ``N_c x N_s`` matrix.
    """
    i = torch.arange(n_cmp, device=device)
    span = -(-cfg.block_len // cfg.select_block) + 1  # selection blocks one block can touch
    j = (i * cfg.stride // cfg.select_block)[:, None] + torch.arange(span, device=device)  # [N_c, span]
    start = torch.maximum(i[:, None] * cfg.stride, j * cfg.select_block)
    end = torch.minimum(i[:, None] * cfg.stride + cfg.block_len, (j + 1) * cfg.select_block)
    w = (end - start).clamp(min=0) / cfg.stride
    keep = w > 0
    return i[:, None].expand_as(j)[keep], j[keep], w[keep]


def overlap_matrix(
    n_cmp: int, n_slc: int, cfg: NSAConfig, *, dtype=torch.float32, device=None
) -> torch.Tensor:
    r"""``[N_c, N_s]``: tokens shared by compression block ``i`` and selection block ``j``,
    divided by ``d`` (Eq. 9) — :func:`overlap_pairs` written out as a matrix.

    With ``d | l`` and ``d | l'`` this is the paper's Eq. (9): selection block ``j`` collects
    :math:`\sum_{m=0}^{l'/d-1}\sum_{n=0}^{l/d-1} p^{cmp}[\tfrac{l'}{d} j + m - n]`, i.e. for
    the paper's sizes the compression blocks ``4j-1 .. 4j+3`` with weights ``1, 2, 2, 2, 1``.
    (The paper prints the index as :math:`\tfrac{l'}{d} j - m - n`, which would credit block
    ``j`` with blocks ``4j-4 .. 4j``, mostly inside block ``j - 1``; the text says the scores are
    derived "based on their spatial relationship", so we use the overlap.) Written as an overlap
    of token ranges, the mapping is defined for any sizes.
    """
    i, j, w = overlap_pairs(n_cmp, cfg, device)
    W = torch.zeros(n_cmp, n_slc, dtype=dtype, device=device)
    inside = j < n_slc  # the last compression blocks may reach past the last selection block
    W[i[inside], j[inside]] = w[inside].to(dtype)
    return W


def selection_scores(p_cmp: torch.Tensor, n_slc: int, n_kv_heads: int, cfg: NSAConfig) -> torch.Tensor:
    """Eq. (9)-(10): ``p_cmp`` ``[B, T, H, N_c]`` -> ``p'_slc`` ``[B, T, H_kv, N_s]``.

    Each head's compression probabilities are mapped onto selection blocks by overlap (Eq. 9,
    :func:`overlap_pairs`), then summed over the ``G = H / H_kv`` query heads that share a
    key/value head (Eq. 10), so the whole group selects the same blocks (what lets the kernel load
    each block once per group).
    """
    B, T, H, n_cmp = p_cmp.shape
    p_group = p_cmp.view(B, T, n_kv_heads, H // n_kv_heads, n_cmp).sum(3)  # (Eq. 10)
    i, j, w = overlap_pairs(n_cmp, cfg, p_cmp.device)
    inside = j < n_slc
    scores = p_cmp.new_zeros(B, T, n_kv_heads, n_slc)
    return scores.index_add_(-1, j[inside], p_group[..., i[inside]] * w[inside].to(p_cmp.dtype))  # (Eq. 9)


def forced_blocks(q_pos: torch.Tensor, n_slc: int, cfg: NSAConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``(past, forced)``, both ``[T, N_s]`` bool: block ``j`` is in the past of query ``q_pos[t]``
    (``j <= t // l'``, its own block included), and it is one that query always selects (one of
    the ``n_initial`` first blocks or of the ``n_local`` blocks ending with its own)."""
    j = torch.arange(n_slc, device=q_pos.device)[None, :]  # [1, N_s]
    own = torch.div(q_pos, cfg.select_block, rounding_mode="floor")[:, None]  # [T, 1]
    past = j <= own
    return past, past & ((j < cfg.n_initial) | (j > own - cfg.n_local))


def choose_blocks(
    p_cmp: torch.Tensor, q_pos: torch.Tensor, n_keys: int, n_kv_heads: int, cfg: NSAConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (9)-(11) in one call: the compression probabilities ``p_cmp`` ``[B, T, H, N_c]`` of
    queries at ``q_pos`` over ``n_keys`` keys -> ``(scores [B, T, H_kv, N_s], indices
    [B, T, H_kv, n])`` (:func:`selection_scores`, then :func:`select_blocks`)."""
    scores = selection_scores(p_cmp, num_selection_blocks(n_keys, cfg.select_block), n_kv_heads, cfg)
    return scores, select_blocks(scores, q_pos, cfg)


def select_blocks(
    scores: torch.Tensor, q_pos: torch.Tensor, cfg: NSAConfig
) -> torch.Tensor:
    """Eq. (11): the indices of the ``n`` selection blocks each query attends to.

    Args:
        scores: ``p'_slc`` ``[B, T, H_kv, N_s]`` from :func:`selection_scores`.
        q_pos: ``[T]`` positions of the queries.

    Returns:
        ``[B, T, H_kv, n]`` int64 block indices, ascending, padded with ``-1`` when a query has
        fewer than ``n`` blocks in its past. Blocks after the query's own block are never chosen.
        The ``n_initial`` first blocks and the ``n_local`` blocks ending with the query's own are
        always chosen; the rest go to the highest scores, ties broken by the lower block index
        (so a query that sees no compressed token yet, with all scores 0, takes the earliest).
    """
    n_slc = scores.shape[-1]
    past, forced = forced_blocks(q_pos, n_slc, cfg)  # [T, N_s] each
    s = scores.masked_fill(~past[None, :, None, :], float("-inf"))
    s = s.masked_fill(forced[None, :, None, :], float("inf"))
    # A stable descending sort keeps equal scores in index order: ties go to the lower index.
    order = torch.sort(s, dim=-1, descending=True, stable=True)
    k = min(cfg.top_n, n_slc)
    idx = order.indices[..., :k]
    idx = idx.masked_fill(order.values[..., :k] == float("-inf"), n_slc)  # not in the past
    idx = idx.sort(dim=-1).values  # ascending, the padding (n_slc) last
    idx = idx.masked_fill(idx == n_slc, -1)
    if k < cfg.top_n:
        idx = torch.cat([idx, idx.new_full((*idx.shape[:-1], cfg.top_n - k), -1)], dim=-1)
    return idx  # [B, T, H_kv, n]


def selection_mask(
    indices: torch.Tensor, q_pos: torch.Tensor, n_keys: int, select_block: int
) -> torch.Tensor:
    """``[B, H_kv, T, S]`` bool: query ``t`` sees key ``s`` through the selection branch iff
    ``s``'s block is among ``indices[b, t, h]`` and ``s <= t``."""
    B, T, H_kv, n = indices.shape
    n_slc = num_selection_blocks(n_keys, select_block)
    chosen = torch.zeros(B, H_kv, T, n_slc + 1, dtype=torch.bool, device=indices.device)
    # -1 (padding) goes to a spare column that is dropped.
    chosen.scatter_(-1, indices.permute(0, 2, 1, 3).masked_fill(indices.permute(0, 2, 1, 3) < 0, n_slc), True)
    tokens = chosen[..., :n_slc, None].expand(B, H_kv, T, n_slc, select_block)
    tokens = tokens.reshape(B, H_kv, T, n_slc * select_block)[..., :n_keys]  # [B, H_kv, T, S]
    causal = torch.arange(n_keys, device=indices.device)[None, :] <= q_pos[:, None]  # [T, S]
    return tokens & causal  # [B, H_kv, T, S]
