"""AlphaGeometry-style symbolic geometry (AlphaGeometry2, Chervonyi et al., 2025, arXiv 2502.03544).

The problem language, numeric diagrams, and a deduction engine core (DD + AR).

* :mod:`~readingroom.geometry.definitions` — the construction vocabulary (:data:`CONSTRUCTIONS`)
  and goal predicates (:data:`GOALS`);
* :mod:`~readingroom.geometry.language` — :func:`parse_problem`, :func:`parse_file`,
  :func:`format_problem` and the :class:`Problem` dataclasses;
* :mod:`~readingroom.geometry.primitives` — the :class:`Line` and :class:`Circle` loci and
  their intersections;
* :mod:`~readingroom.geometry.placements` — how each construction places its points;
* :mod:`~readingroom.geometry.diagram` — :func:`build_diagram` (random instances, the
  :class:`Diagram`);
* :mod:`~readingroom.geometry.goals` — :func:`check_goal` / ``check_*`` (numeric predicates);
* :mod:`~readingroom.geometry.draw` — :func:`draw_diagram`;
* :mod:`~readingroom.geometry.facts` — canonical :class:`Fact` s and a problem's
  :func:`premises`;
* :mod:`~readingroom.geometry.ar` — algebraic reasoning over the exact :class:`LinearSystem`;
* :mod:`~readingroom.geometry.rules` — the deductive rules (:data:`RULES`);
* :mod:`~readingroom.geometry.ddar` — :func:`solve` (deductive rules + algebraic reasoning),
  :func:`format_proof`, :func:`proof_holds`;
* :mod:`~readingroom.geometry.checker` — :func:`check_proof` / :func:`check_search`: every
  step of a printed proof replayed from only the premises it cites, by code that shares nothing
  with the prover; its facts' meanings are in :mod:`~readingroom.geometry.meaning` and its
  rule matchers in :mod:`~readingroom.geometry.rematch`;
* :mod:`~readingroom.geometry.search` — auxiliary-point :func:`candidates` and the beam
  :func:`search` over DD + AR (``python -m readingroom.geometry solve ...``);
* :mod:`~readingroom.geometry.synth` — synthetic theorems with auxiliary points
  (:func:`sample_premises`, :func:`examples_from`, :func:`generate`);
* :mod:`~readingroom.geometry.proposer` — a learned ranking of the search's candidates
  (:func:`training_data`, :func:`train_proposer`, :func:`learned_proposer`);
* :mod:`~readingroom.geometry.problems` — the book's problem set (:func:`load_problems`, with
  :data:`DESCRIPTIONS` and :data:`DIFFICULTY` tags).
"""

from readingroom.geometry.ar import LinearSystem
from readingroom.geometry.checker import StepVerdict, Verdict, check_proof, check_search
from readingroom.geometry.ddar import Result, format_proof, proof_holds, solve
from readingroom.geometry.definitions import CONSTRUCTIONS, GOALS, ConstructionDef, GoalDef
from readingroom.geometry.diagram import CircleRecord, Diagram, GeometryBuildError, build_diagram
from readingroom.geometry.draw import draw_diagram
from readingroom.geometry.facts import Fact, fact, premises
from readingroom.geometry.goals import (
    CHECKERS,
    check_aconst,
    check_coll,
    check_cong,
    check_contri,
    check_cyclic,
    check_eqangle,
    check_eqratio,
    check_goal,
    check_midp,
    check_para,
    check_perp,
    check_rconst,
    check_simtri,
    goal_residual,
)
from readingroom.geometry.language import (
    Clause,
    Construction,
    GeometryInputError,
    Goal,
    Problem,
    format_problem,
    parse_file,
    parse_goal,
    parse_problem,
)
from readingroom.geometry.optimize import (
    Constraint,
    DiagramOptimizationError,
    OptimizedDiagram,
    constraints,
    optimize_diagram,
    residuals,
)
from readingroom.geometry.primitives import Circle, Line
from readingroom.geometry.problems import (
    DESCRIPTIONS,
    DIFFICULTIES,
    DIFFICULTY,
    load_problems,
    problems_text,
)
from readingroom.geometry.proposer import (
    RankingData,
    learned_proposer,
    load_proposer,
    ranking_metrics,
    train_proposer,
    training_data,
)
from readingroom.geometry.rules import RULES
from readingroom.geometry.search import (
    Candidate,
    Lemma,
    Proposer,
    SearchResult,
    candidates,
    heuristic_proposer,
    random_proposer,
    search,
    search_proof_holds,
)
from readingroom.geometry.synth import SynthExample, examples_from, generate, sample_premises

__all__ = [
    "CHECKERS", "CONSTRUCTIONS", "GOALS", "Circle", "CircleRecord", "Clause", "Construction",
    "ConstructionDef", "Diagram", "GeometryBuildError", "GeometryInputError", "Goal", "GoalDef",
    "Line", "Problem", "build_diagram", "check_aconst", "check_coll", "check_cong",
    "check_contri", "check_cyclic", "check_eqangle", "check_eqratio", "check_goal",
    "check_midp", "check_para", "check_perp", "check_rconst", "check_simtri", "draw_diagram",
    "format_problem", "goal_residual", "parse_file", "parse_goal", "parse_problem",
    "RULES", "Fact", "LinearSystem", "Result", "fact", "format_proof", "premises", "proof_holds", "solve",
    "Candidate", "Lemma", "Proposer", "SearchResult", "candidates", "heuristic_proposer",
    "random_proposer", "search", "search_proof_holds",
    "Constraint", "DiagramOptimizationError", "OptimizedDiagram", "constraints",
    "optimize_diagram", "residuals",
    "DESCRIPTIONS", "DIFFICULTIES", "DIFFICULTY", "load_problems", "problems_text",
    "StepVerdict", "Verdict", "check_proof", "check_search",
    "SynthExample", "examples_from", "generate", "sample_premises",
    "RankingData", "learned_proposer", "load_proposer", "ranking_metrics", "train_proposer",
    "training_data",
]
