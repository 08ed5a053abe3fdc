from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from readingroom.evolve.database import Program, ProgramDatabase, feature_cell

FEATURES = {"length": (0.0, 100.0, 4), "speed": (0.0, 1.0, 2)}  # a 4 x 2 grid per island


def make(path=":memory:", **kw) -> ProgramDatabase:
    kw = {"islands": 2, "features": FEATURES, "seed": 0, "migration_interval": 5, **kw}
    return ProgramDatabase(path, **kw)


def feats(length: float, speed: float = 0.2) -> dict[str, float]:
    return {"length": length, "speed": speed}


def test_feature_cell_bins_and_clipping():
    assert feature_cell(feats(0.0, 0.0), FEATURES) == (0, 0)
    assert feature_cell(feats(24.9, 0.49), FEATURES) == (0, 0)
    assert feature_cell(feats(25.0, 0.5), FEATURES) == (1, 1)
    assert feature_cell(feats(100.0, 1.0), FEATURES) == (3, 1)  # the top edge is in the last bin
    assert feature_cell(feats(-5.0, 7.0), FEATURES) == (0, 1)  # clipped into the edge bins
    assert feature_cell(feats(1e9, -1e9), FEATURES) == (3, 0)


def test_elite_replacement_per_cell():
    db = make()
    a = db.add("a", parent_id=None, island=0, score=1.0, features=feats(10))
    b = db.add("b", parent_id=a, island=0, score=0.5, features=feats(12))  # same cell, worse
    assert db.grid(0, values="id")[0, 0] == a
    c = db.add("c", parent_id=b, island=0, score=1.0, features=feats(20))  # a tie keeps a
    assert db.grid(0, values="id")[0, 0] == a
    d = db.add("d", parent_id=a, island=0, score=2.0, features=feats(5))  # better: replaces
    assert db.grid(0, values="id")[0, 0] == d
    e = db.add("e", parent_id=a, island=0, score=0.1, features=feats(90, 0.9))  # new cell
    assert [p.id for p in db.elites(0)] == [d, e]
    assert db.get(c).generation == 2 and db.get(e).generation == 1
    assert db.count() == 5 and db.count(island=1) == 0


def test_grid_shapes_and_values():
    db = make()
    db.add("a", parent_id=None, island=0, score=3.0, features=feats(60, 0.7))
    db.add("b", parent_id=None, island=1, score=4.0, features=feats(-1, 0.1))
    occ = db.grid(0)
    assert occ.shape == (4, 2) and occ.dtype == bool
    assert occ.sum() == 1 and occ[2, 1]
    score = db.grid(1, values="score")
    assert score[0, 0] == 4.0 and np.isnan(score).sum() == 7
    one = make(features={})
    one.add("x", parent_id=None, island=0, score=1.0)
    assert one.grid(0).shape == () and bool(one.grid(0))


def test_failed_programs_are_stored_but_never_elites_or_parents():
    db = make()
    root = db.add("root", parent_id=None, island=0, score=0.0, features=feats(50))
    bad = db.add("x = (", parent_id=root, island=0, score=None, status="failed",
                 reason="SyntaxError at line 1", diff="<<<<<<< SEARCH ...")
    huge = db.add("y", parent_id=root, island=0, score=1e9, status="failed", reason="timeout")
    assert db.count(status="failed") == 2
    assert [p.id for p in db.failures()] == [bad, huge]
    assert db.get(bad).reason == "SyntaxError at line 1" and db.get(bad).cell is None
    assert db.best().id == root and db.grid(0).sum() == 1
    for _ in range(50):
        parent, inspirations = db.sample(0)
        assert parent.id == root and inspirations == []
    with pytest.raises(ValueError, match=f"parent_id {bad} is a failed program"):
        db.add("z", parent_id=bad, island=0, score=1.0, features=feats(1))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(score=None), ValueError, "score is required for an ok program"),
    (dict(score=float("inf")), ValueError, "score must be finite"),
    (dict(score="1"), TypeError, "score must be a real number"),
    (dict(features={"length": 1.0}), ValueError, "features is missing 'speed'"),
    (dict(island=5), ValueError, r"island must be in \[0, 2\), got 5"),
    (dict(parent_id=99), ValueError, "parent_id 99 is not in the database"),
    (dict(status="weird"), ValueError, "status must be 'ok' or 'failed'"),
    (dict(status="failed"), ValueError, "reason must be a non-empty str for a failed program"),
    (dict(reason="why"), ValueError, "reason must be None for an ok program"),
    (dict(metrics={"f": object()}), TypeError, "metrics must be JSON-serialisable"),
])
def test_add_rejects_bad_arguments(kwargs, error, message):
    db = make()
    args = dict(parent_id=None, island=0, score=1.0, features=feats(1), **{})
    args.update(kwargs)
    with pytest.raises(error, match=message):
        db.add("code", **args)
    assert db.count() == 0  # nothing half-written


