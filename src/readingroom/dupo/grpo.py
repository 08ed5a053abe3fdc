"""Group Relative Policy Optimisation (GRPO; Shao et al., 2024, DeepSeekMath Eq. 3), written out.

For each question ``q`` the old policy samples a group of ``G`` outputs ``o_1..o_G`` and a reward
function scores them ``r_1..r_G``. GRPO needs no value network: each output's advantage is its
reward standardised within its own group,

.. math::

    \\hat A_i = \\frac{r_i - \\operatorname{mean}(r_1..r_G)}{\\operatorname{std}(r_1..r_G) + \\epsilon},

and the policy maximises the clipped surrogate of PPO with a KL penalty to a frozen reference
policy, averaged over the tokens ``t`` of each output and over the outputs:

.. math::

    J(\\theta) = \\frac{1}{G}\\sum_i \\frac{1}{|o_i|}\\sum_t \\Big[
        \\min\\big(\\rho_{i,t} \\hat A_i,\\ \\operatorname{clip}(\\rho_{i,t}, 1-\\varepsilon,
        1+\\varepsilon)\\hat A_i\\big) - \\beta\\, \\mathbb{D}_{KL}[\\pi_\\theta \\| \\pi_{ref}]_{i,t}
    \\Big],\\qquad \\rho_{i,t} = \\frac{\\pi_\\theta(o_{i,t}\\mid q, o_{i,<t})}
        {\\pi_{old}(o_{i,t}\\mid q, o_{i,<t})},

with the per-token KL estimated without bias as
``pi_ref/pi_theta - log(pi_ref/pi_theta) - 1`` (DeepSeekMath Eq. 4; Schulman's "k3").
DuPO (She et al., 2025) trains with this objective and replaces only the reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from readingroom.common.checks import check_float

__all__ = ["GRPOStats", "check_recipe", "group_advantages", "grpo_loss", "grpo_update"]


def check_recipe(recipe: object, *, skip: tuple[str, ...] = ()) -> None:
    """Every numeric field of a recipe dataclass is a non-negative number, and ``group >= 2``
    (advantages are relative to the group); fields in ``skip`` are checked by their owner."""
    for name, value in vars(recipe).items():
        if name in skip:
            continue
        check_float(value, name, low=0.0)
    if recipe.group < 2:
        raise ValueError(f"group must be >= 2 (advantages are relative), got {recipe.group}")


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``[B, G]`` rewards (``G`` outputs for each of ``B`` questions) to ``[B, G]`` advantages.

    Each row is centred on its mean and divided by its (population) standard deviation plus
    ``eps``; a group whose rewards are all equal gets advantage 0 everywhere: it teaches nothing.
    """
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be [B, G] with G >= 2, got shape {tuple(rewards.shape)}")
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, unbiased=False, keepdim=True)
    return (rewards - mean) / (std + eps)


@dataclass
class GRPOStats:
    """What one :func:`grpo_loss` call saw: mean ratio, share of clipped tokens, mean KL."""

    ratio: float
    clipped: float
    kl: float


def grpo_loss(logp: torch.Tensor, logp_old: torch.Tensor, logp_ref: torch.Tensor,
              advantages: torch.Tensor, mask: torch.Tensor | None = None, *,
              clip_eps: float = 0.2, beta: float = 0.04) -> tuple[torch.Tensor, GRPOStats]:
    """The negative GRPO objective ``-J(theta)`` (to minimise) and its :class:`GRPOStats`.

    Args:
        logp: ``[N, L]`` log-probabilities of the sampled tokens under the policy being trained
            (``N`` outputs of up to ``L`` tokens; with gradient).
        logp_old: ``[N, L]`` the same under the policy that sampled them (no gradient).
        logp_ref: ``[N, L]`` the same under the frozen reference policy (no gradient).
        advantages: ``[N]`` one advantage per output (:func:`group_advantages`, flattened).
        mask: ``[N, L]`` 1 for real tokens, 0 for padding (default: all real).
        clip_eps: ``epsilon`` of the clipped ratio; ``beta``: weight of the KL penalty.
    """
    if logp.dim() != 2 or logp_old.shape != logp.shape or logp_ref.shape != logp.shape:
        raise ValueError("logp, logp_old and logp_ref must share one [N, L] shape, got "
                         f"{tuple(logp.shape)}, {tuple(logp_old.shape)}, {tuple(logp_ref.shape)}")
    if advantages.shape != logp.shape[:1]:
        raise ValueError(f"advantages must be [N] = [{logp.shape[0]}], "
                         f"got {tuple(advantages.shape)}")
    check_float(clip_eps, "clip_eps", low=0.0, low_open=True)
    check_float(beta, "beta", low=0.0)
    mask = torch.ones_like(logp) if mask is None else mask.to(logp.dtype)
    logp_old, logp_ref = logp_old.detach(), logp_ref.detach()

    ratio = torch.exp(logp - logp_old)  # rho_{i,t}                                     [N, L]
    adv = advantages[:, None]  # one advantage for every token of output i              [N, 1]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    log_ref_ratio = logp_ref - logp  # log(pi_ref / pi_theta)
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1  # k3 estimator, >= 0           [N, L]
    per_token = surrogate - beta * kl
    per_output = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)  # 1/|o_i| sum_t  [N]
    loss = -per_output.mean()

    with torch.no_grad():
        real = mask.bool()
        clipped = ((ratio - 1).abs() > clip_eps) & real
        stats = GRPOStats(ratio=float(ratio[real].mean()),
                          clipped=float(clipped.sum() / real.sum().clamp(min=1)),
                          kl=float(kl[real].mean()))
    return loss, stats


def grpo_update(policy: nn.Module, optimiser: torch.optim.Optimizer,
                logp_of: Callable[[nn.Module], torch.Tensor], logp_old: torch.Tensor,
                logp_ref: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor | None = None, *, inner: int, clip_eps: float, beta: float,
                max_grad_norm: float = 1.0) -> GRPOStats:
    """``inner`` optimiser steps on :func:`grpo_loss` for one sampled batch.

    ``logp_of(policy)`` returns the ``[N, L]`` log-probabilities of the sampled tokens under the
    current weights; ``logp_old`` was computed with the weights that sampled them, so from the
    second step on the ratio moves away from 1 and the clip can act. Returns the last step's stats.
    """
    stats = GRPOStats(ratio=1.0, clipped=0.0, kl=0.0)
    for _ in range(inner):
        loss, stats = grpo_loss(logp_of(policy), logp_old, logp_ref, advantages, mask,
                                clip_eps=clip_eps, beta=beta)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimiser.step()
    return stats
