"""Looking inside NSA: per-branch attention maps, branch ablations, accuracy by needle distance."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import nn

from readingroom.nsa.attention import masked_attention
from readingroom.nsa.blocks import choose_blocks, compressed_mask, selection_mask, window_mask
from readingroom.nsa.config import NSAConfig

__all__ = ["attention_maps", "branches_only", "capture", "needle_distance", "selected_blocks"]


@torch.no_grad()
def attention_maps(
    q: torch.Tensor, k: torch.Tensor, k_cmp: torch.Tensor, cfg: NSAConfig, *, scale: float | None = None
) -> dict[str, torch.Tensor]:
    """Every branch's attention probabilities, for pictures.

    Args: q ``[B, T, H, D]``, k ``[B, T, H_kv, D]``, k_cmp ``[B, N_c, H_kv, D]`` (one sequence
    from position 0; shared keys).

    Returns:
        ``{"cmp": [B, T, H, N_c], "slc": [B, T, H, T], "win": [B, T, H, T],
        "indices": [B, T, H_kv, n]}`` — rows sum to 1 (or are 0 where a query sees nothing).
    """
    for name, x in (("q", q), ("k", k), ("k_cmp", k_cmp)):
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"{name} must be a 4-D tensor, got {getattr(x, 'shape', x)!r}")
    B, T, H, D = q.shape
    if k.shape[0] != B or k.shape[1] != T or k.shape[3] != D or H % k.shape[2]:
        raise ValueError(f"k must be [B={B}, T={T}, H_kv, D={D}] with H_kv dividing H={H}, got {tuple(k.shape)}")
    if k_cmp.shape[0] != B or k_cmp.shape[2:] != k.shape[2:]:
        raise ValueError(f"k_cmp must be [B={B}, N_c, {k.shape[2]}, {D}], got {tuple(k_cmp.shape)}")
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    q_pos = torch.arange(T, device=q.device)
    p_cmp, indices = _compress_and_select(q, k_cmp, cfg, scale)
    vk = torch.zeros_like(k)
    _, p_slc = masked_attention(q, k, vk, selection_mask(indices, q_pos, T, cfg.select_block), scale)
    _, p_win = masked_attention(q, k, vk, window_mask(q_pos, T, cfg.window)[None, None], scale)
    return {"cmp": p_cmp, "slc": p_slc, "win": p_win, "indices": indices}


@torch.no_grad()
def selected_blocks(q: torch.Tensor, k_cmp: torch.Tensor, cfg: NSAConfig, *, scale: float | None = None) -> torch.Tensor:
    """Only the selection (Eq. 8-11): ``[B, T, H_kv, n]`` block indices for queries ``q``
    ``[B, T, H, D]`` at positions ``0..T-1`` and compressed keys ``k_cmp`` ``[B, N_c, H_kv, D]``
    — what :func:`attention_maps` returns as ``"indices"``, without the ``[T, T]`` maps."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return _compress_and_select(q, k_cmp, cfg, scale)[1]


def _compress_and_select(q, k_cmp, cfg, scale) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p_cmp [B, T, H, N_c], indices [B, T, H_kv, n])`` for queries at ``0..T-1`` (Eq. 8-11)."""
    T = q.shape[1]
    q_pos = torch.arange(T, device=q.device)
    mask = compressed_mask(q_pos, k_cmp.shape[1], cfg)[None, None]
    _, p_cmp = masked_attention(q, k_cmp, torch.zeros_like(k_cmp), mask, scale)
    return p_cmp, choose_blocks(p_cmp, q_pos, T, k_cmp.shape[2], cfg)[1]


@torch.no_grad()
def capture(model: nn.Module, tokens: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Run a ``transformers`` model switched to NSA (:func:`~readingroom.nsa.hf.enable_nsa`) on
    ``tokens`` and return, for each NSA layer in order, what it saw: ``q`` ``[B, T, H, D]``,
    ``k`` ``[B, T, H_kv, D]``, ``k_cmp`` ``[B, N_c, H_kv, D]`` and ``gates`` ``[B, T, H, 3]``."""
    holders = [m.nsa for m in model.modules() if hasattr(m, "nsa") and hasattr(m.nsa, "keep")]
    if not holders:
        raise ValueError("model has no NSA layer: call readingroom.nsa.hf.enable_nsa(model) first")
    for h in holders:
        h.keep = {}
    try:
        model(tokens)
        return [h.keep for h in holders]
    finally:
        for h in holders:
            h.keep = None


@contextlib.contextmanager
def branches_only(model: nn.Module, branches: tuple[str, ...]) -> Iterator[nn.Module]:
    """Within the ``with`` block, every NSA layer of ``model`` (a :class:`NativeSparseAttention`
    or a ``transformers`` model after :func:`~readingroom.nsa.hf.enable_nsa`) uses only
    ``branches`` — an ablation of the trained model, its weights untouched."""
    holders = [m for m in model.modules() if isinstance(getattr(m, "cfg", None), NSAConfig)]
    if not holders:
        raise ValueError("model has no NSA layer (nothing with an NSAConfig `cfg`)")
    saved = [m.cfg for m in holders]
    try:
        for m in holders:
            m.cfg = m.cfg.replace(branches=tuple(branches))
        yield model
    finally:
        for m, cfg in zip(holders, saved):
            m.cfg = cfg


def needle_distance(tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For each query of a recall batch (:class:`~readingroom.nsa.recall.RecallTask`), how many
    tokens back its key was first shown: ``[n_queries_total]`` in the order of
    ``targets != -100``."""
    distances = []
    for b, t in (targets != -100).nonzero().tolist():
        key = tokens[b, t]
        earlier = (tokens[b, :t] == key).nonzero()
        if len(earlier) == 0:
            raise ValueError(f"query at ({b}, {t}) has no earlier occurrence of its key")
        distances.append(t - int(earlier[0]))
    return torch.tensor(distances, dtype=torch.long)
