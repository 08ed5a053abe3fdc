"""Every bad input to readingroom.induction is refused with a clear TypeError or ValueError naming
the parameter: one table of the package's error paths (issue 21).

The CLI's exit codes and the read-only recipes stay with their behaviour in the other files.
"""

from __future__ import annotations

import functools

import torch

from readingroom.common import TinyTransformer, TransformerConfig
from readingroom.induction import (
    ablate_heads,
    change_share,
    head_scores,
    jump_step,
    phase_change_metrics,
    phase_change_run,
    plot_attention,
    plot_in_context_loss,
    plot_phase_change,
    repeated_sequences,
    split_loss,
    train_induction_model,
)
from refusals import refusal_test

SMALL = dict(vocab_size=16, seq_len=12, d_model=16, n_heads=2, min_period=2, max_period=6,
             batch=8, steps=6, lr=1e-3, eval_every=3)
DATA = dict(batch=2, seq_len=10, vocab_size=5, min_period=2, max_period=4)
STEPS = [0, 10, 20, 30, 40]
LINE = [0.0, 1.0, 2.0, 3.0, 4.0]
CURVES = {"step": [0, 10, 20], "icl": [0.0, -1.0, -3.0], "induction": [0.1, 0.2, 0.8]}


@functools.cache
def _data() -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of 10 tokens over 5 symbols, periods in [2, 4]."""
    return repeated_sequences(2, 10, 5, min_period=2, max_period=4,
                              generator=torch.Generator().manual_seed(0))


@functools.cache
def _model() -> TinyTransformer:
    """A one-layer attention-only model that reads the 9 inputs of ``_data()``."""
    return TinyTransformer(TransformerConfig(vocab_size=5, n_ctx=9, d_model=8, n_layers=1,
                                             n_heads=1, d_mlp=0))


@functools.cache
def _two_layer_model() -> TinyTransformer:
    """Two layers of four heads, for ablate_heads."""
    return TinyTransformer(TransformerConfig(vocab_size=16, n_ctx=8, d_model=16, n_layers=2,
                                             n_heads=4, d_mlp=0))


def _tokens() -> torch.Tensor:
    return _data()[0]


def _periods() -> torch.Tensor:
    return _data()[1]


def _attn() -> torch.Tensor:
    """Attention of a batch of two, three heads, ten positions: ``[2, 3, 10, 10]``."""
    return torch.softmax(torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(0)),
                         dim=-1)


def _sequences(**kw):
    return repeated_sequences(**{**DATA, **kw})


def _train(**kw):
    return train_induction_model(**{**SMALL, "n_layers": 1, "seed": 0, "progress": False, **kw})


CASES = [
    # (id, call, exception, match)
    # -- data
    ("repeated_sequences: batch 0", lambda: _sequences(batch=0), ValueError,
     "batch must be a positive int"),
    ("repeated_sequences: seq_len a float", lambda: _sequences(seq_len=2.5), TypeError,
     "seq_len must be an int"),
    ("repeated_sequences: vocab_size a bool", lambda: _sequences(vocab_size=True), TypeError,
     "vocab_size must be an int"),
    ("repeated_sequences: min_period above max_period", lambda: _sequences(min_period=5,
                                                                           max_period=4),
     ValueError, "min_period"),
    ("repeated_sequences: max_period not below seq_len", lambda: _sequences(max_period=10),
     ValueError, "max_period .* must be < seq_len"),
    ("repeated_sequences: generator an int", lambda: _sequences(generator=123), TypeError,
     "generator must be a torch.Generator"),

    # -- metrics
    ("split_loss: tokens a list", lambda: split_loss(_model(), _tokens().tolist(), _periods()),
     TypeError, "torch.Tensors"),
    ("split_loss: tokens 1-D", lambda: split_loss(_model(), _tokens()[0], _periods()),
     ValueError, r"tokens must be \[batch, seq_len\]"),
    ("split_loss: one period for two rows", lambda: split_loss(_model(), _tokens(),
                                                               _periods()[:1]),
     ValueError, "periods must have shape"),
    ("split_loss: a period of seq_len", lambda: split_loss(_model(), _tokens(),
                                                           torch.tensor([2, 10])),
     ValueError, "periods must lie in"),
    ("phase_change_metrics: a period of seq_len", lambda: phase_change_metrics(
        _model(), _tokens(), torch.tensor([2, 10])), ValueError, "periods must lie in"),
    ("phase_change_metrics: tokens 1-D", lambda: phase_change_metrics(_model(), _tokens()[0],
                                                                      _periods()),
     ValueError, r"tokens must be \[batch, seq_len\]"),
    ("phase_change_metrics: a model without attention", lambda: phase_change_metrics(
        torch.nn.Embedding(5, 5), _tokens(), _periods()), TypeError, "return_attention=True"),
    ("head_scores: offset 'next'", lambda: head_scores([_attn()], torch.tensor([3, 4]), "next"),
     ValueError, "offset must be"),
    ("head_scores: no attention", lambda: head_scores([], torch.tensor([3, 4]), "previous"),
     TypeError, "non-empty list"),
    ("head_scores: periods a list", lambda: head_scores([_attn()], [3, 4], "previous"),
     TypeError, "periods must be a torch.Tensor"),
    ("head_scores: one period for two rows", lambda: head_scores([_attn()], torch.tensor([3]),
                                                                 "previous"),
     ValueError, "periods must have shape"),
    ("head_scores: a layer of another shape", lambda: head_scores(
        [_attn(), _attn()[:, :2]], torch.tensor([3, 4]), "previous"),
     ValueError, r"attention\[1\] has shape"),
    ("head_scores: periods too long to repeat", lambda: head_scores(
        [_attn()], torch.tensor([10, 12]), "previous"), ValueError, "no query position"),
    ("ablate_heads: model a Linear", lambda: ablate_heads(torch.nn.Linear(2, 2), {0: [0]}),
     TypeError, "TinyTransformer"),
    ("ablate_heads: heads a list", lambda: ablate_heads(_two_layer_model(), [(0, 1)]), TypeError,
     "heads must be a dict"),
    ("ablate_heads: layer 2 of two", lambda: ablate_heads(_two_layer_model(), {2: [0]}),
     ValueError, "layer 2 is not in"),
    ("ablate_heads: head 4 of four", lambda: ablate_heads(_two_layer_model(), {0: [4]}),
     ValueError, "head 4 of layer 0"),

    # -- training
    ("train_induction_model: n_layers 0", lambda: _train(n_layers=0), ValueError,
     "n_layers must be a positive int"),
    ("train_induction_model: n_layers a float", lambda: _train(n_layers=1.5), TypeError,
     "n_layers must be an int"),
    ("train_induction_model: eval_every 0", lambda: _train(eval_every=0), ValueError,
     "eval_every must be a positive int"),
    ("train_induction_model: max_period of seq_len", lambda: _train(max_period=12), ValueError,
     "max_period"),
    ("phase_change_run: recipe a list", lambda: phase_change_run(0, [("steps", 3)]), TypeError,
     "recipe must be a Mapping"),
    ("phase_change_run: n_layers 0", lambda: phase_change_run(0, SMALL, n_layers=0), ValueError,
     "n_layers must be a positive int"),

    # -- locating the jump
    ("jump_step: lengths differ", lambda: jump_step([0, 1, 2], [0.0, 1.0]), ValueError,
     "same length"),
    ("jump_step: two points", lambda: jump_step([0, 1], [0.0, 1.0]), ValueError,
     "at least 3 points"),
    ("jump_step: steps go back", lambda: jump_step([0, 2, 1], [0.0, 1.0, 2.0]), ValueError,
     "strictly increasing"),
    ("jump_step: steps repeat", lambda: jump_step([0, 1, 1], [0.0, 1.0, 2.0]), ValueError,
     "strictly increasing"),
    ("jump_step: a NaN value", lambda: jump_step([0, 1, 2], [0.0, float("nan"), 2.0]),
     ValueError, "values must be finite"),
    ("jump_step: a flat curve", lambda: jump_step([0, 1, 2], [1.0, 1.0, 1.0]), ValueError,
     "flat curve"),
    ("jump_step: steps a str", lambda: jump_step("abc", [0.0, 1.0, 2.0]), TypeError,
     "steps must be a 1-D sequence"),
    ("jump_step: values a float", lambda: jump_step([0, 1, 2], 3.0), TypeError,
     "values must be a 1-D sequence"),
    ("jump_step: values 2-D", lambda: jump_step([0, 1, 2], [[0.0], [1.0], [2.0]]), TypeError,
     "values must be a 1-D sequence"),
    ("change_share: start before the first step", lambda: change_share(STEPS, LINE, -1, 10),
     ValueError, "start and stop must satisfy"),
    ("change_share: stop after the last step", lambda: change_share(STEPS, LINE, 10, 50),
     ValueError, "start and stop must satisfy"),
    ("change_share: an empty window", lambda: change_share(STEPS, LINE, 20, 20), ValueError,
     "start and stop must satisfy"),
    ("change_share: start a str", lambda: change_share(STEPS, LINE, "0", 10), TypeError,
     "start must be a float"),
    ("change_share: stop None", lambda: change_share(STEPS, LINE, 0, None), TypeError,
     "stop must be a float"),
    ("change_share: no total change", lambda: change_share(STEPS, [1.0, 2.0, 0.0, 2.0, 1.0], 0,
                                                           10),
     ValueError, "no total change"),

    # -- figures
    ("plot_in_context_loss: no runs", lambda: plot_in_context_loss({}, 16), ValueError,
     "at least one"),
    ("plot_attention: a pattern that is not square", lambda: plot_attention(
        torch.zeros(3, 4), torch.zeros(12, dtype=torch.long), 2, "x"), ValueError, "square"),
    ("plot_attention: tokens of another length", lambda: plot_attention(
        torch.eye(5), torch.zeros(12, dtype=torch.long), 2, "x"),
     ValueError, "tokens must have shape"),
    ("plot_phase_change: curves without icl and induction", lambda: plot_phase_change(
        {"step": [0, 1]}), ValueError, "keys 'step', 'icl' and 'induction'"),
    ("plot_phase_change: a curve of another length", lambda: plot_phase_change(
        dict(CURVES, icl=[0.0])), ValueError, "must have len"),
    ("plot_phase_change: a jump of an unknown curve", lambda: plot_phase_change(
        CURVES, jumps={"loss": 3.0}), ValueError, "jumps must be None"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
