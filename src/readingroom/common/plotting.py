"""The book's plotting style and the standard loss-curve plot.

Call :func:`use_book_style` once near the top of a chapter; every figure after it shares the same
size, fonts and colour-blind-safe colours. :func:`plot_history` draws a
:class:`~readingroom.common.train.TrainHistory` as a faint raw loss curve under its trailing mean.
Nothing here calls ``plt.show()``: notebooks display figures themselves.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib import cycler
from matplotlib.axes import Axes

from .train import TrainHistory
from readingroom.common.checks import check_bool, check_int

__all__ = ["BOOK_COLORS", "get_axes", "use_book_style", "plot_history"]

#: Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), in the order plots use
#: it: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow, black.
BOOK_COLORS: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_BOOK_RC: dict[str, object] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "axes.prop_cycle": cycler(color=list(BOOK_COLORS)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
}


def use_book_style() -> None:
    """Set matplotlib's rcParams to the book's style (idempotent: calling it twice is harmless).

    Figures are 6.4 x 3.6 inches at 110 dpi on screen and 150 dpi when saved, with light grids,
    no top or right spines, and :data:`BOOK_COLORS` as the colour cycle.
    """
    mpl.rcParams.update(_BOOK_RC)


def plot_history(
    history: TrainHistory,
    *,
    ax: Axes | None = None,
    smooth: int = 20,
    label: str | None = None,
    log_y: bool = False,
) -> Axes:
    """Plot the training loss of ``history`` against the step and return the Axes.

    The raw per-step loss is drawn faintly and its trailing mean over ``smooth`` steps on top, in
    the same colour (the next one in the Axes' cycle), so several runs can share one Axes.

    Args:
        history: what :func:`~readingroom.common.train.train` returned (must hold losses).
        ax: the Axes to draw on; ``None`` creates a new figure.
        smooth: window of the trailing mean, a positive int (``1`` draws the raw loss only).
        label: legend entry for the smoothed line; a legend is added when given.
        log_y: use a logarithmic loss axis.
    """
    if not isinstance(history, TrainHistory):
        raise TypeError(f"history must be a TrainHistory, got {type(history).__name__}")
    if not history.losses:
        raise ValueError("history must hold at least one loss, got an empty TrainHistory")
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    check_int(smooth, "smooth")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__}")
    check_bool(log_y, "log_y")

    if ax is None:
        import matplotlib.pyplot as plt  # imported here so `import readingroom` stays light

        _, ax = plt.subplots()
    steps = range(1, len(history.losses) + 1)  # step n is the loss before the n-th update
    if smooth == 1:
        ax.plot(steps, history.losses, label=label)
    else:
        (line,) = ax.plot(steps, history.smoothed(smooth), label=label, zorder=3)
        ax.plot(steps, history.losses, color=line.get_color(), alpha=0.25, linewidth=0.8, zorder=2)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    if log_y:
        ax.set_yscale("log")
    if label is not None:
        ax.legend()
    return ax


def get_axes(ax: Axes | None) -> Axes:
    """``ax`` itself, or a new figure's Axes when ``ax`` is None (every plot helper's start)."""
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax
