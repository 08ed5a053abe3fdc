"""The slow reference: NSA computed one query at a time, in float64, from the paper's text.

:func:`nsa_loop_reference` shares no code with :func:`readingroom.nsa.attention.nsa_attention`
beyond φ itself: it compresses block by block, lists each query's visible tokens with Python
ranges, scores selection blocks by explicit overlaps, sorts candidates with a key, and applies a
softmax by hand. The dense implementation is tested against it (``tests/nsa``) — two routes to
the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from readingroom.nsa.config import NSAConfig

__all__ = ["nsa_loop_reference"]


def _attend(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: float):
    """Softmax attention of one query ``[D]`` over a list of keys ``[m, D]`` (``m >= 0``)."""
    if keys.shape[0] == 0:
        return torch.zeros_like(q), q.new_zeros(0)
    logits = (keys @ q) * scale  # [m]
    weights = torch.exp(logits - logits.max())
    p = weights / weights.sum()
    return p @ values, p


def nsa_loop_reference(
    q: torch.Tensor,
    k: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    v: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    gates: torch.Tensor,
    cfg: NSAConfig,
    phi_k: Callable[[torch.Tensor], torch.Tensor],
    phi_v: Callable[[torch.Tensor], torch.Tensor],
    *,
    scale: float | None = None,
) -> tuple[torch.Tensor, list]:
    """NSA (Eq. 5-12) for every query of a sequence, one at a time, in float64.

    Args:
        q: ``[B, T, H, D]``.
        k, v: ``(cmp, slc, win)`` raw keys / values, each ``[B, T, H_kv, D]`` (pass the same
            tensor three times for shared keys and values).
        gates: ``[B, T, H, 3]``.
        phi_k, phi_v: φ, mapping blocks ``[..., l, D]`` to ``[..., D]``.

    Returns:
        ``(out [B, T, H, D] float64, selected)`` where ``selected[b][t][h_kv]`` is the sorted
        list of selected block indices.
    """
    q, gates = q.double(), gates.double()
    k = [x.double() for x in k]
    v = [x.double() for x in v]
    B, T, H, D = q.shape
    H_kv = k[0].shape[2]
    G = H // H_kv
    l, d, lp, n, w = cfg.block_len, cfg.stride, cfg.select_block, cfg.top_n, cfg.window
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    n_cmp = 0 if T < l else (T - l) // d + 1
    n_slc = math.ceil(T / lp)

    out = torch.zeros_like(q)
    selected: list = []
    for b in range(B):
        # Eq. (7), one block at a time: compressed token i summarises tokens i*d .. i*d + l - 1.
        kc = [[phi_k(k[0][b, i * d : i * d + l, g].double()) for i in range(n_cmp)] for g in range(H_kv)]
        vc = [[phi_v(v[0][b, i * d : i * d + l, g].double()) for i in range(n_cmp)] for g in range(H_kv)]
        selected.append([])
        for t in range(T):
            visible = [i for i in range(n_cmp) if i * d + l - 1 <= t]
            selected[b].append([])
            for g in range(H_kv):
                heads = range(g * G, (g + 1) * G)
                o_cmp, score = {}, [0.0] * n_slc
                for h in heads:
                    keys = torch.stack([kc[g][i] for i in visible]) if visible else q.new_zeros(0, D)
                    vals = torch.stack([vc[g][i] for i in visible]) if visible else q.new_zeros(0, D)
                    o_cmp[h], p = _attend(q[b, t, h], keys, vals, scale)  # Eq. (8)
                    # Eq. (9)-(10): credit each selection block with the overlap of every
                    # visible compression block, summed over the group's heads.
                    for pi, i in zip(p.tolist(), visible):
                        for j in range(n_slc):
                            shared = min(i * d + l, (j + 1) * lp) - max(i * d, j * lp)
                            if shared > 0:
                                score[j] += pi * shared / d
                own = t // lp
                candidates = list(range(own + 1))

                def forced(j: int, own: int = own) -> bool:
                    return j < cfg.n_initial or j > own - cfg.n_local

                # Eq. (11): forced blocks first, then by score, ties to the lower index.
                ranked = sorted(candidates, key=lambda j: (not forced(j), -score[j], j))
                blocks = sorted(ranked[:n])
                selected[b][t].append(blocks)
                slc_tokens = [s for j in blocks for s in range(j * lp, min((j + 1) * lp, T)) if s <= t]
                win_tokens = list(range(max(0, t - w + 1), t + 1))
                for h in heads:
                    o = {"cmp": o_cmp[h]}
                    o["slc"], _ = _attend(q[b, t, h], k[1][b, slc_tokens, g], v[1][b, slc_tokens, g], scale)
                    o["win"], _ = _attend(q[b, t, h], k[2][b, win_tokens, g], v[2][b, win_tokens, g], scale)
                    for c_index, c in enumerate(("cmp", "slc", "win")):
                        if c in cfg.branches:
                            out[b, t, h] += gates[b, t, h, c_index] * o[c]  # Eq. (5)
    return out, selected
