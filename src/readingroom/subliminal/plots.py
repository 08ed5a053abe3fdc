"""Figures for the subliminal-learning chapter (Cloud et al., 2025: Section 6's MNIST experiment
and Theorem 1, and Section 3's owl experiment in a toy language model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes

from readingroom.common import BOOK_COLORS
from readingroom.common.plotting import get_axes
from readingroom.subliminal.lm import LmResult
from readingroom.subliminal.mnist import MnistResult, SweepResult

__all__ = ["plot_conditions", "plot_cosines", "plot_lm", "plot_sweep"]

_CONDITION_LABELS = {
    "same-aux": "same init\naux only",
    "diff-aux": "different init\naux only",
    "same-all": "same init\nall logits",
    "diff-all": "different init\nall logits",
    "head-aux": "same head only\naux only",
    "body-aux": "same hidden only\naux only",
}
_CHANCE = 0.1


def _offsets(n: int, spread: float = 0.18) -> np.ndarray:
    return np.linspace(-spread, spread, n) if n > 1 else np.zeros(1)


def plot_conditions(result: MnistResult, ax: Axes | None = None) -> Axes:
    """Students' MNIST test accuracy per condition: seeds as dots, mean with its 95 % t-interval.

    A dashed line marks chance (10 %) and a dotted one the teachers' mean accuracy.
    """
    if not isinstance(result, MnistResult):
        raise TypeError(f"result must be a MnistResult, got {type(result).__name__}")
    ax = get_axes(ax)
    summary = result.summary()
    for i, cond in enumerate(result.conditions):
        color = BOOK_COLORS[i % len(BOOK_COLORS)]
        values = result.student_accuracy[cond]
        ax.scatter(i + _offsets(len(values)), values, color=color, alpha=0.55, s=18, zorder=3)
        row = summary[cond]
        ax.bar(i, row["mean"], width=0.6, color=color, alpha=0.25, zorder=1)
        if np.isfinite(row["low"]):
            yerr = [[row["mean"] - row["low"]], [row["high"] - row["mean"]]]
            ax.errorbar(i, row["mean"], yerr=yerr, color=color, capsize=6, linewidth=2, zorder=4)
        ax.annotate(f"{row['mean']:.2f}", (i + 0.3, row["mean"]), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=9)
    ax.axhline(_CHANCE, color="grey", linestyle="--", linewidth=1, label="chance (10 %)")
    ax.axhline(summary["teacher"]["mean"], color=BOOK_COLORS[7], linestyle=":", linewidth=1.2,
               label=f"teachers ({summary['teacher']['mean']:.2f})")
    ax.set_xticks(range(len(result.conditions)))
    ax.set_xticklabels([_CONDITION_LABELS[c] for c in result.conditions])
    ax.set_ylim(0, 1.12)  # headroom above the teachers' line for the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("student MNIST test accuracy")
    ax.set_title(f"Students distilled on noise images (m = {result.n_aux}, "
                 f"{len(result.seeds)} seeds)")
    ax.legend(loc="upper center", ncol=2)
    return ax


def plot_cosines(same: torch.Tensor | Sequence[float], different: torch.Tensor | Sequence[float],
                 ax: Axes | None = None) -> Axes:
    """``cos(Delta theta_S, Delta theta_T)`` per seed for same- and different-init students."""
    ax = get_axes(ax)
    groups = []
    for name, values in (("same", same), ("different", different)):
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().double().numpy()
        arr = np.asarray(values, dtype=float)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence of cosines, "
                             f"got shape {arr.shape}")
        groups.append(arr)
    labels = ["same init", "different init"]
    for i, arr in enumerate(groups):
        color = BOOK_COLORS[i]
        ax.scatter(i + _offsets(arr.size), arr, color=color, alpha=0.6, s=20, zorder=3)
        ax.hlines(arr.mean(), i - 0.3, i + 0.3, color=color, linewidth=2.5, zorder=4)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel(r"$\cos(\Delta\theta_S, \Delta\theta_T)$")
    ax.set_title("One imitation step on noise vs. the teacher's update")
    return ax


def plot_sweep(sweep_result: SweepResult, ax: Axes | None = None) -> Axes:
    """Mean student accuracy (with 95 % t-intervals) against the swept setting, per condition."""
    if not isinstance(sweep_result, SweepResult):
        raise TypeError(f"sweep_result must be a SweepResult, got {type(sweep_result).__name__}")
    ax = get_axes(ax)
    xs = np.arange(len(sweep_result.values))
    summaries = sweep_result.summaries()
    for i, cond in enumerate(sweep_result.conditions):
        means = np.array([s[cond]["mean"] for s in summaries])
        low = np.array([s[cond]["low"] for s in summaries])
        high = np.array([s[cond]["high"] for s in summaries])
        color = BOOK_COLORS[i % len(BOOK_COLORS)]
        ax.plot(xs, means, marker="o", color=color, label=cond)
        if np.isfinite(low).all():
            ax.fill_between(xs, low, high, color=color, alpha=0.18, linewidth=0)
    ax.axhline(_CHANCE, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(xs)
    ax.set_xticklabels([str(v) for v in sweep_result.values])
    label = "number of auxiliary logits m" if sweep_result.param == "n_aux" else sweep_result.param
    ax.set_xlabel(label)
    ax.set_ylabel("student MNIST test accuracy")
    ax.set_ylim(0, 1)
    ax.legend()
    return ax


def plot_lm(results: Sequence[LmResult], ax: Axes | None = None) -> Axes:
    """P(animal | "favourite animal?") of each student next to its control, one line per seed.

    Left pair: students that share the teacher's initialisation; right pair: students from a
    different base model. Both members of a pair saw the same number of filtered number
    sequences in the same order; only the writer of the numbers differs (teacher or base model).
    The mean difference (student minus control) is written above each pair, and a dotted line
    marks the base models' mean.
    """
    if isinstance(results, LmResult) or not isinstance(results, Sequence) or not results:
        raise ValueError("results must be a non-empty list of LmResult")
    if not all(isinstance(r, LmResult) for r in results):
        raise TypeError("results must hold only LmResult objects")
    ax = get_axes(ax)
    arms = (("same", "same init", 0.0, BOOK_COLORS[0]),
            ("other", "different init", 2.2, BOOK_COLORS[1]))
    top = 0.0
    for key, label, x0, color in arms:
        control = np.array([getattr(r, f"p_control_{key}") for r in results])
        student = np.array([getattr(r, f"p_student_{key}") for r in results])
        for c, s in zip(control, student):
            ax.plot([x0, x0 + 1], [c, s], color=color, alpha=0.45, marker="o", markersize=4)
        ax.plot([x0, x0 + 1], [control.mean(), student.mean()], color=color, linewidth=3,
                marker="o", markersize=8, label=f"{label} (mean)")
        top = max(top, control.max(), student.max())
        effect = float((student - control).mean())
        ax.annotate(f"{effect:+.3f}", (x0 + 0.5, max(control.max(), student.max())),
                    xytext=(0, 8), textcoords="offset points", ha="center", fontsize=10,
                    color=color)
    base = float(np.mean([r.p_base for r in results] + [r.p_base_other for r in results]))
    ax.axhline(base, color="grey", linestyle=":", linewidth=1.2,
               label=f"base models ({base:.2f})")
    ax.set_xticks([0, 1, 2.2, 3.2])
    ax.set_xticklabels(["control", "student", "control", "student"])
    ax.set_xlim(-0.5, 3.7)
    ax.set_ylim(min(base, min(min(r.p_control_same, r.p_control_other) for r in results)) * 0.9,
                top * 1.12)
    animal = results[0].animal
    ax.set_ylabel(f"P({animal} | favourite animal?)")
    ax.set_title(f"Students fine-tuned on numbers only ({len(results)} seeds)")
    ax.legend(loc="lower center", ncol=3, fontsize=8)
    return ax
