"""Drawing a numeric diagram with matplotlib: points labelled, the problem's lines as segments
spanning their points, its circles, and (optionally) the goal's points highlighted."""

from __future__ import annotations

import numpy as np

from readingroom.geometry.language import Problem
from readingroom.geometry.diagram import Diagram

__all__ = ["draw_diagram"]


def draw_diagram(diagram: Diagram, problem: Problem | None = None, ax=None, *,
                 label: bool = True, highlight_goal: bool = True):
    """Draw ``diagram`` on ``ax`` (a new figure if ``None``) and return the Axes.

    ``problem`` defaults to the diagram's own; its name and goal become the title, and the
    goal's points are drawn in red.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle as CirclePatch

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    problem = problem if problem is not None else diagram.problem
    pts = diagram.points

    for names in diagram.lines:
        xy = np.array([pts[n] for n in names])
        d = xy[-1] - xy[0]
        if np.allclose(d, 0):
            continue
        t = (xy - xy[0]) @ d
        lo, hi = xy[np.argmin(t)], xy[np.argmax(t)]
        ax.plot([lo[0], hi[0]], [lo[1], hi[1]], color="0.25", lw=1.0, zorder=1)
    for c in diagram.circles:
        ax.add_patch(CirclePatch(tuple(c.center), c.radius, fill=False, color="tab:blue",
                                 lw=1.0, alpha=0.8, zorder=1))

    goal_pts: set[str] = set()
    if highlight_goal and problem is not None and problem.goal is not None:
        goal_pts = set(problem.goal.points)
    xy = np.array(list(pts.values())) if pts else np.zeros((0, 2))
    span = float(np.ptp(xy, axis=0).max()) if len(xy) > 1 else 1.0
    for name, p in pts.items():
        colour = "tab:red" if name in goal_pts else "black"
        ax.scatter([p[0]], [p[1]], s=14, color=colour, zorder=3)
        if label:
            ax.annotate(name, (p[0], p[1]), xytext=(p[0] + 0.015 * span, p[1] + 0.015 * span),
                        fontsize=10, color=colour, zorder=4)

    if problem is not None:
        title = problem.name or ""
        if problem.goal is not None:
            title = f"{title}  ? {problem.goal}" if title else f"? {problem.goal}"
        if title:
            ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    if len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.1 * span
        for c in diagram.circles:  # keep circles in view, within reason
            if c.radius < 3 * span:
                lo = np.minimum(lo, c.center - c.radius)
                hi = np.maximum(hi, c.center + c.radius)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
