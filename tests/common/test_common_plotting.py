"""Tests for readingroom.common.plotting (Agg backend, rcParams restored after each test)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
from matplotlib.layout_engine import ConstrainedLayoutEngine

from readingroom.common import BOOK_COLORS, TrainHistory, plot_history, use_book_style


@pytest.fixture(autouse=True)
def _restore_matplotlib():
    with mpl.rc_context():
        yield
    plt.close("all")


def history(n: int = 50) -> TrainHistory:
    return TrainHistory(losses=[1.0 / (i + 1) + 0.1 * (i % 3) for i in range(n)])


def _hex(colour) -> str:
    return mpl.colors.to_hex(colour)


def test_book_colors_are_distinct_matplotlib_colours():
    assert isinstance(BOOK_COLORS, tuple) and len(BOOK_COLORS) >= 2
    assert all(mpl.colors.is_color_like(c) for c in BOOK_COLORS)
    assert len({_hex(c) for c in BOOK_COLORS}) == len(BOOK_COLORS)  # no two lines look alike


def test_use_book_style_styles_the_figures_drawn_after_it():
    use_book_style()
    fig, ax = plt.subplots()
    # lines take the book's colours in order, then the cycle starts again
    lines = [ax.plot([0, 1], [i, i + 1])[0] for i in range(len(BOOK_COLORS) + 1)]
    assert [_hex(line.get_color()) for line in lines] == [_hex(c) for c in BOOK_COLORS * 2][
        : len(lines)]
    # no top or right spine, a grid behind the data, a layout that keeps labels inside
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert ax.spines["left"].get_visible() and ax.spines["bottom"].get_visible()
    fig.canvas.draw()
    assert ax.xaxis.get_gridlines() and all(g.get_visible() for g in ax.xaxis.get_gridlines())
    assert all(g.get_visible() for g in ax.yaxis.get_gridlines())
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    # every figure after it has the same size
    other, _ = plt.subplots()
    assert tuple(other.get_size_inches()) == tuple(fig.get_size_inches())


def test_use_book_style_changes_the_defaults_and_is_idempotent():
    with mpl.rc_context():
        mpl.rcdefaults()
        default = dict(mpl.rcParams)
        use_book_style()
        styled = dict(mpl.rcParams)
        use_book_style()
        assert dict(mpl.rcParams) == styled  # a second call changes nothing
    assert styled != default
    assert styled["axes.prop_cycle"] != default["axes.prop_cycle"]


def test_plot_history_draws_raw_and_smoothed_losses():
    h = history()
    ax = plot_history(h, smooth=10)
    smoothed, raw = ax.get_lines()
    assert list(smoothed.get_xdata()) == list(range(1, 51))
    assert list(smoothed.get_ydata()) == pytest.approx(h.smoothed(10))
    assert list(raw.get_ydata()) == pytest.approx(h.losses)
    assert raw.get_color() == smoothed.get_color() and raw.get_alpha() < 1
    assert ax.get_xlabel() == "step" and ax.get_yscale() == "linear"
    assert ax.get_legend() is None


def test_plot_history_on_given_axes_with_label_and_log_scale():
    use_book_style()
    _, ax = plt.subplots()
    returned = plot_history(history(), ax=ax, label="run A", log_y=True)
    plot_history(history(), ax=ax, label="run B", smooth=1)
    assert returned is ax
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["run A", "run B"]
    assert len(ax.get_lines()) == 3  # run A raw + smoothed, run B raw only
    first, _, second = ax.get_lines()
    assert (
        first.get_color().upper() == BOOK_COLORS[0] and second.get_color().upper() == BOOK_COLORS[1]
    )


def test_get_axes_passes_axes_through_or_makes_one():
    import matplotlib.pyplot as plt

    from readingroom.common.plotting import get_axes

    fig, ax = plt.subplots()
    assert get_axes(ax) is ax
    made = get_axes(None)
    assert made is not ax and made.figure is not fig
    plt.close("all")
