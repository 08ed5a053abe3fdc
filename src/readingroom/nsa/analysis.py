"""Looking inside NSA: per-branch attention maps, branch ablations, accuracy by needle distance."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from collections.abc import Iterator

import torch
from torch import nn

from readingroom.nsa.attention import masked_attention
from readingroom.nsa.blocks import choose_blocks, compressed_mask, forced_blocks, selection_mask, window_mask
from readingroom.nsa.config import NSAConfig

__all__ = [
    "Relay", "attention_maps", "branches_only", "capture", "needle_distance", "needle_positions",
    "needle_selections", "selected_blocks", "trace_relay",
]


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
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a 4-D tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"{name} must be a 4-D tensor, got shape {tuple(x.shape)}")
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


def needle_positions(tokens: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each query of a recall batch (:class:`~readingroom.nsa.recall.RecallTask`), in the
    order of ``targets != -100``: ``(row, query position, position of the key's first
    occurrence)``, three ``[n_queries]`` int64 tensors. The value the query asks for sits right
    after that first occurrence."""
    rows, queries, keys = [], [], []
    for b, t in (targets != -100).nonzero().tolist():
        earlier = (tokens[b, :t] == tokens[b, t]).nonzero()
        if len(earlier) == 0:
            raise ValueError(f"query at ({b}, {t}) has no earlier occurrence of its key")
        rows.append(b)
        queries.append(t)
        keys.append(int(earlier[0]))
    return tuple(torch.tensor(x, dtype=torch.long) for x in (rows, queries, keys))


def needle_distance(tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For each query of a recall batch, how many tokens back its key was first shown:
    ``[n_queries]`` in the order of ``targets != -100``."""
    _, queries, keys = needle_positions(tokens, targets)
    return queries - keys


@torch.no_grad()
def needle_selections(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor, cfg: NSAConfig,
                      *, batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Does each query's own selection (Eq. 11) hold the block of the value it asks for?

    Runs an NSA ``transformers`` model (:func:`~readingroom.nsa.hf.enable_nsa`) on ``tokens`` in
    batches and returns ``(selected, free)``: ``selected`` ``[n_queries, layers]`` is True where
    some KV head of that layer selects the value's block at the query position; ``free``
    ``[n_queries]`` is True where that block is not one the query always selects (initial or
    local), i.e. where selecting it is a choice.
    """
    rows, queries, keys = needle_positions(tokens, targets)
    value_block = (keys + 1) // cfg.select_block
    selected = []
    for start in range(0, len(tokens), batch):
        seen = capture(model, tokens[start : start + batch])
        chosen = [selected_blocks(layer["q"], layer["k_cmp"], cfg) for layer in seen]  # [b, T, H_kv, n]
        mine = (rows >= start) & (rows < start + batch)
        r, q, vb = rows[mine] - start, queries[mine], value_block[mine]
        selected.append(torch.stack([(c[r, q] == vb[:, None, None]).flatten(1).any(1) for c in chosen], 1))
    n_slc = -(-tokens.shape[1] // cfg.select_block)
    _, forced = forced_blocks(queries, n_slc, cfg)  # [n_queries, N_s]
    free = ~forced.gather(1, value_block[:, None])[:, 0]
    return torch.cat(selected), free


@dataclass
class Relay:
    """A retrieval by relay in a two-layer NSA model: layer 0 at position ``relay`` reads the
    ``value`` through its selected branch (head ``head0``); layer 1 at ``query`` reads ``relay``
    through its selected branch (head ``head1``)."""

    value: int
    query: int
    relay: int
    head0: int
    head1: int


def trace_relay(seen: list[dict[str, torch.Tensor]], maps: list[dict[str, torch.Tensor]],
                value: int, query: int) -> Relay:
    """Follow the selected branch back from ``query`` (one sequence; :func:`capture` and
    :func:`attention_maps` of layers 0 and 1): the position layer 1 reads most through its gated
    selected branch, and the heads that carry each hop."""
    if len(seen) < 2 or len(maps) < 2:
        raise ValueError("trace_relay needs the captures and maps of two layers")
    def gated(layer: int, t: int) -> torch.Tensor:  # [H, T]: selected-branch weights x its gate
        return maps[layer]["slc"][0, t] * seen[layer]["gates"][0, t, :, 1:2]

    relay = int(gated(1, query).sum(0).argmax())
    head0 = int(gated(0, relay)[:, value].argmax())
    head1 = int(gated(1, query)[:, relay].argmax())
    return Relay(value, query, relay, head0, head1)
