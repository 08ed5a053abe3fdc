"""A DeepSeekMoE-style mixture-of-experts feed-forward, at toy scale.

DeepSeek-OCR (Wei et al., 2025, arXiv 2510.18234) decodes text with DeepSeek3B-MoE: every
transformer block's MLP is replaced by a mixture of experts with 64 *routed* experts, of which 6
are active per token, plus 2 *shared* experts that every token passes through. This module
implements that feed-forward after DeepSeekMoE (Dai et al., 2024, arXiv 2401.06066):

.. math::

    h_t = \\sum_{j=1}^{K_s} E^{\\mathrm{shared}}_j(u_t)
          + \\sum_{i=1}^{N_r} g_{i,t}\\, E_i(u_t),
    \\qquad
    g_{i,t} = \\begin{cases} s_{i,t} & s_{i,t} \\in \\mathrm{TopK}(\\{s_{j,t}\\}, K) \\\\
                             0 & \\text{otherwise} \\end{cases},
    \\qquad
    s_{i,t} = \\mathrm{softmax}_i(u_t^\\top e_i)

(DeepSeekMoE eqs. (9)-(11); the residual connection ``u_t + ...`` lives in the decoder block).
As in DeepSeekMoE the kept gate values ``g_{i,t}`` are the softmax scores themselves, **not**
renormalised over the top-K (so they sum to less than 1; later DeepSeek models renormalise).

Ties in the top-K are broken deterministically in favour of the lower expert index (a stable
descending sort), so routing is reproducible even when scores are exactly equal.

:class:`MoEFeedForward` dispatches tokens: each routed expert runs once, on only the tokens routed
to it, and the weighted outputs are scattered back with ``index_add_``. :func:`moe_reference`
computes the same thing the slow, obvious way (every expert on every token, then masking) and
exists so that tests can check the dispatch.

Shapes: ``B`` batch, ``T`` sequence length, ``D`` = ``d_model``, ``N`` = number of tokens
``B * T``, ``n`` = ``n_routed``, ``k`` = ``top_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_float
from readingroom.common.checks import check_int as _check_int

__all__ = ["MoEConfig", "MoEAux", "Expert", "MoEFeedForward", "moe_reference"]


@dataclass(frozen=True)
class MoEConfig:
    """Sizes of a :class:`MoEFeedForward`.

    DeepSeek3B-MoE (the DeepSeek-OCR decoder) has ``n_routed=64``, ``top_k=6``, ``n_shared=2``.

    Attributes:
        d_model: width ``D`` of the residual stream (input and output of the layer).
        d_expert: hidden width of each expert's MLP.
        n_routed: number of routed experts ``n``.
        top_k: routed experts active per token ``k``; ``1 <= k <= n``.
        n_shared: shared experts, always active; ``0`` gives a plain top-k MoE.
        balance_coef: the coefficient ``alpha`` of the expert-level balance loss
            (DeepSeekMoE eq. (12)); ``>= 0``, ``0`` switches the loss off.
    """

    d_model: int
    d_expert: int
    n_routed: int
    top_k: int
    n_shared: int = 0
    balance_coef: float = 0.01

    def __post_init__(self) -> None:
        for name in ("d_model", "d_expert", "n_routed", "top_k"):
            _check_int(getattr(self, name), name, minimum=1)
        _check_int(self.n_shared, "n_shared", minimum=0)
        if self.top_k > self.n_routed:
            raise ValueError(
                f"top_k must be at most n_routed, got top_k={self.top_k}, "
                f"n_routed={self.n_routed}"
            )
        check_float(self.balance_coef, "balance_coef", low=0.0)


@dataclass
class MoEAux:
    """Routing statistics returned next to the output of :class:`MoEFeedForward`.

    Padded tokens (``mask == False``) are left out of ``balance_loss``, ``load`` and
    ``router_probs``; ``topk_idx`` covers every position.

    Attributes:
        balance_loss: scalar ``alpha * sum_i f_i P_i`` (DeepSeekMoE eqs. (12)-(13)), carrying
            gradient to the gate through ``P_i``.
        load: ``[n]``, the fraction of token-slots (``k`` per token) routed to each expert;
            sums to 1 (to 0 when there is no real token). ``f_i = n * load_i``.
        router_probs: ``[n]``, ``P_i``, the mean router probability of each expert over tokens.
        topk_idx: ``[B, T, k]`` long, the experts chosen for each token, best first.
    """

    balance_loss: torch.Tensor
    load: torch.Tensor
    router_probs: torch.Tensor
    topk_idx: torch.Tensor


class Expert(nn.Module):
    """One expert: a GELU MLP ``D -> d_hidden -> D``, ``W_2 GELU(W_1 x + b_1) + b_2``.

    A GELU MLP (with biases, like the dense MLP of a GPT-2-shaped block) rather than DeepSeek's
    SwiGLU, so that a dense block is literally one expert of width ``4 D`` and the parameter count
    of an expert is ``2 D d_hidden + d_hidden + D``.
    """

    def __init__(self, d_model: int, d_hidden: int) -> None:
        super().__init__()
        _check_int(d_model, "d_model", minimum=1)
        _check_int(d_hidden, "d_hidden", minimum=1)
        self.up = nn.Linear(d_model, d_hidden)
        self.down = nn.Linear(d_hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``[..., D]`` to ``[..., D]``."""
        return self.down(F.gelu(self.up(x)))


