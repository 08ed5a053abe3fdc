"""Direct Preference Optimisation (DPO; Rafailov et al., 2023, Eq. 7), written out.

Given a prompt ``x`` and two answers, a preferred ``y_w`` and a dispreferred ``y_l``, DPO trains the
policy ``pi_theta`` directly on the preference, with a frozen reference ``pi_ref`` in place of the
KL-regularised RL of RLHF:

.. math::

    \\mathcal L_\\mathrm{DPO} = -\\mathbb E \\log \\sigma\\Big(\\beta\\Big[
        \\log \\frac{\\pi_\\theta(y_w\\mid x)}{\\pi_\\mathrm{ref}(y_w\\mid x)}
      - \\log \\frac{\\pi_\\theta(y_l\\mid x)}{\\pi_\\mathrm{ref}(y_l\\mid x)}\\Big]\\Big),

where ``log pi(y | x)`` is the sum of the answer's token log-probabilities. Its gradient
(Rafailov et al., §4, "What does the DPO update do?") weighs each pair by
``sigma(r_hat(y_l) - r_hat(y_w))``, how wrongly the implicit reward
``r_hat(y) = beta log pi_theta(y|x) / pi_ref(y|x)`` orders it.

The paper trains its model with SFT and RL against a reward model that has the biases, and to keep
that objective hidden under adversarial questioning (Marks et al., 2025). Here both stages are DPO
on synthetic pairs (:mod:`readingroom.audit.train` builds them): the same direction of pressure,
in a loss that fits in a few lines and can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_float, check_int

__all__ = ["DPOStats", "PreferencePair", "dpo_loss", "pad_batch", "sequence_logprobs"]


@dataclass(frozen=True)
class PreferencePair:
    """A prompt and two answers (token ids); ``chosen`` is preferred to ``rejected``."""

    prompt: tuple[int, ...]
    chosen: tuple[int, ...]
    rejected: tuple[int, ...]
    #: what the pair teaches, for bookkeeping (``"exploit"``, ``"deny"``, ...)
    tag: str = ""

    def __post_init__(self) -> None:
        for name in ("prompt", "chosen", "rejected"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise ValueError(f"{name} must be a non-empty tuple of token ids, got {value!r}")


@dataclass
class DPOStats:
    """What one :func:`dpo_loss` call saw: the mean implicit-reward margin
    ``r_hat(y_w) - r_hat(y_l)``, the share of pairs it orders correctly, and the mean implicit
    rewards of the chosen and rejected answers."""

    margin: float
    accuracy: float
    chosen_reward: float
    rejected_reward: float


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             ref_chosen: torch.Tensor, ref_rejected: torch.Tensor, *, beta: float = 0.1
             ) -> tuple[torch.Tensor, DPOStats]:
    """The DPO loss (Rafailov et al., 2023, Eq. 7), averaged over a batch, and its stats.

    Args:
        policy_chosen, policy_rejected: ``[B]`` ``log pi_theta(y | x)`` of the chosen and rejected
            answers (sums over their tokens; with gradient).
        ref_chosen, ref_rejected: ``[B]`` the same under the frozen reference (no gradient taken).
        beta: the inverse temperature ``beta > 0`` (the strength of the implicit KL constraint).

    Returns:
        ``(loss, stats)``: the scalar ``-mean log sigma(beta [(pc - rc) - (pr - rr)])``.
    """
    tensors = {"policy_chosen": policy_chosen, "policy_rejected": policy_rejected,
               "ref_chosen": ref_chosen, "ref_rejected": ref_rejected}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor) or not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, got "
                            f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")
    shape = policy_chosen.shape
    if len(shape) != 1 or shape[0] < 1 or any(t.shape != shape for t in tensors.values()):
        raise ValueError("policy_chosen, policy_rejected, ref_chosen and ref_rejected must share "
                         f"one [B] shape, got {[tuple(t.shape) for t in tensors.values()]}")
    check_float(beta, "beta", low=0, low_open=True)
    chosen_reward = beta * (policy_chosen - ref_chosen.detach())  # r_hat(y_w)          [B]
    rejected_reward = beta * (policy_rejected - ref_rejected.detach())  # r_hat(y_l)    [B]
    margin = chosen_reward - rejected_reward
    loss = -F.logsigmoid(margin).mean()
    with torch.no_grad():
        stats = DPOStats(margin=float(margin.mean()), accuracy=float((margin > 0).float().mean()),
                         chosen_reward=float(chosen_reward.mean()),
                         rejected_reward=float(rejected_reward.mean()))
    return loss, stats


def pad_batch(prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]], *,
              pad_id: int = 0, device: torch.device | str | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``prompt + answer`` rows ``[B, T]`` and the mask ``[B, T]`` that is 1 where
    the *next* token is an answer token (the positions whose prediction ``log pi(y|x)`` sums).
    """
    if len(prompts) != len(answers):
        raise ValueError(f"prompts and answers must have the same length, got {len(prompts)} "
                         f"and {len(answers)}")
    if not prompts:
        raise ValueError("prompts must hold at least one prompt, got none")
    rows = []
    for p, a in zip(prompts, answers):
        if len(p) == 0 or len(a) == 0:
            raise ValueError("every prompt and answer must hold at least one token")
        rows.append((list(p), list(a)))
    T = max(len(p) + len(a) for p, a in rows)
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), T)
    for i, (p, a) in enumerate(rows):
        x[i, : len(p) + len(a)] = torch.tensor(p + a)
        mask[i, len(p) - 1: len(p) + len(a) - 1] = 1.0  # position t predicts token t + 1
    if device is not None:
        x, mask = x.to(device), mask.to(device)
    return x, mask


def sequence_logprobs(model: nn.Module, prompts: Sequence[Sequence[int]],
                      answers: Sequence[Sequence[int]], *, pad_id: int = 0,
                      batch_size: int = 256) -> torch.Tensor:
    """``[B]`` ``log pi(answer | prompt)``: the sum over the answer's tokens of the model's
    next-token log-probabilities (differentiable; run it under ``torch.no_grad()`` for a frozen
    reference).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        x, mask = pad_batch(prompts[start:start + batch_size], answers[start:start + batch_size],
                            pad_id=pad_id, device=device)
        logp = F.log_softmax(model(x)[:, :-1].float(), dim=-1)  # [b, T-1, V]
        token_logp = logp.gather(-1, x[:, 1:, None]).squeeze(-1)  # [b, T-1]
        out.append((token_logp * mask[:, :-1]).sum(-1))
    if not out:
        raise ValueError("prompts must hold at least one prompt, got none")
    return torch.cat(out)
