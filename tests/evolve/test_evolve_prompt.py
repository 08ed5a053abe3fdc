from __future__ import annotations

from types import SimpleNamespace


from readingroom.evolve.blocks import parse_diff
from readingroom.evolve.database import Program
from readingroom.evolve.prompt import (
    DIFF_INSTRUCTIONS, REWRITE_INSTRUCTIONS, build_prompt, format_feedback, format_metrics,
    truncate_code,
)


def prog(code: str, score, metrics=None, **kw) -> SimpleNamespace:
    return SimpleNamespace(code=code, score=score, metrics=metrics or {}, **kw)


def block(body: str) -> str:
    return f"# EVOLVE-BLOCK-START\n{body}\n# EVOLVE-BLOCK-END\n"


PARENT = prog(block("STEP = 0.5"), 0.5, {"score": 0.5, "n_points": 4, "valid": True}, id=3)
INSPIRATIONS = [
    prog(block("STEP = 0.1"), 0.25, id=1),
    prog(block("STEP = 0.9"), 0.75, {"stages": {"fast": 1.0, "full": 0.75}, "points": [1, 2]},
         id=2),
]
FEEDBACK = format_feedback(last_child_reason="edit 1 (diff line 1): SEARCH text not found",
                           stage_scores={"fast": 1.0, "full": 0.5})

GOLDEN = """\
You are an expert programmer improving a program by evolutionary search. Every program
you write is run and scored by an automatic evaluator; a higher score is better.

# Problem
Maximise f(STEP) = STEP * (1 - STEP).

# How to answer
Change only the code between `# EVOLVE-BLOCK-START` and `# EVOLVE-BLOCK-END`. Answer only with
one or more SEARCH/REPLACE blocks in exactly this format:

<<<<<<< SEARCH
    step = 0.1
=======
    step = 0.05
>>>>>>> REPLACE

The SEARCH lines must be copied exactly from the current program, indentation included,
and must match exactly one place inside an EVOLVE-BLOCK; the REPLACE lines take their
place. Do not add or remove EVOLVE-BLOCK marker lines.

# Previous programs (best first)

## Program 1 (id 2): score 0.75
Metrics: stages.fast=1, stages.full=0.75
```python
# EVOLVE-BLOCK-START
STEP = 0.9
# EVOLVE-BLOCK-END
```

## Program 2 (id 1): score 0.25
```python
# EVOLVE-BLOCK-START
STEP = 0.1
# EVOLVE-BLOCK-END
```

# Current program (id 3): score 0.5
Metrics: n_points=4, valid=True
```python
# EVOLVE-BLOCK-START
STEP = 0.5
# EVOLVE-BLOCK-END
```

# Evaluator feedback
Stage scores of the current program: fast=1, full=0.5.
The last change tried on the current program failed: edit 1 (diff line 1): SEARCH text not found

# Task
Propose one change that raises the score of the current program, as SEARCH/REPLACE blocks only.
"""


def test_golden_prompt():
    text = build_prompt("Maximise f(STEP) = STEP * (1 - STEP).", PARENT, INSPIRATIONS,
                        feedback=FEEDBACK)
    assert text == GOLDEN
    # deterministic, and the inspirations' order in the call does not matter (best first)
    assert build_prompt("Maximise f(STEP) = STEP * (1 - STEP).", PARENT, INSPIRATIONS[::-1],
                        feedback=FEEDBACK) == text


def test_the_format_example_is_a_valid_diff():
    (edit,) = parse_diff(DIFF_INSTRUCTIONS)
    assert edit.search == "    step = 0.1\n" and edit.replace == "    step = 0.05\n"


def test_rewrite_mode_and_optional_sections():
    text = build_prompt("P", PARENT, [], feedback=None, diff_format=False)
    assert REWRITE_INSTRUCTIONS in text and "<<<<<<< SEARCH" not in text
    assert "# Previous programs" not in text and "# Evaluator feedback" not in text
    assert text.endswith("as the complete new program.\n")
    assert build_prompt("P", PARENT, feedback="  \n") == build_prompt("P", PARENT)


def test_database_programs_and_missing_scores():
    parent = Program(id=5, parent_id=None, island=0, generation=0, code=block("A = 1"),
                     diff=None, score=1.0, metrics={"score": 1.0, "time_s": 0.0123456789})
    failed = prog(block("A = 2"), None, id=9)
    nan = prog(block("A = 3"), float("nan"), id=8)
    best = prog(block("A = 4"), 2.0)  # no .id
    text = build_prompt("P", parent, [failed, nan, best])
    assert "# Current program (id 5): score 1\nMetrics: time_s=0.0123457\n" in text
    # best first; missing and non-finite scores last, in the given order
    assert text.index("## Program 1: score 2") < text.index("## Program 2 (id 9): score n/a") \
        < text.index("## Program 3 (id 8): score nan")


def test_long_inspirations_are_truncated_never_the_parent():
    long_code = block("\n".join(f"X{i} = {i}" for i in range(200)))
    parent = prog(long_code, 0.0)
    text = build_prompt("P", parent, [prog(long_code, 1.0)], max_chars=100)
    assert text.count(long_code) == 1  # the parent, whole
    insp = text[text.index("## Program 1"):text.index("# Current program")]
    shown = insp.split("```python\n")[1].split("```")[0]
    assert shown.startswith("# EVOLVE-BLOCK-START\nX0 = 0\n")
    n_lines = long_code.count("\n")
    kept = shown[:shown.index("# ...")]
    assert len(kept) <= 100
    assert shown.endswith(f"# ... [truncated: {n_lines - kept.count(chr(10))} more lines, "
                          f"{len(long_code) - len(kept)} characters not shown]\n")
    assert "truncated" not in build_prompt("P", parent, [prog(long_code, 1.0)], max_chars=None)


def test_truncate_code_exactly():
    assert truncate_code("a\nbb\nccc\n", 100) == "a\nbb\nccc\n"
    assert truncate_code("a\nbb\nccc\n", 5) == (
        "a\nbb\n# ... [truncated: 1 more line, 4 characters not shown]\n")
    assert truncate_code("abcdefgh", 3) == (
        "abc\n# ... [truncated: 1 more line, 5 characters not shown]\n")


def test_code_fences_outgrow_backticks_in_the_code():
    code = block('DOC = """```python\\nx\\n```"""')
    text = build_prompt("P", prog(code, 1.0))
    assert f"````python\n{code}````\n" in text


def test_metrics_and_feedback_formatting():
    assert format_metrics({"b": 2.0, "a": "x" * 100, "c": [1], "d": None}) == (
        f"a={'x' * 57}..., b=2, d=n/a")
    many = {f"m{i}": i for i in range(10)}
    assert format_metrics(many, limit=3) == "m0=0, m1=1, m2=2 (+7 more)"
    assert format_metrics(None) == ""
    assert format_feedback() is None
    assert format_feedback(notes=["one", "two"]) == "one\ntwo"
