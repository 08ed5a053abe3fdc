"""Circle packing (AlphaEvolve Appendix B.12): the exact checker, the repair, the seed program and
its fragments in the sandbox, the cascade, and the baselines."""

from __future__ import annotations

import math
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from readingroom.evolve.blocks import parse_blocks
from readingroom.evolve.circles import (
    FRAGMENTS, REGIONS, SEED_PROGRAM, basin_hopping, check_packing,
    check_warm_start, draw_packing, evaluate, feasible_radii, feasible_score, grid_score,
    largest_hole, multistart_slsqp, optimise_penalty, optimise_slsqp, packing_cascade,
    parse_regions, repair, substitute_region, violation,
)
from readingroom.evolve.sandbox import run_sandboxed

QUARTERS = {"centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]],
            "radii": [0.25] * 4}


def _pack(centers, radii):
    return {"centers": [list(c) for c in centers], "radii": list(radii)}


# ----------------------------------------------------------------------------- the checker


def test_quarters_exact():
    check = check_packing(QUARTERS, 4)
    assert check.ok and check.reason == ""
    assert check.score == 1.0


def test_two_circles_touching_exactly_accepted():
    # 0.25 + 0.25 = 0.5 = the distance, all exact in binary: touching is allowed
    check = check_packing(_pack([[0.25, 0.5], [0.75, 0.5]], [0.25, 0.25]), 2)
    assert check.ok and check.score == 0.5


def test_touching_diagonal_exactly_accepted():
    # a 3-4-5 triangle scaled by 1/16: d = 0.3125 = 0.0625 + 0.25, every number exact in binary
    value = _pack([[0.0625, 0.0625], [0.25, 0.3125]], [0.0625, 0.25])
    check = check_packing(value, 2)
    assert check.ok, check.reason
    assert check.score == 0.3125


def test_overlap_of_1e15_rejected():
    # distance 0.5 - 1e-15 < 0.25 + 0.25: a float tolerance of 1e-12 would accept this
    x2 = 0.75 - 1e-15
    assert x2 < 0.75
    value = _pack([[0.25, 0.5], [x2, 0.5]], [0.25, 0.25])
    assert math.isclose(math.dist(*value["centers"]), 0.5, abs_tol=1e-12)
    check = check_packing(value, 2)
    assert not check.ok
    assert check.reason.startswith("circles 0 and 1 overlap")


def test_overlap_of_one_ulp_in_radius_rejected():
    assert check_packing(_pack([[0.25, 0.5], [0.625, 0.5]], [0.25, 0.125]), 2).ok
    r = float(np.nextafter(0.125, 1.0))
    check = check_packing(_pack([[0.25, 0.5], [0.625, 0.5]], [0.25, r]), 2)
    assert not check.ok and "overlap" in check.reason


@pytest.mark.parametrize("center, radius, wall", [
    ([0.25 - 1e-16, 0.5], 0.25, "x = 0"),
    ([0.5, 0.25 - 1e-16], 0.25, "y = 0"),
    ([0.75 + 1e-16, 0.5], 0.25, "x = 1"),
    ([0.5, 0.75 + 1e-16], 0.25, "y = 1"),
    ([0.5, 0.5], 0.5 + 1e-16, "x = 0"),
])
def test_outside_by_1e16_rejected(center, radius, wall):
    assert center not in ([0.25, 0.5], [0.5, 0.25], [0.75, 0.5], [0.5, 0.75]) or radius != 0.25
    check = check_packing(_pack([center], [radius]), 1)
    assert not check.ok
    assert check.reason.startswith(f"circle 0 crosses the wall {wall}")


def test_wall_touching_exactly_accepted():
    assert check_packing(_pack([[0.5, 0.5]], [0.5]), 1).ok


