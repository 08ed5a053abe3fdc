r"""NSA's attention, Eq. (5): three branches mixed by gates, in dense masked PyTorch or Triton.

For a query :math:`q_t` the output is

.. math::

    o^*_t = \sum_{c \in \{cmp,\, slc,\, win\}} g^c_t \cdot
            \mathrm{Attn}\big(q_t, \tilde K^c_t, \tilde V^c_t\big)            \qquad (5)

with :math:`\tilde K^{cmp}_t` the compressed tokens whose blocks have ended (Eq. 7),
:math:`\tilde K^{slc}_t` the tokens of the ``n`` selected blocks (Eq. 12) and
:math:`\tilde K^{win}_t` the last ``w`` tokens. :func:`nsa_attention` is the entry point; with
``backend="torch"`` each branch is an ordinary attention under a boolean mask
(:mod:`readingroom.nsa.blocks` builds the masks), with ``backend="triton"`` the branches run in
the kernels of :mod:`readingroom.kernels.nsa`.

Shapes: ``B`` batch, ``T`` queries, ``S`` keys (``S = q_start + T``), ``H`` query heads,
``H_kv`` key/value heads (``G = H / H_kv`` queries per group), ``D`` head width, ``N_c``
compressed tokens, ``N_s`` selection blocks, ``n`` = ``top_n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from readingroom.nsa.blocks import (
    choose_blocks,
    compressed_mask,
    num_compressed,
    selection_mask,
    window_mask,
)
from readingroom.nsa.config import BRANCHES, NSAConfig
from readingroom.common.checks import check_choice, check_int

__all__ = ["BACKENDS", "NSAParts", "masked_attention", "nsa_attention", "nsa_decode", "window_attention"]

#: How :func:`nsa_attention` computes the branches.
BACKENDS = ("torch", "triton")


@dataclass
class NSAParts:
    """What :func:`nsa_attention` computed on the way, for plots and tests.

    Attributes:
        out: ``[B, T, H, D]``, Eq. (5).
        branch: each branch's output before gating, ``{"cmp"|"slc"|"win": [B, T, H, D]}``.
        p_cmp: ``[B, T, H, N_c]``, the compression branch's attention probabilities (Eq. 8).
        scores: ``[B, T, H_kv, N_s]``, the selection scores ``p'_slc`` (Eq. 9-10).
        indices: ``[B, T, H_kv, n]``, the selected blocks (Eq. 11), ``-1`` for padding.
    """

    out: torch.Tensor
    branch: dict[str, torch.Tensor]
    p_cmp: torch.Tensor | None
    scores: torch.Tensor | None
    indices: torch.Tensor | None


def masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor,
    scale: float,
    *,
    need_probs: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Softmax attention of grouped queries under a boolean mask.

    Args:
        q: ``[B, T, H, D]``; k, v: ``[B, S, H_kv, D]``.
        mask: broadcastable to ``[B, H_kv, T, S]``; ``True`` where the key is visible.
        scale: multiplies ``q . k`` before the softmax.

        need_probs: also return the probabilities. Without them the branch runs in PyTorch's
            fused ``scaled_dot_product_attention`` (much faster on a CPU); the caller then
            guarantees that every query sees at least one key (true of the selection and window
            branches, which always include the query's own token).

    Returns:
        ``(o [B, T, H, D], p [B, T, H, S] or None)``. A query that sees no key gets ``o = 0`` and
        a row of zeros in ``p`` — finite, with finite gradients (the paper leaves this case open:
        it arises in the compression branch for the first ``l - 1`` queries).
    """
    B, T, H, D = q.shape
    S, H_kv = k.shape[1], k.shape[2]
    G = H // H_kv
    if not need_probs:
        if mask.shape[1] == 1:  # the same for every head: let SDPA broadcast it
            m = mask
        else:
            m = mask[:, :, None].expand(-1, H_kv, G, T, S).reshape(mask.shape[0], H, T, S)
        o = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=m, scale=scale,
            enable_gqa=G > 1,
        )  # [B, H, T, D]
        return o.transpose(1, 2), None
    qg = q.reshape(B, T, H_kv, G, D).permute(0, 2, 3, 1, 4)  # [B, H_kv, G, T, D]
    kg = k.permute(0, 2, 1, 3)[:, :, None]  # [B, H_kv, 1, S, D]
    vg = v.permute(0, 2, 1, 3)[:, :, None]  # [B, H_kv, 1, S, D]
    m = mask.expand(B, H_kv, T, S)[:, :, None]  # [B, H_kv, 1, T, S]
    seen = m.any(dim=-1, keepdim=True)  # [B, H_kv, 1, T, 1]
    scores = (qg @ kg.transpose(-1, -2)) * scale  # [B, H_kv, G, T, S]
    # Masked keys get -inf; a row with no visible key is zeroed first so its softmax is finite,
    # then multiplied by 0.
    scores = scores.masked_fill(~m, float("-inf")).masked_fill(~seen, 0.0)
    p = torch.softmax(scores, dim=-1) * seen  # [B, H_kv, G, T, S]
    o = p @ vg  # [B, H_kv, G, T, D]
    o = o.permute(0, 3, 1, 2, 4).reshape(B, T, H, D)
    return o, p.permute(0, 3, 1, 2, 4).reshape(B, T, H, S)


