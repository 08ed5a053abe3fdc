"""Every bad argument to readingroom.evolve's entry points is refused with a clear error naming it.

One table: ``(id, call, exception, match)``. Every row fails before any program is run in a
sandbox or any optimiser starts. What stays in the other files is behaviour: a timeout, a sandbox
refusing a hostile program, a candidate's failure turned into a result, the parsers' diagnostics
of a malformed EVOLVE-BLOCK or diff, the database's state (a failed parent, an empty island, an
atomic add, a reopened file), the CLI's exit status and the HTTP bridge's status codes.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt

from readingroom.evolve.blocks import (
    BlockError, apply_diff, apply_rewrite, parse_blocks, render_diff,
)
from readingroom.evolve.bridge import BridgeServer, evaluator_source, parse_openevolve_prompt
from readingroom.evolve.cascade import Cascade, Stage
from readingroom.evolve.circles import (
    SEED_PROGRAM, basin_hopping, check_packing, check_time_budget, check_warm_start, evaluate,
    multistart_slsqp, substitute_region,
)
from readingroom.evolve.database import ProgramDatabase, feature_cell
from readingroom.evolve.executor import make_executor
from readingroom.evolve.loop import Problem, run_evolution
from readingroom.evolve.matmul import SEED_PROGRAM as MATMUL_SEED
from readingroom.evolve.matmul import check_decomposition, matmul_tensor, multiply, round_factors
from readingroom.evolve.matmul import evaluate as evaluate_matmul
from readingroom.evolve.matmul import strassen
from readingroom.evolve.plots import (
    LiveDashboard, lineage_rows, plot_curves, plot_dashboard, plot_grid, plot_progress,
)
from readingroom.evolve.problems import circle_packing, make_problem
from readingroom.evolve.prompt import build_prompt
from readingroom.evolve.proposers import MutationProposer, OpenAIProposer, Proposal, make_proposer
from readingroom.evolve.sandbox import run_sandboxed
from refusals import refusal_test

ROOT = Path(__file__).resolve().parents[2]
QUARTERS = {"centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]],
            "radii": [0.25] * 4}
FEATURES = {"length": (0.0, 100.0, 4), "speed": (0.0, 1.0, 2)}
BLOCK = "# EVOLVE-BLOCK-START\nSTEP = 0.5\n# EVOLVE-BLOCK-END\n"
BROKEN = "# EVOLVE-BLOCK-START\nx = 1\n"  # a START never closed
PARENT = SimpleNamespace(code=BLOCK, score=0.5, metrics={})


def _db(**kw) -> ProgramDatabase:
    return ProgramDatabase(":memory:", **{"islands": 2, "features": FEATURES, "seed": 0,
                                          "migration_interval": 5, **kw})


def _grid_db() -> ProgramDatabase:
    db = _db()
    db.add_initial("root", score=1.0, features={"length": 60.0, "speed": 0.7})
    return db


def _one_feature_db() -> ProgramDatabase:
    one = ProgramDatabase(":memory:", features={"x": (0.0, 1.0, 3)}, islands=1)
    one.add_initial("r", score=1.0, features={"x": 0.5})
    return one


def _dashboard_of_two_axes():
    fig, axes = plt.subplots(1, 2)
    try:
        return plot_dashboard(_grid_db(), axes)
    finally:
        plt.close(fig)


def _curves(*args, **kwargs):
    fig, ax = plt.subplots()
    try:
        return plot_curves(*args, ax, **kwargs)
    finally:
        plt.close(fig)


def _toy_evaluate(code: str) -> dict:  # pragma: no cover - the loop refuses before evaluating
    return {"ok": True, "score": 0.0, "reason": None, "metrics": {}, "features": {"x": 0.0}}


TOY = Problem(name="toy", statement="Make main() return 3.",
              initial_program="def main():\n    # EVOLVE-BLOCK-START\n    x = 0.5\n"
                              "    # EVOLVE-BLOCK-END\n    return x\n",
              evaluate=_toy_evaluate, features={"x": (0.0, 6.0, 6)})


class _StepProposer:
    def propose(self, prompt, parent, inspirations, rng):  # pragma: no cover - never called
        return Proposal("")


def _bridge_evaluate(code, warm_start=None):  # pragma: no cover - never called
    return {"ok": False, "score": None, "reason": "unused", "metrics": {}}


def _jitter_script():
    spec = importlib.util.spec_from_file_location("evolve_jitter",
                                                  ROOT / "benchmarks" / "evolve_jitter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jitter(bad):
    return _jitter_script().slsqp_variant(bad, {"calls": 0, "one_retry": 0, "two_retries": 0,
                                                "infeasible": 0, "_penalties": 0})


WARM_STARTS = [  # (warm_start, the start of the message)
    ([1, 2], "warm_start must be a dict with 'centers' and 'radii', got list"),
    ({"centers": QUARTERS["centers"]}, "warm_start must be a dict with 'centers' and 'radii'"),
    ({"centers": "x", "radii": [0.1] * 4}, "warm_start['centers'] must be a list of 4 pairs, "
                                           "got str"),
    ({"centers": QUARTERS["centers"][:3], "radii": [0.1] * 4},
     "warm_start['centers'] must hold 4 pairs, got 3"),
    ({"centers": QUARTERS["centers"], "radii": (0.1,) * 5},
     "warm_start['radii'] must hold 4 numbers, got 5"),
    ({"centers": [[0.5, 0.5]] * 3 + [[0.5]], "radii": [0.1] * 4},
     "warm_start['centers'][3] must be a pair of finite numbers"),
    ({"centers": [[0.5, 0.5]] * 3 + [[0.5, float("nan")]], "radii": [0.1] * 4},
     "warm_start['centers'][3] must be a pair of finite numbers"),
    ({"centers": [[0.5, 0.5]] * 3 + [[0.5, "0.5"]], "radii": [0.1] * 4},
     "warm_start['centers'][3] must be a pair of finite numbers"),
    ({"centers": QUARTERS["centers"], "radii": [0.1, 0.1, -0.1, 0.1]},
     "warm_start['radii'][2] must be a finite number >= 0, got -0.1"),
    ({"centers": QUARTERS["centers"], "radii": [0.1, True, 0.1, 0.1]},
     "warm_start['radii'][1] must be a finite number >= 0, got True"),
    ({"centers": QUARTERS["centers"], "radii": [0.1, 0.1, 0.1, float("inf")]},
     "warm_start['radii'][3] must be a finite number >= 0, got inf"),
]

CASES = [
    # (id, call, exception, match)
    # -- blocks and diffs ----------------------------------------------------------------------
    ("parse_blocks: code bytes", lambda: parse_blocks(b"x"), TypeError, "code must be a str"),
    ("apply_diff: diff_text None", lambda: apply_diff(BLOCK, None), TypeError,
     "diff_text must be a str"),
    ("apply_rewrite: new_code 3", lambda: apply_rewrite(BLOCK, 3), TypeError,
     "new_code must be a str"),
    ("apply_diff: a parent with a broken block",  # ours to fix, not the model's
     lambda: apply_diff(BROKEN, "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"),
     BlockError, "never closed"),
    ("render_diff: context -1", lambda: render_diff("a", "b", context=-1), ValueError,
     "context must be an int >= 0"),
    # -- prompt and proposers ------------------------------------------------------------------
    ("build_prompt: problem None", lambda: build_prompt(None, PARENT), TypeError, "problem"),
    ("build_prompt: parent without a score",
     lambda: build_prompt("P", SimpleNamespace(code="", metrics={})), TypeError,
     r"parent must have .code.*lacks .score"),
    ("build_prompt: an inspiration that is no program",
     lambda: build_prompt("P", PARENT, [PARENT, object()]), TypeError, r"inspirations\[1\]"),
    ("build_prompt: parent's code an int",
     lambda: build_prompt("P", SimpleNamespace(code=3, score=1.0, metrics={})), TypeError,
     "parent.code"),
    ("build_prompt: max_chars 0", lambda: build_prompt("P", PARENT, max_chars=0), ValueError,
     "max_chars"),
    ("build_prompt: max_chars 1.5", lambda: build_prompt("P", PARENT, max_chars=1.5), TypeError,
     "max_chars"),
    ("build_prompt: feedback 3", lambda: build_prompt("P", PARENT, feedback=3), TypeError,
     "feedback"),
    ("MutationProposer: unknown operator", lambda: MutationProposer(weights={"swap": 1.0}),
     ValueError, "unknown operators"),
    ("MutationProposer: all weights 0", lambda: MutationProposer(weights={"constant": 0.0}),
     ValueError, "weights"),
    ("MutationProposer: fragments of a str", lambda: MutationProposer({"a": "x = 1"}), TypeError,
     r"fragments\['a'\]"),
    ("MutationProposer: max_ops 0", lambda: MutationProposer(max_ops=0), ValueError, "max_ops"),
    ("MutationProposer: sigma -1", lambda: MutationProposer(sigma=-1), ValueError, "sigma"),
    ("MutationProposer: knob_bias 1.5", lambda: MutationProposer(knob_bias=1.5), ValueError,
     "knob_bias"),
    ("MutationProposer.propose: rng 0", lambda: MutationProposer().propose("", BLOCK, [], rng=0),
     TypeError, "rng"),
    ("MutationProposer.propose: parent without code",
     lambda: MutationProposer().propose("", object(), [], random.Random(0)), TypeError, "parent"),
    ("MutationProposer.propose: a parent with a broken block",
     lambda: MutationProposer().propose("", BROKEN, [], random.Random(0)), BlockError,
     "never closed"),
    ("OpenAIProposer: base_url without a scheme", lambda: OpenAIProposer("127.0.0.1:8000", "m"),
     ValueError, "base_url"),
    ("OpenAIProposer: model ''", lambda: OpenAIProposer("http://h", ""), ValueError, "model"),
    ("OpenAIProposer: timeout_s 0", lambda: OpenAIProposer("http://h", "m", timeout_s=0),
     ValueError, "timeout_s"),
    ("OpenAIProposer: kind 'patch'", lambda: OpenAIProposer("http://h", "m", kind="patch"),
     ValueError, "kind"),
    *[(f"OpenAIProposer: {name}={value!r}",
       lambda name=name, value=value: OpenAIProposer("http://h", "m", **{name: value}),
       exc, name)
      for name, value, exc in [("timeout_s", True, TypeError), ("timeout_s", float("inf"),
                                                                ValueError),
                               ("temperature", False, TypeError), ("temperature", -0.1,
                                                                   ValueError),
                               ("max_tokens", True, TypeError), ("max_tokens", 0, ValueError),
                               ("max_tokens", 8.0, TypeError)]],
    ("make_proposer: openai without a model", lambda: make_proposer("openai:http://h:1"),
     ValueError, "#<model>"),
    ("make_proposer: 'gpt-4'", lambda: make_proposer("gpt-4"), ValueError, "unknown proposer"),
    # -- the database --------------------------------------------------------------------------
    ("feature_cell: a feature missing", lambda: feature_cell({"length": 1.0}, FEATURES),
     ValueError, "features is missing 'speed'"),
    ("feature_cell: nan", lambda: feature_cell({"length": float("nan"), "speed": 0.2}, FEATURES),
     ValueError, r"features\['length'\] must be finite"),
    ("ProgramDatabase: islands 0", lambda: _db(islands=0), ValueError,
     "islands must be an int >= 1"),
    ("ProgramDatabase: low == high", lambda: _db(features={"a": (1.0, 1.0, 3)}), ValueError,
     "needs low < high"),
    ("ProgramDatabase: 0 bins", lambda: _db(features={"a": (0.0, 1.0, 0)}), ValueError,
     r"features\['a'\] bins must be an int >= 1"),
    ("ProgramDatabase: a feature without bins", lambda: _db(features={"a": (0.0, 1.0)}),
     TypeError, r"must be a \(low, high, bins\) tuple"),
    ("ProgramDatabase: exploit_ratio 1.5", lambda: _db(exploit_ratio=1.5), ValueError,
     r"exploit_ratio must be in \[0, 1\]"),
    ("ProgramDatabase: seed -1", lambda: _db(seed=-1), ValueError, "seed must be an int >= 0"),
    ("ProgramDatabase: migration_interval True", lambda: _db(migration_interval=True), TypeError,
     "migration_interval must be an int"),
    ("ProgramDatabase.grid: values 'nope'", lambda: _grid_db().grid(0, values="nope"),
     ValueError, "values must be"),
    ("ProgramDatabase.grid: island 2 of 2", lambda: _grid_db().grid(2), ValueError,
     r"island must be in \[0, 2\), got 2"),
    # -- sandbox, cascade, executor ------------------------------------------------------------
    ("run_sandboxed: timeout_s 0", lambda: run_sandboxed("", timeout_s=0), ValueError,
     "timeout_s"),
    ("run_sandboxed: layer 'docker'", lambda: run_sandboxed("", layer="docker"), ValueError,
     "layer"),
    ("run_sandboxed: entry not an identifier",
     lambda: run_sandboxed("", entry="not an identifier"), ValueError, "entry"),
    ("run_sandboxed: args not JSON-able", lambda: run_sandboxed("", args=(object(),)), TypeError,
     "args"),
    ("run_sandboxed: memory_mb 1.5", lambda: run_sandboxed("", memory_mb=1.5), TypeError,
     "memory_mb"),
    ("Cascade: no stages", lambda: Cascade([]), ValueError, "non-empty"),
    ("Cascade: two stages named a", lambda: Cascade([Stage("a", abs), Stage("a", abs)]),
     ValueError, "unique"),
    ("Stage: fn 3", lambda: Stage("a", 3), TypeError, "callable"),
    ("Stage: threshold '0.5'", lambda: Stage("a", abs, threshold="0.5"), ValueError, "threshold"),
    ("make_executor: an address without a scheme", lambda: make_executor("localhost:8786"),
     ValueError, "cluster"),
    ("make_executor: workers 0", lambda: make_executor(workers=0), ValueError, "workers"),
    # -- circle packing ------------------------------------------------------------------------
    *[(f"check_packing: n {n!r}", lambda n=n: check_packing(QUARTERS, n), ValueError,
       "n must be a positive int") for n in (0, -1, 1.5, True, "3")],
    ("substitute_region: no region 'nope'",
     lambda: substitute_region(SEED_PROGRAM, "nope", "pass"), ValueError, "no region 'nope'"),
    *[(f"check_time_budget: {value!r}", lambda value=value: check_time_budget(value), ValueError,
       "time_budget_s must be a finite number of seconds > 0")
      for value in (0, -1.0, float("nan"), float("inf"), True, "2", None)],
    *[(f"evaluate: time_budget_s {value!r}",
       lambda value=value: evaluate(SEED_PROGRAM, 4, time_budget_s=value), ValueError,
       "time_budget_s") for value in (0, -1.0, float("nan"), float("inf"), True, "2")],
    ("evaluate: warm_start without a time budget",
     lambda: evaluate(SEED_PROGRAM, 4, warm_start=QUARTERS), ValueError,
     "warm_start needs a time_budget_s"),
    ("evaluate: timeout_s below time_budget_s",
     lambda: evaluate(SEED_PROGRAM, 4, timeout_s=2.0, time_budget_s=3.0), ValueError,
     r"timeout_s \(the hard cap, 2.0 s\) must exceed time_budget_s \(3.0 s\)"),
    ("evaluate: grace_s -1", lambda: evaluate(SEED_PROGRAM, 4, time_budget_s=1.0, grace_s=-1),
     ValueError, "grace_s"),
    ("evaluate: seed -2", lambda: evaluate(SEED_PROGRAM, 4, time_budget_s=1.0, seed=-2),
     ValueError, "seed must be an int >= 0"),
    ("evaluate: a warm start of 3 radii for 4 circles",
     lambda: evaluate(SEED_PROGRAM, 4, time_budget_s=1.0,
                      warm_start={"centers": QUARTERS["centers"], "radii": [0.25] * 3}),
     ValueError, r"warm_start\['radii'\] must hold 4 numbers, got 3"),
    *[(f"check_warm_start {k}: {message}", lambda warm=warm: check_warm_start(warm, 4),
       ValueError, "^" + re.escape(message)) for k, (warm, message) in enumerate(WARM_STARTS)],
    ("multistart_slsqp: budget 0", lambda: multistart_slsqp(6, 0), ValueError, "budget"),
    ("basin_hopping: n 1", lambda: basin_hopping(1, 3), ValueError, "n must"),
    ("basin_hopping: step 0", lambda: basin_hopping(6, 3, step=0), ValueError, "step"),
    ("multistart_slsqp: neither budget nor seconds", lambda: multistart_slsqp(6), ValueError,
     "give a budget .* or seconds"),
    *[(f"basin_hopping: seconds {bad!r}", lambda bad=bad: basin_hopping(6, seconds=bad),
       ValueError, "seconds must be a finite number of seconds > 0")
      for bad in (0, -1.0, float("nan"), "1")],
    *[(f"evolve_jitter.slsqp_variant: jitter {bad!r}", lambda bad=bad: _jitter(bad), ValueError,
       "jitter") for bad in (-0.1, float("nan"), True, "0.02")],
    # -- matrix multiplication -----------------------------------------------------------------
    ("matmul_tensor: n 0", lambda: matmul_tensor(0, 2, 2), ValueError, "^n must"),
    ("matmul_tensor: m 2.0", lambda: matmul_tensor(2, 2.0, 2), TypeError, "^m must"),
    ("matmul_tensor: p True", lambda: matmul_tensor(2, 2, True), TypeError, "^p must"),
    *[(f"check_decomposition: {kwargs}",
       lambda kwargs=kwargs: check_decomposition(strassen(), **{"n": 2, "m": 2, "p": 2, **kwargs}),
       exc, f"^{name} must")
      for kwargs, exc, name in (({"n": 0}, ValueError, "n"), ({"m": "2"}, TypeError, "m"),
                                ({"p": 1.5}, TypeError, "p"), ({"rank": 0}, ValueError, "rank"),
                                ({"products": -1}, ValueError, "products"),
                                ({"seed": -1}, ValueError, "seed"))],
    ("multiply: a ragged A", lambda: multiply(strassen(), [[1, 2], [3]], [[1, 0], [0, 1]]),
     ValueError, "^A must be"),
    ("multiply: B of one row", lambda: multiply(strassen(), [[1, 2], [3, 4]], [[1, 0]]),
     ValueError, "^B must have 2 rows"),
    ("multiply: nan in A",
     lambda: multiply(strassen(), [[1, float("nan")], [3, 4]], [[1, 0], [0, 1]]), ValueError,
     r"^A\[0\]\[1\] is not finite"),
    ("round_factors: U of one row", lambda: round_factors({**strassen(), "U": [[1]]}, 2, 2, 2),
     ValueError, "^factors: U"),
    ("matmul evaluate: rounding 'third'", lambda: evaluate_matmul(MATMUL_SEED, rounding="third"),
     ValueError, "rounding"),
    ("matmul evaluate: trials 0", lambda: evaluate_matmul(MATMUL_SEED, trials=0), ValueError,
     "trials"),
    ("matmul evaluate: rank '7'", lambda: evaluate_matmul(MATMUL_SEED, rank="7"), TypeError,
     "rank"),
    ("matmul evaluate: code bytes", lambda: evaluate_matmul(b"def main(): pass"), TypeError,
     "^code must be a str"),
    # -- problems and the loop -----------------------------------------------------------------
    ("make_problem: 'sudoku'", lambda: make_problem("sudoku"), ValueError, "problem must be"),
    ("circle_packing: n 0", lambda: circle_packing(0), ValueError, "n must"),
    ("circle_packing: n '26'", lambda: circle_packing("26"), TypeError, "n must"),
    *[(f"circle_packing: {kwargs}", lambda kwargs=kwargs: circle_packing(6, **kwargs), ValueError,
       match)
      for kwargs, match in (({"time_budget_s": 0},
                             "time_budget_s must be a finite number of seconds > 0"),
                            ({"time_budget_s": -1.0}, "time_budget_s must be"),
                            ({"time_budget_s": float("nan")}, "time_budget_s must be"),
                            ({"time_budget_s": 10.0, "timeout_s": 5.0},
                             "timeout_s .* must exceed time_budget_s"))],
    ("make_problem('matmul'): rank 0", lambda: make_problem("matmul", rank=0), ValueError,
     "rank"),
    ("make_problem('matmul'): n '2'", lambda: make_problem("matmul", n="2"), TypeError, "n must"),
    ("make_problem('matmul'): trials 0", lambda: make_problem("matmul", trials=0), ValueError,
     "trials"),
    *[(f"run_evolution: {kw}",
       lambda kw=kw: run_evolution(TOY, MutationProposer(), db_path=":memory:", progress=False,
                                   **kw), ValueError, match)
      for kw, match in ((dict(budget=0), "budget"), (dict(budget=2, seed=-1), "seed"),
                        (dict(budget=2, islands=0), "islands"))],
    # -- the OpenEvolve bridge -----------------------------------------------------------------
    ("parse_openevolve_prompt: bytes", lambda: parse_openevolve_prompt(b"bytes"), TypeError,
     "must be a str"),
    ("parse_openevolve_prompt: no program",
     lambda: parse_openevolve_prompt("# Task\nno program here\n"), ValueError, "Current Program"),
    ("evaluator_source: a remote url", lambda: evaluator_source("http://example.com/evaluate"),
     ValueError, "loopback"),
    ("evaluator_source: url None", lambda: evaluator_source(None), ValueError, "loopback"),
    ("evaluator_source: timeout_s 0",
     lambda: evaluator_source("http://127.0.0.1:1/evaluate", timeout_s=0), ValueError,
     "timeout_s"),
    *[(f"evaluator_source: timeout_s {v!r}",
       lambda v=v: evaluator_source("http://127.0.0.1:1/evaluate", timeout_s=v), exc, "timeout_s")
      for v, exc in ((True, TypeError), (float("inf"), ValueError), (float("nan"), ValueError),
                     ("5", TypeError))],
    ("BridgeServer: proposer without propose", lambda: BridgeServer(object(), _bridge_evaluate),
     TypeError, "proposer"),
    ("BridgeServer: evaluate 'no'", lambda: BridgeServer(_StepProposer(), "no"), TypeError,
     "evaluate"),
    ("BridgeServer: warm_start 3",
     lambda: BridgeServer(_StepProposer(), _bridge_evaluate, warm_start=3), TypeError,
     "warm_start"),
    ("BridgeServer: seed -1", lambda: BridgeServer(_StepProposer(), _bridge_evaluate, seed=-1),
     ValueError, "seed"),
    ("BridgeServer.score: code None",
     lambda: BridgeServer(_StepProposer(), _bridge_evaluate).score(None), TypeError,
     "code must be a str"),
    ("BridgeServer.complete: no user message",
     lambda: BridgeServer(_StepProposer(), _bridge_evaluate).complete(
         {"messages": [{"role": "assistant", "content": "x"}]}), ValueError, "no user message"),
    # -- plots ---------------------------------------------------------------------------------
    ("plot_progress: db a str", lambda: plot_progress("db"), TypeError, "ProgramDatabase"),
    ("plot_grid: one feature", lambda: plot_grid(_one_feature_db()), ValueError, "two features"),
    ("plot_dashboard: two axes", _dashboard_of_two_axes, ValueError, "three Axes"),
    ("plot_curves: no curves", lambda: _curves({}), ValueError, "non-empty"),
    ("plot_curves: x of another length", lambda: _curves({"a": [1.0, 2.0]}, x={"a": [1.0]}),
     ValueError, "has 1 values for 2 scores"),
    ("LiveDashboard: every_s -1", lambda: LiveDashboard(every_s=-1), ValueError, "every_s"),
    ("LiveDashboard: every_s nan", lambda: LiveDashboard(every_s=float("nan")), ValueError,
     "every_s"),
    ("LiveDashboard: every_s True", lambda: LiveDashboard(every_s=True), TypeError, "every_s"),
    ("lineage_rows: an empty database",
     lambda: lineage_rows(ProgramDatabase(":memory:", features={"x": (0.0, 1.0, 3)}, islands=1)),
     ValueError, "no successful program"),
]



test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
