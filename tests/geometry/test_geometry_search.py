"""Tests for readingroom.geometry.search: candidate auxiliary points (numerically deduplicated),
their score, and the beam search over DD + AR; every proof found is re-checked numerically on
fresh random diagrams of the augmented problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from readingroom.geometry import build_diagram, parse_problem, solve
from readingroom.geometry.language import Construction
from readingroom.geometry.search import (
    FAMILIES,
    SearchResult,
    _key,
    _place,
    candidates,
    extend_diagram,
    score,
    search,
)

T = "a b c = triangle a b c; "
ORTHO = T + "h = on_tline h b a c, on_tline h c a b ? perp a h b c"
NINE = (T + "d = midpoint d b c; e = midpoint e c a; f = midpoint f a b; g = foot g a b c"
        " ? cyclic d e f g")
# Pappus: neither DDAR nor a short search proves it
HOPELESS = ("a b = segment a b; c = on_line c a b; d e = segment d e; f = on_line f d e; "
            "x = intersection_ll x a e b d; y = intersection_ll y a f c d; "
            "z = intersection_ll z b f c e ? coll x y z")


def _check_proof_on_fresh_diagrams(res: SearchResult, seeds=(11, 12, 13)):
    augmented = parse_problem(str(res.problem), res.problem.name)
    assert augmented == res.problem
    for seed in seeds:
        d = build_diagram(augmented, seed=seed, require_goal=True)
        for step in res.result.steps:
            assert step.holds(d, tol=1e-6), (seed, str(step))


# --- candidates -------------------------------------------------------------------------------


def test_candidates_are_clauses_over_existing_points_and_distinct():
    p = parse_problem(ORTHO)
    d = build_diagram(p, seed=0, require_goal=True)
    cands = candidates(p, d)
    assert len(cands) > 20 and all(isinstance(c, str) for c in cands)
    families = {c.split("=")[1].split()[0] for c in cands}
    assert {"midpoint", "foot", "circle", "mirror", "reflect", "incenter"} <= families
    assert families <= set(FAMILIES)
    scale = d.scale()
    seen = [d.points[n] for n in p.points]
    for text in cands:
        assert text.startswith("x0 = ")
        aug = parse_problem(f"{str(p).split(' ?')[0]}; {text} ? {p.goal}")  # a valid clause
        new = _place(aug.clauses[-1], d, 0)
        xy = new["x0"]
        # not an existing point, not the same point as an earlier candidate
        assert all(np.hypot(*(xy - q)) > 1e-6 * scale for q in seen), text
        seen.append(xy)
    # the orthocentre of abc is h itself: dropped; the foot of the altitude from b is there
    # exactly once (as 'foot x0 a b h': the foot of a on the altitude bh is the same point)
    assert "x0 = orthocenter x0 a b c" not in cands
    foot_b = _place(parse_problem(T + "x0 = foot x0 b a c").clauses[-1], d, 0)["x0"]
    same = [t for t, xy in zip(cands, seen[len(p.points):]) if np.hypot(*(xy - foot_b)) < 1e-9]
    assert same == ["x0 = foot x0 a b h"]
    assert candidates(p, d, limit=5) == cands[:5]
    assert candidates(p, d, limit=0) == []


def test_candidates_drop_points_that_already_exist():
    p = parse_problem(T + "m = midpoint m a b; x0 = free x0 ? coll m a b")
    cands = candidates(p)
    assert cands and all(c.startswith("x1 = ") for c in cands)  # a fresh name
    assert "x1 = midpoint x1 a b" not in cands and "x1 = midpoint x1 a c" in cands
    # the mirror of a through m is b: dropped
    assert "x1 = mirror x1 a m" not in cands


def test_score_counts_lines_and_circles_through_the_point_and_goal_points():
    pts = {"a": np.array([0.0, 0.0]), "b": np.array([2.0, 0.0]), "c": np.array([0.0, 2.0]),
           "d": np.array([2.0, 2.0])}
    lines = [(pts["a"], pts["d"], {"a", "d"}), (pts["b"], pts["c"], {"b", "c"}),
             (pts["a"], pts["b"], {"a", "b"})]
    circles = [(np.array([1.0, 1.0]), math.sqrt(2), {"a", "b", "c", "d"})]
    centre = np.array([1.0, 1.0])
    con = Construction("midpoint", ("x", "a", "d"))
    # the centre lies on lines ad and bc and not on the circle; goal point a is on line ad
    s = score(centre, con, lines, circles, goal_points={"a"}, scale=2.0)
    assert s == pytest.approx(2 + 0.5 + FAMILIES["midpoint"] - 0.1)
    # a goal point counts when it lies on an object through the point, argument or not: b and c
    # (on line bc) count, e (no object through the centre) does not
    s = score(centre, con, lines, circles, goal_points={"b", "c", "e"}, scale=2.0)
    assert s == pytest.approx(2 + 1.0 + FAMILIES["midpoint"] - 0.1)
    on_circle = np.array([1.0 + math.sqrt(2), 1.0])  # on the circle only: its four points count
    s = score(on_circle, con, lines, circles, goal_points={"a", "c"}, scale=2.0)
    assert s == pytest.approx(1 + 1.0 + FAMILIES["midpoint"] - 0.1)
    off = score(np.array([5.0, 1.0]), con, lines, circles, goal_points={"a"}, scale=2.0)
    assert off == pytest.approx(FAMILIES["midpoint"] - 0.1)


def test_score_credits_the_centre_of_the_goals_circle():
    # goal points a, b, c, d on the circle of centre (1, 1); the centre lies on no line
    pts = [np.array(v) for v in ([0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0])]
    con = Construction("circle", ("x", "a", "b", "c"))
    base = FAMILIES["circle"] - 0.15
    centre = np.array([1.0, 1.0])
    assert score(centre, con, [], [], set(), 2.0, goal_xy=pts) == pytest.approx(base + 1)
    # equidistant from two goal points only, or no goal points given: no credit
    off = np.array([1.0, 5.0])
    assert score(off, con, [], [], set(), 2.0, goal_xy=pts) == pytest.approx(base)
    assert score(centre, con, [], [], set(), 2.0, goal_xy=pts[:2]) == pytest.approx(base)
    assert score(centre, con, [], [], set(), 2.0) == pytest.approx(base)


def test_score_credits_a_midpoint_that_completes_a_midline():
    mids = [("m", "a", "b")]  # the problem's midpoint m of ab
    xy = np.array([7.0, 3.0])
    # mirror x a d makes d the midpoint of a x: it shares a with ab, so md is a midline
    mirror = score(xy, Construction("mirror", ("x", "a", "d")), [], [], set(), 2.0,
                   midpoints=mids)
    assert mirror == pytest.approx(FAMILIES["mirror"] - 0.1 + 1)
    # the midpoint of a c shares a too; the midpoint of c d and the mirror of a through m
    # (whose midpoint is m itself) do not complete one
    mid = Construction("midpoint", ("x", "a", "c"))
    assert score(xy, mid, [], [], set(), 2.0, midpoints=mids) == pytest.approx(
        FAMILIES["midpoint"] - 0.1 + 1)
    for con in (Construction("midpoint", ("x", "c", "d")), Construction("mirror", ("x", "a", "m")),
                Construction("foot", ("x", "a", "b", "c"))):
        plain = FAMILIES[con.name] - 0.05 * (len(con.args) - 1)
        assert score(xy, con, [], [], set(), 2.0, midpoints=mids) == pytest.approx(plain), con
    # several midlines count once
    two = [("m", "a", "b"), ("n", "a", "e")]
    assert score(xy, mid, [], [], set(), 2.0, midpoints=two) == pytest.approx(
        FAMILIES["midpoint"] - 0.1 + 1)


def test_extend_diagram_keeps_the_existing_coordinates():
    p = parse_problem(ORTHO)
    d = build_diagram(p, seed=3, require_goal=True)
    clause = parse_problem(T + "x0 = foot x0 b a c").clauses[-1]
    aug, ad = extend_diagram(p, d, clause)
    assert aug.points == p.points + ("x0",) and aug.goal == p.goal
    for n in p.points:
        assert np.array_equal(ad.points[n], d.points[n])
    assert solve(aug, diagram=ad).discarded == 0
    # a degenerate clause (the midpoint of a with itself would need two points) -> None
    same = parse_problem(T + "x0 = midpoint x0 a b").clauses[-1]
    bad = type(same)(("x0",), (Construction("midpoint", ("x0", "a", "a")),))
    assert extend_diagram(p, d, bad) is None


def test_cache_key_ignores_order_and_fresh_names():
    c1 = parse_problem(T + "x0 = foot x0 b a c").clauses[-1]
    c2 = parse_problem(T + "x1 = foot x1 c a b").clauses[-1]
    c2b = parse_problem(T + "x0 = foot x0 c a b").clauses[-1]
    c1b = parse_problem(T + "x1 = foot x1 b a c").clauses[-1]
    assert _key((c1, c2)) == _key((c2b, c1b))
    assert _key((c1,)) != _key((c2b,))


# --- the search -------------------------------------------------------------------------------


def test_orthocentre_is_solved_with_auxiliary_points():
    p = parse_problem(ORTHO, "orthocentre")
    assert not solve(p, timeout=10).solved  # DD + AR alone saturate
    res = search(p, timeout=30)
    assert isinstance(res, SearchResult)
    assert res.solved and res.aux and res.seconds < 10 and res.stop == "solved"
    assert res.tried >= 2 and res.result.solved and res.result.discarded == 0
    assert len(res.problem.clauses) == len(p.clauses) + len(res.aux)
    assert [str(c) for c in res.problem.clauses[len(p.clauses):]] == res.aux
    assert res.result.steps[-1] == res.result.goal and res.result.goal.name == "perp"
    assert any("x0" in line for line in res.result.proof)  # the auxiliary point is used
    _check_proof_on_fresh_diagrams(res)


@pytest.mark.parametrize("text", [
    "a b c d = trapezoid a b c d; m = midpoint m a d; n = midpoint n b c ? para m n a b",
    T + "h = orthocenter h a b c; o = circumcenter o a b c; m = midpoint m b c; "
        "n = midpoint n a h ? cong n a o m",
], ids=["trapezoid_midline", "orthocenter_distance_circumcenter"])
def test_classical_theorems_solved_with_an_auxiliary_point(text):
    p = parse_problem(text)
    assert not solve(p, timeout=10).solved
    res = search(p, timeout=30)
    assert res.solved and res.aux and res.seconds < 15
    _check_proof_on_fresh_diagrams(res)


def test_problem_solved_by_ddar_needs_no_search():
    res = search(parse_problem(T + "m = midpoint m a b; n = midpoint n a c ? para m n b c"))
    assert res.solved and res.aux == [] and res.tried == 1
    assert res.result.proof[-1].startswith("3. para b c m n")


def test_hopeless_problem_stops_within_the_timeout():
    p = parse_problem(HOPELESS)
    res = search(p, timeout=1.5)
    assert not res.solved and res.aux == [] and res.seconds < 3.0
    assert res.problem == p and res.stop in ("timeout", "exhausted") and res.best_facts > 0


def test_beam_width_and_depth_bound_the_work():
    p = parse_problem(HOPELESS)
    res = search(p, depth=0, timeout=20)
    assert not res.solved and res.tried == 1 and res.stop == "exhausted"
    res = search(p, depth=1, width=3, timeout=20, share=False, widen=False)
    assert res.tried <= 1 + 3
    res = search(p, depth=2, width=3, beam=2, timeout=20, share=False, widen=False)
    assert 1 + 3 < res.tried <= 1 + 3 + 2 * 3 and not res.solved
    # sharing adds at most one merged run per level
    res = search(p, depth=2, width=3, beam=2, timeout=20, widen=False)
    assert 1 + 3 < res.tried <= 1 + 3 + 2 * 3 + 2 and not res.solved


def test_widening_spends_the_budget_on_the_next_candidates():
    p = parse_problem(HOPELESS)
    res = search(p, depth=1, width=3, timeout=4, share=False)
    # passes of 3, 6, 12, ... candidates: far more than one pass's 1 + 3 runs, each run once
    assert not res.solved and res.tried > 1 + 6 and res.stop == "timeout"
    assert res.seconds < 6


def test_widening_reaches_a_point_beyond_the_first_width():
    p = parse_problem(ORTHO)
    ranked = candidates(p)
    useful = {"x0 = foot x0 a b h", "x0 = foot x0 b a c", "x0 = foot x0 c a b"}
    k = min(i for i, c in enumerate(ranked) if c in useful)
    assert k >= 1  # the first candidate alone does not prove it
    narrow = search(p, depth=1, width=1, timeout=30, share=False, widen=False)
    assert not narrow.solved and narrow.stop == "exhausted" and narrow.tried == 2
    wide = search(p, depth=1, width=1, timeout=30, share=False)
    assert wide.solved and wide.aux and wide.tried > 2
    _check_proof_on_fresh_diagrams(wide)


# --- proposers ---------------------------------------------------------------------------------

def test_a_proposer_reorders_the_candidates_the_search_tries():
    from readingroom.geometry import heuristic_proposer, random_proposer

    p = parse_problem(ORTHO)
    seen = {}

    def spy(name, inner):
        def propose(problem, diagram, cands):
            ranks = inner(problem, diagram, cands)
            order = sorted(range(len(cands)), key=lambda i: -ranks[i])
            seen.setdefault(name, [str(cands[i].clause) for i in order])  # the first state
            return ranks
        return propose

    assert search(p, timeout=30, proposer=spy("heuristic", heuristic_proposer)).solved
    r1 = search(p, timeout=30, proposer=spy("random", random_proposer(1)))
    first = seen["random"]
    r2 = search(p, timeout=30, proposer=random_proposer(1))
    assert sorted(first) == sorted(seen["heuristic"]) and first != seen["heuristic"]
    assert r1.solved == r2.solved and r1.aux == r2.aux  # seeded: the same draw again
    assert random_proposer(1)(p, None, [0] * 5) != random_proposer(2)(p, None, [0] * 5)


def test_branches_in_parallel_find_a_checked_proof():
    from concurrent.futures import ThreadPoolExecutor

    from readingroom.geometry import check_search

    p = parse_problem(ORTHO)
    two = search(p, timeout=60, jobs=2)
    assert two.solved and check_search(two).ok and two.aux
    with ThreadPoolExecutor(2) as ex:  # any concurrent.futures executor (a Dask client's, too)
        other = search(p, timeout=60, jobs=2, executor=ex)
    assert other.solved and check_search(other).ok
