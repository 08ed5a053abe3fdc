"""The loop on a toy problem whose best program is known: maximise -(x - 3)^2 by editing the
constant x inside the EVOLVE-BLOCK."""

from __future__ import annotations

import concurrent.futures as cf
import functools

import pytest

from readingroom.evolve.database import ProgramDatabase
from readingroom.evolve.loop import DIFF_FAILED, Problem, feedback_of, run_evolution
from readingroom.evolve.proposers import MutationProposer, Proposal

TOY = """\
def main():
    # EVOLVE-BLOCK-START
    x = 0.5
    # EVOLVE-BLOCK-END
    return x
"""


def toy_evaluate(code: str, *, fail_above: float | None = None) -> dict:
    """Runs trusted test code (no sandbox needed): the score is -(x - 3)^2."""
    space: dict = {}
    exec(code, space)  # noqa: S102 - test code written above
    x = float(space["main"]())
    if fail_above is not None and x > fail_above:
        return {"ok": False, "score": None, "reason": f"x = {x} is over {fail_above}"}
    return {"ok": True, "score": -(x - 3.0) ** 2, "reason": None, "metrics": {"x": x},
            "features": {"x": x}}


def _problem(**kw) -> Problem:
    return Problem(name="toy", statement="Make main() return 3.", initial_program=TOY,
                   evaluate=functools.partial(toy_evaluate, **kw),
                   features={"x": (0.0, 6.0, 6)})


def test_evolution_improves_on_the_initial_program():
    result = run_evolution(_problem(), MutationProposer(), budget=60, db_path=":memory:",
                           seed=0, islands=2, progress=False)
    assert result.evaluations == 60 and len(result.curve) == 60
    assert result.curve == sorted(result.curve)              # the best so far never drops
    assert result.best.score > -(0.5 - 3.0) ** 2 / 4         # much closer to 3 than 0.5 is
    assert result.best.score == result.curve[-1]


def test_failed_evaluations_are_stored_with_their_reason(tmp_path):
    path = tmp_path / "run.db"
    result = run_evolution(_problem(fail_above=0.6), MutationProposer(), budget=30,
                           db_path=path, seed=1, islands=1, progress=False)
    assert result.failed_evaluations > 0
    db = ProgramDatabase(path, features={"x": (0.0, 6.0, 6)}, islands=1, seed=1)
    reasons = [p.reason for p in db.failures()]
    assert any(r and "is over 0.6" in r for r in reasons)
    assert all(p.score is None or p.status == "ok" for p in db.children())
    db.close()


