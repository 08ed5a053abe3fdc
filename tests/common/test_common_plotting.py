"""Tests for readingroom.common.plotting (Agg backend, rcParams restored after each test)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest

from readingroom.common import BOOK_COLORS, TrainHistory, plot_history, use_book_style


@pytest.fixture(autouse=True)
def _restore_matplotlib():
    with mpl.rc_context():
        yield
    plt.close("all")


def history(n: int = 50) -> TrainHistory:
    return TrainHistory(losses=[1.0 / (i + 1) + 0.1 * (i % 3) for i in range(n)])


def test_book_colors_are_the_okabe_ito_palette():
    assert isinstance(BOOK_COLORS, tuple) and len(BOOK_COLORS) == 8
    assert BOOK_COLORS[0] == "#0072B2" and "#E69F00" in BOOK_COLORS
    assert all(c.startswith("#") and len(c) == 7 for c in BOOK_COLORS)


def test_use_book_style_sets_rcparams_idempotently():
    use_book_style()
    rc = mpl.rcParams
    assert tuple(rc["figure.figsize"]) == (6.4, 3.6)
    assert rc["figure.dpi"] == 110 and rc["savefig.dpi"] == 150
    assert not rc["axes.spines.top"] and not rc["axes.spines.right"]
    assert rc["grid.alpha"] == 0.3
    assert [c.upper() for c in rc["axes.prop_cycle"].by_key()["color"]] == list(BOOK_COLORS)
    before = dict(rc)
    use_book_style()
    assert dict(mpl.rcParams) == before


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


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"history": [1.0, 2.0]}, TypeError, "history must be a TrainHistory"),
        ({"history": TrainHistory()}, ValueError, "history must hold at least one loss"),
        ({"ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
        ({"smooth": 0}, ValueError, "smooth must be a positive int, got 0"),
        ({"smooth": 2.5}, TypeError, "smooth must be a positive int"),
        ({"label": 3}, TypeError, "label must be a str"),
        ({"log_y": "yes"}, TypeError, "log_y must be a bool"),
    ],
)
def test_plot_history_validates_arguments(kwargs, error, message):
    args = {"history": history(), **kwargs}
    with pytest.raises(error, match=message):
        plot_history(args.pop("history"), **args)


def test_get_axes_passes_axes_through_or_makes_one():
    import matplotlib.pyplot as plt

    from readingroom.common.plotting import get_axes

    fig, ax = plt.subplots()
    assert get_axes(ax) is ax
    made = get_axes(None)
    assert made is not ax and made.figure is not fig
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None"):
        get_axes("axes")
    plt.close("all")
