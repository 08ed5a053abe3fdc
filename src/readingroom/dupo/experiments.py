"""The chapter's measurements: the reward's separation of right from wrong, reranking, reward
hacking probes, and the arms over seeds."""

from __future__ import annotations

import random
from dataclasses import asdict

import torch

from readingroom.dupo.rewards import reward_table
from readingroom.dupo.train import ARMS, DupoRecipe, run_arm, sample_answers, supervised_start
from readingroom.dupo.world import MODULUS, Problem, choose_unknown, split_problems

__all__ = ["auroc", "degenerate_rewards", "rerank_curve", "reward_separation", "run_seed"]


def auroc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a random positive scores above a random negative), ties counted one half."""
    if positive.numel() == 0 or negative.numel() == 0:
        raise ValueError("auroc needs at least one positive and one negative score")
    p, n = positive.flatten()[:, None], negative.flatten()[None, :]
    return float((p > n).float().mean() + 0.5 * (p == n).float().mean())


def reward_separation(verifier, problems: list[Problem], *, filtered: bool = True,
                      unknowns: str = "all") -> dict[str, float]:
    """How well the dual reward tells the right answer from the five wrong ones, per problem.

    Returns the AUROC over all (problem, candidate answer) pairs, and the accuracy of picking each
    problem's highest-reward answer (the ceiling a policy trained on this reward can reach).
    """
    if filtered:
        problems = [p for p in problems if choose_unknown(p, random.Random(0)) is not None]
    table = reward_table(verifier, problems, filtered=filtered, unknowns=unknowns)  # [N, 6]
    truth = torch.tensor([p.answer for p in problems], device=table.device)
    right = torch.arange(MODULUS, device=table.device)[None, :] == truth[:, None]
    return {"auroc": auroc(table[right], table[~right]),
            "argmax_accuracy": float((table.argmax(1) == truth).float().mean()),
            "problems": len(problems)}


def rerank_curve(policy, problems: list[Problem], ns: list[int], seed: int = 0,
                 verifier=None) -> dict[str, list[float]]:
    """Inference-time selection among ``N`` sampled answers, for each ``N`` in ``ns``.

    ``dupo`` keeps the sample with the highest dual reward (computed by ``verifier``, default the
    policy itself), ``majority`` the most frequent sample, ``oracle`` counts a problem solved if any
    sample is right (pass@N, the ceiling of any selector). Problems no operand of which passes the
    filters are left out, for all three.
    """
    verifier = policy if verifier is None else verifier
    problems = [p for p in problems if choose_unknown(p, random.Random(0)) is not None]
    table = reward_table(verifier, problems)  # [N, 6]
    truth = torch.tensor([p.answer for p in problems], device=table.device)
    gen = torch.Generator().manual_seed(seed)
    samples = sample_answers(policy, problems, max(ns), gen)  # [P, max N]
    out: dict[str, list[float]] = {"n": list(ns), "dupo": [], "majority": [], "oracle": []}
    for n in ns:
        s = samples[:, :n]
        best = s.gather(1, table.gather(1, s).argmax(1, keepdim=True)).squeeze(1)
        counts = torch.zeros(len(problems), MODULUS, device=s.device).scatter_add_(
            1, s, torch.ones_like(s, dtype=torch.float))
        mode = counts.argmax(1)
        out["dupo"].append(float((best == truth).float().mean()))
        out["majority"].append(float((mode == truth).float().mean()))
        out["oracle"].append(float((s == truth[:, None]).any(1).float().mean()))
    return out


def degenerate_rewards(verifier, problems: list[Problem], policy=None, seed: int = 0
                       ) -> dict[str, float]:
    """Mean dual reward earned by degenerate policies, beside the true answers and the policy's.

    The probes critics raise for a self-rewarding loop: answer a constant, copy an operand.
    """
    problems = [p for p in problems if choose_unknown(p, random.Random(0)) is not None]
    table = reward_table(verifier, problems)  # [N, 6]
    rows = torch.arange(len(problems))

    def mean_reward(answers: list[int]) -> float:
        return float(table[rows, torch.tensor(answers)].mean())

    out = {"true answer": mean_reward([p.answer for p in problems])}
    for c in range(MODULUS):
        out[f"always {c}"] = mean_reward([c] * len(problems))
    out["copy first operand"] = mean_reward([p.operands[0] for p in problems])
    out["copy last operand"] = mean_reward([p.operands[2] for p in problems])
    if policy is not None:
        gen = torch.Generator().manual_seed(seed)
        samples = sample_answers(policy, problems, 8, gen)
        out["policy samples"] = float(table.gather(1, samples).mean())
    return out


def run_seed(seed: int, recipe: DupoRecipe = DupoRecipe(), arms: tuple[str, ...] = ARMS, *,
             progress: bool = True) -> dict:
    """Every arm from one supervised start: ``{"seed", "recipe", "arms": {arm: RunResult dict}}``."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"arms must be among {ARMS}, got {unknown}")
    labelled, _, test = split_problems(seed)
    start = supervised_start(recipe, labelled, seed, progress=progress)
    separation = reward_separation(start, test)
    runs = {arm: asdict(run_arm(arm, seed, recipe, start=start, progress=progress))
            for arm in arms}
    return {"seed": seed, "recipe": asdict(recipe), "separation": separation, "arms": runs}