def _check_input(x: object, mask: object, d_model: int) -> None:
    """Validate the ``x`` ``[B, T, D]`` and optional ``mask`` ``[B, T]`` of an MoE layer."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"x must have shape [B, T, d_model], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[-1] != d_model:
        raise ValueError(
            f"x must have last dimension d_model={d_model}, got shape {tuple(x.shape)}"
        )
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = real token), got dtype {mask.dtype}")
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"mask must have shape [B, T] = {tuple(x.shape[:2])} matching x, "
            f"got {tuple(mask.shape)}"
        )


class MoEFeedForward(nn.Module):
    """DeepSeekMoE feed-forward: shared experts plus top-k of ``n`` routed experts per token.

    ``forward`` implements DeepSeekMoE eqs. (9)-(11) (see the module docstring) by dispatch:
    tokens are grouped by the expert they are routed to, each routed expert runs once on its
    group, and ``s_i E_i(x)`` is scattered back with ``index_add_``. The cost is that of
    ``n_shared + top_k`` expert evaluations per token, not ``n_shared + n_routed``.

    There is no expert capacity limit and no token dropping, so each token's output depends
    only on that token (a property the decoder's causality relies on).

    Args:
        config: the sizes, an :class:`MoEConfig`.
    """

    def __init__(self, config: MoEConfig) -> None:
        super().__init__()
        if not isinstance(config, MoEConfig):
            raise TypeError(f"config must be an MoEConfig, got {type(config).__name__}")
        self.config = config
        self.gate = nn.Linear(config.d_model, config.n_routed, bias=False)  # e_i as rows
        self.routed = nn.ModuleList(
            Expert(config.d_model, config.d_expert) for _ in range(config.n_routed)
        )
        self.shared = nn.ModuleList(
            Expert(config.d_model, config.d_expert) for _ in range(config.n_shared)
        )

    def route(self, x_flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router scores and the top-k choice for each token.

        ``s = softmax(x W_g)`` (DeepSeekMoE eq. (11)), computed in at least float32. The top-k
        are taken by a stable descending sort, so exact ties go to the lower expert index.

        Args:
            x_flat: ``[N, D]`` tokens.

        Returns:
            ``(probs [N, n], topk_scores [N, k], topk_idx [N, k])``; the kept scores are the
            softmax probabilities themselves (not renormalised), best first.
        """
        logits = self.gate(x_flat)  # [N, n]
        compute = torch.promote_types(logits.dtype, torch.float32)
        probs = F.softmax(logits.to(compute), dim=-1)  # [N, n]
        sorted_s, sorted_i = torch.sort(probs, dim=-1, descending=True, stable=True)
        k = self.config.top_k
        return probs, sorted_s[:, :k], sorted_i[:, :k]  # [N, n], [N, k], [N, k]

    def _statistics(
        self,
        probs: torch.Tensor,
        topk_idx: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(balance_loss, load [n], P [n])`` over the real tokens (DeepSeekMoE eqs. (12)-(13))."""
        n, k = self.config.n_routed, self.config.top_k
        N = probs.shape[0]
        if mask is None:
            real = probs.new_ones(N)  # [N]
        else:
            real = mask.reshape(-1).to(probs.dtype)  # [N], 1 = real token
        n_real = real.sum().clamp(min=1.0)  # avoid 0/0 when every token is padding
        P = (probs * real[:, None]).sum(dim=0) / n_real  # [n], eq. (13) P_i
        slots = real.repeat_interleave(k)  # [N * k], one entry per (token, choice)
        counts = probs.new_zeros(n).index_add_(0, topk_idx.reshape(-1), slots)  # [n]
        load = counts / (k * n_real)  # [n], sums to 1
        f = n * load  # [n], eq. (13) f_i = n / (k N) * count_i; not differentiable
        balance = self.config.balance_coef * (f.detach() * P).sum()  # eq. (12)
        return balance, load.detach(), P

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, MoEAux]:
        """Apply the mixture of experts to every token.

        Args:
            x: ``[B, T, D]`` floating-point input.
            mask: optional ``[B, T]`` bool, ``True`` for real tokens. Padded tokens still get
                an output (so shapes are unchanged) but are left out of the routing statistics
                and of the balance loss.

        Returns:
            ``(y, aux)``: ``y`` ``[B, T, D]`` (without the residual) and an :class:`MoEAux`.
            ``aux.balance_loss`` is the expert-level balance loss of DeepSeekMoE eq. (12),
            ``L = alpha * sum_i f_i P_i`` with ``f_i = n / (k N) * #{tokens routed to i}`` and
            ``P_i = (1/N) sum_t s_{i,t}`` (eq. (13)); it equals ``alpha`` when the router
            probabilities are uniform and grows to ``alpha * n / k`` when routing collapses.
        """
        _check_input(x, mask, self.config.d_model)
        B, T, D = x.shape
        k = self.config.top_k
        x_flat = x.reshape(B * T, D)  # [N, D]
        N = x_flat.shape[0]
        probs, topk_s, topk_i = self.route(x_flat)  # [N, n], [N, k], [N, k]

        y = x_flat.new_zeros(N, D)  # [N, D]
        for expert in self.shared:
            y = y + expert(x_flat)

        # Dispatch: list every (token, expert, score) triple, group the triples by expert.
        slot_expert = topk_i.reshape(-1)  # [N * k]
        slot_token = torch.arange(N, device=x.device).repeat_interleave(k)  # [N * k]
        slot_score = topk_s.reshape(-1)  # [N * k]
        order = torch.argsort(slot_expert, stable=True)  # [N * k]
        counts = torch.bincount(slot_expert, minlength=self.config.n_routed).tolist()
        tokens_by_expert = slot_token[order].split(counts)
        scores_by_expert = slot_score[order].split(counts)
        for expert, tok, score in zip(self.routed, tokens_by_expert, scores_by_expert):
            if tok.numel() == 0:
                continue
            out = expert(x_flat[tok]) * score.to(x.dtype)[:, None]  # [N_i, D]
            y.index_add_(0, tok, out.to(y.dtype))  # y[tok[j]] += out[j]

        balance, load, P = self._statistics(probs, topk_i, mask)
        aux = MoEAux(
            balance_loss=balance, load=load, router_probs=P, topk_idx=topk_i.reshape(B, T, k)
        )
        return y.reshape(B, T, D), aux


def moe_reference(
    module: MoEFeedForward, x: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, MoEAux]:
    """The same computation as ``module(x, mask)``, written the slow, obvious way.

    Every routed expert runs on every token; the outputs are combined with the dense gate matrix
    ``g [N, n]`` that holds ``s_{i,t}`` for the top-k experts of token ``t`` and 0 elsewhere
    (DeepSeekMoE eqs. (9)-(10)). The statistics are computed from a one-hot selection matrix
    instead of ``index_add_``. The routing itself (``module.route``) is shared, so the two agree
    on which experts are chosen; what this checks is the dispatch and the scatter.

    Args:
        module: the :class:`MoEFeedForward` whose parameters to use.
        x: ``[B, T, D]`` floating-point input.
        mask: optional ``[B, T]`` bool, ``True`` for real tokens.

    Returns:
        ``(y [B, T, D], aux)`` as :meth:`MoEFeedForward.forward`.
    """
    if not isinstance(module, MoEFeedForward):
        raise TypeError(f"module must be an MoEFeedForward, got {type(module).__name__}")
    cfg = module.config
    _check_input(x, mask, cfg.d_model)
    B, T, D = x.shape
    x_flat = x.reshape(B * T, D)  # [N, D]
    probs, _, topk_i = module.route(x_flat)  # [N, n], [N, k]
    selected = torch.zeros_like(probs).scatter_(1, topk_i, 1.0)  # [N, n], k ones per row
    g = probs * selected  # [N, n]
    outs = torch.stack([expert(x_flat) for expert in module.routed], dim=1)  # [N, n, D]
    y = (g.to(x.dtype)[:, :, None] * outs).sum(dim=1)  # [N, D]
    for expert in module.shared:
        y = y + expert(x_flat)

    real = probs.new_ones(B * T) if mask is None else mask.reshape(-1).to(probs.dtype)  # [N]
    n_tokens = real.sum().clamp(min=1.0)
    P = (probs * real[:, None]).sum(dim=0) / n_tokens  # [n]
    count = (selected * real[:, None]).sum(dim=0)  # [n]
    f = cfg.n_routed / (cfg.top_k * n_tokens) * count  # [n]
    balance = cfg.balance_coef * (f * P).sum()
    aux = MoEAux(
        balance_loss=balance,
        load=f / cfg.n_routed,
        router_probs=P,
        topk_idx=topk_i.reshape(B, T, cfg.top_k),
    )
    return y.reshape(B, T, D), aux
