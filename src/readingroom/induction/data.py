"""Sequences that can only be predicted in context: random tokens that repeat with a random period.

Each row draws a period ``P`` uniformly from ``[min_period, max_period]`` and ``P`` tokens uniformly
from the vocabulary, then repeats them until the row is ``seq_len`` long:

.. math::

    x_t \\sim \\mathrm{Uniform}\\{0, \\dots, V-1\\} \\quad (t < P), \\qquad x_t = x_{t-P} \\quad (t \\ge P).

The first ``P`` tokens are unpredictable (the best loss is :math:`\\ln V`); every later token is
a copy of one the model has already seen. Because ``P`` changes from row to row, a model cannot
solve the task by attending to a fixed relative position: it has to find the previous occurrence
of the current token by content, which is what an induction head does.
"""

from __future__ import annotations

import torch

from readingroom.common.checks import check_int

__all__ = ["repeated_sequences"]


def repeated_sequences(batch: int, seq_len: int, vocab_size: int, *, min_period: int,
                       max_period: int, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch`` rows of random tokens repeated with a random period.

    Returns ``(tokens, periods)``: ``tokens`` is ``[batch, seq_len]`` int64 and ``periods`` is
    ``[batch]`` int64 with each row's ``P``. Requires ``1 <= min_period <= max_period < seq_len``
    so that every row repeats at least once.
    """
    batch = check_int(batch, "batch")
    seq_len = check_int(seq_len, "seq_len")
    vocab_size = check_int(vocab_size, "vocab_size")
    min_period = check_int(min_period, "min_period")
    max_period = check_int(max_period, "max_period")
    if min_period > max_period:
        raise ValueError(f"min_period ({min_period}) must be <= max_period ({max_period})")
    if max_period >= seq_len:
        raise ValueError(f"max_period ({max_period}) must be < seq_len ({seq_len}) so that "
                         "every row repeats at least once")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")

    periods = torch.randint(min_period, max_period + 1, (batch,), generator=generator)  # [B]
    fresh = torch.randint(0, vocab_size, (batch, seq_len), generator=generator)  # [B, T]
    t = torch.arange(seq_len)  # [T]
    source = t[None, :] % periods[:, None]  # [B, T]: position t copies position t mod P
    tokens = fresh.gather(1, source)  # [B, T]
    return tokens, periods
