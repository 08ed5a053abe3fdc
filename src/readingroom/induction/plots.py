"""The chapter's figures: in-context loss and the phase change during training, one head's attention."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from readingroom.common import BOOK_COLORS
from readingroom.induction.experiment import InductionRun

__all__ = ["plot_attention", "plot_in_context_loss", "plot_phase_change"]


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


def plot_phase_change(curves: Mapping[str, Sequence[float]], jumps: Mapping[str, float] | None = None,
                      ax=None):
    """The phase change (Olsson et al., 2022, Argument 1): two curves on one training-step axis.

    ``curves`` is :meth:`InductionRun.phase_curves`'s ``{"step", "icl", "induction"}``. The
    in-context learning score goes on the left axis (nats, drawn so that *up* is more in-context
    learning: the axis is inverted), the top induction score on a second axis on the right.
    ``jumps`` (optional) maps ``"icl"`` and/or ``"induction"`` to the step of that curve's jump
    (:func:`~readingroom.induction.jump_step`), drawn as a vertical line in the curve's colour.
    Returns the two axes ``(left, right)``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, Mapping) or not {"step", "icl", "induction"} <= set(curves):
        raise ValueError("curves must be a mapping with keys 'step', 'icl' and 'induction' "
                         "(see InductionRun.phase_curves)")
    n = len(curves["step"])
    if len(curves["icl"]) != n or len(curves["induction"]) != n:
        raise ValueError(f"curves['icl'] and curves['induction'] must have len(curves['step'])={n}"
                         f" entries, got {len(curves['icl'])} and {len(curves['induction'])}")
    jumps = {} if jumps is None else jumps
    if not isinstance(jumps, Mapping) or not set(jumps) <= {"icl", "induction"}:
        raise ValueError("jumps must be None or a mapping with keys among 'icl' and 'induction'")
    if ax is None:
        _, ax = plt.subplots()
    colors = {"icl": BOOK_COLORS[0], "induction": BOOK_COLORS[1]}
    right = ax.twinx()
    ax.plot(curves["step"], curves["icl"], color=colors["icl"], lw=2,
            label="in-context learning score (left)")
    right.plot(curves["step"], curves["induction"], color=colors["induction"], lw=2, ls="--",
               label="top induction score (right)")
    for name, step in jumps.items():
        ax.axvline(step, color=colors[name], lw=1, alpha=0.7)
    ax.set(xlabel="training step", ylabel="loss on repeats − loss on first period (nats)")
    ax.invert_yaxis()
    right.set(ylabel="top induction score", ylim=(0, 1))
    right.grid(False)
    handles = ax.get_lines()[:1] + right.get_lines()[:1]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="center right")
    return ax, right
