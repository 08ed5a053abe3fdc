"""Unit tests for readingroom.induction: data, metrics, experiment, plots."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from readingroom.induction import (
    InductionRun,
    head_scores,
    induction_scores,
    plot_attention,
    plot_in_context_loss,
    previous_token_scores,
    repeated_sequences,
    split_loss,
    train_induction_model,
)

matplotlib.use("Agg")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---- data ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len,min_p,max_p", [(33, 4, 16), (10, 1, 9), (64, 7, 7)])
def test_repeated_sequences_repeat_with_their_period(seq_len, min_p, max_p):
    tokens, periods = repeated_sequences(200, seq_len, 50, min_period=min_p, max_period=max_p,
                                         generator=_gen())
    assert tokens.shape == (200, seq_len) and tokens.dtype == torch.int64
    assert periods.shape == (200,)
    assert periods.min() >= min_p and periods.max() <= max_p
    assert tokens.min() >= 0 and tokens.max() < 50
    for row, P in zip(tokens, periods.tolist()):
        assert torch.equal(row[P:], row[:-P])


def test_repeated_sequences_deterministic_and_cover_periods():
    a = repeated_sequences(500, 20, 10, min_period=2, max_period=6, generator=_gen(1))
    b = repeated_sequences(500, 20, 10, min_period=2, max_period=6, generator=_gen(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert set(a[1].tolist()) == {2, 3, 4, 5, 6}


# ---- metrics ----------------------------------------------------------------------------------

class _Oracle(torch.nn.Module):
    """Predicts x_{t+1} = x_{t+1-P} perfectly once t+1 >= P, uniformly before."""

    def __init__(self, tokens, periods, vocab):
        super().__init__()
        self.tokens, self.periods, self.vocab = tokens, periods, vocab

    def forward(self, x):
        B, T = x.shape
        logits = torch.zeros(B, T, self.vocab)
        for b in range(B):
            P = int(self.periods[b])
            for t in range(T):
                if t + 1 >= P:
                    logits[b, t, self.tokens[b, t + 1 - P]] = 100.0
        return logits


def test_split_loss_separates_fresh_from_repeats():
    tokens, periods = repeated_sequences(8, 21, 16, min_period=3, max_period=8, generator=_gen())
    losses = split_loss(_Oracle(tokens, periods, 16), tokens, periods)
    assert losses["fresh"] == pytest.approx(math.log(16), rel=1e-5)
    assert losses["repeat"] < 1e-6


def test_split_loss_restores_mode():
    tokens, periods = repeated_sequences(2, 10, 5, min_period=2, max_period=4, generator=_gen())
    model = _Oracle(tokens, periods, 5).train()
    split_loss(model, tokens, periods)
    assert model.training


def _perfect_heads(periods, T):
    B = len(periods)
    prev = torch.zeros(B, 1, T, T)
    prev[:, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0
    prev[:, 0, 0, 0] = 1.0
    ind = torch.zeros(B, 1, T, T)
    for b, P in enumerate(periods.tolist()):
        for t in range(T):
            ind[b, 0, t, t - P + 1 if t >= P else t] = 1.0
    return prev, ind


def test_head_scores_on_hand_made_heads():
    periods = torch.tensor([3, 5, 8])
    prev, ind = _perfect_heads(periods, 16)
    both = [torch.cat([prev, ind], dim=1)]  # one layer, two heads
    torch.testing.assert_close(previous_token_scores(both, periods)[0, 0], torch.tensor(1.0))
    torch.testing.assert_close(induction_scores(both, periods)[0, 1], torch.tensor(1.0))
    assert induction_scores(both, periods)[0, 0] < 0.3
    assert previous_token_scores(both, periods)[0, 1] < 0.3
    # an induction head that splits its attention over all earlier copies still scores 1
    spread = torch.zeros_like(ind)
    P, T = 3, 16
    for t in range(P, T):
        keys = [j for j in range(1, t + 1) if (t + 1 - j) % P == 0]
        spread[0, 0, t, keys] = 1.0 / len(keys)
    assert induction_scores([spread[:1]], periods[:1]).item() == pytest.approx(1.0)


def test_head_scores_shapes():
    periods = torch.tensor([3, 4])
    attn = torch.softmax(torch.randn(2, 3, 10, 10), dim=-1)
    out = head_scores([attn, attn], periods, "induction")
    assert out.shape == (2, 3) and (out >= 0).all() and (out <= 1).all()


# ---- experiment and plots ---------------------------------------------------------------------

SMALL = dict(vocab_size=16, seq_len=12, d_model=16, n_heads=2, min_period=2, max_period=6,
             batch=8, steps=6, lr=1e-3, eval_every=3)


def test_train_induction_model_records_curve_and_is_deterministic():
    a = train_induction_model(2, seed=5, progress=False, **SMALL)
    b = train_induction_model(2, seed=5, progress=False, **SMALL)
    assert isinstance(a, InductionRun)
    assert [s for s, _, _ in a.curve] == [0, 3, 6]
    assert a.curve == b.curve
    assert a.induction.shape == (2, 2) and a.previous.shape == (2, 2)
    assert set(a.final) == {"fresh", "repeat"}
    assert a.eval_tokens.shape == (32, 13)


def test_plots_draw():
    import matplotlib.pyplot as plt

    run = train_induction_model(1, seed=0, progress=False, **SMALL)
    ax = plot_in_context_loss({1: run}, SMALL["vocab_size"])
    assert len(ax.lines) == 3  # repeat, fresh, chance
    tokens = run.eval_tokens[0, :-1]
    ax = plot_attention(torch.eye(12), tokens, 4, "identity")
    assert ax.get_title() == "identity"
    plt.close("all")


def test_ablate_heads_zeroes_one_head_and_leaves_the_original():
    from readingroom.common import TinyTransformer, TransformerConfig
    from readingroom.induction import ablate_heads

    torch.manual_seed(0)
    model = TinyTransformer(TransformerConfig(vocab_size=16, n_ctx=8, d_model=16, n_layers=2,
                                              n_heads=4, d_mlp=0))
    before = model.blocks[1].attn.out.weight.clone()
    ablated = ablate_heads(model, {1: [2]})
    w = ablated.blocks[1].attn.out.weight
    assert torch.all(w[:, 8:12] == 0) and torch.equal(w[:, :8], before[:, :8])
    assert torch.equal(model.blocks[1].attn.out.weight, before)
    x = torch.randint(0, 16, (2, 8))
    assert not torch.allclose(model(x), ablated(x))
    assert torch.equal(ablate_heads(model, {})(x), model(x))
