from __future__ import annotations

import pytest
import torch

from readingroom.dupo import (
    MODULUS, Problem, auroc, degenerate_rewards, dual_reward, majority_reward, oracle_reward,
    rerank_curve, reward_separation, reward_table, split_problems,
)

P = Problem((3, 4, 5), ("+", "*"))  # answer (3 + 20) % 6 = 5


def test_oracle_and_majority_by_hand():
    answers = torch.tensor([[5, 1, 5, 2], [0, 1, 1, 0]])
    q = Problem((1, 1, 1), ("+", "+"))  # answer 3
    assert oracle_reward([P, q], answers).tolist() == [[1, 0, 1, 0], [0, 0, 0, 0]]
    # row 1 ties 0 and 1 twice each: the smallest digit is the mode
    assert majority_reward(answers).tolist() == [[1, 0, 1, 0], [1, 0, 0, 1]]


def test_exact_verifier_rewards_only_the_true_answer(exact_solver):
    # hide the first operand (always unique): the exact dual recovers 3 only from y = 5
    r = dual_reward(exact_solver, [P], [0], torch.arange(MODULUS)[None, :])
    assert r[0].argmax().item() == P.answer
    assert r[0, P.answer].item() == pytest.approx(1.0) and r[0].sum().item() == pytest.approx(1.0)


def test_reward_table_filters_and_unknowns(exact_solver):
    _, _, test = split_problems(0)
    problems = test[:40]
    table = reward_table(exact_solver, problems)  # filtered, all unknowns
    truth = torch.tensor([p.answer for p in problems])
    has_unknown = table.sum(1) > 0
    assert has_unknown.any()
    # every problem with a qualifying unknown rewards exactly its true answer with 1
    assert (table[has_unknown].argmax(1) == truth[has_unknown]).all()
    assert torch.allclose(table[has_unknown].max(1).values, torch.ones(int(has_unknown.sum())))
    one = reward_table(exact_solver, problems, unknowns="one", seed=3)
    assert torch.equal(one.sum(1) > 0, has_unknown)
    # without the filters, lost or ambiguous operands blur the reward of the true answer
    raw = reward_table(exact_solver, problems, filtered=False)
    assert raw[torch.arange(40), truth].mean() < table[has_unknown].max(1).values.mean()


def test_auroc_by_hand():
    assert auroc(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.8])) == pytest.approx(0.875)


def test_exact_verifier_separates_perfectly_and_reranks_to_pass_at_n(exact_solver):
    _, _, test = split_problems(1)
    sep = reward_separation(exact_solver, test[:60])
    assert sep["auroc"] == 1.0 and sep["argmax_accuracy"] == 1.0
    torch.manual_seed(0)

    class Uniform(torch.nn.Module):  # a policy that guesses
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, idx):
            return torch.zeros(*idx.shape, 16) + self.w

    curve = rerank_curve(Uniform(), test[:60], [1, 4, 16], seed=0, verifier=exact_solver)
    assert curve["dupo"] == curve["oracle"]  # an exact verifier finds any right sample
    assert curve["oracle"][0] < curve["oracle"][-1]
    probes = degenerate_rewards(exact_solver, test[:60], policy=Uniform())
    assert probes["true answer"] == pytest.approx(1.0)
    assert max(v for k, v in probes.items() if k != "true answer") < 0.5

