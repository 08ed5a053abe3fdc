"""Figures of the NSA chapter. Each function draws a new figure and returns it; nothing calls
``plt.show()``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from readingroom.common.plotting import BOOK_COLORS, plot_history
from readingroom.nsa.config import NSAConfig
from readingroom.nsa.cost import PAPER_TABLE4, DecodeCost
from readingroom.nsa.recall import RecallRun

__all__ = ["plot_branch_maps", "plot_decode_cost", "plot_query", "plot_recall", "plot_recall_records"]


def _cmp_to_tokens(p_cmp: np.ndarray, T: int, cfg: NSAConfig) -> np.ndarray:
    """Spread compression probabilities ``[T, N_c]`` over the tokens each block covers
    (divided by ``l``, so a row still sums to 1): ``[T, T]``."""
    out = np.zeros((p_cmp.shape[0], T))
    for i in range(p_cmp.shape[1]):
        start = i * cfg.stride
        out[:, start : start + cfg.block_len] += p_cmp[:, i : i + 1] / cfg.block_len
    return out


def plot_branch_maps(maps: Mapping[str, torch.Tensor], cfg: NSAConfig, *, head: int = 0, batch: int = 0) -> Figure:
    """Three ``[query, key]`` heatmaps, one per branch, for one head (from
    :func:`~readingroom.nsa.analysis.attention_maps`). The compressed branch's weights are
    spread over the tokens of each block; white means "not attended"."""
    T = maps["slc"].shape[1]
    panels = {
        "compressed (Eq. 7-8)": _cmp_to_tokens(maps["cmp"][batch, :, head].cpu().numpy(), T, cfg),
        "selected blocks (Eq. 11-12)": maps["slc"][batch, :, head].cpu().numpy(),
        "sliding window": maps["win"][batch, :, head].cpu().numpy(),
    }
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), sharey=True)
    for ax, (title, m) in zip(axes, panels.items()):
        shown = np.ma.masked_where(m <= 0, np.sqrt(m))
        ax.imshow(shown, cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("key position")
        ax.grid(False)
    axes[0].set_ylabel("query position")
    fig.suptitle(f"Where each branch looks (head {head}; colour = sqrt of the attention weight)")
    return fig


def plot_query(maps: Mapping[str, torch.Tensor], cfg: NSAConfig, t: int, *, head: int = 0, batch: int = 0,
               marks: Mapping[str, int] | None = None) -> Figure:
    """One query ``t``: each branch's weights over key positions, the selected blocks shaded.

    ``marks`` names key positions to flag (e.g. ``{"needle": 41}``).
    """
    T = maps["slc"].shape[1]
    if not 0 <= t < T:
        raise ValueError(f"t must be in [0, {T}), got {t}")
    g = head // (maps["slc"].shape[2] // maps["indices"].shape[2])
    fig, ax = plt.subplots(figsize=(9, 3.2))
    x = np.arange(T)
    cmp_tok = _cmp_to_tokens(maps["cmp"][batch, t : t + 1, head].cpu().numpy(), T, cfg)[0]
    for j in maps["indices"][batch, t, g].tolist():
        if j >= 0:
            ax.add_patch(Rectangle((j * cfg.select_block - 0.5, 0), cfg.select_block, 1, color=BOOK_COLORS[1],
                                   alpha=0.12, lw=0, transform=ax.get_xaxis_transform()))
    # Each token gets the summed weight of the compressed blocks that cover it.
    ax.plot(x, cmp_tok * cfg.block_len, color=BOOK_COLORS[0], label="compressed (its blocks' weight)")
    ax.plot(x, maps["slc"][batch, t, head].cpu().numpy(), color=BOOK_COLORS[1], label="selected")
    ax.plot(x, maps["win"][batch, t, head].cpu().numpy(), color=BOOK_COLORS[2], label="window")
    ax.axvline(t, color="k", lw=0.8, ls=":")
    for name, pos in (marks or {}).items():
        ax.axvline(pos, color=BOOK_COLORS[3], lw=1.2, ls="--")
        ax.text(pos, 1.0, f" {name}", color=BOOK_COLORS[3], transform=ax.get_xaxis_transform(), va="top")
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_xlabel("key position (shaded: the selected blocks)")
    ax.set_ylabel("attention weight")
    ax.set_title(f"Query t = {t}, head {head}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: the curves start at the left
    return fig


def plot_recall(runs: Sequence[RecallRun]) -> Figure:
    """Training loss and held-out recall accuracy of each run, side by side."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.set_prop_cycle(color=list(BOOK_COLORS))  # loss i and accuracy i share a colour
    for i, run in enumerate(runs):
        color = BOOK_COLORS[i % len(BOOK_COLORS)]
        plot_history(run.history, ax=ax_loss, label=run.name)  # next colour in the cycle = color
        steps, acc = zip(*run.curve)
        ax_acc.plot(steps, acc, marker="o", color=color, label=run.name)
    ax_loss.set_title("training loss (query positions)")
    ax_acc.set_title("held-out recall accuracy")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend()
    return fig