@pytest.mark.parametrize("value, n, reason", [
    ([1, 2], 1, "value must be a dict with 'centers' and 'radii', got list"),
    (None, 1, "value must be a dict with 'centers' and 'radii', got NoneType"),
    ({"radii": [0.1]}, 1, "missing key 'centers'"),
    ({"centers": [[0.5, 0.5]]}, 1, "missing key 'radii'"),
    ({"centers": "x", "radii": [0.1]}, 1, "centers must be a list, got str"),
    ({"centers": [[0.5, 0.5]], "radii": 0.1}, 1, "radii must be a list, got float"),
    ({"centers": [[0.5, 0.5]], "radii": [0.1]}, 2, "expected 2 centers, got 1"),
    ({"centers": [[0.5, 0.5], [0.1, 0.1]], "radii": [0.1]}, 2, "expected 2 radii, got 1"),
    ({"centers": [[0.5]], "radii": [0.1]}, 1, "centers[0] must be a pair [x, y], got [0.5]"),
    ({"centers": [[0.5, 0.5, 0.5]], "radii": [0.1]}, 1, "centers[0] must be a pair"),
    ({"centers": [0.5], "radii": [0.1]}, 1, "centers[0] must be a pair [x, y], got 0.5"),
    ({"centers": [[0.5, "a"]], "radii": [0.1]}, 1, "centers[0][1] must be a number, got str"),
    ({"centers": [[True, 0.5]], "radii": [0.1]}, 1, "centers[0][0] must be a number, got bool"),
    ({"centers": [[0.5, None]], "radii": [0.1]}, 1, "centers[0][1] must be a number, got "
                                                    "NoneType"),
    ({"centers": [[float("nan"), 0.5]], "radii": [0.1]}, 1, "centers[0][0] is not finite: nan"),
    ({"centers": [[0.5, float("inf")]], "radii": [0.1]}, 1, "centers[0][1] is not finite: inf"),
    ({"centers": [[0.5, 0.5]], "radii": [float("nan")]}, 1, "radii[0] is not finite: nan"),
    ({"centers": [[0.5, 0.5]], "radii": [float("inf")]}, 1, "radii[0] is not finite: inf"),
    ({"centers": [[0.5, 0.5]], "radii": [-0.1]}, 1, "radii[0] must be > 0, got -0.1"),
    ({"centers": [[0.5, 0.5]], "radii": [0.0]}, 1, "radii[0] must be > 0, got 0.0"),
    ({"centers": [[0.5, 0.5]], "radii": ["0.1"]}, 1, "radii[0] must be a number, got str"),
    ({"centers": [[0.5, 0.5]], "radii": [[0.1]]}, 1, "radii[0] must be a number, got list"),
    ({"centers": [[0.5, 0.5], [0.5, 0.5]], "radii": [0.1, 0.1]}, 2,
     "circles 0 and 1 overlap: d^2 - (r_i + r_j)^2 = -0.04"),
    ({"centers": [[0.05, 0.5]], "radii": [0.1]}, 1, "circle 0 crosses the wall x = 0 by 0.05"),
])
def test_malformed_rejected_with_reason(value, n, reason):
    check = check_packing(value, n)
    assert not check.ok
    assert check.score == 0.0
    assert check.reason.startswith(reason), check.reason


def test_checker_accepts_ints_and_tuples():
    assert check_packing({"centers": ((0, 0),), "radii": (1,)}, 1).reason.startswith("circle 0")
    assert check_packing({"centers": [(0.5, 0.5)], "radii": (0.5,), "extra": 1}, 1).ok


def test_grid_score():
    assert grid_score(4) == 1.0
    assert grid_score(6) == 1.0
    assert grid_score(26) == 26 / 12


# ----------------------------------------------------------------------------- the repair


def test_repair_makes_an_almost_feasible_packing_exact():
    rng = np.random.default_rng(0)
    c = np.array(QUARTERS["centers"]) + rng.normal(0, 1e-12, (4, 2))
    r = np.full(4, 0.25) * (1 + 1e-12)
    assert not check_packing(_pack(c.tolist(), r.tolist()), 4).ok
    c2, r2 = repair(c, r)
    check = check_packing({"centers": c2.tolist(), "radii": r2.tolist()}, 4)
    assert check.ok, check.reason
    assert check.score > 1.0 - 1e-10                           # shrunk minimally


