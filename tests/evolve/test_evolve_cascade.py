"""The evaluation cascade: cheap stages gate expensive ones; failures stop it with a reason."""

from __future__ import annotations

import json
import pickle


from readingroom.evolve.cascade import Cascade, CascadeResult, Stage, sandboxed
from readingroom.evolve.sandbox import SandboxResult


def _counting(score, calls, name):
    def fn(candidate):
        calls.append(name)
        return score(candidate) if callable(score) else score
    return fn


def test_all_stages_pass_and_every_score_is_recorded():
    calls = []
    c = Cascade([Stage("cheap", _counting(0.8, calls, "cheap"), threshold=0.5),
                 Stage("expensive", _counting(lambda x: x * 2, calls, "expensive"))])
    r = c(21)
    assert isinstance(r, CascadeResult) and r.completed and r.stopped_at is None
    assert r.scores == {"cheap": 0.8, "expensive": 42.0} and r.score == 42.0
    assert calls == ["cheap", "expensive"] and r.reason == ""
    json.dumps(r.to_dict())


def test_below_threshold_skips_the_expensive_stage():
    calls = []
    c = Cascade([Stage("cheap", _counting(0.2, calls, "cheap"), threshold=0.5),
                 Stage("expensive", _counting(1.0, calls, "expensive"))])
    r = c.run("prog")
    assert calls == ["cheap"], "the expensive stage ran after a failing cheap one"
    assert not r.completed and r.stopped_at == "cheap"
    assert r.reason == "below threshold: 0.2 < 0.5" and r.scores == {"cheap": 0.2}
    assert r.stages[0].passed is False


def test_threshold_is_inclusive_and_three_stages_stop_in_the_middle():
    calls = []
    c = Cascade([Stage("a", _counting(0.5, calls, "a"), threshold=0.5),
                 Stage("b", _counting(3.0, calls, "b"), threshold=5.0),
                 Stage("c", _counting(9.0, calls, "c"))])
    r = c(None)
    assert calls == ["a", "b"] and r.stopped_at == "b" and r.scores == {"a": 0.5, "b": 3.0}
    assert r.score == 3.0


def test_failing_stage_stops_with_the_reason():
    def boom(_):
        raise RuntimeError("evaluator crashed")
    calls = []
    r = Cascade([Stage("a", boom), Stage("b", _counting(1.0, calls, "b"))])(0)
    assert calls == [] and r.stopped_at == "a"
    assert r.reason == "failed: exception: RuntimeError: evaluator crashed"
    assert r.scores == {"a": None} and r.score is None

    failed = SandboxResult(False, reason="timeout", layer="bwrap")
    r = Cascade([Stage("a", lambda _: failed), Stage("b", lambda _: 1.0)])(0)
    assert r.stopped_at == "a" and r.reason == "failed: sandbox: timeout"

    for bad in (float("nan"), "high", {"no": 1}, None, True):
        r = Cascade([Stage("a", lambda _, b=bad: b)])(0)
        assert r.stopped_at == "a" and r.reason.startswith("failed: bad score"), bad


def test_scores_from_sandbox_results_and_dicts():
    ok = SandboxResult(True, value={"score": 0.75, "extra": [1]})
    r = Cascade([Stage("a", lambda _: ok, threshold=0.5), Stage("b", lambda _: {"score": 2})])(0)
    assert r.completed and r.scores == {"a": 0.75, "b": 2.0}


# A real cascade on programs: a cheap check on a small input, the expensive one on a large input.
CORRECT = "def sort(xs):\n    return sorted(xs)\n"
WRONG = "def sort(xs):\n    return xs\n"
SLOW = "def sort(xs):\n    while True: pass\n"


def _accuracy(res: SandboxResult, want):
    if not res.ok:
        return res
    return float(res.value == want)


def _stage_fn(args, want, timeout_s):
    run = sandboxed("sort", args, timeout_s=timeout_s, memory_mb=256)
    return lambda code: _accuracy(run(code), want)


def test_cascade_of_sandboxed_programs():
    small, big = [3, 1, 2], list(range(2000, 0, -1))
    c = Cascade([Stage("small", _stage_fn((small,), sorted(small), 1.5), threshold=1.0),
                 Stage("large", _stage_fn((big,), sorted(big), 1.0))])
    good = c(CORRECT)
    assert good.completed and good.scores == {"small": 1.0, "large": 1.0}
    wrong = c(WRONG)
    assert wrong.stopped_at == "small" and wrong.reason.startswith("below threshold")
    slow = c(SLOW)
    assert slow.stopped_at == "small" and slow.reason == "failed: sandbox: timeout"
    # the partial from sandboxed() pickles (a cascade can be shipped to a process pool)
    assert pickle.loads(pickle.dumps(sandboxed("sort", (small,))))(CORRECT).value == [1, 2, 3]
