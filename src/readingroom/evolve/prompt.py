"""Prompt sampling: the text the language model receives for one mutation.

AlphaEvolve (Novikov et al., 2025, §2.2 and Fig. 4) builds each prompt from the problem
statement, a few earlier programs sampled from the database with their scores (the
*inspirations*, shown best first), the *parent* program to improve, feedback from the evaluator,
and instructions on the answer's format: SEARCH/REPLACE diffs that edit only the code inside the
EVOLVE-BLOCKs (:mod:`readingroom.evolve.blocks`), or for short programs the whole program.

:func:`build_prompt` renders that text deterministically (the same inputs give the same string),
so prompts can be logged, diffed and replayed. Programs are duck-typed: anything with ``.code``,
``.score`` and ``.metrics`` (a :class:`~readingroom.evolve.database.Program`, a test fixture),
optionally ``.id``. Long inspirations are cut at a line boundary with a visible marker; the
parent is never cut, because the model's SEARCH text must copy it exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from readingroom.common.checks import check_int
from readingroom.evolve.blocks import BLOCK_END, BLOCK_START

__all__ = ["DIFF_INSTRUCTIONS", "REWRITE_INSTRUCTIONS", "build_prompt", "format_feedback",
           "format_metrics", "truncate_code"]

_PREAMBLE = (
    "You are an expert programmer improving a program by evolutionary search. Every program\n"
    "you write is run and scored by an automatic evaluator; a higher score is better.\n"
)

#: How to answer in diff mode, with the exact format (AlphaEvolve Fig. 3b).
DIFF_INSTRUCTIONS = (
    f"Change only the code between `{BLOCK_START}` and `{BLOCK_END}`. Answer only with\n"
    "one or more SEARCH/REPLACE blocks in exactly this format:\n"
    "\n"
    "<<<<<<< SEARCH\n"
    "    step = 0.1\n"
    "=======\n"
    "    step = 0.05\n"
    ">>>>>>> REPLACE\n"
    "\n"
    "The SEARCH lines must be copied exactly from the current program, indentation included,\n"
    "and must match exactly one place inside an EVOLVE-BLOCK; the REPLACE lines take their\n"
    "place. Do not add or remove EVOLVE-BLOCK marker lines.\n"
)

#: How to answer in rewrite mode (the whole program).
REWRITE_INSTRUCTIONS = (
    f"Change only the code between `{BLOCK_START}` and `{BLOCK_END}`. Answer only with\n"
    "the complete new program in one ```python code block. Keep every line outside the\n"
    "EVOLVE-BLOCKs, and the marker lines themselves, exactly as they are.\n"
)

_MAX_METRICS = 8      # metrics shown per program
_MAX_VALUE_CHARS = 60  # a string metric is cut to this length


def _check_program(obj: object, name: str) -> None:
    missing = [a for a in ("code", "score", "metrics") if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{name} must have .code, .score and .metrics; "
                        f"{type(obj).__name__} lacks {', '.join('.' + m for m in missing)}")
    if not isinstance(obj.code, str):
        raise TypeError(f"{name}.code must be a str, got {type(obj.code).__name__}")
    if obj.metrics is not None and not isinstance(obj.metrics, Mapping):
        raise TypeError(f"{name}.metrics must be a dict or None, got "
                        f"{type(obj.metrics).__name__}")


def _fmt(value: Any) -> str | None:
    """A short text for a scalar, ``None`` for anything else (lists, arrays, objects)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a numpy scalar
        return _fmt(value.item())
    if isinstance(value, str):
        text = " ".join(value.split())
        return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS - 3] + "..."
    return None


def format_metrics(metrics: Mapping[str, Any] | None, *, limit: int = _MAX_METRICS) -> str:
    """``"name=value, ..."`` for a program's scalar metrics, sorted by name, without ``score``
    (the header shows it).

    One level of nesting is flattened (``{"stages": {"fast": 1.0}}`` shows as
    ``stages.fast=1``); lists and other non-scalars are left out; floats show 6 significant
    digits. At most ``limit`` entries, then ``"(+n more)"``. ``""`` when there is nothing to show.
    """
    if not metrics:
        return ""
    items: list[tuple[str, str]] = []
    for key in sorted(metrics, key=str):
        if key == "score":
            continue
        value = metrics[key]
        if isinstance(value, Mapping):
            for sub in sorted(value, key=str):
                text = _fmt(value[sub])
                if text is not None:
                    items.append((f"{key}.{sub}", text))
        else:
            text = _fmt(value)
            if text is not None:
                items.append((str(key), text))
    shown = ", ".join(f"{k}={v}" for k, v in items[:limit])
    if len(items) > limit:
        shown += f" (+{len(items) - limit} more)"
    return shown


def format_feedback(*, last_child_reason: str | None = None,
                    stage_scores: Mapping[str, float | None] | None = None,
                    notes: Sequence[str] = ()) -> str | None:
    """Evaluator feedback for :func:`build_prompt`'s ``feedback``, or ``None`` if empty.

    Args:
        last_child_reason: why the parent's most recent child failed (a diff that did not
            apply, a checker's rejection, a crash), shown so the model does not repeat it.
        stage_scores: the parent's score on each evaluation-cascade stage
            (:attr:`~readingroom.evolve.cascade.CascadeResult.scores`).
        notes: further lines, shown as they are.
    """
    lines: list[str] = []
    if stage_scores:
        lines.append("Stage scores of the current program: "
                     + ", ".join(f"{k}={_fmt(v)}" for k, v in stage_scores.items()) + ".")
    if last_child_reason:
        lines.append("The last change tried on the current program failed: "
                     + " ".join(str(last_child_reason).split()))
    lines.extend(str(n) for n in notes)
    return "\n".join(lines) if lines else None


