"""Figures for the DeepSeek-OCR chapter (Wei et al., 2025): a page and its vision tokens,
precision against compression beside the Fox numbers, token budgets, and fading memory."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from readingroom.common import BOOK_COLORS
from readingroom.common.plotting import get_axes
from readingroom.common.checks import check_int
from readingroom.ocr.encoder import get_mode, prepare_page
from readingroom.ocr.experiments import FOX_SMALL, FOX_TINY, Reading, binned_precision
from readingroom.ocr.render import Page
from readingroom.ocr.tokenizer import CHARS_PER_BPE_TOKEN

__all__ = ["plot_compression", "plot_memory", "plot_token_budget", "plot_token_grid",
           "readings_html"]


def _check_readings(readings: Sequence[Reading]) -> None:
    if not readings or not all(isinstance(r, Reading) for r in readings):
        raise ValueError("readings must be a non-empty list of Reading")


def plot_token_grid(page: Page, mode: str = "tiny", n_side: int = 8,
                    ax: Axes | None = None) -> Axes:
    """The page as the encoder sees it in ``mode``, with the ``n_side x n_side`` squares that
    become one vision token each drawn over it."""
    if not isinstance(page, Page):
        raise TypeError(f"page must be a Page, got {type(page).__name__}")
    ax = get_axes(ax)
    m = get_mode(mode)
    image = prepare_page(page.image, m)[0, 0].numpy()
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    step = m.size / n_side
    for k in range(1, n_side):
        ax.axhline(k * step - 0.5, color=BOOK_COLORS[1], linewidth=0.7, alpha=0.8)
        ax.axvline(k * step - 0.5, color=BOOK_COLORS[1], linewidth=0.7, alpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(f"{m.name}: {m.size} x {m.size} px, {n_side * n_side} vision tokens")
    return ax


def plot_compression(readings: Sequence[Reading], edges: Sequence[float],
                     ax: Axes | None = None) -> Axes:
    """Precision against text tokens per vision token: our pages (a dot each, binned means per
    mode) and the paper's Fox numbers (64 and 100 vision tokens), on one logarithmic axis.

    Our ratio is characters per vision token divided by
    :data:`~readingroom.ocr.tokenizer.CHARS_PER_BPE_TOKEN` (an estimate of BPE tokens); the
    paper's is in its own tokeniser's tokens.
    """
    _check_readings(readings)
    ax = get_axes(ax)
    styles = {64: (BOOK_COLORS[0], "s"), 100: (BOOK_COLORS[3], "D"),
              256: (BOOK_COLORS[1], "^"), 400: (BOOK_COLORS[4], "v")}
    for n_tokens in sorted({r.vision_tokens for r in readings}):
        color, marker = styles.get(n_tokens, (BOOK_COLORS[2], "o"))
        mine = [r for r in readings if r.vision_tokens == n_tokens]
        ax.scatter([r.bpe_ratio for r in mine], [r.precision for r in mine], s=8, alpha=0.25,
                   color=color)
        binned = binned_precision(mine, edges)
        ax.plot([c / CHARS_PER_BPE_TOKEN for c, _, _ in binned], [p for _, p, _ in binned],
                color=color, marker=marker, linewidth=1.8, label=f"ours, {n_tokens} tokens")
    for table, n_tokens in ((FOX_TINY, 64), (FOX_SMALL, 100)):
        color, marker = styles[n_tokens]
        ax.plot([r for r, _ in table], [p for _, p in table], marker=marker, linestyle="--",
                color=color, alpha=0.6, markerfacecolor="white",
                label=f"paper, Fox, {n_tokens} tokens")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("compression: text tokens per vision token (ours: characters / 4)")
    ax.set_ylabel("precision (1 - normalised edit distance)")
    ax.set_title("Reading back compressed pages")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    return ax


def plot_token_budget(readings: Sequence[Reading], edges: Sequence[float],
                      ax: Axes | None = None) -> Axes:
    """Tokens a passage costs as text (characters, estimated BPE) and as a page (64 vision
    tokens), against its length; the page's line is coloured by the precision it is read at."""
    _check_readings(readings)
    if len({r.vision_tokens for r in readings}) != 1:
        raise ValueError("readings must all come from one mode (one number of vision tokens)")
    ax = get_axes(ax)
    n_vision = readings[0].vision_tokens
    longest = max(r.n_chars for r in readings)
    n = np.arange(1, longest + 1)
    ax.plot(n, n, color=BOOK_COLORS[0], label="text, character tokens")
    ax.plot(n, n / CHARS_PER_BPE_TOKEN, color=BOOK_COLORS[2], label="text, BPE tokens (est.)")
    binned = binned_precision(readings, edges)
    sc = ax.scatter([c * n_vision for c, _, _ in binned], [n_vision] * len(binned),
                    c=[p for _, p, _ in binned], cmap="viridis", vmin=0, vmax=1, s=60, zorder=3,
                    label=f"page, {n_vision} vision tokens")
    ax.axhline(n_vision, color="grey", linewidth=0.8, linestyle=":")
    ax.figure.colorbar(sc, ax=ax, label="precision of the page's reading")
    ax.set_xlabel("passage length (characters)")
    ax.set_ylabel("tokens in the context")
    ax.set_title("What a passage costs: text tokens or a page")
    ax.legend(loc="upper left")
    return ax


