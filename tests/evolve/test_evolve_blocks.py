from __future__ import annotations

import ast

import pytest

from readingroom.evolve.blocks import (
    Block, BlockError, DiffError, DiffResult, Edit, apply_diff, apply_rewrite, parse_blocks,
    parse_diff, render_diff,
)

PROGRAM = """\
import math


def helper(x):
    return x * 2


# EVOLVE-BLOCK-START
def heuristic(x):
    y = helper(x)
    return y + 1
# EVOLVE-BLOCK-END


def evaluate():
    return heuristic(3)


# EVOLVE-BLOCK-START
STEP = 0.5
# EVOLVE-BLOCK-END
"""


def diff(*edits: tuple[str, str]) -> str:
    parts = ["Here is my improvement:\n```"]
    for search, replace in edits:
        parts.append(f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE")
    parts.append("```\nThis should score higher.")
    return "\n".join(parts)


# -- parse_blocks ------------------------------------------------------------------------------

def test_parse_blocks_finds_each_block():
    blocks = parse_blocks(PROGRAM)
    assert blocks == [
        Block(8, 12, "def heuristic(x):\n    y = helper(x)\n    return y + 1\n"),
        Block(19, 21, "STEP = 0.5\n"),
    ]
    assert parse_blocks("x = 1\n") == []
    assert parse_blocks("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n") == [Block(1, 2, "")]
    # indented markers and a trailing note are markers too
    assert parse_blocks("if 1:\n    # EVOLVE-BLOCK-START note\n    x = 1\n    # EVOLVE-BLOCK-END")[0] \
        == Block(2, 4, "    x = 1\n")


@pytest.mark.parametrize("code, message", [
    ("# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n",
     "nested # EVOLVE-BLOCK-START at line 3: the block opened at line 1"),
    ("x = 1\n# EVOLVE-BLOCK-END\n", "# EVOLVE-BLOCK-END at line 2 closes no open block"),
    ("x = 1\n\n# EVOLVE-BLOCK-START\nx = 2\n", "# EVOLVE-BLOCK-START at line 3 is never closed"),
])
def test_parse_blocks_errors_name_the_line(code, message):
    with pytest.raises(BlockError, match=message.replace("(", r"\(")) as info:
        parse_blocks(code)
    assert isinstance(info.value, ValueError)


# -- parse_diff --------------------------------------------------------------------------------

def test_parse_diff_ignores_prose_and_keeps_blank_lines():
    text = diff(("    y = helper(x)\n", "    y = helper(x)\n\n    y += 1\n"), ("STEP = 0.5\n", ""))
    edits = parse_diff(text)
    assert edits == [
        Edit("    y = helper(x)\n", "    y = helper(x)\n\n    y += 1\n", 3),
        Edit("STEP = 0.5\n", "", 10),
    ]
    assert parse_diff("no edits here\n=======\nstill prose") == []


@pytest.mark.parametrize("text, message", [
    ("<<<<<<< SEARCH\na\n<<<<<<< SEARCH\n", "line 3: '<<<<<<< SEARCH' inside the edit opened at line 1"),
    ("prose\n>>>>>>> REPLACE\n", "line 2: '>>>>>>> REPLACE' with no SEARCH"),
    ("<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n", "line 3: '>>>>>>> REPLACE' before '======='"),
    ("<<<<<<< SEARCH\na\n=======\nb\n=======\n", "line 5: a second '=======' in the edit opened"),
    ("<<<<<<< SEARCH\n=======\nb\n>>>>>>> REPLACE\n", "line 2: empty SEARCH section"),
    ("x\n<<<<<<< SEARCH\na\n=======\nb\n", "line 5: the edit opened at line 2 is never closed"),
])
def test_parse_diff_malformed(text, message):
    with pytest.raises(DiffError, match="malformed diff at " + message.replace("(", r"\(")):
        parse_diff(text)
    result = apply_diff(PROGRAM, text)  # ... and apply_diff turns it into a value
    assert not result.ok and result.code is None and "malformed diff at " + message in result.reason


# -- apply_diff --------------------------------------------------------------------------------

def test_apply_diff_single_edit():
    result = apply_diff(PROGRAM, diff(("    return y + 1\n", "    return y + 2\n")))
    assert result.ok and result.reason is None and result.edits == 1 and bool(result)
    assert result.code == PROGRAM.replace("return y + 1", "return y + 2")
    ast.parse(result.code)


def test_apply_diff_multi_edit_in_two_blocks_and_sequential():
    text = diff(
        ("    y = helper(x)\n    return y + 1\n", "    y = helper(x) ** 2\n    return y\n"),
        ("STEP = 0.5\n", "STEP = 0.25\nDECAY = 0.9\n"),
        ("    return y\n", "    return y - 1\n"),  # sees the first edit's result
    )
    result = apply_diff(PROGRAM, text)
    assert result.ok, result.reason
    assert result.edits == 3
    assert "    y = helper(x) ** 2\n    return y - 1\n# EVOLVE-BLOCK-END" in result.code
    assert "STEP = 0.25\nDECAY = 0.9\n# EVOLVE-BLOCK-END\n" in result.code
    assert parse_blocks(result.code)[1] == Block(19, 22, "STEP = 0.25\nDECAY = 0.9\n")


def test_apply_diff_deletion_and_trailing_whitespace():
    text = diff(("    y = helper(x)   \n", ""), ("    return y + 1\n", "    return helper(x) + 1\n"))
    result = apply_diff(PROGRAM, text)
    assert result.ok, result.reason
    assert "y = helper" not in result.code
    # no trailing newline is preserved as such
    r = apply_diff(PROGRAM.rstrip("\n"), diff(("STEP = 0.5\n", "STEP = 1.0\n")))
    assert r.ok and not r.code.endswith("\n")


FAILURES = [
    pytest.param("I think the code is fine as it is.", ["no SEARCH/REPLACE edits found"],
                 id="no-edits"),
    pytest.param(diff(("    return y + 10\n", "    return y\n")),
                 ["edit 1 (diff line 3): SEARCH text not found in the program",
                  "its first line is 'return y + 10'",
                  "the closest program line is line 11 'return y + 1' (similarity 0.96)"],
                 id="not-found"),
    pytest.param(diff(("STEP = 0.5\n", "STEP = 1\n"), ("    return y * 7\n", "    pass\n")),
                 ["edit 2 (diff line 8): SEARCH text not found", "'return y * 7'",
                  "closest program line is line 5 'return x * 2' (similarity 0.83)"],
                 id="second-edit-not-found"),
    pytest.param(diff(("\n\n", "\n")),
                 ["edit 1 (diff line 3): SEARCH text found 4 times in the program (at lines 2, "
                  "6, 13, 17); it must match exactly once"],
                 id="ambiguous"),
    pytest.param(diff(("def helper(x):\n    return x * 2\n", "def helper(x):\n    return x\n")),
                 ["edit 1 (diff line 3): the edit touches code outside every EVOLVE-BLOCK "
                  "(program lines 4-5)"],
                 id="outside"),
    pytest.param(diff(("    return y + 1\n# EVOLVE-BLOCK-END\n", "    return y\n")),
                 ["touches code outside every EVOLVE-BLOCK (program lines 11-12)"],
                 id="eats-end-marker"),
    pytest.param(diff(("# EVOLVE-BLOCK-START\nSTEP = 0.5\n", "STEP = 1\n")),
                 ["touches code outside every EVOLVE-BLOCK (program lines 19-20)"],
                 id="eats-start-marker"),
    pytest.param(diff(("STEP = 0.5\n", "STEP = 0.5\n# EVOLVE-BLOCK-END\n# EVOLVE-BLOCK-START\n")),
                 ["the replacement adds an EVOLVE-BLOCK marker ('# EVOLVE-BLOCK-END')"],
                 id="adds-marker"),
    pytest.param(diff(("    return y + 1\n", "    return y +\n")),
                 ["the result no longer parses as Python: SyntaxError at line 11: "
                  "invalid syntax"],
                 id="syntax"),
    pytest.param(diff(("    return y + 1\n", "      return y + 1\n")),
                 ["the result no longer parses as Python: IndentationError at line 11: "
                  "unexpected indent"],
                 id="indentation"),
]


@pytest.mark.parametrize("text, fragments", FAILURES)
def test_apply_diff_failure_reasons(text, fragments):
    result = apply_diff(PROGRAM, text)
    assert isinstance(result, DiffResult)
    assert not result.ok and not result and result.code is None and result.edits == 0
    for fragment in fragments:
        assert fragment in result.reason, result.reason


def test_apply_diff_program_without_blocks_changes_nothing():
    result = apply_diff("x = 1\n", diff(("x = 1\n", "x = 2\n")))
    assert not result.ok and "outside every EVOLVE-BLOCK" in result.reason


# -- apply_rewrite -----------------------------------------------------------------------------

def test_apply_rewrite_accepts_block_only_changes():
    new = PROGRAM.replace("    return y + 1\n", "    z = y * y\n    return z\n").replace(
        "STEP = 0.5", "STEP = 0.1")
    # trailing blanks on a line, and blank lines at the end, do not count
    result = apply_rewrite(PROGRAM, new.replace("import math", "import math  ") + "   \n\n")
    assert result.ok, result.reason
    assert result.code == new  # the parent's outside lines, the rewrite's blocks
    assert result.edits == 0


@pytest.mark.parametrize("new, fragment", [
    (PROGRAM.replace("x * 2", "x * 3"),
     "changes code outside every EVOLVE-BLOCK: it turns the program's line 5 '    return x * 2' "
     "into line 5 '    return x * 3'"),
    (PROGRAM.replace("    return y + 1\n", "    return y + 1\n    return 0\n").replace(
        "heuristic(3)", "heuristic(4)"),
     "it turns the program's line 16 '    return heuristic(3)' into line 17 "
     "'    return heuristic(4)'"),
    (PROGRAM + "print('extra')\n", "outside every EVOLVE-BLOCK: it adds line 22 \"print('extra')\""),
    (PROGRAM.replace("import math\n", ""),
     "outside every EVOLVE-BLOCK: it turns the program's line 1 'import math' into line 1 ''"),
    (PROGRAM.replace("def evaluate():\n    return heuristic(3)\n\n\n", ""),
     "it turns the program's line 15 'def evaluate():' into line 15 '# EVOLVE-BLOCK-START'"),
    (PROGRAM.replace("# EVOLVE-BLOCK-START\nSTEP", "STEP").replace("0.5\n# EVOLVE-BLOCK-END\n",
                                                                   "0.5\n"),
     "the rewrite has 1 EVOLVE-BLOCK(s), the program 2"),
    ("def heuristic(x):\n    return x\n", "the rewrite has no EVOLVE-BLOCK markers"),
    (PROGRAM.replace("# EVOLVE-BLOCK-END\n\n\ndef", "\n\ndef"),
     "the rewrite's EVOLVE-BLOCK markers are broken: nested # EVOLVE-BLOCK-START at line 18: the block opened at line 8"),
    (PROGRAM.replace("STEP = 0.5", "STEP = = 0.5"),
     "the result no longer parses as Python: SyntaxError at line 20"),
])
def test_apply_rewrite_failures(new, fragment):
    result = apply_rewrite(PROGRAM, new)
    assert not result.ok and result.code is None
    assert fragment in result.reason, result.reason


def test_apply_rewrite_dropping_a_line():
    result = apply_rewrite(PROGRAM + "RESULT = evaluate()\n", PROGRAM)
    assert not result.ok
    assert "it drops the program's line 22 'RESULT = evaluate()'" in result.reason


# -- render_diff -------------------------------------------------------------------------------

def test_render_diff():
    new = PROGRAM.replace("STEP = 0.5", "STEP = 0.1")
    text = render_diff(PROGRAM, new, context=1)
    assert text.startswith("--- parent\n+++ child\n@@ -19,3 +19,3 @@\n")
    assert "-STEP = 0.5\n+STEP = 0.1\n" in text
    assert render_diff(PROGRAM, PROGRAM) == ""
