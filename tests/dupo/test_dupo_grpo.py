from __future__ import annotations

import math

import pytest
import torch

from readingroom.dupo import group_advantages, grpo_loss


def test_group_advantages_by_hand():
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]]), eps=0.0)
    # row 0: mean 0.5, population std 0.5; row 1 is constant: nothing to learn
    torch.testing.assert_close(adv[0], torch.tensor([1.0, -1.0, -1.0, 1.0]))
    assert torch.isnan(adv[1]).all()  # with eps=0 a constant group divides 0 by 0 ...
    assert (group_advantages(torch.full((1, 4), 0.5)) == 0).all()  # ... the default eps avoids it


def test_grpo_loss_by_hand():
    # Two one-token outputs. pi/pi_old = 0.5/0.4 = 1.25, clipped to 1.2 for clip_eps = 0.2.
    logp = torch.log(torch.tensor([[0.5], [0.5]])).requires_grad_()
    old = torch.log(torch.tensor([[0.4], [0.4]]))
    ref = torch.log(torch.tensor([[0.25], [0.5]]))
    adv = torch.tensor([1.0, -1.0])
    loss, stats = grpo_loss(logp, old, ref, adv, clip_eps=0.2, beta=0.1)
    # A = +1: min(1.25, 1.2) = 1.2;  A = -1: min(-1.25, -1.2) = -1.25 (the pessimistic bound)
    kl0 = 0.5 - math.log(0.5) - 1  # pi_ref/pi = 0.25/0.5
    expected = -((1.2 - 0.1 * kl0) + (-1.25 - 0.0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats.clipped == 1.0 and stats.ratio == pytest.approx(1.25)
    assert stats.kl == pytest.approx(kl0 / 2)
    loss.backward()
    # Output 0 is clipped: only the KL term moves it, d/dlogp [-(-beta * kl)] / 2 with
    # d kl / d logp = 1 - pi_ref/pi = 0.5. Output 1 is not: -(ratio * A) / 2 = 1.25 / 2.
    assert logp.grad[0, 0].item() == pytest.approx(0.1 * 0.5 / 2, rel=1e-5)
    assert logp.grad[1, 0].item() == pytest.approx(1.25 / 2, rel=1e-5)


def test_grpo_loss_masks_padding_and_averages_per_output():
    logp = torch.zeros(1, 3, requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, _ = grpo_loss(logp, torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([2.0]),
                        mask, beta=0.0)
    assert loss.item() == pytest.approx(-2.0)  # ratio 1 on the two real tokens, mean over them
    loss.backward()
    assert logp.grad[0, 2].item() == 0.0


def test_grpo_update_moves_probability_towards_the_positive_advantage():
    from readingroom.dupo import grpo_update

    policy = torch.nn.Module()
    policy.logits = torch.nn.Parameter(torch.zeros(1, 4))  # one question, four answers
    logits = policy.logits
    optimiser = torch.optim.SGD(policy.parameters(), lr=0.5)
    answers = torch.tensor([[0], [1]])  # two sampled answers; answer 0 was rewarded

    def logp_of(_):
        return torch.log_softmax(logits, -1)[0, answers[:, 0]][:, None]  # [2, 1]

    old = logp_of(None).detach()
    stats = grpo_update(policy, optimiser, logp_of, old, old, torch.tensor([1.0, -1.0]),
                        inner=3, clip_eps=0.2, beta=0.0)
    probs = torch.softmax(logits, -1)[0]
    assert probs[0] > 0.25 > probs[1]
    assert stats.ratio != 1.0  # after the first step pi/pi_old has moved