def plot_recall_records(records: Sequence[Mapping], *, chance: float | None = None) -> Figure:
    """The committed retrieval runs (the JSON records of ``python -m readingroom.nsa recall``):
    loss and held-out accuracy of every attention kind, one colour per kind, one line style per
    seed; ``chance`` draws the guessing level."""
    styles = ("-", "--", ":", "-.")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    kinds = list(records[0]["runs"])
    for i, kind in enumerate(kinds):
        for r_i, record in enumerate(records):
            run = record["runs"][kind]
            style = dict(color=BOOK_COLORS[i], ls=styles[r_i % len(styles)], lw=1.3)
            label = kind if r_i == 0 else None
            ax_loss.plot(np.arange(len(run["loss_every_10"])) * 10, run["loss_every_10"], label=label, **style)
            steps, accuracy = zip(*run["curve"])
            ax_acc.plot(steps, accuracy, marker="o", ms=3, label=label, **style)
    if chance is not None:
        ax_acc.axhline(chance, color="k", lw=0.8, ls=":", label="chance")
    seeds = ", ".join(str(r["seed"]) for r in records)
    ax_loss.set(title=f"training loss (seeds {seeds}: one line style each)", xlabel="step")
    ax_acc.set(title="held-out accuracy", xlabel="step", ylim=(0, 1.02))
    ax_loss.legend()
    ax_acc.legend()
    return fig


def plot_decode_cost(costs: Sequence[DecodeCost], bench: Mapping | None = None) -> Figure:
    """Tokens read per decoding step (full vs NSA, the paper's Table 4) and, when a benchmark
    record is given, the measured speed-up beside the expected one."""
    fig, (ax_tok, ax_speed) = plt.subplots(1, 2, figsize=(10, 3.6))
    ctx = [c.context for c in costs]
    x = np.arange(len(ctx))
    ax_tok.bar(x - 0.2, [c.full for c in costs], 0.4, label="full attention")
    ax_tok.bar(x + 0.2, [c.nsa_exact for c in costs], 0.4, label="NSA")
    ax_tok.set_xticks(x, [f"{c // 1024}k" for c in ctx])
    ax_tok.set_yscale("log")
    ax_tok.set_xlabel("context length")
    ax_tok.set_title("tokens read per decoding step")
    ax_tok.legend()
    ax_speed.plot(ctx, [c.speedup for c in costs], marker="o", label="expected (Table 4 arithmetic)")
    paper = [PAPER_TABLE4[c][2] for c in ctx if c in PAPER_TABLE4]
    if len(paper) == len(ctx):
        ax_speed.plot(ctx, paper, ls="none", marker="x", color="k", label="paper, Table 4")
    if bench:
        rows = bench["results"]
        device = bench["device"].replace("(R)", "").replace(" Processor", "")
        ax_speed.plot([r["context"] for r in rows], [r["measured_speedup"] for r in rows], marker="s",
                      label=f"measured: {device}")
    ax_speed.set_xscale("log", base=2)
    ax_speed.set_xticks(ctx, [f"{c // 1024}k" for c in ctx])
    ax_speed.minorticks_off()
    ax_speed.set_xlabel("context length")
    ax_speed.set_ylabel("full / NSA")
    ax_speed.set_title("decoding speed-up")
    ax_speed.legend()
    return fig
