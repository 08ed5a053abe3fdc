"""readingroom.audit.dpo: the DPO loss (Rafailov et al., 2023, Eq. 7) by hand, and the sequence
log-probabilities it is fed."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from readingroom.audit.dpo import (
    DPOStats, PreferencePair, dpo_loss, pad_batch, sequence_logprobs,
)
from readingroom.common import TinyTransformer, TransformerConfig


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_dpo_loss_by_hand():
    # pair 0: beta [(-1 - -1.5) - (-2 - -1.5)] = 0.5 * 1.0 = 0.5
    # pair 1: beta [(-3 - -2) - (-1 - -2)] = 0.5 * -2.0 = -1.0 (ordered the wrong way)
    pc = torch.tensor([-1.0, -3.0], requires_grad=True)
    pr = torch.tensor([-2.0, -1.0], requires_grad=True)
    rc = torch.tensor([-1.5, -2.0])
    rr = torch.tensor([-1.5, -2.0])
    loss, stats = dpo_loss(pc, pr, rc, rr, beta=0.5)
    expected = (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(1.0))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert isinstance(stats, DPOStats)
    assert stats.margin == pytest.approx(-0.25)
    assert stats.accuracy == 0.5
    assert stats.chosen_reward == pytest.approx((0.25 - 0.5) / 2)
    assert stats.rejected_reward == pytest.approx((-0.25 + 0.5) / 2)
    loss.backward()
    # d/d pc_i = -beta sigma(-m_i) / B, d/d pr_i = +beta sigma(-m_i) / B (Rafailov et al., §4)
    for i, m in enumerate((0.5, -1.0)):
        assert pc.grad[i].item() == pytest.approx(-0.5 * _sigmoid(-m) / 2, rel=1e-5)
        assert pr.grad[i].item() == pytest.approx(0.5 * _sigmoid(-m) / 2, rel=1e-5)


def test_dpo_loss_takes_no_gradient_through_the_reference():
    rc = torch.tensor([-1.0], requires_grad=True)
    rr = torch.tensor([-1.0], requires_grad=True)
    pc = torch.tensor([-1.0], requires_grad=True)
    loss, _ = dpo_loss(pc, torch.tensor([-1.0]), rc, rr)
    assert loss.item() == pytest.approx(math.log(2))  # margin 0: -log sigma(0)
    loss.backward()
    assert rc.grad is None and rr.grad is None and pc.grad is not None


def test_dpo_loss_matches_the_logsigmoid_formula_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(7, generator=g, dtype=torch.float64) for _ in range(4)]
    loss, _ = dpo_loss(*x, beta=0.3)
    margin = 0.3 * ((x[0] - x[2]) - (x[1] - x[3]))
    torch.testing.assert_close(loss, -F.logsigmoid(margin).mean())


def test_preference_pair_keeps_its_tag():
    pair = PreferencePair((1, 2), (3,), (4, 5), "exploit")
    assert pair.tag == "exploit"


def test_pad_batch_marks_the_positions_that_predict_the_answer():
    x, mask = pad_batch([[1, 2, 3], [4]], [[5, 6], [7, 8, 9]], pad_id=0)
    assert x.tolist() == [[1, 2, 3, 5, 6], [4, 7, 8, 9, 0]]
    # row 0: positions 2 and 3 predict tokens 5 and 6; row 1: positions 0, 1, 2 predict 7, 8, 9
    assert mask.tolist() == [[0, 0, 1, 1, 0], [1, 1, 1, 0, 0]]


def test_sequence_logprobs_is_the_sum_of_the_answer_token_logprobs():
    torch.manual_seed(0)
    model = TinyTransformer(TransformerConfig(vocab_size=11, n_ctx=8, d_model=16, n_layers=1,
                                              n_heads=2)).eval()
    prompts, answers = [[1, 2, 3], [4, 5]], [[6, 7], [8, 9, 10]]
    got = sequence_logprobs(model, prompts, answers)
    for i, (p, a) in enumerate(zip(prompts, answers)):
        logp = F.log_softmax(model(torch.tensor([p + a]))[0], -1)
        want = sum(logp[len(p) - 1 + j, tok] for j, tok in enumerate(a))
        assert got[i].item() == pytest.approx(want.item(), abs=1e-5)
    # chunking does not change the numbers, and the result carries a gradient
    torch.testing.assert_close(sequence_logprobs(model, prompts, answers, batch_size=1), got)
    assert got.requires_grad
