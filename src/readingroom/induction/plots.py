"""The chapter's two figures: in-context loss during training, and one head's attention."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from readingroom.common import BOOK_COLORS
from readingroom.induction.experiment import InductionRun

__all__ = ["plot_attention", "plot_in_context_loss"]


def plot_in_context_loss(runs: Mapping[int, InductionRun], vocab_size: int, ax=None):
    """Loss on repeated tokens vs. training step for each run, with the chance level ``ln V``."""
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("runs must hold at least one InductionRun")
    if ax is None:
        _, ax = plt.subplots()
    for i, (n_layers, run) in enumerate(sorted(runs.items())):
        steps, fresh, repeat = zip(*run.curve)
        color = BOOK_COLORS[i % len(BOOK_COLORS)]
        ax.plot(steps, repeat, color=color, lw=2, label=f"{n_layers} layer(s): repeated tokens")
        ax.plot(steps, fresh, color=color, lw=1, ls=":", label=f"{n_layers} layer(s): first period")
    ax.axhline(math.log(vocab_size), color="0.4", lw=0.8, ls="--")
    ax.annotate(f"chance, ln {vocab_size}", (0, math.log(vocab_size)), xytext=(4, 4),
                textcoords="offset points", fontsize=8, color="0.3")
    ax.set(xlabel="training step", ylabel="held-out loss (nats)", ylim=(0, None))
    ax.legend(fontsize=8, loc="center right")
    return ax


def plot_attention(pattern: torch.Tensor, tokens: torch.Tensor, period: int, title: str, ax=None):
    """Heatmap of one head's ``[T, T]`` attention on one sequence, with the period marked."""
    import matplotlib.pyplot as plt

    if not isinstance(pattern, torch.Tensor) or pattern.dim() != 2 or \
            pattern.shape[0] != pattern.shape[1]:
        raise ValueError("pattern must be a square [T, T] tensor")
    if tokens.shape != pattern.shape[:1]:
        raise ValueError(f"tokens must have shape [{pattern.shape[0]}], got {tuple(tokens.shape)}")
    if ax is None:
        _, ax = plt.subplots()
    T = pattern.shape[0]
    ax.imshow(pattern.detach().cpu().numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.axhline(period - 0.5, color=BOOK_COLORS[5], lw=1)
    ax.set(title=title, xlabel="key position", ylabel="query position")
    step = max(1, T // 8)
    ax.set_xticks(range(0, T, step))
    ax.set_yticks(range(0, T, step))
    ax.grid(False)
    return ax
