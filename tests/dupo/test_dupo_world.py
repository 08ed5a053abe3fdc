from __future__ import annotations

import random

import pytest

from readingroom.dupo import (
    MODULUS, Problem, all_problems, answer_map, choose_unknown, dual_prompt, evaluate,
    is_answerable, is_unique, primal_prompt, split_problems,
)
from readingroom.dupo.world import decode


@pytest.mark.parametrize("operands, ops, value", [
    ((3, 4, 5), ("+", "*"), (3 + 4 * 5) % 6),   # precedence: 23 -> 5
    ((3, 4, 5), ("*", "+"), (3 * 4 + 5) % 6),   # 17 -> 5
    ((1, 4, 2), ("-", "*"), (1 - 4 * 2) % 6),   # -7 -> 5
    ((2, 5, 5), ("-", "-"), (2 - 5 - 5) % 6),   # left to right: -8 -> 4
    ((5, 5, 5), ("*", "*"), 125 % 6),
])
def test_evaluate_uses_precedence_mod_6(operands, ops, value):
    assert evaluate(operands, ops) == value
    assert Problem(operands, ops).answer == value


def test_answerable_and_unique_by_hand():
    p = Problem((3, 2, 0), ("+", "*"))  # 3 + ? * 0: the middle operand is lost
    assert answer_map(p, 1) == [3] * 6
    assert not is_answerable(p, 1) and not is_unique(p, 1)
    assert is_unique(p, 0)  # the added operand always comes back
    q = Problem((1, 2, 3), ("+", "*"))  # 1 + ? * 3: two values per answer (3 and 0 mod 6)
    assert is_answerable(q, 1) and not is_unique(q, 1)
    r = Problem((1, 2, 5), ("+", "*"))  # 5 is a unit mod 6: one value per answer
    assert is_unique(r, 1)


def test_choose_unknown_respects_the_filters():
    p = Problem((0, 0, 0), ("*", "*"))  # every operand is multiplied by 0: none qualifies
    assert choose_unknown(p, random.Random(0)) is None
    assert choose_unknown(p, random.Random(0), filtered=False) in (0, 1, 2)
    q = Problem((1, 2, 3), ("+", "*"))  # only position 0 is unique (1 + 2*3: 2 and 3 both lose)
    assert {choose_unknown(q, random.Random(s)) for s in range(20)} == {0}


def test_prompts_share_one_length_and_read_back():
    p = Problem((3, 4, 5), ("+", "*"))
    assert decode(primal_prompt(p)) == ["<primal>", "3", "+", "4", "*", "5", "=", "?"]
    assert decode(dual_prompt(p, 1, 5)) == ["<dual>", "3", "+", "?", "*", "5", "=", "5"]


def test_world_and_splits():
    world = all_problems()
    assert len(world) == MODULUS ** 3 * 9 == len(set(world))
    a, b, c = split_problems(0)
    assert len(a) + len(b) + len(c) == len(world)
    assert not (set(a) & set(b)) and not (set(a) & set(c)) and not (set(b) & set(c))
    assert split_problems(0) == (a, b, c) and split_problems(1)[0] != a