class BrokenProposer:
    """Answers with a diff whose SEARCH text is not in the program, or with nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def propose(self, prompt, parent, inspirations, rng):
        self.calls += 1
        if self.calls % 2:
            return Proposal("<<<<<<< SEARCH\n    y = 1\n=======\n    y = 2\n>>>>>>> REPLACE\n")
        return Proposal("", error="model unreachable")


def test_a_diff_that_does_not_apply_is_a_recorded_failure_not_an_evaluation(tmp_path):
    path = tmp_path / "run.db"
    good = MutationProposer()

    class Mixed:
        def __init__(self):
            self.broken, self.n = BrokenProposer(), 0

        def propose(self, prompt, parent, inspirations, rng):
            self.n += 1
            if self.n % 3:
                return self.broken.propose(prompt, parent, inspirations, rng)
            return good.propose(prompt, parent, inspirations, rng)

    result = run_evolution(_problem(), Mixed(), budget=5, db_path=path, seed=0, islands=1,
                           progress=False)
    assert result.evaluations == 5 and result.failed_diffs >= 8
    db = ProgramDatabase(path, features={"x": (0.0, 6.0, 6)}, islands=1, seed=0)
    failed = [p for p in db.children() if (p.reason or "").startswith(DIFF_FAILED)]
    assert any("SEARCH" in p.reason and "not found" in p.reason for p in failed)
    assert any("model unreachable" in p.reason for p in failed)
    db.close()


def test_a_run_resumes_from_its_file_and_counts_what_was_evaluated(tmp_path):
    path = tmp_path / "run.db"
    first = run_evolution(_problem(), MutationProposer(), budget=12, db_path=path, seed=3,
                          islands=2, progress=False)
    again = run_evolution(_problem(), MutationProposer(), budget=12, db_path=path, seed=3,
                          islands=2, progress=False)
    assert again.evaluations == 12 and again.curve == first.curve      # nothing more to do
    more = run_evolution(_problem(), MutationProposer(), budget=20, db_path=path, seed=3,
                         islands=2, progress=False)
    assert more.evaluations == 20 and more.curve[:12] == first.curve


def test_ablation_switches():
    no_evolution = run_evolution(_problem(), MutationProposer(), budget=10, db_path=":memory:",
                                 seed=0, islands=2, evolution=False, progress=False)
    assert no_evolution.evaluations == 10
    path = ":memory:"
    plain = run_evolution(_problem(), MutationProposer(), budget=6, db_path=path, seed=0,
                          islands=3, diversity=False, progress=False)
    assert plain.evaluations == 6


def test_no_evolution_means_every_child_comes_from_the_root(tmp_path):
    path = tmp_path / "run.db"
    run_evolution(_problem(), MutationProposer(), budget=10, db_path=path, seed=0, islands=1,
                  evolution=False, diversity=False, progress=False)
    db = ProgramDatabase(path, features={}, islands=1, seed=0)
    root = db.lineage(db.children()[0].id)[0]
    assert {p.parent_id for p in db.children()} == {root.id}
    db.close()


def test_parallel_evaluation_on_a_process_pool_gives_the_same_run():
    serial = run_evolution(_problem(), MutationProposer(), budget=8, db_path=":memory:", seed=5,
                           islands=2, batch=4, progress=False)
    with cf.ProcessPoolExecutor(2) as pool:
        parallel = run_evolution(_problem(), MutationProposer(), budget=8, db_path=":memory:",
                                 seed=5, islands=2, batch=4, executor=pool, progress=False)
    assert parallel.curve == serial.curve


def test_feedback_names_the_metrics_and_the_last_failure(tmp_path):
    path = tmp_path / "run.db"
    run_evolution(_problem(fail_above=0.6), MutationProposer(), budget=20, db_path=path, seed=1,
                  islands=1, progress=False)
    db = ProgramDatabase(path, features={"x": (0.0, 6.0, 6)}, islands=1, seed=1)
    failed = [p for p in db.children() if p.status == "failed"]
    parent = db.get(failed[-1].parent_id)
    text = feedback_of(parent, db)
    assert "x = " in text
    if [p for p in db.children() if p.parent_id == parent.id][-1].status == "failed":
        assert "failed" in text
    db.close()


def test_an_initial_program_that_fails_is_refused():
    with pytest.raises(ValueError, match="initial program of toy fails"):
        run_evolution(_problem(fail_above=0.1), MutationProposer(), budget=2, db_path=":memory:",
                      progress=False)


def chain_evaluate(code: str, warm_start: float | None = None) -> dict:
    """The toy's score, and a construction that counts how many evaluations it was built on:
    the warm start plus one (trusted test code)."""
    out = toy_evaluate(code)
    depth = (warm_start or 0) + 1
    out["metrics"] = {**out["metrics"], "depth": depth}
    return out


def depth_of(program) -> float:
    return program.metrics["depth"]


def _chain_problem() -> Problem:
    return Problem(name="toy-chain", statement="Make main() return 3.", initial_program=TOY,
                   evaluate=chain_evaluate, features={"x": (0.0, 6.0, 6)}, warm_start=depth_of)


@pytest.mark.parametrize("pool", [False, True])
def test_warm_start_passes_the_parents_construction_to_each_child(tmp_path, pool):
    path = tmp_path / "run.db"
    if pool:
        with cf.ProcessPoolExecutor(2) as executor:
            run_evolution(_chain_problem(), MutationProposer(), budget=12, db_path=path, seed=2,
                          islands=2, batch=3, executor=executor, progress=False)
    else:
        run_evolution(_chain_problem(), MutationProposer(), budget=12, db_path=path, seed=2,
                      islands=2, progress=False)
    db = ProgramDatabase(path, features={"x": (0.0, 6.0, 6)}, islands=2, seed=2)
    children = db.children()
    assert len(children) == 12
    for child in children:                 # the root was evaluated from scratch: depth 1
        assert child.metrics["depth"] == db.get(child.parent_id).metrics["depth"] + 1
    assert max(c.metrics["depth"] for c in children) > 2     # constructions build up
    db.close()


def test_without_evolution_every_child_starts_from_the_roots_construction(tmp_path):
    path = tmp_path / "run.db"
    run_evolution(_chain_problem(), MutationProposer(), budget=6, db_path=path, seed=0,
                  islands=1, evolution=False, progress=False)
    db = ProgramDatabase(path, features={"x": (0.0, 6.0, 6)}, islands=1, seed=0)
    assert {c.metrics["depth"] for c in db.children()} == {2}
    db.close()


def test_stop_ends_a_run_before_its_budget(tmp_path):
    calls = []

    def stop(db):
        calls.append(len(db))
        return len(db.children()) >= 3

    result = run_evolution(_problem(), MutationProposer(), budget=100, db_path=":memory:",
                           seed=0, islands=1, batch=1, progress=False, stop=stop)
    assert result.evaluations == 3 and len(result.curve) == 3
    assert len(calls) == 4                                   # checked before every batch