def window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float
) -> torch.Tensor:
    """Sliding-window attention of a whole sequence, computed chunk by chunk.

    Queries are cut into chunks of ``w``; the queries of chunk ``i`` (positions
    ``[i w, (i + 1) w)``) can only see keys in ``[i w - w + 1, (i + 1) w)``, so each chunk attends
    to ``2 w`` keys under one small mask instead of all ``T``: ``O(T w)`` work, not ``O(T^2)``.
    Same result as a ``[T, T]`` window mask (tested).

    Args: q ``[B, T, H, D]``; k, v ``[B, T, H_kv, D]``; ``window`` >= 1. Returns ``[B, T, H, D]``.
    """
    check_int(window, "window")
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check(name, x, 4)
    if k.shape != v.shape or k.shape[:2] != q.shape[:2] or k.shape[3] != q.shape[3] or q.shape[2] % k.shape[2]:
        raise ValueError(
            f"window_attention needs q [B, T, H, D] and k, v [B, T, H_kv, D] with H_kv dividing H; "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    B, T, H, D = q.shape
    H_kv = k.shape[2]
    G, w = H // H_kv, window
    n = -(-T // w)  # chunks
    pad = n * w - T
    qc = F.pad(q, (0, 0, 0, 0, 0, pad)).view(B, n, w, H, D).permute(0, 3, 1, 2, 4)  # [B, H, n, w, D]

    def chunks(x: torch.Tensor) -> torch.Tensor:  # [B, T, H_kv, D] -> [B, H, n, 2w, D]
        x = F.pad(x, (0, 0, 0, 0, w, pad))  # w zero keys in front, pad at the end
        x = x.unfold(1, 2 * w, w)  # [B, n, H_kv, D, 2w]
        x = x.permute(0, 2, 1, 4, 3)  # [B, H_kv, n, 2w, D]
        return x[:, :, None].expand(B, H_kv, G, n, 2 * w, D).reshape(B, H, n, 2 * w, D)

    r = torch.arange(w, device=q.device)[:, None]  # query offset in its chunk
    m = torch.arange(2 * w, device=q.device)[None, :]  # key column: position i w - w + m
    band = (m - w <= r) & (m - w > r - w)  # [w, 2w]: t - w < s <= t
    first = torch.arange(n, device=q.device)[:, None, None] * w - w + m[None] >= 0  # no padding key
    mask = band[None] & first  # [n, w, 2w]
    # 4-D inputs (chunks in the "heads" slot) keep SDPA on its fused CPU kernel.
    flat = (B * H, n)
    o = F.scaled_dot_product_attention(
        qc.reshape(*flat, w, D), chunks(k).reshape(*flat, 2 * w, D),
        chunks(v).reshape(*flat, 2 * w, D), attn_mask=mask[None], scale=scale,
    )  # [B H, n, w, D]
    return o.view(B, H, n, w, D).permute(0, 2, 3, 1, 4).reshape(B, n * w, H, D)[:, :T]


def _check(name: str, x: object, rank: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} must be {rank}-D, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def _validate(q, k, v, k_cmp, v_cmp, gates, cfg, q_start, k_win, v_win, backend) -> None:
    if not isinstance(cfg, NSAConfig):
        raise TypeError(f"cfg must be an NSAConfig, got {type(cfg).__name__}")
    check_choice(backend, "backend", BACKENDS)
    B, T, H, D = _check("q", q, 4).shape
    check_int(q_start, "q_start", minimum=0)
    S = q_start + T
    if (k_win is None) != (v_win is None):
        raise ValueError("k_win and v_win must be given together (separate window keys/values)")
    for name, x in (("k", k), ("v", v)) + (
        (("k_win", k_win), ("v_win", v_win)) if k_win is not None or v_win is not None else ()
    ):
        _check(name, x, 4)
        if x.shape[0] != B or x.shape[1] != S or x.shape[3] != D:
            raise ValueError(
                f"{name} must be [B={B}, S=q_start+T={S}, H_kv, D={D}], got {tuple(x.shape)}"
            )
    H_kv = k.shape[2]
    if H_kv < 1:
        raise ValueError(f"k must have H_kv >= 1 key/value heads, got shape {tuple(k.shape)}")
    if H % H_kv != 0:
        raise ValueError(
            f"the query heads H={H} must be a multiple of the key/value heads H_kv={H_kv} (GQA)"
        )
    for name, x in (("v", v), ("k_win", k_win), ("v_win", v_win)):
        if x is not None and x.shape[2] != H_kv:
            raise ValueError(f"{name} has {x.shape[2]} heads, k has {H_kv}")
    n_cmp = num_compressed(S, cfg.block_len, cfg.stride)
    for name, x in (("k_cmp", k_cmp), ("v_cmp", v_cmp)):
        _check(name, x, 4)
        if tuple(x.shape) != (B, n_cmp, H_kv, D):
            raise ValueError(
                f"{name} must be [B={B}, N_c={n_cmp}, H_kv={H_kv}, D={D}] (N_c compressed tokens "
                f"for S={S} keys, l={cfg.block_len}, d={cfg.stride}), got {tuple(x.shape)}"
            )
    _check("gates", gates, 4)
    for name, x in (("k", k), ("v", v), ("k_cmp", k_cmp), ("v_cmp", v_cmp), ("gates", gates),
                    ("k_win", k_win), ("v_win", v_win)):
        if x is not None and (x.dtype != q.dtype or x.device != q.device):
            raise TypeError(
                f"{name} is {x.dtype} on {x.device}, but q is {q.dtype} on {q.device}: every "
                "input must share q's dtype and device"
            )
    if tuple(gates.shape) != (B, T, H, 3):
        raise ValueError(
            f"gates must be [B={B}, T={T}, H={H}, 3] (cmp, slc, win), got {tuple(gates.shape)}"
        )


def nsa_attention(
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
    backend: str = "torch",
    return_parts: bool = False,
) -> torch.Tensor | NSAParts:
    """Native Sparse Attention for a block of queries, Eq. (5).

    Args:
        q: ``[B, T, H, D]`` queries at positions ``q_start .. q_start + T - 1``.
        k, v: ``[B, S, H_kv, D]`` raw keys and values at positions ``0 .. S - 1``,
            ``S = q_start + T``, read by the selection branch (and by the window branch unless
            ``k_win``/``v_win`` are given).
        k_cmp, v_cmp: ``[B, N_c, H_kv, D]`` compressed keys and values, φ applied to each
            compression block of the (compression branch's) raw keys and values (Eq. 7).
        gates: ``[B, T, H, 3]`` gate values ``g^cmp, g^slc, g^win`` in ``[0, 1]`` (Eq. 5).
        cfg: the sizes; branches not in ``cfg.branches`` contribute nothing.
        k_win, v_win: separate keys and values for the window branch (``cfg.separate_kv``).
        scale: multiplies ``q . k``; default ``1 / sqrt(D)``.
        q_start: position of the first query (non-zero when decoding with a cache).
        backend: ``"torch"`` (dense masked attention, any device) or ``"triton"``
            (:mod:`readingroom.kernels.nsa`; needs ``q_start == 0``).
        return_parts: return an :class:`NSAParts` instead of the output alone.

    Returns:
        ``[B, T, H, D]``, or :class:`NSAParts`.
    """
    _validate(q, k, v, k_cmp, v_cmp, gates, cfg, q_start, k_win, v_win, backend)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if backend == "triton":
        if q_start != 0:
            raise ValueError(
                "backend='triton' computes whole sequences (q_start=0); decode with "
                "backend='torch'"
            )
        from readingroom.nsa.triton_backend import triton_branches

        branch, p_cmp, scores, indices = triton_branches(
            q, k, v, k_cmp, v_cmp, cfg, k_win=k_win, v_win=v_win, scale=scale, keep_scores=return_parts
        )
    else:
        branch, p_cmp, scores, indices = _torch_branches(
            q, k, v, k_cmp, v_cmp, cfg, k_win=k_win, v_win=v_win, scale=scale, q_start=q_start
        )
    out = sum(gates[..., BRANCHES.index(c), None] * o for c, o in branch.items())  # Eq. (5)
    if return_parts:
        return NSAParts(out, branch, p_cmp, scores, indices)
    return out


def _torch_branches(q, k, v, k_cmp, v_cmp, cfg, *, k_win, v_win, scale, q_start):
    """The three branches as masked attention: ``(branch outputs, p_cmp, scores, indices)``."""
    T = q.shape[1]
    S = q_start + T
    q_pos = torch.arange(q_start, S, device=q.device)  # [T]
    branch: dict[str, torch.Tensor] = {}
    p_cmp = scores = indices = None
    if "cmp" in cfg.branches:
        mask = compressed_mask(q_pos, k_cmp.shape[1], cfg)[None, None]  # [1, 1, T, N_c]
        branch["cmp"], p_cmp = masked_attention(q, k_cmp, v_cmp, mask, scale)  # Eq. (8)
    if "slc" in cfg.branches:
        # Selection is discrete: no gradient flows through the choice of blocks.
        scores, indices = choose_blocks(p_cmp.detach(), q_pos, S, k.shape[2], cfg)  # Eq. (9)-(11)
        mask = selection_mask(indices, q_pos, S, cfg.select_block)  # [B, H_kv, T, S]
        branch["slc"], _ = masked_attention(q, k, v, mask, scale, need_probs=False)  # Eq. (12)
    if "win" in cfg.branches:
        kw, vw = (k, v) if k_win is None else (k_win, v_win)
        if q_start == 0 and cfg.window < T:  # a whole sequence: only the band near the diagonal
            branch["win"] = window_attention(q, kw, vw, cfg.window, scale)
        else:
            mask = window_mask(q_pos, S, cfg.window)[None, None]  # [1, 1, T, S]
            branch["win"], _ = masked_attention(q, kw, vw, mask, scale, need_probs=False)
    return branch, p_cmp, scores, indices


def nsa_decode(
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
) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoding step of Eq. (5) that reads only the tokens NSA needs.

    The query is the last position ``t = S - 1`` of the cache. Where :func:`nsa_attention`
    masks dense ``[T, S]`` score matrices, this gathers the ``n`` selected blocks and the last
    ``w`` tokens, so its work grows like ``S / d + n l' + w`` (the paper's Table 4) instead of
    ``S``. Same numbers as ``nsa_attention(..., q_start=S - 1)``; used by the decoding benchmark.

    Args:
        q: ``[B, H, D]``; k, v: ``[B, S, H_kv, D]``; k_cmp, v_cmp: ``[B, N_c, H_kv, D]``;
        gates: ``[B, H, 3]``; k_win, v_win: as in :func:`nsa_attention`.

    Returns:
        ``(o [B, H, D], indices [B, H_kv, n])``.
    """
    if not isinstance(q, torch.Tensor) or q.dim() != 3:
        raise ValueError(f"q must be [B, H, D] (one query per sequence), got {getattr(q, 'shape', q)!r}")
    if not isinstance(gates, torch.Tensor) or gates.dim() != 3:
        raise ValueError(f"gates must be [B, H, 3], got {getattr(gates, 'shape', gates)!r}")
    _check("k", k, 4)
    S = k.shape[1]
    _validate(q[:, None], k, v, k_cmp, v_cmp, gates[:, None], cfg, S - 1, k_win, v_win, "torch")
    B, H, D = q.shape
    H_kv = k.shape[2]
    G = H // H_kv
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    t = S - 1
    qg = q.view(B, H_kv, G, D)
    out = torch.zeros_like(q)

    def attend(keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None):
        # keys/values [B, H_kv, m, D]; mask [B, H_kv, m] -> ([B, H_kv, G, D], p [B, H_kv, G, m])
        s = torch.einsum("bhgd,bhmd->bhgm", qg, keys) * scale
        if mask is not None:
            s = s.masked_fill(~mask[:, :, None], float("-inf"))
        p = torch.softmax(s, dim=-1)
        return torch.einsum("bhgm,bhmd->bhgd", p, values), p

    n_cmp = k_cmp.shape[1]
    p_cmp = None
    if "cmp" in cfg.branches and n_cmp > 0:  # every compressed token in the cache has ended
        o, p_cmp = attend(k_cmp.transpose(1, 2), v_cmp.transpose(1, 2))  # p: [B, H_kv, G, N_c]
        out += gates[..., 0, None] * o.reshape(B, H, D)
    indices = torch.full((B, H_kv, cfg.top_n), -1, dtype=torch.long, device=q.device)
    if "slc" in cfg.branches:
        # Eq. (9)-(11); selection_scores maps blocks by overlap pairs, so no N_c x N_s matrix.
        p = q.new_zeros(B, 1, H, n_cmp) if p_cmp is None else p_cmp.reshape(B, 1, H, n_cmp)
        _, indices = choose_blocks(p, torch.tensor([t], device=q.device), S, H_kv, cfg)
        indices = indices[:, 0]  # [B, H_kv, n]
        tok = indices[..., None] * cfg.select_block + torch.arange(cfg.select_block, device=q.device)
        tok = tok.flatten(-2)  # [B, H_kv, n l']
        valid = (indices[..., None] >= 0).expand(-1, -1, -1, cfg.select_block).flatten(-2) & (tok <= t)
        tok = tok.clamp(0, t)
        gather = tok[..., None].expand(-1, -1, -1, D)  # [B, H_kv, n l', D]
        ks = k.transpose(1, 2).gather(2, gather)
        vs = v.transpose(1, 2).gather(2, gather)
        o, _ = attend(ks, vs, valid)
        out += gates[..., 1, None] * o.reshape(B, H, D)
    if "win" in cfg.branches:
        kw, vw = (k, v) if k_win is None else (k_win, v_win)
        lo = max(0, S - cfg.window)
        o, _ = attend(kw[:, lo:].transpose(1, 2), vw[:, lo:].transpose(1, 2))
        out += gates[..., 2, None] * o.reshape(B, H, D)
    return out, indices
