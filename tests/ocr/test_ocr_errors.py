"""Tests of readingroom.ocr.errors: the alignment of a reading with its page, and its HTML."""

import random

import pytest

from readingroom.ocr.errors import STYLES, Step, align, highlight_errors
from readingroom.ocr.model import edit_distance


def _apply(steps: list[Step]) -> tuple[str, str]:
    """The target and the prediction an alignment spells."""
    return "".join(s.target for s in steps), "".join(s.read for s in steps)


def test_align_identical_is_all_matches() -> None:
    steps = align("abc", "abc")
    assert [s.op for s in steps] == ["=", "=", "="]


@pytest.mark.parametrize(("prediction", "target", "ops"), [
    ("abd", "abc", ["=", "=", "sub"]),
    ("ac", "abc", ["=", "del", "="]),
    ("abxc", "abc", ["=", "=", "ins", "="]),
    ("", "ab", ["del", "del"]),
    ("ab", "", ["ins", "ins"]),
    ("", "", []),
])
def test_align_labels_each_kind_of_error(prediction: str, target: str, ops: list[str]) -> None:
    assert [s.op for s in align(prediction, target)] == ops


def test_align_spells_both_strings_and_counts_the_edit_distance() -> None:
    rng = random.Random(0)
    for _ in range(200):
        target = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 12)))
        prediction = "".join(rng.choice("ab cd") for _ in range(rng.randint(0, 12)))
        steps = align(prediction, target)
        assert _apply(steps) == (target, prediction)
        assert sum(s.op != "=" for s in steps) == edit_distance(prediction, target)
        for s in steps:
            assert (s.op == "=") == (s.target == s.read)


def test_align_reads_a_trailing_error_as_a_human_would() -> None:
    steps = align("optcal compressiom!", "optical compression")
    wrong = [(s.op, s.target, s.read) for s in steps if s.op != "="]
    assert wrong == [("del", "i", ""), ("sub", "n", "m"), ("ins", "", "!")]


def test_align_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="prediction must be a str"):
        align(1, "a")
    with pytest.raises(TypeError, match="target must be a str"):
        highlight_errors("a", None)


def test_highlight_marks_errors_and_escapes_html() -> None:
    out = highlight_errors("a<b x", "a<c x y")
    assert "&lt;" in out and "<b" not in out.replace("<b>", "")  # the page's '<' is escaped
    assert STYLES["sub"] in out and STYLES["del"] in out
    assert "title=\"page: &#x27;c&#x27;\"" in out
    assert "\u2423" in out  # a skipped space is made visible
    assert highlight_errors("same", "same").count("<span") == 1  # only the wrapper
