"""readingroom.evolve.plots: progress, grid, islands, lineage and the live dashboard."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from readingroom.evolve.database import ProgramDatabase  # noqa: E402
from readingroom.evolve.plots import (  # noqa: E402
    LiveDashboard,
    best_curve,
    island_curves,
    lineage_rows,
    lineage_table,
    plot_curves,
    plot_grid,
    plot_islands,
    plot_progress,
)

FEATURES = {"spread": (0.0, 1.0, 4), "smallest": (0.0, 0.2, 3)}
DIFF = """<<<<<<< SEARCH
STEP = 0.03
=======
STEP = 0.05
>>>>>>> REPLACE"""


@pytest.fixture()
def db():
    """A root (score 1.0, one copy per island: ids 1 and 2) and five children on two islands: 1.2, a failure, a failed diff,
    1.5 (child of 1.2), 1.1 on island 1."""
    d = ProgramDatabase(":memory:", features=FEATURES, islands=2, seed=0)
    root, root1 = d.add_initial("root", score=1.0, features={"spread": 0.1, "smallest": 0.05})
    a = d.add("a", parent_id=root, island=0, score=1.2, diff=DIFF,
              features={"spread": 0.3, "smallest": 0.05})
    d.add("b", parent_id=root1, island=1, score=None, status="failed", reason="timeout",
          diff=DIFF)
    d.add("a", parent_id=a, island=0, score=None, status="failed",
          reason="diff: SEARCH not found")
    d.add("c", parent_id=a, island=0, score=1.5, diff=DIFF.replace("0.05", "0.07"),
          features={"spread": 0.6, "smallest": 0.15})
    d.add("d", parent_id=root1, island=1, score=1.1, diff=DIFF,
          features={"spread": 0.9, "smallest": 0.01})
    yield d
    d.close()


def test_best_curve_ignores_failures(db):
    children = db.children()
    assert best_curve(children)[0] == 1.2
    curve = best_curve([db.get(1), *children])
    assert curve == [1.0, 1.2, 1.2, 1.2, 1.5, 1.5]
    assert math.isnan(best_curve([db.get(4)])[0])


def test_island_curves_count_evaluations_not_failed_diffs(db):
    curves = island_curves(db)
    # evaluations: a (island 0), b (1, failed), c (0), d (1): the failed diff is not counted.
    assert curves[0] == ([1, 3], [1.2, 1.5])
    assert curves[1] == ([2, 4], [1.0, 1.1])


def test_lineage_rows_of_the_best(db):
    rows = lineage_rows(db)
    assert [r["id"] for r in rows] == [1, 3, 6]
    assert rows[0]["change"] == "(initial program)" and rows[0]["gain"] is None
    assert rows[1]["change"] == "STEP = 0.05" and rows[1]["gain"] == pytest.approx(0.2)
    assert rows[2]["change"] == "STEP = 0.07" and rows[2]["gain"] == pytest.approx(0.3)
    text = lineage_table(db, 3)
    assert text.splitlines()[0].split()[:2] == ["id", "isl"] and "+0.20000" in text
    with pytest.raises(KeyError):
        lineage_rows(db, 99)


def test_plots_draw_what_the_database_holds(db):
    fig, axes = plt.subplots(1, 3)
    plot_progress(db, axes[0], references={"paper": 1.6})
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert "failed (1)" in labels and "paper (1.6000)" in labels
    line = axes[0].get_lines()[0]
    assert list(line.get_ydata()) == [1.0, 1.2, 1.2, 1.5, 1.5]
    plot_grid(db, ax=axes[1])
    grid = axes[1].get_images()[0].get_array()
    assert int(np.isfinite(np.ma.filled(grid, np.nan)).sum()) == 3  # root, a, c on island 0
    assert "island 0: 3 of 12" in axes[1].get_title()
    plot_islands(db, axes[2])
    assert len(axes[2].get_lines()) == 2
    plt.close(fig)


def test_plot_curves(db):
    fig, ax = plt.subplots()
    plot_curves({"evolution": [1.0, 1.5], "multistart": [1.1, 1.2, 1.3]}, ax,
                references={"record": 2.0})
    assert len(ax.get_lines()) == 3
    plot_curves({"a": [1.0, 2.0]}, ax, x={"a": [0.5, 3.0]}, xlabel="seconds")
    assert ax.get_xlabel() == "seconds"
    plt.close(fig)


def test_live_dashboard_in_the_books_style(db):
    from readingroom.common import use_book_style

    with matplotlib.rc_context():
        use_book_style()  # constrained layout: a redraw must not switch layout engines
        dash = LiveDashboard(every_s=0.0)
        dash(db)
        dash(db)
        dash.close()
    assert len(dash.fig.axes) == 4


def test_live_dashboard_records_history_and_redraws(db):
    dash = LiveDashboard(references={"paper": 1.6}, every_s=0.0)
    with pytest.raises(RuntimeError, match="has not seen"):
        dash.close()
    dash(db)
    dash(db)
    assert [h[1:] for h in dash.history] == [(4, 1.5), (4, 1.5)]
    assert len(dash.fig.axes) == 4  # three panels and the grid's colour bar, not one per draw
    dash.close()
    assert len(dash.fig.axes) == 4
    fresh = LiveDashboard(every_s=0.0)
    fresh.close(db)  # a database given at the end is drawn without any batch seen
    assert len(fresh.fig.axes) == 4 and fresh.history == []
