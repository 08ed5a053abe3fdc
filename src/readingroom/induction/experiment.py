"""The chapter's experiment: train attention-only transformers on repeated sequences.

:func:`train_induction_model` builds a :class:`~readingroom.common.TinyTransformer` with no MLPs
(Olsson et al. study attention-only models, where the circuit is easiest to read), trains it with
the book's :func:`~readingroom.common.train` loop on :func:`repeated_sequences`, and evaluates the
split loss and the top induction score (:func:`phase_change_metrics`) on a fixed held-out batch as
it goes, so that the phase change (Olsson et al., 2022, Argument 1) can be read off the run.

:data:`CPU_RECIPE` and :data:`GPU_RECIPE` are the chapter's two presets; the command line
(``python -m readingroom.induction phase``) reruns :data:`CPU_RECIPE` over several seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import torch

from readingroom.common import (
    TinyTransformer,
    TrainHistory,
    TransformerConfig,
    make_generator,
    seed_everything,
    train,
)
from readingroom.common.checks import check_int
from readingroom.induction.data import repeated_sequences
from readingroom.induction.metrics import (
    induction_scores,
    phase_change_metrics,
    previous_token_scores,
)

__all__ = ["CPU_RECIPE", "GPU_RECIPE", "InductionRun", "train_induction_model"]

#: The chapter's CPU preset: the keyword arguments of :func:`train_induction_model` (read-only).
CPU_RECIPE = MappingProxyType(dict(
    vocab_size=64, seq_len=32, d_model=128, n_heads=4, min_period=4, max_period=16, batch=64,
    steps=800, lr=1e-3, eval_every=10))

#: The chapter's GPU preset (same keys as :data:`CPU_RECIPE`).
GPU_RECIPE = MappingProxyType(dict(
    vocab_size=256, seq_len=64, d_model=256, n_heads=8, min_period=4, max_period=32, batch=256,
    steps=3000, lr=1e-3, eval_every=20))


@dataclass
class InductionRun:
    """A trained model and what was measured on it.

    ``curve`` holds ``(step, fresh_loss, repeat_loss)`` on the held-out batch every
    ``eval_every`` steps (and at step 0, before training); ``induction_curve`` holds
    ``(step, top induction score)`` at the same steps; ``induction`` and ``previous`` are
    ``[n_layers, n_heads]`` head scores of the final model on that batch.
    """

    n_layers: int
    model: TinyTransformer
    history: TrainHistory
    eval_tokens: torch.Tensor
    eval_periods: torch.Tensor
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    induction_curve: list[tuple[int, float]] = field(default_factory=list)
    induction: torch.Tensor | None = None
    previous: torch.Tensor | None = None

    def phase_curves(self) -> dict[str, list[float]]:
        """The two curves of the phase change, on one x axis (Olsson et al., 2022, Argument 1).

        Returns ``{"step": [...], "icl": [...], "induction": [...]}``: the training steps of the
        evaluations, the in-context learning score ``repeat - fresh`` (nats; see
        :func:`~readingroom.induction.phase_change_metrics`) and the top induction score.
        """
        return {"step": [float(step) for step, _, _ in self.curve],
                "icl": [repeat - fresh for _, fresh, repeat in self.curve],
                "induction": [score for _, score in self.induction_curve]}

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
    seeded with ``seed``, the held-out batch (``4 * batch`` rows) from ``seed + 1``. Every
    ``eval_every`` steps (and before the first) :func:`phase_change_metrics` is measured on the
    held-out batch: the split loss goes to ``run.curve``, the top induction score to
    ``run.induction_curve``. Everything is deterministic given ``seed`` on a given machine.
    """
    check_int(n_layers, "n_layers")
    check_int(eval_every, "eval_every")
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

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        return phase_change_metrics(m, eval_tokens, eval_periods)

    evals = [(0, evaluate(model))]  # the untrained model, step 0
    history = train(model, get_batch, steps=steps, lr=lr, warmup=min(30, steps // 10),
                    eval_every=eval_every, eval_fn=evaluate,
                    progress=progress, desc=f"{n_layers}-layer model")
    evals += history.evals
    curve = [(step, m["fresh"], m["repeat"]) for step, m in evals]
    induction_curve = [(step, m["induction"]) for step, m in evals]
    run = InductionRun(n_layers, model, history, eval_tokens, eval_periods, curve,
                       induction_curve)
    with torch.no_grad():
        _, attn = model(eval_tokens[:, :-1], return_attention=True)
    run.induction = induction_scores(attn, eval_periods).cpu()
    run.previous = previous_token_scores(attn, eval_periods).cpu()
    return run
