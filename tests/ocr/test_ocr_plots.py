"""Tests of readingroom.ocr.plots: every figure draws from made-up readings."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from readingroom.ocr import render_page  # noqa: E402
from readingroom.ocr.experiments import Reading  # noqa: E402
from readingroom.ocr.plots import (  # noqa: E402
    plot_compression,
    plot_memory,
    plot_token_budget,
    plot_token_grid,
    readings_html,
)


def _readings() -> list[Reading]:
    out = []
    cases = [(8, 200, 0.4, "tiny"), (12, 40, 0.95, "tiny"), (12, 90, 0.8, "small")]
    for i, (font, n, p, mode) in enumerate(cases):
        text = ("word " * 60)[:n].strip()
        page = render_page(text, size=(128, 128), font_size=font)
        tokens = 64 if mode == "tiny" else 100
        out.append(Reading(font, mode, tokens, text, text[:-3] + "xyz" if i else text, p, page))
    return out


def test_plots_draw_and_return_their_axes() -> None:
    readings = _readings()
    edges = [0, 1, 2, 4]
    for fn in (plot_compression, plot_token_budget):
        ax = fn(readings if fn is plot_compression else readings[:2], edges)
        assert ax.get_title() and ax.get_lines()
        plt.close(ax.figure)
    labels = plot_compression(readings, edges).get_legend_handles_labels()[1]
    assert "ours, 64 tokens" in labels and "ours, 100 tokens" in labels
    assert "paper, Fox, 100 tokens" in labels
    ax = plot_token_grid(readings[0].page, "tiny")
    assert "64 vision tokens" in ax.get_title()
    plt.close(ax.figure)
    ax = plot_memory(np.array([[1.0, 0.9], [0.5, 0.6]]), [1.0, 0.5], n_tokens=100)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0\n1.00x\n~100", "1\n0.50x\n~25"]
    plt.close(ax.figure)


def test_readings_html_inlines_pages_and_marks_errors() -> None:
    html = readings_html(_readings())
    assert html.count("<img") == 3 and html.count("data:image/png;base64,") == 3
    assert "precision 0.95" in html and "background:" in html  # errors are marked

