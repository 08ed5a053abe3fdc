"""Rewards for a group of answers: DuPO's dual reconstruction, and the arms it is compared with.

Every function takes ``answers`` ``[B, G]`` (``G`` sampled digits for each of ``B`` problems) and
returns rewards ``[B, G]`` in ``[0, 1]``.

* :func:`dual_reward` — DuPO (She et al., 2025, Sec. 3.2): the reward of an answer ``y`` is the
  quality of the dual task's reconstruction of the hidden operand ``x_u`` from ``y`` and the known
  part ``x_k``. The dual is solved by *the same model*; with a single-digit unknown, the quality is
  the probability the model gives the true ``x_u`` (an exact match averaged over the model's
  samples, without the sampling noise). ``x_u`` is read off the question, so no label is used.
* :func:`oracle_reward` — RLVR: 1 if ``y`` is the true answer (needs the label).
* :func:`majority_reward` — self-consistency (a label-free baseline the paper does not run): 1 if
  ``y`` is the group's most frequent answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import nn

from readingroom.common.checks import check_choice
from readingroom.dupo.world import (
    MODULUS, Problem, choose_unknown, dual_prompt, is_answerable, is_unique,
)

__all__ = ["answer_distribution", "dual_reward", "majority_reward", "oracle_reward",
           "reward_table"]


def answer_distribution(model: nn.Module, prompts: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` prompts to ``[B, 6]`` log-probabilities of the next token, over the digits only
    (the answer format is a digit: the other tokens are masked out, as constrained decoding would)."""
    logits = model(prompts)[:, -1, :MODULUS]  # [B, 6]
    return torch.log_softmax(logits, dim=-1)


@torch.no_grad()
def dual_reward(model: nn.Module, problems: Sequence[Problem], hides: Sequence[int],
                answers: torch.Tensor) -> torch.Tensor:
    """``p_model(x_u | dual prompt with claimed answer y)`` for every answer: ``[B, G]``."""
    B, G = answers.shape
    if len(problems) != B or len(hides) != B:
        raise ValueError(f"problems and hides must have B={B} entries, "
                         f"got {len(problems)} and {len(hides)}")
    device = next(model.parameters()).device
    prompts = torch.tensor([dual_prompt(p, h, int(y)) for p, h, row in zip(problems, hides, answers)
                            for y in row], device=device)  # [B * G, 8]
    truth = torch.tensor([p.operands[h] for p, h in zip(problems, hides)], device=device)
    logp = answer_distribution(model, prompts).view(B, G, MODULUS)
    return logp.gather(2, truth[:, None, None].expand(B, G, 1)).squeeze(2).exp()


@torch.no_grad()
def reward_table(model: nn.Module, problems: Sequence[Problem], *, filtered: bool = True,
                 unknowns: str = "all", seed: int = 0) -> torch.Tensor:
    """The dual reward of every possible answer of every problem: ``[N, 6]``.

    ``unknowns="all"`` averages :func:`dual_reward` over every operand the dual may hide: with
    ``filtered``, the answerable and unique ones (a problem with none scores 0 for every answer:
    no signal; the DuPO arm leaves such problems out); without, all three, the ones that carry no
    information about the answer included. ``unknowns="one"`` hides a single operand per problem,
    drawn with ``seed`` (:func:`~readingroom.dupo.world.choose_unknown`), as the paper does.
    A frozen solver gives each answer a fixed reward, so a run computes this table once.
    """
    check_choice(unknowns, "unknowns", ("one", "all"))
    N = len(problems)
    device = next(model.parameters()).device
    answers = torch.arange(MODULUS, device=device).repeat(N, 1)  # every candidate: [N, 6]
    if unknowns == "one":
        rng = random.Random(seed)
        hides = [choose_unknown(p, rng, filtered=filtered) for p in problems]
        keep = torch.tensor([h is not None for h in hides], device=device)[:, None]
        return dual_reward(model, problems, [0 if h is None else h for h in hides], answers) * keep
    total = torch.zeros(N, MODULUS, device=device)
    count = torch.zeros(N, 1, device=device)
    for h in range(3):
        keep = torch.tensor([not filtered or (is_answerable(p, h) and is_unique(p, h))
                             for p in problems], device=device)[:, None]  # [N, 1]
        total += dual_reward(model, problems, [h] * N, answers) * keep
        count += keep
    return total / count.clamp(min=1)


def oracle_reward(problems: Sequence[Problem], answers: torch.Tensor) -> torch.Tensor:
    """1.0 where the answer is the problem's true answer, else 0.0: ``[B, G]``."""
    truth = torch.tensor([p.answer for p in problems], device=answers.device)
    return (answers == truth[:, None]).float()


def majority_reward(answers: torch.Tensor) -> torch.Tensor:
    """1.0 where the answer is its group's most frequent one (ties: the smallest digit)."""
    counts = torch.zeros(answers.shape[0], MODULUS, device=answers.device)
    counts.scatter_add_(1, answers, torch.ones_like(answers, dtype=counts.dtype))
    mode = counts.argmax(dim=1)  # argmax returns the first maximum: the smallest tied digit
    return (answers == mode[:, None]).float()
