"""Shared fixtures of the geometry tests."""

from __future__ import annotations

import time

import pytest

from readingroom.geometry import build_diagram, parse_problem
from readingroom.geometry.ddar import _Engine
from readingroom.geometry.facts import premises


def _engine(text, seed=0, require_goal=True):
    problem = parse_problem(text)
    diagram = build_diagram(problem, seed=seed, require_goal=require_goal)
    eng = _Engine(problem, diagram, time.monotonic() + 60, 1e-7)
    for f, clause in premises(problem, diagram)[0]:
        eng.add(f, "construction " + clause)
    eng.build()
    return eng


@pytest.fixture
def engine():
    """``engine(text, seed=0, require_goal=True)``: a deduction engine holding the problem's
    premises, its lines, circles and linear systems built, no rule run yet (to call the rules
    and the algebra directly)."""
    return _engine
