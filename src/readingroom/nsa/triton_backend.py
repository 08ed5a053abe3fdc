"""``nsa_attention(..., backend="triton")``: the three branches in the kernels of
:mod:`readingroom.kernels.nsa`.

* compressed branch: the FlashAttention-style kernel with key positions ``i d + l - 1``; it returns
  the log-sum-exp, from which the selection (Eq. 8-11) is recomputed chunk by chunk over the
  queries (:func:`select_from_lse`), so the ``[B, T, H, N_c]`` probabilities never exist at once;
* selected branch: the group-centric selection kernel (§3.4), one K/V block load per GQA group;
* window branch: the same FlashAttention-style kernel with a window.

Selection itself (Eq. 9-11) stays in PyTorch (:mod:`readingroom.nsa.blocks`).
"""

from __future__ import annotations

import torch

from readingroom.nsa.blocks import choose_blocks, compressed_mask
from readingroom.nsa.config import NSAConfig

__all__ = ["SCORE_CHUNK", "select_from_lse", "triton_branches"]

#: Queries per chunk in :func:`select_from_lse`: at most ``[B, SCORE_CHUNK, H, N_c]`` compression
#: probabilities exist at once (at the paper's sizes and 64k tokens, 256 x 16 heads x 4k blocks
#: in float32 is 64 MB, against 17 GB for all 64k queries).
SCORE_CHUNK = 256


@torch.no_grad()
def select_from_lse(
    q: torch.Tensor, k_cmp: torch.Tensor, lse: torch.Tensor, n_keys: int, cfg: NSAConfig,
    scale: float, *, chunk: int = SCORE_CHUNK,
) -> torch.Tensor:
    r"""Eq. (8)-(11) from the compressed kernel's log-sum-exp: the selected blocks ``[B, T, H_kv, n]``.

    For each chunk of ``chunk`` queries, the compression probabilities are recomputed as
    :math:`p^{cmp}_t = \exp(q_t \cdot \tilde k \cdot \text{scale} - \text{lse}_t)` (Eq. 8),
    mapped to selection blocks and summed over each GQA group (Eq. 9-10), and the top ``n``
    blocks chosen (Eq. 11) — the same functions as the PyTorch path
    (:func:`~readingroom.nsa.blocks.choose_blocks`), so the choice is the same; only the
    ``[B, chunk, H, N_c]`` probabilities of one chunk are held at a time.

    Args: ``q [B, T, H, D]`` (positions ``0 .. T-1``), ``k_cmp [B, N_c, H_kv, D]``, ``lse [B, T, H]``
    (``-inf`` where a query sees no compressed token), ``n_keys`` raw keys, the config, the scale.
    """
    from readingroom.common.checks import check_int

    check_int(chunk, "chunk")
    B, T, H, D = q.shape
    n_cmp, H_kv = k_cmp.shape[1], k_cmp.shape[2]
    kc = k_cmp.float()
    out = []
    for start in range(0, T, chunk):
        stop = min(T, start + chunk)
        q_pos = torch.arange(start, stop, device=q.device)
        qc = q[:, start:stop].float().view(B, stop - start, H_kv, H // H_kv, D)
        logits = torch.einsum("btkgd,bnkd->btkgn", qc, kc).reshape(B, stop - start, H, n_cmp) * scale
        seen = compressed_mask(q_pos, n_cmp, cfg)[None, :, None, :]  # [1, c, 1, N_c]
        p = torch.where(seen, torch.exp(logits - lse[:, start:stop, :, None].float()), 0.0)
        out.append(choose_blocks(p, q_pos, n_keys, H_kv, cfg)[1])
    return torch.cat(out, dim=1)


def triton_branches(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    k_cmp: torch.Tensor,
    v_cmp: torch.Tensor,
    cfg: NSAConfig,
    *,
    k_win: torch.Tensor | None,
    v_win: torch.Tensor | None,
    scale: float,
    keep_scores: bool = False,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The branches of Eq. (5) with Triton kernels: ``(branch outputs, p_cmp, scores, indices)``.

    Called by :func:`~readingroom.nsa.attention.nsa_attention` for ``backend="triton"``, which
    validates the arguments and applies the gates. The selection is computed chunk by chunk
    (:func:`select_from_lse`) and ``p_cmp``, ``scores`` are ``None``, unless ``keep_scores``
    (for pictures and tests: then the whole ``[B, T, H, N_c]`` is built and returned)."""
    import readingroom.kernels.nsa as kn  # noqa: PLC0415  (imports Triton only when asked)

    T, H = q.shape[1], q.shape[2]
    q_pos = torch.arange(T, device=q.device)
    branch: dict[str, torch.Tensor] = {}
    p_cmp = scores = indices = None
    if "cmp" in cfg.branches:
        branch["cmp"], lse = kn.compressed_attention(
            q, k_cmp, v_cmp, cfg.block_len, cfg.stride, scale=scale
        )  # lse: [B, T, H]
        if keep_scores:
            with torch.no_grad():  # Eq. (8) again, from the log-sum-exp: p = exp(q.k * scale - lse)
                H_kv = k_cmp.shape[2]
                k_rep = k_cmp.float().repeat_interleave(H // H_kv, dim=2)  # [B, N_c, H, D]
                logits = torch.einsum("bthd,bnhd->bthn", q.float(), k_rep) * scale
                seen = compressed_mask(q_pos, k_cmp.shape[1], cfg)[None, :, None, :]  # [1, T, 1, N_c]
                p_cmp = torch.where(seen, torch.exp(logits - lse[..., None].float()), 0.0)
    if "slc" in cfg.branches:
        if keep_scores:
            scores, indices = choose_blocks(p_cmp, q_pos, T, k.shape[2], cfg)  # Eq. (9)-(11)
        else:
            indices = select_from_lse(q, k_cmp, lse, T, cfg, scale)  # the same, chunk by chunk
        branch["slc"] = kn.select_attention(q, k, v, indices, cfg.select_block, scale=scale)
    if "win" in cfg.branches:
        kw, vw = (k, v) if k_win is None else (k_win, v_win)
        branch["win"], _ = kn.sliding_window_attention(q, kw, vw, cfg.window, scale=scale)
    return branch, p_cmp, scores, indices
