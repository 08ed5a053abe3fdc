r"""NSA's prefill (and training) forward without any ``T x T`` tensor: queries in chunks.

:func:`~readingroom.nsa.attention.nsa_attention` with ``backend="torch"`` writes each branch of
Eq. (5) as a dense attention under a boolean mask: the selection branch alone builds a
``[B, H_kv, T, S]`` mask, so a whole sequence costs ``O(T^2)`` memory and time, more than dense
attention itself. :func:`nsa_prefill` computes the same numbers with the work NSA is designed for.
It walks the queries in chunks of ``chunk`` positions and, for each chunk:

a. **compression** (Eq. 7-8): attends to the compressed tokens whose blocks have ended by the
   chunk's last query (``N_c`` at most); only the last few, which end inside the chunk, need a
   mask;
b. **selection** (Eq. 9-11): maps those probabilities onto selection blocks and keeps ``n`` per
   query with :func:`~readingroom.nsa.blocks.choose_blocks`, for the chunk's queries only;
c. **selected attention** (Eq. 12): *gathers* the raw keys and values of each query's ``n``
   blocks, once per key/value head, and lets the ``G`` query heads of the group attend over them
   (the group-centric loading of the paper's §3.4), with the causal cut inside the query's own
   block and the padding blocks (``-1``) masked;
d. **window**: attends to the chunk's band of ``chunk + w - 1`` keys under a small band mask;

then mixes the three with the gates. The ``G`` heads of a group are folded into the query axis
(``[B, H_kv, chunk G, D]``), so every branch is one batched attention per chunk with no Python
loop over queries or heads. The largest tensors of a chunk are the gathered keys and values,
``chunk x n l' x D`` per key/value head, and the score matrices ``chunk G x (N_c, n l',
chunk + w)``: ``O(chunk (n l' + w + N_c))`` memory, never ``O(T^2)``.

Same arguments and output as ``nsa_attention(..., backend="torch")`` (tested to 1e-10 in float64).
Autograd flows through it (gathers, masked fills and ``scaled_dot_product_attention`` are all
differentiable; the choice of blocks is discrete and detached, as in ``nsa_attention``), so it also
serves as a training forward; the gradients equal the dense path's (tested).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from readingroom.common.checks import check_int
from readingroom.nsa.attention import _validate
from readingroom.nsa.blocks import choose_blocks, num_compressed, num_selection_blocks
from readingroom.nsa.config import NSAConfig

__all__ = ["DEFAULT_CHUNK", "nsa_prefill"]

#: Queries per chunk by default. The chunk sets the size of the window branch's attention
#: (``chunk G`` queries over ``chunk + w - 1`` keys) and of the selection's sort; the other
#: branches split it further (:data:`CMP_BUDGET`, :data:`SLC_SUB`).
DEFAULT_CHUNK = 64

#: Largest compression-branch score matrix, in elements (2 MB in float32): the chunk's queries
#: go through the compression branch in pieces of ``CMP_BUDGET / (G N_c)`` (at least one), so
#: that the scores, the softmax and its product with the values stay in the cache.
CMP_BUDGET = 1 << 19

#: Queries whose selected blocks are gathered at once (at most ``chunk``): a few, so that their
#: ``n l' D`` keys and values stay in the cache between the gather and the attention.
SLC_SUB = 8


def nsa_prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cmp: torch.Tensor,
    v_cmp: torch.Tensor,
    gates: torch.Tensor,
    cfg: NSAConfig,
    *,
    k_win: torch.Tensor | None = None,
    v_win: torch.Tensor | None = None,
    scale: float | None = None,
    q_start: int = 0,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Eq. (5) for a block of queries, chunk by chunk, gathering the selected blocks.

    Args:
        q: ``[B, T, H, D]`` queries at positions ``q_start .. q_start + T - 1``.
        k, v: ``[B, S, H_kv, D]`` raw keys and values at positions ``0 .. S - 1``,
            ``S = q_start + T`` (read by the selection branch, and by the window branch unless
            ``k_win``/``v_win`` are given).
        k_cmp, v_cmp: ``[B, N_c, H_kv, D]`` compressed keys and values (Eq. 7).
        gates: ``[B, T, H, 3]`` gate values ``g^cmp, g^slc, g^win`` (Eq. 5).
        cfg: the sizes; branches not in ``cfg.branches`` contribute nothing.
        k_win, v_win: separate keys and values for the window branch (``cfg.separate_kv``).
        scale: multiplies ``q . k``; default ``1 / sqrt(D)``.
        q_start: position of the first query (``0`` for a whole sequence; more to continue a
            prefill after a cached prefix).
        chunk: queries processed together (an int >= 1). Memory per chunk grows like
            ``chunk x (n l' + w + N_c)``; the result does not depend on it.

    Returns:
        ``[B, T, H, D]``, equal to ``nsa_attention(q, k, v, k_cmp, v_cmp, gates, cfg, ...)``
        (``backend="torch"``) up to rounding.
    """
    check_int(chunk, "chunk", minimum=1)
    _validate(q, k, v, k_cmp, v_cmp, gates, cfg, q_start, k_win, v_win, "torch")
    B, T, H, D = q.shape
    H_kv = k.shape[2]
    G = H // H_kv
    S = q_start + T
    if T == 0:
        return q.new_zeros(B, 0, H, D)
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    dev = q.device
    branches = cfg.branches
    kw, vw = (k, v) if k_win is None else (k_win, v_win)
    lp = cfg.select_block

    if "cmp" in branches:
        kc_all, vc_all = k_cmp.transpose(1, 2), v_cmp.transpose(1, 2)  # [B, H_kv, N_c, D] (views)
    if "slc" in branches:
        # The raw keys/values as rows of whole selection blocks, one row per (b, h, block):
        # [B H_kv N_s, l' D], so that gathering a query's blocks is one index_select of rows.
        n_slc = num_selection_blocks(S, lp)

        def block_rows(x: torch.Tensor) -> torch.Tensor:
            x = F.pad(x, (0, 0, 0, 0, 0, n_slc * lp - S))  # [B, N_s l', H_kv, D]
            x = x.view(B, n_slc, lp, H_kv, D).permute(0, 3, 1, 2, 4)  # [B, H_kv, N_s, l', D]
            return x.reshape(B * H_kv * n_slc, lp * D)

        k_rows, v_rows = block_rows(k), block_rows(v)
        row0 = (torch.arange(B * H_kv, device=dev) * n_slc).view(B, H_kv, 1, 1)  # row of (b, h, 0)
        in_block = torch.arange(lp, device=dev)
        # Without autograd the gathered blocks go to buffers reused from one sub-chunk to the next
        # (with it, SDPA saves them for the backward pass: each sub-chunk gets its own).
        reuse = not (torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v)))
        k_buf = v_buf = None

    outs = []
    for a in range(0, T, chunk):
        b = min(a + chunk, T)
        C = b - a
        pa, pb = q_start + a, q_start + b  # positions [pa, pb)
        pos = torch.arange(pa, pb, device=dev)  # [C]
        # Queries with the G heads of a group folded into the query axis: [B, H_kv, C G, D].
        qg = q[:, a:b].reshape(B, C, H_kv, G, D).transpose(1, 2).reshape(B, H_kv, C * G, D)
        gc = gates[:, a:b].reshape(B, C, H_kv, G, 3).transpose(1, 2).reshape(B, H_kv, C * G, 3)
        out = None

        if "cmp" in branches:  # Eq. (7)-(8), in pieces whose score matrix stays in the cache
            n_vis = num_compressed(pb, cfg.block_len, cfg.stride)
            step = max(1, min(C, CMP_BUDGET // max(1, G * n_vis)))  # queries per piece
            o_parts, p_parts = [], []
            for c0 in range(0, C, step):
                c1 = min(c0 + step, C)
                o, p_group = _compressed(
                    qg[:, :, c0 * G : c1 * G], pa + c0, c1 - c0, kc_all, vc_all, cfg, scale
                )
                o_parts.append(o)
                p_parts.append(p_group)
            o_cmp = o_parts[0] if len(o_parts) == 1 else torch.cat(o_parts, 2)  # [B, H_kv, C G, D]
            out = gc[..., 0, None] * o_cmp

        if "slc" in branches:  # Eq. (9)-(12)
            # The group sums of p_cmp (Eq. 10, taken per piece), zero-padded to the chunk's n_vis
            # compressed tokens; choose_blocks then sums over groups of one.
            p_group = torch.cat([F.pad(x, (0, n_vis - x.shape[-1])) for x in p_parts], 2)
            _, idx = choose_blocks(p_group.transpose(1, 2), pos, pb, H_kv, cfg)  # [B, C, H_kv, n]
            # Padding (-1) comes last; no query of the chunk has more than its own block's index
            # + 1 blocks in its past, so the columns beyond are padding everywhere: drop them.
            n = min(idx.shape[-1], (pb - 1) // lp + 1)
            idx = idx[..., :n].transpose(1, 2)  # [B, H_kv, C, n]
            rows = (row0 + idx.clamp(min=0)).reshape(B * H_kv, C, n)  # padding (-1) reads block 0
            tok = idx[..., None] * lp + in_block  # [B, H_kv, C, n, l'] positions
            visible = (idx[..., None] >= 0) & (tok <= pos[:, None, None])  # padding, causal cut
            bias = _additive(visible, q.dtype).view(B * H_kv, C, 1, 1, n * lp)
            q_slc = qg.reshape(B * H_kv, C, G, D)
            # Gather in sub-chunks of SLC_SUB queries: the gathered blocks (n l' D per query)
            # then stay in the cache between the gather and the attention that reads them.
            parts = []
            for c0 in range(0, C, SLC_SUB):
                c1 = min(c0 + SLC_SUB, C)
                r = rows[:, c0:c1].reshape(-1)
                m = B * H_kv * (c1 - c0)
                if reuse:
                    if k_buf is None or k_buf.shape[0] < r.numel():
                        k_buf = k_rows.new_empty(r.numel(), lp * D)
                        v_buf = v_rows.new_empty(r.numel(), lp * D)
                    ks = torch.index_select(k_rows, 0, r, out=k_buf[: r.numel()])
                    vs = torch.index_select(v_rows, 0, r, out=v_buf[: r.numel()])
                else:
                    ks, vs = k_rows.index_select(0, r), v_rows.index_select(0, r)
                o = F.scaled_dot_product_attention(
                    q_slc[:, c0:c1].reshape(m, 1, G, D),
                    ks.view(m, 1, n * lp, D),
                    vs.view(m, 1, n * lp, D),
                    attn_mask=bias[:, c0:c1].reshape(m, 1, 1, n * lp), scale=scale,
                )  # [m, 1, G, D]: each query's G heads over its own n l' keys
                parts.append(o.view(B * H_kv, c1 - c0, G, D))
            o_slc = (parts[0] if len(parts) == 1 else torch.cat(parts, 1)).view(B, H_kv, C * G, D)
            o = gc[..., 1, None] * o_slc
            out = o if out is None else out + o

        if "win" in branches:  # keys in (t - w, t] for t in [pa, pb)
            lo = max(0, pa - cfg.window + 1)
            key_pos = torch.arange(lo, pb, device=dev)
            band = (key_pos[None] <= pos[:, None]) & (key_pos[None] > pos[:, None] - cfg.window)
            bias = _additive(band, q.dtype)  # [C, Sw]
            # The G heads in SDPA's head slot, sharing one [C, Sw] mask and (expanded) keys.
            kh = kw[:, lo:pb].transpose(1, 2).reshape(B * H_kv, 1, pb - lo, D).expand(-1, G, -1, -1)
            vh = vw[:, lo:pb].transpose(1, 2).reshape(B * H_kv, 1, pb - lo, D).expand(-1, G, -1, -1)
            o_win = F.scaled_dot_product_attention(
                qg.reshape(B * H_kv, C, G, D).transpose(1, 2), kh, vh, attn_mask=bias, scale=scale,
            )  # [B H_kv, G, C, D]
            o = gc[..., 2, None] * o_win.transpose(1, 2).reshape(B, H_kv, C * G, D)
            out = o if out is None else out + o

        outs.append(out.view(B, H_kv, C, G, D).transpose(1, 2).reshape(B, C, H, D))
    return torch.cat(outs, dim=1)


def _compressed(qg, pa, c, kc_all, vc_all, cfg, scale):
    """The compression branch (Eq. 8) for ``c`` consecutive queries from position ``pa``.

    ``qg`` is ``[B, H_kv, c G, D]`` (rows ordered query, then head of the group); ``kc_all``,
    ``vc_all`` are ``[B, H_kv, N_c, D]``. Only the compressed tokens whose blocks have ended by
    the last query are read, and only those ending inside the piece are masked. Returns ``(o
    [B, H_kv, c G, D], p_group [B, H_kv, c, n_vis])``: the output and the probabilities summed
    over the group's heads (Eq. 10's sum, detached: the selection is discrete).
    """
    B, H_kv, rows, D = qg.shape
    G = rows // c
    n_vis = num_compressed(pa + c, cfg.block_len, cfg.stride)  # blocks ended by the last query
    if n_vis == 0:
        return qg.new_zeros(B, H_kv, rows, D), qg.new_zeros(B, H_kv, c, 0)
    kc, vc = kc_all[:, :, :n_vis], vc_all[:, :, :n_vis]
    s = torch.matmul(qg, kc.transpose(-1, -2)).mul_(scale)  # [B, H_kv, c G, n_vis]
    n_all = num_compressed(pa + 1, cfg.block_len, cfg.stride)  # blocks seen by every query
    pos = torch.arange(pa, pa + c, device=qg.device)
    if n_all < n_vis:  # blocks that end inside the piece: hidden from the queries before the end
        ends = torch.arange(n_all, n_vis, device=qg.device) * cfg.stride + cfg.block_len - 1
        hidden = (ends[None] > pos[:, None])[:, None]  # [c, 1, n_vis - n_all]
        s.view(B, H_kv, c, G, n_vis)[..., n_all:].masked_fill_(hidden, float("-inf"))
    if n_all == 0:  # positions before l - 1 see no compressed token: o = 0 and p = 0 there
        seen = (pos >= cfg.block_len - 1)[:, None].expand(c, G).reshape(rows, 1)
        p = torch.softmax(s.masked_fill(~seen, 0.0), dim=-1) * seen
    else:
        p = torch.softmax(s, dim=-1)
    return p @ vc, p.detach().view(B, H_kv, c, G, n_vis).sum(3)


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask as SDPA's additive one (0 where visible, -inf elsewhere), built once per
    chunk: SDPA would otherwise convert a boolean mask at every call."""
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill_(~mask, float("-inf"))
