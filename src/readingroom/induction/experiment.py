"""The chapter's experiment: train attention-only transformers on repeated sequences.

:func:`train_induction_model` builds a :class:`~readingroom.common.TinyTransformer` with no MLPs
(Olsson et al. study attention-only models, where the circuit is easiest to read), trains it with
the book's :func:`~readingroom.common.train` loop on :func:`repeated_sequences`, and evaluates the
split loss on a fixed held-out batch as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from readingroom.common import (
    TinyTransformer,
    TrainHistory,
    TransformerConfig,
    make_generator,
    seed_everything,
    train,
)
from readingroom.induction.data import repeated_sequences
from readingroom.induction.metrics import induction_scores, previous_token_scores, split_loss

__all__ = ["InductionRun", "train_induction_model"]


@dataclass
class InductionRun:
    """A trained model and what was measured on it.

    ``curve`` holds ``(step, fresh_loss, repeat_loss)`` on the held-out batch every
    ``eval_every`` steps; ``induction`` and ``previous`` are ``[n_layers, n_heads]`` head scores
    of the final model on that batch.
    """

    n_layers: int
    model: TinyTransformer
    history: TrainHistory
    eval_tokens: torch.Tensor
    eval_periods: torch.Tensor
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    induction: torch.Tensor | None = None
    previous: torch.Tensor | None = None

    @property
    def final(self) -> dict[str, float]:
        """The last evaluation: ``{"fresh": ..., "repeat": ...}`` in nats."""
        step, fresh, repeat = self.curve[-1]
        return {"fresh": fresh, "repeat": repeat}


def train_induction_model(n_layers: int, *, vocab_size: int, seq_len: int, d_model: int,
                          n_heads: int, min_period: int, max_period: int, batch: int, steps: int,
                          lr: float, eval_every: int, seed: int,
                          device: torch.device | str = "cpu", progress: bool = True
                          ) -> InductionRun:
    """Train an attention-only ``n_layers`` transformer on repeated sequences.

    The model reads ``seq_len`` tokens; training rows are drawn fresh every step from a generator
    seeded with ``seed``, the held-out batch (``4 * batch`` rows) from ``seed + 1``. Everything is
    deterministic given ``seed`` on a given machine.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every must be a positive int, got {eval_every!r}")
    if not isinstance(max_period, int) or not isinstance(seq_len, int) or max_period >= seq_len:
        raise ValueError(f"max_period ({max_period}) must be an int < seq_len ({seq_len}): the "
                         "model's input must contain repeats for the head scores to mean anything")
    seed_everything(seed)
    device = torch.device(device)
    config = TransformerConfig(vocab_size=vocab_size, n_ctx=seq_len, d_model=d_model,
                               n_layers=n_layers, n_heads=n_heads, d_mlp=0)
    model = TinyTransformer(config).to(device)

    data_gen = make_generator(seed)
    kw = dict(min_period=min_period, max_period=max_period)
    eval_tokens, eval_periods = repeated_sequences(4 * batch, seq_len + 1, vocab_size, **kw,
                                                   generator=make_generator(seed + 1))
    eval_tokens, eval_periods = eval_tokens.to(device), eval_periods.to(device)

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, _ = repeated_sequences(batch, seq_len + 1, vocab_size, **kw, generator=data_gen)
        return tokens[:, :-1], tokens[:, 1:]  # inputs [B, T], next-token targets [B, T]

    start = split_loss(model, eval_tokens, eval_periods)  # the untrained model, step 0
    history = train(model, get_batch, steps=steps, lr=lr, warmup=min(30, steps // 10),
                    eval_every=eval_every,
                    eval_fn=lambda m: split_loss(m, eval_tokens, eval_periods),
                    progress=progress, desc=f"{n_layers}-layer model")
    curve = [(0, start["fresh"], start["repeat"])]
    curve += [(step, m["fresh"], m["repeat"]) for step, m in history.evals]
    run = InductionRun(n_layers, model, history, eval_tokens, eval_periods, curve)
    with torch.no_grad():
        _, attn = model(eval_tokens[:, :-1], return_attention=True)
    run.induction = induction_scores(attn, eval_periods).cpu()
    run.previous = previous_token_scores(attn, eval_periods).cpu()
    return run