def test_repair_keeps_an_exact_packing():
    c, r = repair(QUARTERS["centers"], QUARTERS["radii"])
    assert r.tolist() == QUARTERS["radii"] and c.tolist() == QUARTERS["centers"]


def test_repair_relocates_a_squeezed_out_circle():
    # circle 2 sits inside circle 0 with radius 0 (what an optimiser may leave behind)
    c = np.array([[0.25, 0.25], [0.75, 0.75], [0.25, 0.25]])
    r = np.array([0.25, 0.25, 0.0])
    c2, r2 = repair(c, r)
    check = check_packing({"centers": c2.tolist(), "radii": r2.tolist()}, 3)
    assert check.ok, check.reason
    assert r2[2] > 0.1                                         # moved to an empty corner


def test_feasible_radii_and_violation():
    c = np.array([[0.2, 0.2], [0.5, 0.5], [0.9, 0.3]])
    r = feasible_radii(c)
    assert violation(c, r) <= 1e-15
    assert violation(c, r + 0.1) > 0.09


# ----------------------------------------------------------------------------- the seed program


def test_readingroom_is_not_importable_in_the_sandbox():
    # why the seed program is self-contained (numpy and scipy are there, readingroom is not)
    code = ("def main():\n    import numpy, scipy.optimize\n    try:\n        import readingroom\n"
            "    except ImportError:\n        return 'no readingroom'\n    return 'readingroom'\n")
    res = run_sandboxed(code, timeout_s=30, memory_mb=1024)
    assert res.ok, res.reason
    if res.layer == "bwrap":
        assert res.value == "no readingroom"


def test_seed_program_structure():
    blocks = parse_blocks(SEED_PROGRAM)
    assert len(blocks) == 1
    regions = parse_regions(SEED_PROGRAM)
    assert tuple(regions) == REGIONS
    assert "import readingroom" not in SEED_PROGRAM and "from readingroom" not in SEED_PROGRAM
    for name in REGIONS:                       # the seed's regions are the first fragments
        assert regions[name].replace("    ", "") == FRAGMENTS[name][0].replace("    ", "")
    start = SEED_PROGRAM.index("# EVOLVE-BLOCK-START")
    end = SEED_PROGRAM.index("# EVOLVE-BLOCK-END")
    assert start < SEED_PROGRAM.index("# region: init") < end
    assert SEED_PROGRAM.index("def repair(") > end             # the exact repair is fixed
    assert SEED_PROGRAM.index("def main(n=26, warm_start=None, time_budget_s=None, seed=0)") > end
    assert SEED_PROGRAM.index("def optimise_slsqp(") < start   # so are the helpers
    for name in ("construct", "polish", "perturb", "search"):  # the heuristic evolves
        assert start < SEED_PROGRAM.index(f"def {name}(") < end
    assert REGIONS == ("init", "optimise", "move", "schedule")


def test_substitute_region_and_errors():
    code = substitute_region(SEED_PROGRAM, "optimise", "pass")
    assert parse_regions(code)["optimise"] == "    pass\n"
    assert parse_regions(code)["init"] == parse_regions(SEED_PROGRAM)["init"]
    with pytest.raises(ValueError, match="not closed"):
        parse_regions("# region: a\nx = 1\n")
    with pytest.raises(ValueError, match="without a region"):
        parse_regions("x = 1\n# endregion\n")
    with pytest.raises(ValueError, match="inside region"):
        parse_regions("# region: a\n# region: b\n# endregion\n# endregion\n")


def test_seed_program_runs_in_the_sandbox_and_passes():
    out = evaluate(SEED_PROGRAM, 6, timeout_s=60)
    assert out["ok"], out["reason"]
    assert out["score"] > grid_score(6)
    assert check_packing(out["value"], 6).ok
    assert set(out) >= {"ok", "score", "reason", "wall_s", "layer"}


