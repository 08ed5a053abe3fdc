"""AlphaEvolve (Novikov et al., 2025): an evolutionary coding agent, offline and sandboxed.

* :mod:`~readingroom.evolve.blocks`: EVOLVE-BLOCKs and SEARCH/REPLACE diffs;
* :mod:`~readingroom.evolve.prompt` and :mod:`~readingroom.evolve.proposers`: the prompt a model
  reads, and what answers it (offline mutations, or any OpenAI-compatible server);
* :mod:`~readingroom.evolve.database`: MAP-Elites cells on islands, in SQLite;
* :mod:`~readingroom.evolve.sandbox`, :mod:`~readingroom.evolve.cascade`,
  :mod:`~readingroom.evolve.executor`: evaluating untrusted programs safely and in parallel;
* :mod:`~readingroom.evolve.circles`, :mod:`~readingroom.evolve.problems`: circle packing with an
  exact checker, and the baselines;
* :mod:`~readingroom.evolve.matmul`: matrix multiplication as an exact tensor decomposition;
* :mod:`~readingroom.evolve.loop`: the loop that ties them together;
* :mod:`~readingroom.evolve.plots`: a run drawn from its database, live or afterwards.

Command line: ``python -m readingroom.evolve run circle-packing --budget N --seed S``.
"""

from readingroom.evolve.blocks import (
    BlockError, DiffError, DiffResult, apply_diff, apply_rewrite, parse_blocks, parse_diff,
    render_diff,
)
from readingroom.evolve.cascade import Cascade, CascadeResult, Stage
from readingroom.evolve.circles import (
    ALPHAEVOLVE, FRAGMENTS, PREVIOUS, SEED_PROGRAM, basin_hopping, check_packing, draw_packing,
    fragment_choices,
    multistart_slsqp, repair,
)
from readingroom.evolve.database import Program, ProgramDatabase
from readingroom.evolve.executor import evaluate_many, make_executor
from readingroom.evolve.matmul import SEED_PROGRAM as MATMUL_SEED_PROGRAM
from readingroom.evolve.matmul import check_decomposition, matmul_tensor, multiply, strassen
from readingroom.evolve.matmul import evaluate as evaluate_decomposition
from readingroom.evolve.loop import EvolveResult, Problem, run_evolution
from readingroom.evolve.plots import (
    LiveDashboard, lineage_rows, lineage_table, plot_curves, plot_dashboard, plot_grid,
    plot_islands, plot_progress,
)
from readingroom.evolve.problems import (
    circle_packing, evaluate_packing, make_problem, matmul_decomposition,
)
from readingroom.evolve.prompt import build_prompt, format_feedback
from readingroom.evolve.proposers import (
    MutationProposer, OpenAIProposer, Proposal, Proposer, make_proposer,
)
from readingroom.evolve.sandbox import SandboxResult, run_sandboxed, sandbox_layer

__all__ = [
    "BlockError", "DiffError", "DiffResult", "apply_diff", "apply_rewrite", "parse_blocks",
    "parse_diff", "render_diff", "Cascade", "CascadeResult", "Stage", "ALPHAEVOLVE", "PREVIOUS",
    "FRAGMENTS", "SEED_PROGRAM", "fragment_choices", "basin_hopping", "check_packing", "draw_packing",
    "multistart_slsqp", "repair", "Program", "ProgramDatabase", "evaluate_many", "make_executor",
    "EvolveResult", "Problem", "run_evolution", "circle_packing", "evaluate_packing",
    "make_problem", "build_prompt", "format_feedback", "MutationProposer", "OpenAIProposer",
    "Proposal", "Proposer", "make_proposer", "SandboxResult", "run_sandboxed", "sandbox_layer",
    "check_decomposition", "matmul_tensor", "multiply", "strassen", "matmul_decomposition",
    "MATMUL_SEED_PROGRAM", "evaluate_decomposition",
    "LiveDashboard", "lineage_rows", "lineage_table", "plot_curves", "plot_dashboard",
    "plot_grid", "plot_islands", "plot_progress",
]
