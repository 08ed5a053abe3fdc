"""``nsa_attention(..., backend="triton")``: the three branches in the kernels of
:mod:`readingroom.kernels.nsa`.

* compressed branch: the FlashAttention-style kernel with key positions ``i d + l - 1``; it returns
  the log-sum-exp, from which the selection scores ``p_cmp`` (Eq. 8) are recomputed without
  keeping the attention matrix;
* selected branch: the group-centric selection kernel (§3.4), one K/V block load per GQA group;
* window branch: the same FlashAttention-style kernel with a window.

Selection itself (Eq. 9-11) stays in PyTorch (:mod:`readingroom.nsa.blocks`).
"""

from __future__ import annotations

import math

import torch

from readingroom.nsa.attention import NSAParts
from readingroom.nsa.blocks import compressed_mask, num_selection_blocks, select_blocks, selection_scores
from readingroom.nsa.config import BRANCHES, NSAConfig

__all__ = ["nsa_attention_triton"]


def nsa_attention_triton(
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
    return_parts: bool = False,
) -> torch.Tensor | NSAParts:
    """Eq. (5) with Triton kernels; arguments as in :func:`~readingroom.nsa.attention.nsa_attention`
    (which validates them and calls this for ``backend="triton"``)."""
    import readingroom.kernels.nsa as kn  # noqa: PLC0415  (imports Triton only when asked)

    B, T, H, D = q.shape
    scale = 1.0 / math.sqrt(D) if scale is None else float(scale)
    q_pos = torch.arange(T, device=q.device)
    branch: dict[str, torch.Tensor] = {}
    p_cmp = scores = indices = None
    if "cmp" in cfg.branches:
        branch["cmp"], lse = kn.compressed_attention(
            q, k_cmp, v_cmp, cfg.block_len, cfg.stride, scale=scale
        )  # lse: [B, T, H]
        with torch.no_grad():  # Eq. (8) again, from the log-sum-exp: p = exp(q.k * scale - lse)
            H_kv = k_cmp.shape[2]
            k_rep = k_cmp.float().repeat_interleave(H // H_kv, dim=2)  # [B, N_c, H, D]
            logits = torch.einsum("bthd,bnhd->bthn", q.float(), k_rep) * scale
            seen = compressed_mask(q_pos, k_cmp.shape[1], cfg)[None, :, None, :]  # [1, T, 1, N_c]
            p_cmp = torch.where(seen, torch.exp(logits - lse[..., None].float()), 0.0)
    if "slc" in cfg.branches:
        n_slc = num_selection_blocks(T, cfg.select_block)
        scores = selection_scores(p_cmp, n_slc, k.shape[2], cfg)  # Eq. (9)-(10)
        indices = select_blocks(scores, q_pos, cfg)  # Eq. (11)
        branch["slc"] = kn.select_attention(q, k, v, indices, cfg.select_block, scale=scale)
    if "win" in cfg.branches:
        kw, vw = (k, v) if k_win is None else (k_win, v_win)
        branch["win"], _ = kn.sliding_window_attention(q, kw, vw, cfg.window, scale=scale)
    out = sum(gates[..., BRANCHES.index(c), None] * o for c, o in branch.items())  # Eq. (5)
    if return_parts:
        return NSAParts(out, branch, p_cmp, scores, indices)
    return out
