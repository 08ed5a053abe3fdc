"""How much a model learns in context, and which heads do it.

* :func:`split_loss` separates the next-token loss on tokens that cannot be predicted (the first
  period) from the loss on tokens that repeat an earlier one. In-context learning is the gap.
* :func:`head_scores` measures, for every layer and head, the average attention that a query at
  position ``t`` pays to a chosen key position. Two choices matter here (Olsson et al., 2022):

  - previous-token score: key ``t - 1``;
  - induction score: keys ``t + 1 - kP`` (``k >= 1``), the tokens that came *after* earlier
    copies of ``x_t`` (since ``x_t = x_{t-P}``): exactly the tokens an induction head should copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from readingroom.common import eval_mode

__all__ = ["ablate_heads", "head_scores", "induction_scores", "phase_change_metrics",
           "previous_token_scores", "split_loss"]


def _check_tokens(tokens: object, periods: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(tokens, torch.Tensor) or not isinstance(periods, torch.Tensor):
        raise TypeError("tokens and periods must be torch.Tensors")
    if tokens.dim() != 2:
        raise ValueError(f"tokens must be [batch, seq_len], got shape {tuple(tokens.shape)}")
    if periods.shape != tokens.shape[:1]:
        raise ValueError(f"periods must have shape [{tokens.shape[0]}], got {tuple(periods.shape)}")
    if (periods < 1).any() or (periods >= tokens.shape[1]).any():
        raise ValueError("periods must lie in [1, seq_len - 1]")
    return tokens, periods


@torch.no_grad()
def split_loss(model: torch.nn.Module, tokens: torch.Tensor, periods: torch.Tensor
               ) -> dict[str, float]:
    """Mean next-token loss (nats) on the first period and on the repeats.

    The model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``. The target at position
    ``s = t + 1`` is *fresh* when ``s < P`` and a *repeat* when ``s >= P``. Returns
    ``{"fresh": ..., "repeat": ...}``; a model that learned in context has ``repeat << fresh``.
    """
    tokens, periods = _check_tokens(tokens, periods)
    with eval_mode(model):
        logits = model(tokens[:, :-1])  # [B, T-1, V]
    return _split_nll(logits, tokens, periods)


def _split_nll(logits: torch.Tensor, tokens: torch.Tensor, periods: torch.Tensor
               ) -> dict[str, float]:
    """Mean loss on fresh and on repeated targets, from ``logits`` of ``tokens[:, :-1]``."""
    targets = tokens[:, 1:]  # [B, T-1]
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [B, T-1]
    s = torch.arange(1, tokens.shape[1], device=tokens.device)  # target positions
    repeat = s[None, :] >= periods[:, None]  # [B, T-1]
    return {"fresh": nll[~repeat].mean().item(), "repeat": nll[repeat].mean().item()}


@torch.no_grad()
def phase_change_metrics(model: torch.nn.Module, tokens: torch.Tensor, periods: torch.Tensor
                         ) -> dict[str, float]:
    """The two quantities whose joint jump is the phase change (Olsson et al., 2022, Argument 1).

    One forward pass of a :class:`~readingroom.common.TinyTransformer` over ``tokens[:, :-1]``
    with its attention patterns gives

    * ``"fresh"``, ``"repeat"``: the split loss of :func:`split_loss` (nats);
    * ``"icl"``: the **in-context learning score**, ``repeat - fresh``. The paper's score
      (section "Key Concepts", *In-context learning*) is the loss of the 500th token of a context
      minus the loss of the 50th: how much cheaper a late token is than an early one. On repeated
      random tokens the early tokens are the first period and the late ones its repeats, so the
      score is their loss difference; it starts near 0 and becomes negative as the model learns
      in context (``-ln V`` is the floor: a perfect copier against a first period at chance);
    * ``"induction"``: the top induction score over every layer and head,
      ``induction_scores(attention, periods).max()``, in ``[0, 1]``.

    Use it as the ``eval_fn`` of :func:`readingroom.common.train` to log both curves during
    training. ``model`` must accept ``return_attention=True`` (a ``TypeError`` says so).
    """
    tokens, periods = _check_tokens(tokens, periods)
    with eval_mode(model):
        try:
            logits, attention = model(tokens[:, :-1], return_attention=True)  # [B, T-1, V]
        except TypeError as err:
            raise TypeError("model must be a TinyTransformer: it has to accept "
                            "return_attention=True and return (logits, attention)") from err
    out = _split_nll(logits, tokens, periods)
    out["icl"] = out["repeat"] - out["fresh"]
    out["induction"] = induction_scores(attention, periods).max().item()
    return out


def _key_mask(periods: torch.Tensor, T: int, offset: str) -> torch.Tensor:
    """``[B, T, T]`` bool: which keys ``j`` count for query ``t`` (only rows with ``t >= P``)."""
    t = torch.arange(T, device=periods.device)
    q, j = t[:, None], t[None, :]  # query and key positions, [T, 1] and [1, T]
    P = periods[:, None, None]  # [B, 1, 1]
    if offset == "previous":
        keys = (j == q - 1)[None].expand(periods.shape[0], T, T)
    else:  # every earlier position that follows a copy of x_t: j = t + 1 - kP, k >= 1
        keys = (j <= q) & (j >= 1) & ((q + 1 - j) % P == 0) & (j <= q + 1 - P)
    return keys & (q >= P)  # [B, T, T]


def head_scores(attention: Sequence[torch.Tensor], periods: torch.Tensor, offset: str
                ) -> torch.Tensor:
    """Average attention mass that queries put on a chosen set of keys, per layer and head.

    ``attention`` is the list the model returns with ``return_attention=True``: one
    ``[B, H, T, T]`` tensor per layer. ``offset`` picks the keys for query ``t``:

    * ``"previous"``: key ``t - 1``;
    * ``"induction"``: the keys ``t + 1 - kP`` (``k >= 1``), i.e. every earlier token that
      *followed* a copy of ``x_t`` (the sequences repeat, so there can be several).

    Only queries with ``t >= P`` count (the repeats, where those keys exist and mean something).
    Returns ``[n_layers, H]``, each entry in ``[0, 1]``.
    """
    if offset not in ("previous", "induction"):
        raise ValueError(f"offset must be 'previous' or 'induction', got {offset!r}")
    if not isinstance(attention, (list, tuple)) or not attention:
        raise TypeError("attention must be a non-empty list of [B, H, T, T] tensors")
    if not isinstance(periods, torch.Tensor):
        raise TypeError(f"periods must be a torch.Tensor, got {type(periods).__name__}")
    B, H, T, _ = attention[0].shape
    if periods.shape != (B,):
        raise ValueError(f"periods must have shape [{B}], got {tuple(periods.shape)}")
    keys = _key_mask(periods, T, offset)  # [B, T, T]
    queries = keys.any(dim=-1)  # [B, T]: the queries that count
    if not queries.any():
        raise ValueError("no query position has t >= P: periods are too long for these sequences")
    scores = []
    for layer, attn in enumerate(attention):
        if attn.shape != (B, H, T, T):
            raise ValueError(f"attention[{layer}] has shape {tuple(attn.shape)}, "
                             f"expected {(B, H, T, T)}")
        mass = (attn * keys[:, None]).sum(dim=-1)  # [B, H, T]: attention on the chosen keys
        per_head = (mass * queries[:, None]).sum(dim=(0, 2)) / queries.sum()  # [H]
        scores.append(per_head)
    return torch.stack(scores)  # [n_layers, H]


def previous_token_scores(attention: Sequence[torch.Tensor], periods: torch.Tensor) -> torch.Tensor:
    """:func:`head_scores` with ``offset="previous"``: ``[n_layers, H]``."""
    return head_scores(attention, periods, "previous")


def induction_scores(attention: Sequence[torch.Tensor], periods: torch.Tensor) -> torch.Tensor:
    """:func:`head_scores` with ``offset="induction"``: ``[n_layers, H]``."""
    return head_scores(attention, periods, "induction")


def ablate_heads(model: torch.nn.Module, heads: dict[int, Sequence[int]]) -> torch.nn.Module:
    """A copy of a :class:`~readingroom.common.TinyTransformer` with some heads switched off.

    ``heads`` maps a layer index to the heads to remove in that layer. A head is removed by
    zeroing its columns of the output projection :math:`W_O` (``[D, H*Dh]``), so it no longer
    writes to the residual stream — the zero-ablation of Olsson et al. (2022). The original model
    is not modified.
    """
    import copy

    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise TypeError("model must be a TinyTransformer (it has no .blocks)")
    if not isinstance(heads, dict):
        raise TypeError(f"heads must be a dict {{layer: [head, ...]}}, got {type(heads).__name__}")
    ablated = copy.deepcopy(model)
    for layer, which in heads.items():
        if not isinstance(layer, int) or not 0 <= layer < len(blocks):
            raise ValueError(f"heads: layer {layer!r} is not in [0, {len(blocks)})")
        attn = ablated.blocks[layer].attn
        for h in which:
            if not isinstance(h, int) or not 0 <= h < attn.n_heads:
                raise ValueError(f"heads: head {h!r} of layer {layer} is not in [0, {attn.n_heads})")
            with torch.no_grad():
                attn.out.weight[:, h * attn.d_head:(h + 1) * attn.d_head] = 0.0
    return ablated
