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

import torch

from readingroom.nsa.blocks import choose_blocks, compressed_mask
from readingroom.nsa.config import NSAConfig

__all__ = ["triton_branches"]


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
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The branches of Eq. (5) with Triton kernels: ``(branch outputs, p_cmp, scores, indices)``.

    Called by :func:`~readingroom.nsa.attention.nsa_attention` for ``backend="triton"``, which
    validates the arguments and applies the gates."""
    import readingroom.kernels.nsa as kn  # noqa: PLC0415  (imports Triton only when asked)

    T, H = q.shape[1], q.shape[2]
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
        scores, indices = choose_blocks(p_cmp, q_pos, T, k.shape[2], cfg)  # Eq. (9)-(11)
        branch["slc"] = kn.select_attention(q, k, v, indices, cfg.select_block, scale=scale)
    if "win" in cfg.branches:
        kw, vw = (k, v) if k_win is None else (k_win, v_win)
        branch["win"], _ = kn.sliding_window_attention(q, kw, vw, cfg.window, scale=scale)
    return branch, p_cmp, scores, indices