def populated(db: ProgramDatabase, island: int = 0, n: int = 8) -> list[int]:
    """One elite in each of ``n`` cells of ``island``, score = its cell number."""
    return [db.add(f"p{i}", parent_id=None, island=island, score=float(i),
                   features=feats(12.5 + 25 * (i // 2), 0.25 + 0.5 * (i % 2))) for i in range(n)]


def test_sample_respects_the_exploit_ratio():
    db = make(exploit_ratio=0.7, num_inspirations=3)
    ids = populated(db)
    assert db.grid(0).all()
    best = ids[-1]
    n, hits, seen = 4000, 0, set()
    for _ in range(n):
        parent, inspirations = db.sample(0)
        hits += parent.id == best
        seen.add(parent.id)
        assert parent.id not in {p.id for p in inspirations}
        assert len({p.id for p in inspirations}) == len(inspirations)
        if parent.id != best:
            assert inspirations[0].id == best and len(inspirations) == 4
        else:
            assert len(inspirations) == 3
        assert len({p.cell for p in inspirations}) == len(inspirations)  # distinct cells
    # P(best) = exploit + explore / 8 = 0.7 + 0.3 / 8 = 0.7375; 4000 draws: sd ~ 0.007
    assert abs(hits / n - 0.7375) < 0.03
    assert seen == set(ids)  # exploration reaches every elite


def test_sample_top_k_and_pure_exploration():
    db = make(exploit_ratio=1.0, exploit_top_k=3)
    ids = populated(db)
    assert {db.sample(0)[0].id for _ in range(300)} == set(ids[-3:])
    db = make(exploit_ratio=0.0)
    ids = populated(db)
    counts = np.bincount([ids.index(db.sample(0)[0].id) for _ in range(4000)], minlength=8)
    assert counts.min() > 400 and counts.max() < 600  # uniform: 500 each


def test_sample_empty_island():
    db = make()
    with pytest.raises(ValueError, match="island 1 has no ok program yet"):
        db.sample(1)


def test_migration_ring():
    db = make(islands=3, migration_interval=6, migration_size=1)
    roots = db.add_initial("root", score=0.0, features=feats(50))
    assert roots == [1, 2, 3]
    a = db.add("a", parent_id=roots[0], island=0, score=5.0, features=feats(10))
    b = db.add("b", parent_id=roots[1], island=1, score=7.0, features=feats(90, 0.9))
    assert not db.migration_due and db.migrate() == []
    c = db.add("c", parent_id=roots[2], island=2, score=1.0, features=feats(50))
    assert db.migration_due  # 6 children since the start (the roots count too)
    moved = db.migrate()
    assert len(moved) == 3 and not db.migration_due
    got = {db.get(m).parent_id: db.get(m) for m in moved}
    assert got[a].island == 1 and got[b].island == 2 and got[c].island == 0  # ring 0->1->2->0
    assert got[a].origin == "migrant" and got[a].code == "a" and got[a].score == 5.0
    assert got[a].generation == db.get(a).generation + 1
    assert db.best(1).score == 7.0 and db.best(2).score == 7.0 and db.best(0).score == 5.0
    assert db.grid(2, values="score")[3, 1] == 7.0  # b's copy took its cell on island 2
    # c's copy (score 1.0) lands in island 0's cell of the root (score 0.0) and displaces it
    assert db.grid(0, values="id")[2, 0] == got[c].id
    # Forcing again copies only bests not yet copied: island 2's best is now b's copy, whose
    # copy to island 0 is new; islands 0 and 1 keep bests already sent.
    again = db.migrate(force=True)
    assert [(db.get(m).parent_id, db.get(m).island) for m in again] == [(got[b].id, 0)]
    assert db.migrate(force=True) == []
    assert db.stats()["migrations"] == 3
    assert db.lineage(got[a].id) == [db.get(roots[0]), db.get(a), got[a]]


def test_lineage_stats_and_queries():
    db = make()
    r = db.add("r", parent_id=None, island=1, score=1.0, features=feats(1))
    x = db.add("x", parent_id=r, island=1, score=2.0, features=feats(30), metrics={"t": 0.1})
    y = db.add("y", parent_id=x, island=1, score=3.0, features=feats(30), diff="d",
               metrics={"t": np.float32(0.5), "v": np.arange(2)})
    db.add("f", parent_id=y, island=1, score=None, status="failed", reason="crash")
    chain = db.lineage(y)
    assert [p.id for p in chain] == [r, x, y] and [p.generation for p in chain] == [0, 1, 2]
    p = db.get(y)
    assert isinstance(p, Program) and p.diff == "d" and p.metrics == {"t": 0.5, "v": [0, 1]}
    assert p.features == feats(30) and p.cell == (1, 0) and p.status == "ok"
    assert db.best().id == y and db.best(0) is None
    s = db.stats()
    assert (s["programs"], s["ok"], s["failed"], s["children"]) == (4, 3, 1, 4)
    assert s["islands"][1]["elites"] == 2 and s["islands"][1]["coverage"] == 2 / 8
    assert s["islands"][1]["best_score"] == 3.0 and s["islands"][0]["best_id"] is None
    assert len(db) == 4
    with pytest.raises(KeyError, match="no program with id 77"):
        db.get(77)


def test_persistence_resume_and_rng_continuation(tmp_path):
    path = tmp_path / "db.sqlite"
    with make(path) as db:
        populated(db)
        first = [db.sample(0)[0].id for _ in range(10)]
    with make(path) as db:
        assert db.count() == 8 and db.grid(0).all()
        second = [db.sample(0)[0].id for _ in range(10)]
        assert db.stats()["children"] == 8
    # one uninterrupted run with the same seed draws the same 20 parents
    ref = make()
    populated(ref)
    assert [ref.sample(0)[0].id for _ in range(20)] == first + second
    with sqlite_mode(path) as mode:
        assert mode == "wal"


class sqlite_mode:
    def __init__(self, path):
        import sqlite3

        self.conn = sqlite3.connect(path)

    def __enter__(self):
        return self.conn.execute("PRAGMA journal_mode").fetchone()[0]

    def __exit__(self, *exc):
        self.conn.close()


def test_reopen_with_another_config_names_the_difference(tmp_path):
    path = tmp_path / "db.sqlite"
    make(path).close()
    with pytest.raises(ValueError, match="islands: stored 2, given 3") as info:
        make(path, islands=3)
    with pytest.raises(ValueError, match=r"exploit_ratio: stored 0.7, given 0.5.*seed: stored 0, "
                                         "given 1"):
        make(path, seed=1, exploit_ratio=0.5)
    assert "created with another configuration" in str(info.value)
    make(path).close()  # the same config still opens


WRITER = r"""
import sys
from readingroom.evolve.database import ProgramDatabase
db = ProgramDatabase(sys.argv[1], islands=2, features={"length": (0.0, 100.0, 4)}, seed=0)
parent = None
i = 0
while True:
    pid = db.add(f"x = {i}", parent_id=parent, island=i % 2, score=float(i),
                 metrics={"i": i}, features={"length": float(i % 100)})
    print(pid, i, flush=True)
    parent = pid
    i += 1
"""


def test_kill_minus_nine_loses_nothing_committed(tmp_path):
    path = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True, env=env)
    printed: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    try:
        while len(printed) < 20 + 5 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            pid, i = map(int, line.split())
            printed.append((pid, i))
        assert len(printed) >= 20, f"the writer printed only {len(printed)} ids"
        os.kill(proc.pid, signal.SIGKILL)  # mid-loop: quite possibly inside a transaction
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    db = ProgramDatabase(path, islands=2, features={"length": (0.0, 100.0, 4)}, seed=0)
    for pid, i in printed:
        p = db.get(pid)
        assert (p.code, p.score, p.metrics, p.island) == (f"x = {i}", float(i), {"i": i}, i % 2)
        assert p.parent_id == (None if i == 0 else printed[i - 1][0])
    last = printed[-1][0]
    assert db.count() >= len(printed)  # perhaps one more, committed before its print
    assert [p.id for p in db.lineage(last)] == [pid for pid, _ in printed]
    new = db.add("after", parent_id=last, island=0, score=1e6, features={"length": 1.0})
    assert new > last and db.best().id == new
    db.close()
    db = ProgramDatabase(path, islands=2, features={"length": (0.0, 100.0, 4)}, seed=0)
    assert db.get(new).code == "after"
    assert json.loads(json.dumps(db.stats()))["programs"] == db.count()
    db.close()


def test_migration_carries_a_better_run_of_the_same_code_and_survives_reopening(tmp_path):
    """In search mode the same code warm-started from a better construction scores higher: a
    migrant whose code the destination already holds must still move when it scores higher (and
    only then), durably, and a reopened database must not copy it again."""
    path = tmp_path / "db.sqlite"
    with make(path) as db:
        roots = db.add_initial("seed", score=1.0, features=feats(50))
        better = db.add("seed", parent_id=roots[0], island=0, score=3.0, features=feats(50),
                        metrics={"packing": "better"})
        moved = db.migrate(force=True)
        # island 0's best moves to island 1 (same code as its root, higher score); island 1's
        # root does not move to island 0, which already runs "seed" at a higher score
        assert len(moved) == 1
        m = db.get(moved[0])
        assert (m.island, m.parent_id, m.code, m.score, m.origin) == (1, better, "seed", 3.0,
                                                                      "migrant")
        assert m.metrics == {"packing": "better"}
        assert db.best(1).id == m.id and db.grid(1, values="id")[2, 0] == m.id
    with make(path) as db:
        assert db.get(moved[0]) == m
        assert db.best(1).id == m.id and db.elites(1)[0].id == m.id
        assert db.migrate(force=True) == []        # equal scores: nothing new to carry
        assert db.count(island=1) == 2 and db.count(island=0) == 2
        # a worse run of the same code does not move either
        db.add("seed", parent_id=roots[1], island=1, score=2.0, features=feats(10))
        assert db.migrate(force=True) == []