def truncate_code(code: str, max_chars: int | None) -> str:
    """``code`` cut to at most ``max_chars`` characters at a line boundary, with a marker line.

    The marker is a Python comment naming what was left out, e.g.
    ``# ... [truncated: 12 more lines, 480 characters not shown]``. A first line longer than
    ``max_chars`` is itself cut. ``max_chars=None`` keeps everything.
    """
    if max_chars is None or len(code) <= max_chars:
        return code
    lines = code.splitlines(keepends=True)
    full = 0  # complete lines that fit
    used = 0
    while full < len(lines) and used + len(lines[full]) <= max_chars:
        used += len(lines[full])
        full += 1
    head = "".join(lines[:full]) if full else lines[0][:max_chars]
    if not head.endswith("\n"):
        head += "\n"
    hidden_chars = len(code) - (used if full else max_chars)
    n = len(lines) - full
    return (head + f"# ... [truncated: {n} more line{'s' if n != 1 else ''}, {hidden_chars} "
            "characters not shown]\n")


def _fence(code: str) -> str:
    """A Markdown code fence longer than any run of backticks in ``code``."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _code_block(code: str) -> str:
    fence = _fence(code)
    body = code if code.endswith("\n") or not code else code + "\n"
    return f"{fence}python\n{body}{fence}\n"


def _header(title: str, program: Any) -> str:
    pid = getattr(program, "id", None)
    who = f"{title} (id {pid})" if pid is not None else title
    score = _fmt(program.score)
    return f"{who}: score {score if score is not None else 'n/a'}\n"


def _score_key(program: Any) -> float:
    score = program.score
    try:
        score = float(score)
    except (TypeError, ValueError):
        return -math.inf
    return score if math.isfinite(score) else -math.inf


def build_prompt(problem: str, parent: Any, inspirations: Sequence[Any] = (), *,
                 feedback: str | None = None, diff_format: bool = True,
                 max_chars: int | None = 4000) -> str:
    """The complete prompt for one mutation of ``parent`` (AlphaEvolve §2.2, Fig. 4).

    Sections, in order: a one-paragraph preamble; ``# Problem`` (``problem`` as given);
    ``# How to answer`` (:data:`DIFF_INSTRUCTIONS` or :data:`REWRITE_INSTRUCTIONS`);
    ``# Previous programs (best first)`` (omitted without inspirations), one ``## Program k``
    per inspiration sorted by score, highest first (a missing or non-finite score last, ties in
    the given order), each with its metrics and code; ``# Current program`` with its score,
    metrics and full code; ``# Evaluator feedback`` (omitted when ``feedback`` is ``None`` or
    blank); and ``# Task``, a one-line restatement of what to answer.

    Args:
        problem: the problem statement.
        parent: the program to improve: any object with ``.code`` (str), ``.score`` and
            ``.metrics`` (dict or ``None``); ``.id`` is shown when present.
        inspirations: earlier programs shown for context (same duck type).
        feedback: what the evaluator said about the parent, e.g. from :func:`format_feedback`.
        diff_format: ask for SEARCH/REPLACE diffs (``True``) or a whole program (``False``).
        max_chars: longest inspiration code shown, in characters (cut by :func:`truncate_code`);
            ``None`` shows everything. The parent is never cut.

    Returns:
        The prompt, ending with a newline. The same arguments always give the same string.
    """
    if not isinstance(problem, str):
        raise TypeError(f"problem must be a str, got {type(problem).__name__}")
    if feedback is not None and not isinstance(feedback, str):
        raise TypeError(f"feedback must be a str or None, got {type(feedback).__name__}")
    if max_chars is not None:
        check_int(max_chars, "max_chars")
    _check_program(parent, "parent")
    inspirations = list(inspirations)
    for k, insp in enumerate(inspirations):
        _check_program(insp, f"inspirations[{k}]")

    out = [_PREAMBLE, "\n# Problem\n", problem.strip("\n") + "\n",
           "\n# How to answer\n", DIFF_INSTRUCTIONS if diff_format else REWRITE_INSTRUCTIONS]
    if inspirations:
        out.append("\n# Previous programs (best first)\n")
        ranked = sorted(enumerate(inspirations), key=lambda kp: (-_score_key(kp[1]), kp[0]))
        for rank, (_, insp) in enumerate(ranked, start=1):
            out.append("\n" + "## " + _header(f"Program {rank}", insp))
            metrics = format_metrics(insp.metrics)
            if metrics:
                out.append(f"Metrics: {metrics}\n")
            out.append(_code_block(truncate_code(insp.code, max_chars)))
    out.append("\n# " + _header("Current program", parent))
    metrics = format_metrics(parent.metrics)
    if metrics:
        out.append(f"Metrics: {metrics}\n")
    out.append(_code_block(parent.code))
    if feedback is not None and feedback.strip():
        out.append("\n# Evaluator feedback\n" + feedback.strip("\n") + "\n")
    task = ("Propose one change that raises the score of the current program, as SEARCH/REPLACE "
            "blocks only." if diff_format else
            "Propose one change that raises the score of the current program, as the complete "
            "new program.")
    out.append("\n# Task\n" + task + "\n")
    return "".join(out)