VARIANTS = [(name, k) for name in REGIONS for k in range(1, len(FRAGMENTS[name]))]


def _packing(out):
    return {"centers": out["value"]["centers"], "radii": out["value"]["radii"]}


def test_every_fragment_runs_and_passes():
    """The seed with each alternative snippet substituted (one region at a time) still runs in
    the sandbox and passes the exact checker: in constructor mode (n = 6 and 10; only the
    regions a cold start uses), from scratch in search mode (n = 8, the same regions) and
    warm-started in search mode (n = 8, every region but ``init``, which a warm start skips).
    A warm-started run never returns less than its warm start. Two runs at a time."""
    warm = evaluate(SEED_PROGRAM, 8, timeout_s=60)
    assert warm["ok"], warm["reason"]
    jobs = []
    for name, k in VARIANTS:
        if name in ("init", "optimise"):
            jobs += [(name, k, 6, None), (name, k, 10, None), (name, k, 8, "cold")]
        if name != "init":
            jobs.append((name, k, 8, "warm"))

    def run(job):
        name, k, n, mode = job
        code = substitute_region(SEED_PROGRAM, name, FRAGMENTS[name][k])
        if mode is None:
            return job, evaluate(code, n, timeout_s=60)
        return job, evaluate(code, n, timeout_s=60, time_budget_s=0.5,
                             warm_start=_packing(warm) if mode == "warm" else None)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, jobs))
    failed = [(job, out["reason"]) for job, out in results if not out["ok"]]
    assert not failed
    for (name, k, n, mode), out in results:
        assert out["score"] > 0.9 * grid_score(n), (name, k, n, mode, out["score"])
        if mode == "warm":
            assert out["score"] >= warm["score"], (name, k)


# ----------------------------------------------------------------------------- search mode


def test_search_mode_runs_from_scratch_and_from_a_warm_start():
    cold = evaluate(SEED_PROGRAM, 10, timeout_s=60, time_budget_s=1.0)
    assert cold["ok"], cold["reason"]
    assert 0.3 < cold["cpu_s"] < 1.0 + 3.0          # imports + the budget + the repair
    assert set(cold["value"]) == {"centers", "radii", "cpu_s"}
    warm = evaluate(SEED_PROGRAM, 10, timeout_s=60, time_budget_s=1.0,
                    warm_start=_packing(cold))
    assert warm["ok"], warm["reason"]
    assert warm["score"] >= cold["score"]            # never less than the warm start
    # a warm start that is not feasible is repaired by the candidate, not refused
    bad = _packing(cold)
    bad["radii"] = [2 * r for r in bad["radii"]]
    out = evaluate(SEED_PROGRAM, 10, timeout_s=60, time_budget_s=0.5, warm_start=bad)
    assert out["ok"], out["reason"]


def test_search_mode_enforces_the_time_budget():
    greedy = ("import time\n"
              "def main(n, warm_start=None, time_budget_s=None, seed=0):\n"
              "    while True:\n        pass\n")
    out = evaluate(greedy, 4, timeout_s=30, time_budget_s=0.5, grace_s=0.5)
    assert not out["ok"] and out["reason"] == "sandbox: cpu"
    assert out["wall_s"] < 20
    # a constructor-mode program (main(n) only) cannot take the search-mode call
    out = evaluate("def main(n):\n    return {}\n", 4, timeout_s=30, time_budget_s=0.5)
    assert not out["ok"] and "TypeError" in out["reason"]