def plot_memory(recall: np.ndarray, factors: Sequence[float], n_tokens: int = 64,
                ax: Axes | None = None) -> Axes:
    """Recall (mean precision over turns, with the spread between turns) against a turn's age,
    where a turn of age ``a`` is kept at ``factors[a]`` of its resolution; an encoder working at
    that resolution would spend ``n_tokens * factor**2`` vision tokens on it."""
    recall = np.asarray(recall, dtype=float)
    if recall.ndim != 2 or recall.shape[0] != len(factors):
        raise ValueError(f"recall must be [len(factors), n_turns], got shape {recall.shape}")
    ax = get_axes(ax)
    ages = np.arange(len(factors))
    mean = recall.mean(axis=1)
    lo, hi = np.percentile(recall, 25, axis=1), np.percentile(recall, 75, axis=1)
    ax.fill_between(ages, lo, hi, color=BOOK_COLORS[0], alpha=0.2, label="middle half of turns")
    ax.plot(ages, mean, color=BOOK_COLORS[0], marker="o", label="mean recall")
    ax.set_xticks(ages)
    ax.set_xticklabels([f"{a}\n{f:.2f}x\n~{n_tokens * f * f:.0f}"
                        for a, f in zip(ages, factors)])
    ax.set_xlabel("age of the turn / resolution kept / vision tokens it would take")
    ax.set_ylabel("precision of recall")
    ax.set_ylim(0, 1.02)
    ax.set_title("Older turns kept at lower resolution")
    ax.legend(loc="lower left")
    return ax


def _png_data_uri(image: np.ndarray) -> str:
    """A greyscale image ``[H, W]`` in ``[0, 1]`` as an inline ``data:image/png`` URI."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.imsave(buf, np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def readings_html(readings: Sequence[Reading], scale: int = 2) -> str:
    """An HTML table: each page as the encoder saw it, and its reading with the errors marked
    (:func:`~readingroom.ocr.errors.highlight_errors`). Images are inline, so the page needs no
    other file.
    """
    from readingroom.ocr.errors import highlight_errors

    _check_readings(readings)
    if any(r.page is None for r in readings):
        raise ValueError("every reading must keep its page (Reading.page)")
    scale = check_int(scale, "scale")
    rows = []
    for r in readings:
        image = prepare_page(r.page.image, r.mode)[0, 0].numpy()
        side = image.shape[0] * scale
        rows.append(
            "<tr>"
            f'<td style="vertical-align:top"><img src="{_png_data_uri(image)}" width="{side}" '
            f'height="{side}" alt="rendered page, {r.n_chars} characters" '
            'style="image-rendering:pixelated"></td>'
            f'<td style="vertical-align:top;max-width:28em">'
            f"<b>font {r.font_size} px · {r.n_chars} characters · "
            f"{r.chars_per_token:.2f} per vision token · precision {r.precision:.2f}</b><br>"
            f"{highlight_errors(r.reading, r.target)}</td></tr>")
    return '<table style="border-collapse:collapse">' + "".join(rows) + "</table>"
