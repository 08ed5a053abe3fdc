"""The program database: MAP-Elites cells inside an island model, persisted in SQLite.

AlphaEvolve (Novikov et al., 2025, §2.5) keeps every evaluated program in a database that decides
which programs the next prompt shows the model. It balances exploitation (build on the best) and
exploration (keep diverse ideas alive) by combining two classic schemes:

* **MAP-Elites** (Mouret & Clune, 2015): each program has a few descriptive *features* (say,
  program length and run time); the feature space is cut into a grid of cells and each cell keeps
  only its best program, its *elite*. A program displaces a cell's elite only with a higher score,
  so a good idea in a sparse corner of the grid is not crowded out by a better one elsewhere.
* **Islands** (as in FunSearch): ``islands`` independent populations evolve side by side, each
  with its own grid; every ``migration_interval`` children the best program of each island is
  copied to the next island in a ring, so good ideas spread without collapsing diversity.

:meth:`ProgramDatabase.sample` picks a parent (with probability ``exploit_ratio`` one of the
island's top elites, else a uniformly random elite) and a few *inspirations* (the island's best
and elites of other cells) for the prompt. The random number generator's state is stored with the
programs, so a run that is stopped and reopened continues the same sequence.

Persistence: one SQLite file (standard :mod:`sqlite3`), WAL journal, ``synchronous=FULL``; every
:meth:`~ProgramDatabase.add` (and every sample and migration) is one transaction, so a process
killed at any moment (even ``kill -9``) loses nothing it had already added. Tables:

* ``programs(id, parent_id, island, generation, code, diff, score, metrics, features, cell,
  status, reason, origin, created)``: every program, failed ones included (``status='failed'``
  with a ``reason``); ``metrics`` and ``features`` are JSON; ``origin`` is ``'child'``,
  ``'migrant'``; ``generation`` is the depth in the lineage (roots are 0).
* ``cells(island, cell, program_id)``: the elite of each occupied cell.
* ``meta(key, value)``: the configuration, the generator's state and the counters.

A database file is meant for one writing process at a time.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["Program", "ProgramDatabase", "feature_cell"]

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS programs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id INTEGER REFERENCES programs(id),
    island INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    code TEXT NOT NULL,
    diff TEXT,
    score REAL,
    metrics TEXT NOT NULL,
    features TEXT NOT NULL,
    cell TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason TEXT,
    origin TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS programs_island ON programs(island, status, score);
CREATE TABLE IF NOT EXISTS cells (
    island INTEGER NOT NULL,
    cell TEXT NOT NULL,
    program_id INTEGER NOT NULL REFERENCES programs(id),
    PRIMARY KEY (island, cell)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_COLUMNS = ("id, parent_id, island, generation, code, diff, score, metrics, features, cell, "
            "status, reason, origin, created")


@dataclass(frozen=True)
class Program:
    """One row of the database.

    Attributes:
        id: row id (1, 2, ... in insertion order).
        parent_id: the program it was derived from (``None`` for a root).
        island: the island it lives on.
        generation: depth in its lineage (a root is 0, its child 1, a migrant its original's + 1).
        code: the program text.
        diff: the diff that produced it from its parent, if recorded.
        score: the evaluator's scalar score (``None`` for a failed program).
        metrics: every metric the evaluator reported (JSON-able dict).
        features: the feature values that place it in the MAP-Elites grid.
        cell: its grid cell, one bin index per feature (``None`` for a failed program).
        status: ``"ok"`` or ``"failed"``.
        reason: why it failed (``None`` when ok).
        origin: ``"child"`` (from :meth:`~ProgramDatabase.add`) or ``"migrant"`` (a copy made
            by :meth:`~ProgramDatabase.migrate`).
        created: insertion time, seconds since the epoch.
    """

    id: int
    parent_id: int | None
    island: int
    generation: int
    code: str
    diff: str | None
    score: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    cell: tuple[int, ...] | None = None
    status: str = "ok"
    reason: str | None = None
    origin: str = "child"
    created: float = 0.0


def _row(row: tuple) -> Program:
    (pid, parent, island, gen, code, diff, score, metrics, features, cell, status, reason,
     origin, created) = row
    return Program(
        id=pid, parent_id=parent, island=island, generation=gen, code=code, diff=diff,
        score=score, metrics=json.loads(metrics), features=json.loads(features),
        cell=None if cell is None else tuple(json.loads(cell)), status=status, reason=reason,
        origin=origin, created=created,
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: object, name: str) -> str:
    try:
        return json.dumps(value, default=_json_default, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be JSON-serialisable: {err}") from None


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _check_real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _check_features(features: object) -> dict[str, tuple[float, float, int]]:
    if not isinstance(features, Mapping):
        raise TypeError("features must be a dict name -> (low, high, bins), got "
                        f"{type(features).__name__}")
    out: dict[str, tuple[float, float, int]] = {}
    for name, spec in features.items():
        if not isinstance(name, str):
            raise TypeError(f"features keys must be str, got {type(name).__name__} {name!r}")
        if not isinstance(spec, (tuple, list)) or len(spec) != 3:
            raise TypeError(f"features[{name!r}] must be a (low, high, bins) tuple, got {spec!r}")
        low = _check_real(spec[0], f"features[{name!r}] low")
        high = _check_real(spec[1], f"features[{name!r}] high")
        bins = _check_int(spec[2], f"features[{name!r}] bins", 1)
        if not low < high:
            raise ValueError(f"features[{name!r}] needs low < high, got low={low}, high={high}")
        out[name] = (low, high, bins)
    return out


def feature_cell(values: Mapping[str, float],
                 features: Mapping[str, tuple[float, float, int]]) -> tuple[int, ...]:
    """The MAP-Elites cell of a program: one bin index per feature, in ``features`` order.

    Feature ``name`` with spec ``(low, high, bins)`` cuts ``[low, high]`` into ``bins`` equal
    bins; a value outside the range is clipped into the first or last bin.

    Args:
        values: feature name -> value; must hold every name of ``features`` (extras are ignored).
        features: name -> ``(low, high, bins)``.

    Returns:
        A tuple of ``len(features)`` ints, each in ``[0, bins)``.
    """
    cell = []
    for name, (low, high, bins) in features.items():
        if name not in values:
            raise ValueError(f"features is missing {name!r} (expected {sorted(features)})")
        v = _check_real(values[name], f"features[{name!r}]")
        k = math.floor((v - low) / (high - low) * bins)
        cell.append(min(max(k, 0), bins - 1))
    return tuple(cell)


class ProgramDatabase:
    """AlphaEvolve's program database (§2.5): MAP-Elites grids on islands, in one SQLite file.

    Args:
        path: the database file (created if missing) or ``":memory:"``.
        islands: number of islands (an int >= 1).
        features: feature name -> ``(low, high, bins)``: the MAP-Elites grid of every island has
            shape ``(bins_1, ..., bins_d)``. An empty dict gives one cell per island (each island
            then keeps only its best program).
        seed: seed of the sampling generator (an int >= 0).
        migration_interval: :meth:`migrate` copies programs once this many children have been
            added since the last migration (an int >= 1).
        migration_size: how many of each island's best programs migrate (an int >= 1).
        exploit_ratio: probability that :meth:`sample` picks the parent among the island's top
            ``exploit_top_k`` elites rather than uniformly among all its elites (in ``[0, 1]``).
        exploit_top_k: size of that top group (an int >= 1).
        num_inspirations: elites of other cells shown besides the island's best (an int >= 0).

    Reopening an existing file resumes it: the configuration is stored in the file, and opening
    it with a different one raises ``ValueError`` naming each differing setting.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        features: Mapping[str, tuple[float, float, int]],
        islands: int = 4,
        seed: int = 0,
        migration_interval: int = 20,
        migration_size: int = 1,
        exploit_ratio: float = 0.7,
        exploit_top_k: int = 1,
        num_inspirations: int = 3,
    ) -> None:
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
        self.features = _check_features(features)
        self.islands = _check_int(islands, "islands", 1)
        self.seed = _check_int(seed, "seed", 0)
        self.migration_interval = _check_int(migration_interval, "migration_interval", 1)
        self.migration_size = _check_int(migration_size, "migration_size", 1)
        ratio = _check_real(exploit_ratio, "exploit_ratio")
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"exploit_ratio must be in [0, 1], got {ratio}")
        self.exploit_ratio = ratio
        self.exploit_top_k = _check_int(exploit_top_k, "exploit_top_k", 1)
        self.num_inspirations = _check_int(num_inspirations, "num_inspirations", 0)
        self.path = str(path)
        self.shape = tuple(bins for _, _, bins in self.features.values())

        self._conn = sqlite3.connect(self.path, isolation_level=None)  # we manage transactions
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    # -- setup --------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The settings stored in the file and compared on reopen (JSON-able)."""
        return {
            "schema": _SCHEMA_VERSION,
            "islands": self.islands,
            "features": {k: list(v) for k, v in self.features.items()},
            "seed": self.seed,
            "migration_interval": self.migration_interval,
            "migration_size": self.migration_size,
            "exploit_ratio": self.exploit_ratio,
            "exploit_top_k": self.exploit_top_k,
            "num_inspirations": self.num_inspirations,
        }

    def _open(self) -> None:
        c = self._conn
        c.execute("PRAGMA journal_mode=WAL")  # ":memory:" stays "memory"; that is fine
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA foreign_keys=ON")
        c.execute("PRAGMA busy_timeout=10000")
        with self._tx():
            for stmt in _SCHEMA.split(";"):  # not executescript: it would COMMIT
                if stmt.strip():
                    c.execute(stmt)
            stored = self._meta("config")
            mine = self.config()
            if stored is None:
                self._set_meta("config", mine)
                self._set_meta("rng", _rng_state(random.Random(self.seed)))
                self._set_meta("children", 0)
                self._set_meta("last_migration", 0)
                self._set_meta("migrations", 0)
            else:
                diff = [f"{k}: stored {stored.get(k)!r}, given {mine.get(k)!r}"
                        for k in sorted(set(stored) | set(mine)) if stored.get(k) != mine.get(k)]
                if diff:
                    raise ValueError(f"the database at {self.path} was created with another "
                                     f"configuration: {'; '.join(diff)}")
        self._rng = random.Random()
        self._rng.setstate(_rng_from(self._meta("rng")))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success (durably: WAL + synchronous=FULL), rolled
        back on any error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _meta(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def _set_meta(self, key: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           (key, json.dumps(value)))

    def close(self) -> None:
        """Close the connection (every add is already committed)."""
        self._conn.close()

    def __enter__(self) -> ProgramDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return (f"ProgramDatabase({self.path!r}, islands={self.islands}, "
                f"features={list(self.features)}, programs={self.count()})")

    # -- writing ------------------------------------------------------------------------------

    def _check_island(self, island: object) -> int:
        island = _check_int(island, "island", 0)
        if island >= self.islands:
            raise ValueError(f"island must be in [0, {self.islands}), got {island}")
        return island

    def _insert(self, *, code: str, parent_id: int | None, island: int, generation: int,
                diff: str | None, score: float | None, metrics_json: str, features_json: str,
                cell: tuple[int, ...] | None, status: str, reason: str | None,
                origin: str) -> int:
        """Insert a row and, for an ok program, make it its cell's elite if it scores higher.
        Runs inside the caller's transaction."""
        cell_key = None if cell is None else json.dumps(list(cell))
        cur = self._conn.execute(
            f"INSERT INTO programs ({_COLUMNS.split(', ', 1)[1]}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (parent_id, island, generation, code, diff, score, metrics_json, features_json,
             cell_key, status, reason, origin, time.time()),
        )
        pid = int(cur.lastrowid)
        if status == "ok":
            elite = self._conn.execute(
                "SELECT p.score FROM cells c JOIN programs p ON p.id = c.program_id "
                "WHERE c.island = ? AND c.cell = ?", (island, cell_key)).fetchone()
            if elite is None or score > elite[0]:
                self._conn.execute(
                    "INSERT OR REPLACE INTO cells (island, cell, program_id) VALUES (?, ?, ?)",
                    (island, cell_key, pid))
        return pid

    def add(
        self,
        code: str,
        *,
        parent_id: int | None,
        island: int,
        score: float | None,
        metrics: Mapping[str, Any] | None = None,
        features: Mapping[str, float] | None = None,
        diff: str | None = None,
        status: str = "ok",
        reason: str | None = None,
    ) -> int:
        """Store one evaluated program in one durable transaction; return its id.

        An ``"ok"`` program becomes the elite of its (island, cell) if the cell is empty or its
        score is strictly higher than the elite's (ties keep the incumbent). A ``"failed"``
        program is stored with its ``reason`` (its score, features and cell may be ``None``) and
        never becomes an elite or a parent.

        Args:
            code: the program text.
            parent_id: the program it came from (an ok program of this database) or ``None``.
            island: the island it belongs to, in ``[0, islands)``.
            score: the evaluator's score, finite (required when ok; ignored-but-stored if given
                for a failed program).
            metrics: any JSON-able dict of evaluation results (default ``{}``).
            features: feature name -> value; every configured feature is required when ok.
                Values outside ``[low, high]`` land in the edge bins.
            diff: the diff that produced ``code`` (stored for display).
            status: ``"ok"`` or ``"failed"``.
            reason: why it failed (required when failed, must be ``None`` when ok).
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if diff is not None and not isinstance(diff, str):
            raise TypeError(f"diff must be a str or None, got {type(diff).__name__}")
        island = self._check_island(island)
        if status not in ("ok", "failed"):
            raise ValueError(f"status must be 'ok' or 'failed', got {status!r}")
        metrics = {} if metrics is None else metrics
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        feats = {} if features is None else features
        if not isinstance(feats, Mapping):
            raise TypeError(f"features must be a dict, got {type(feats).__name__}")
        if status == "ok":
            if reason is not None:
                raise ValueError("reason must be None for an ok program")
            if score is None:
                raise ValueError("score is required for an ok program")
            score = _check_real(score, "score")
            cell: tuple[int, ...] | None = feature_cell(feats, self.features)
        else:
            if not isinstance(reason, str) or not reason:
                raise ValueError("reason must be a non-empty str for a failed program")
            score = None if score is None else _check_real(score, "score")
            cell = None
        metrics_json = _dumps(dict(metrics), "metrics")
        features_json = _dumps(dict(feats), "features")

        with self._tx():
            generation = 0
            if parent_id is not None:
                parent_id = _check_int(parent_id, "parent_id", 1)
                row = self._conn.execute("SELECT status, generation FROM programs WHERE id = ?",
                                         (parent_id,)).fetchone()
                if row is None:
                    raise ValueError(f"parent_id {parent_id} is not in the database")
                if row[0] != "ok":
                    raise ValueError(f"parent_id {parent_id} is a failed program; failed "
                                     "programs are never parents")
                generation = row[1] + 1
            pid = self._insert(code=code, parent_id=parent_id, island=island,
                               generation=generation, diff=diff, score=score,
                               metrics_json=metrics_json, features_json=features_json, cell=cell,
                               status=status, reason=reason, origin="child")
            self._set_meta("children", self._meta("children") + 1)
        return pid

    def add_initial(self, code: str, *, score: float, metrics: Mapping[str, Any] | None = None,
                    features: Mapping[str, float] | None = None) -> list[int]:
        """Seed every island with the same initial program (one root per island); return the ids."""
        return [self.add(code, parent_id=None, island=i, score=score, metrics=metrics,
                         features=features) for i in range(self.islands)]

    # -- sampling -----------------------------------------------------------------------------

    def elites(self, island: int) -> list[Program]:
        """The elites of ``island``, best first (ties: lower id first)."""
        island = self._check_island(island)
        rows = self._conn.execute(
            f"SELECT {', '.join('p.' + c for c in _COLUMNS.split(', '))} FROM cells c "
            "JOIN programs p ON p.id = c.program_id WHERE c.island = ? "
            "ORDER BY p.score DESC, p.id ASC", (island,)).fetchall()
        return [_row(r) for r in rows]

    def sample(self, island: int) -> tuple[Program, list[Program]]:
        """A parent and inspirations for the next prompt on ``island`` (AlphaEvolve §2.5).

        With probability ``exploit_ratio`` the parent is drawn uniformly from the island's top
        ``exploit_top_k`` elites (exploitation), else uniformly from all its elites
        (exploration). The inspirations are the island's best elite (unless it is the parent)
        followed by up to ``num_inspirations`` other elites, each from a different cell, drawn
        at random. Failed programs are never elites, so they are never returned. The generator's
        new state is committed with the draw, so a reopened database continues the sequence.

        Returns:
            ``(parent, inspirations)``; ``inspirations`` never holds the parent.
        """
        elites = self.elites(island)
        if not elites:
            raise ValueError(f"island {island} has no ok program yet; add one first "
                             "(add_initial seeds every island)")
        rng = self._rng
        if rng.random() < self.exploit_ratio:
            parent = elites[rng.randrange(min(self.exploit_top_k, len(elites)))]
        else:
            parent = elites[rng.randrange(len(elites))]
        best = elites[0]
        inspirations = [] if best.id == parent.id else [best]
        others = [p for p in elites if p.id not in (parent.id, best.id)]
        k = min(self.num_inspirations, len(others))
        inspirations += rng.sample(others, k)
        with self._tx():
            self._set_meta("rng", _rng_state(rng))
        return parent, inspirations

    # -- migration ----------------------------------------------------------------------------

    @property
    def migration_due(self) -> bool:
        """Whether ``migration_interval`` children were added since the last migration."""
        return self._meta("children") - self._meta("last_migration") >= self.migration_interval

    def migrate(self, *, force: bool = False) -> list[int]:
        """Copy each island's best programs to the next island of the ring, if due.

        Due when ``migration_interval`` children have been added (by :meth:`add`, over all
        islands) since the last migration, or when ``force``. The top ``migration_size`` elites
        of island ``i`` (taken before any copy arrives) are copied to island
        ``(i + 1) % islands`` as new rows (``origin="migrant"``, parent = the original, same code,
        score, metrics and features), which join the destination grid by the usual elite rule.
        A program is not copied when the destination already holds its code (as an ok program)
        with a score at least as high, so repeated migrations do not pile up duplicates; the
        same code with a higher score does move (in search mode the same code, warm-started from
        a better construction, returns a better one). One transaction.

        Returns:
            The ids of the new rows (empty when not due, with one island, or nothing new).
        """
        if not (force or self.migration_due):
            return []
        movers = {i: self.elites(i)[: self.migration_size] for i in range(self.islands)}
        new: list[int] = []
        with self._tx():
            if self.islands > 1:
                for i, programs in movers.items():
                    dest = (i + 1) % self.islands
                    for p in programs:
                        done = self._conn.execute(
                            "SELECT 1 FROM programs WHERE island = ? AND status = 'ok' AND "
                            "code = ? AND score >= ? LIMIT 1", (dest, p.code, p.score)).fetchone()
                        if done is not None:
                            continue
                        new.append(self._insert(
                            code=p.code, parent_id=p.id, island=dest,
                            generation=p.generation + 1, diff=None, score=p.score,
                            metrics_json=_dumps(p.metrics, "metrics"),
                            features_json=_dumps(p.features, "features"), cell=p.cell,
                            status="ok", reason=None, origin="migrant"))
            self._set_meta("last_migration", self._meta("children"))
            self._set_meta("migrations", self._meta("migrations") + 1)
        return new

    # -- queries ------------------------------------------------------------------------------

    def get(self, program_id: int) -> Program:
        """The program with id ``program_id``.

        Raises:
            KeyError: no such program.
        """
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM programs WHERE id = ?",
                                 (int(program_id),)).fetchone()
        if row is None:
            raise KeyError(f"no program with id {program_id}")
        return _row(row)

    def best(self, island: int | None = None) -> Program | None:
        """The highest-scoring ok program (of ``island``, or overall); ``None`` if there is none.
        Ties go to the older program."""
        if island is None:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM programs WHERE status = 'ok' "
                "ORDER BY score DESC, id ASC LIMIT 1").fetchone()
        else:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM programs WHERE status = 'ok' AND island = ? "
                "ORDER BY score DESC, id ASC LIMIT 1", (self._check_island(island),)).fetchone()
        return None if row is None else _row(row)

    def lineage(self, program_id: int) -> list[Program]:
        """The chain of programs from the root to ``program_id`` (inclusive), root first.

        Raises:
            KeyError: no such program.
        """
        chain = [self.get(program_id)]
        while chain[-1].parent_id is not None:
            chain.append(self.get(chain[-1].parent_id))
        return chain[::-1]

    def grid(self, island: int, *, values: str = "occupancy") -> np.ndarray:
        """The MAP-Elites grid of ``island``, shape ``(bins_1, ..., bins_d)`` (``()`` with no
        features).

        Args:
            values: ``"occupancy"`` (bool: the cell has an elite), ``"score"`` (float: the
                elite's score, NaN where empty) or ``"id"`` (int64: the elite's id, -1 where
                empty).
        """
        island = self._check_island(island)
        if values == "occupancy":
            out = np.zeros(self.shape, dtype=bool)
        elif values == "score":
            out = np.full(self.shape, np.nan)
        elif values == "id":
            out = np.full(self.shape, -1, dtype=np.int64)
        else:
            raise ValueError(f"values must be 'occupancy', 'score' or 'id', got {values!r}")
        rows = self._conn.execute(
            "SELECT c.cell, p.id, p.score FROM cells c JOIN programs p ON p.id = c.program_id "
            "WHERE c.island = ?", (island,)).fetchall()
        for cell, pid, score in rows:
            idx = tuple(json.loads(cell))
            out[idx] = True if values == "occupancy" else (score if values == "score" else pid)
        return out

    def count(self, *, status: str | None = None, island: int | None = None) -> int:
        """Number of stored programs, optionally only of one ``status`` and/or ``island``."""
        where, args = [], []
        if status is not None:
            if status not in ("ok", "failed"):
                raise ValueError(f"status must be 'ok', 'failed' or None, got {status!r}")
            where.append("status = ?")
            args.append(status)
        if island is not None:
            where.append("island = ?")
            args.append(self._check_island(island))
        sql = "SELECT COUNT(*) FROM programs" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self._conn.execute(sql, args).fetchone()[0])

    def children(self) -> list[Program]:
        """Every child (neither a root nor a migrant), in the order it was added."""
        sql = (f"SELECT {_COLUMNS} FROM programs WHERE origin = 'child' "
               "AND parent_id IS NOT NULL ORDER BY id")
        return [_row(r) for r in self._conn.execute(sql).fetchall()]

    def failures(self, *, limit: int | None = None) -> list[Program]:
        """The failed programs, oldest first (at most ``limit`` of them)."""
        sql = f"SELECT {_COLUMNS} FROM programs WHERE status = 'failed' ORDER BY id"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (_check_int(limit, "limit", 0),)
        return [_row(r) for r in self._conn.execute(sql, args).fetchall()]

    def stats(self) -> dict[str, Any]:
        """A summary: program counts, children added, migrations, and per island the number of
        programs, elites, grid coverage (fraction of cells occupied) and best score."""
        cells = int(np.prod(self.shape)) if self.shape else 1
        per_island = []
        for i in range(self.islands):
            n_elites = self._conn.execute("SELECT COUNT(*) FROM cells WHERE island = ?",
                                          (i,)).fetchone()[0]
            best = self.best(i)
            per_island.append({
                "island": i,
                "programs": self.count(island=i),
                "elites": int(n_elites),
                "coverage": n_elites / cells,
                "best_score": None if best is None else best.score,
                "best_id": None if best is None else best.id,
            })
        return {
            "programs": self.count(),
            "ok": self.count(status="ok"),
            "failed": self.count(status="failed"),
            "children": self._meta("children"),
            "migrations": self._meta("migrations"),
            "islands": per_island,
        }


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from(state: list) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