def test_search_mode_passes_the_warm_start_and_a_seed():
    echo = ("def main(n, warm_start=None, time_budget_s=None, seed=0):\n"
            "    return {**warm_start, 'cpu_s': 0.25, 'seed': seed, 'budget': time_budget_s}\n")
    out = evaluate(echo, 4, timeout_s=30, time_budget_s=1.5, warm_start=QUARTERS)
    assert out["ok"] and out["score"] == 1.0 and out["cpu_s"] == 0.25
    assert out["value"]["budget"] == 1.5
    again = evaluate(echo, 4, timeout_s=30, time_budget_s=1.5, warm_start=QUARTERS)
    assert again["value"]["seed"] == out["value"]["seed"]       # a CRC of code and warm start
    other = evaluate(echo + "\n", 4, timeout_s=30, time_budget_s=1.5, warm_start=QUARTERS)
    assert other["value"]["seed"] != out["value"]["seed"]
    fixed = evaluate(echo, 4, timeout_s=30, time_budget_s=1.5, warm_start=QUARTERS, seed=7)
    assert fixed["value"]["seed"] == 7
    # a reported time that is not a number >= 0 is ignored
    liar = echo.replace("'cpu_s': 0.25", "'cpu_s': -1")
    assert evaluate(liar, 4, timeout_s=30, time_budget_s=1.5, warm_start=QUARTERS)["cpu_s"] \
        is None


def test_check_warm_start_gives_plain_floats():
    warm = check_warm_start({"centers": ((0, 1), [0.5, 0.25]), "radii": [0, 1], "x": 1}, 2)
    assert warm == {"centers": [[0.0, 1.0], [0.5, 0.25]], "radii": [0.0, 1.0]}
    assert all(type(v) is float for c in warm["centers"] for v in c)


def test_largest_hole_finds_the_empty_quarter():
    rng = np.random.default_rng(0)
    hole = largest_hole(QUARTERS["centers"], QUARTERS["radii"], 3, rng)
    assert np.hypot(hole[0] - 0.75, hole[1] - 0.75) < 0.05
    assert np.allclose(largest_hole([[0.3, 0.3]], [0.2], 0, rng, probes=20000), 0.5, atol=0.03)


def test_local_optimisers_stop_at_the_deadline_and_margin_agrees():
    import time

    rng = np.random.default_rng(1)
    c = rng.uniform(0.1, 0.9, (10, 2))
    r = feasible_radii(c)
    full = optimise_slsqp(c, r)
    near = optimise_slsqp(c, r, margin=0.1)
    assert violation(*full) <= 1e-6 and violation(*near) <= 1e-6
    # near pairs only, then every pair if anything overlaps: as good within a few percent
    assert feasible_score(*near) > 0.97 * feasible_score(*full)
    start = time.process_time()
    cut = optimise_slsqp(c, r, deadline=start)               # already past: one iteration
    pen = optimise_penalty(c, r, deadline=start)
    assert time.process_time() - start < 0.5
    assert cut[0].shape == (10, 2) and pen[1].shape == (10,)


def test_evaluate_reports_failures():
    out = evaluate("def main(n):\n    return {'centers': [[0.5, 0.5]] * n, 'radii': [0.1] * n}\n",
                   2, timeout_s=30)
    assert not out["ok"] and out["score"] is None
    assert out["reason"].startswith("check: circles 0 and 1 overlap")
    out = evaluate("def main(n):\n    raise RuntimeError('boom')\n", 2, timeout_s=30)
    assert out["reason"] == "sandbox: exception: RuntimeError: boom"


def test_cascade_two_stages():
    cascade = packing_cascade(8, timeout_s=60, small_timeout_s=30)
    pickle.dumps(cascade)
    res = cascade(SEED_PROGRAM)
    assert res.completed, res.reason
    assert [s.name for s in res.stages] == ["small", "full"]
    assert res.score > grid_score(8)
    # a program that packs only the plain grid stops at the small stage
    grid = ("import math\ndef main(n):\n    k = math.ceil(math.sqrt(n))\n"
            "    c = [[(i % k + 0.5) / k, (i // k + 0.5) / k] for i in range(n)]\n"
            "    return {'centers': c, 'radii': [0.5 / k * (1 - 1e-9)] * n}\n")
    res = cascade(grid)
    assert res.stopped_at == "small" and res.reason.startswith("below threshold")
    res = cascade("def main(n):\n    return 1 / 0\n")
    assert res.stopped_at == "small" and "ZeroDivisionError" in res.reason


# ----------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("method", [multistart_slsqp, basin_hopping])
def test_baselines_monotone_and_checked(method):
    res = method(6, 4, seed=0)
    assert len(res.curve) == 4 and len(res.scores) == 4
    assert all(b >= a for a, b in zip(res.curve, res.curve[1:]))
    assert res.curve[-1] == res.score == max(s for s in res.scores if s is not None)
    check = check_packing(res.best, 6)
    assert check.ok and check.score == res.score
    assert res.score > grid_score(6)
    again = method(6, 4, seed=0)
    assert again.curve == res.curve                          # same seed, same numbers


@pytest.mark.parametrize("method", [multistart_slsqp, basin_hopping])
def test_baselines_under_a_cpu_seconds_budget(method):
    res = method(6, seed=0, seconds=1.0)
    assert res.budget is None and res.seconds == 1.0
    assert len(res.curve) == len(res.times) == len(res.scores) >= 1
    assert res.times == sorted(res.times) and res.cpu_s < 1.0 + 0.5    # the last run is cut
    assert check_packing(res.best, 6).score == res.score
    both = method(6, 2, seed=0, seconds=30.0)                # whichever comes first
    assert len(both.curve) == 2


def test_draw_packing():
    import matplotlib

    matplotlib.use("Agg")
    ax = draw_packing(QUARTERS)
    assert "sum of radii = 1.0000000000" in ax.get_title()
    assert len(ax.patches) == 5
    ax = draw_packing({"centers": [[0.5, 0.5], [0.5, 0.5]], "radii": [0.1, 0.1]})
    assert "invalid" in ax.get_title()
    import matplotlib.pyplot as plt

    plt.close("all")


def test_fragment_choices_names_each_regions_alternative():
    from readingroom.evolve.circles import FRAGMENTS, SEED_PROGRAM, fragment_choices, \
        substitute_region

    assert fragment_choices(SEED_PROGRAM, FRAGMENTS) == {name: 0 for name in FRAGMENTS}
    swapped = substitute_region(SEED_PROGRAM, "move", FRAGMENTS["move"][1])
    assert fragment_choices(swapped, FRAGMENTS)["move"] == 1
    mutated = substitute_region(SEED_PROGRAM, "move", "    c, r = c, r\n")
    assert fragment_choices(mutated, FRAGMENTS)["move"] is None
    assert fragment_choices(SEED_PROGRAM, {"schedule": FRAGMENTS["schedule"]}) == {"schedule": 0}


def test_slsqp_retries_start_from_different_points(monkeypatch):
    """A retry after an infeasible SLSQP result must not repeat an earlier start: SLSQP is
    deterministic, so the same start fails the same way. Every SLSQP here is made to fail (it
    returns its start with every radius 0.4); the starts of the three attempts must differ, and
    be the same on a second call (the perturbation is seeded)."""
    from types import SimpleNamespace

    from readingroom.evolve import circles

    real = circles.minimize
    starts = []

    def failing_slsqp(fun, x0, *args, method=None, **kw):
        if method != "SLSQP":
            return real(fun, x0, *args, method=method, **kw)
        starts.append(np.array(x0, dtype=float))
        x = np.array(x0, dtype=float)
        x[2 * (len(x) // 3):] = 0.4                                  # overlapping: infeasible
        return SimpleNamespace(x=x)

    monkeypatch.setattr(circles, "minimize", failing_slsqp)
    c = np.random.default_rng(0).uniform(0.1, 0.9, (6, 2))
    optimise_slsqp(c, feasible_radii(c), maxiter=50, retries=2)
    first = list(starts)
    assert len(first) == 3
    for a in range(3):
        for b in range(a):
            assert not np.allclose(first[a], first[b]), (a, b)
    starts.clear()
    optimise_slsqp(c, feasible_radii(c), maxiter=50, retries=2)
    assert all(np.array_equal(x, y) for x, y in zip(first, starts)) and len(starts) == 3
