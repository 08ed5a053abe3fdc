"""The arithmetic world of the DuPO chapter: primal problems, their duals, and which operand to hide.

A **primal** problem is an expression of three digits ``0..5`` and two operators, read with the
usual precedence and reduced mod 6, e.g. ``3 + 4 * 5 = ?`` (answer ``5``, since 3 + 20 = 23). The input
is split as in DuPO's generalised duality (She et al., 2025, Sec. 3): a *known* part ``x_k`` and an
*unknown* part ``x_u``, here one operand. The **dual** problem gives the known part and the primal
answer ``y`` and asks for the hidden operand: ``3 + ? * 5 = 5`` (answer ``4``).

Not every operand makes a good unknown. With the other operands fixed, the answer is a function
``g(v) = f(x_k, x_u = v)`` of the hidden digit ``v``:

* **answerable** — ``g`` is not constant: the answer carries information about the hidden operand
  (``3 + ? * 0`` is 3 whatever ``?`` is);
* **unique** — ``g`` is injective on the digits, so exactly one value reconstructs a given answer
  (``? * 3`` mod 6 is 0 or 3: three digits share each answer).

Both are properties of the *question*, checked without its answer, so the filter needs no label.
:func:`choose_unknown` applies them (the paper selects the unknown component with similar
answerability and uniqueness checks, made by an LLM on real word problems; here they are exact).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from readingroom.common.checks import check_choice

__all__ = [
    "MODULUS", "OPS", "VOCAB", "Problem", "all_problems", "answer_map", "choose_unknown",
    "decode", "dual_prompt", "encode", "evaluate", "is_answerable", "is_unique", "primal_prompt",
    "split_problems",
]

#: Answers and operands are the digits 0..5: arithmetic mod 6. (Mod 6 rather than mod 10: a tiny
#: model learns its tables to middling accuracy in seconds, and 0, 2, 3 and 4 are multipliers that
#: lose information, so the filters have work to do.)
MODULUS = 6
OPS = ("+", "-", "*")
#: Token vocabulary: the ten digits, the operators, and the markers of the two task formats.
VOCAB = [str(d) for d in range(MODULUS)] + list(OPS) + ["=", "?", "<primal>", "<dual>"]
_INDEX = {tok: i for i, tok in enumerate(VOCAB)}


def encode(tokens: list[str]) -> list[int]:
    """Token strings to ids; an unknown token raises ``ValueError`` naming it."""
    try:
        return [_INDEX[t] for t in tokens]
    except KeyError as err:
        raise ValueError(f"token {err.args[0]!r} is not in the DuPO vocabulary {VOCAB}") from None


def decode(ids: list[int]) -> list[str]:
    return [VOCAB[i] for i in ids]


@dataclass(frozen=True)
class Problem:
    """``operands[0] ops[0] operands[1] ops[1] operands[2]``, evaluated mod 6."""

    operands: tuple[int, int, int]
    ops: tuple[str, str]

    def __post_init__(self) -> None:
        if len(self.operands) != 3 or any(not 0 <= v < MODULUS for v in self.operands):
            raise ValueError(f"operands must be three digits in [0, {MODULUS}), "
                             f"got {self.operands}")
        if len(self.ops) != 2 or any(o not in OPS for o in self.ops):
            raise ValueError(f"ops must be two of {OPS}, got {self.ops}")

    @property
    def answer(self) -> int:
        return evaluate(self.operands, self.ops)

    def text(self, hide: int | None = None) -> str:
        """``'3 + 4 * 7'``, or with operand ``hide`` replaced by ``?``."""
        a = [("?" if i == hide else str(v)) for i, v in enumerate(self.operands)]
        return f"{a[0]} {self.ops[0]} {a[1]} {self.ops[1]} {a[2]}"


def evaluate(operands: tuple[int, ...], ops: tuple[str, ...]) -> int:
    """The expression's value mod 6, with ``*`` binding tighter than ``+`` and ``-``."""
    # Fold the products first, then the sums, left to right.
    terms, signs = [operands[0]], []
    for op, v in zip(ops, operands[1:]):
        if op == "*":
            terms[-1] *= v
        else:
            terms.append(v)
            signs.append(op)
    total = terms[0]
    for sign, term in zip(signs, terms[1:]):
        total = total + term if sign == "+" else total - term
    return total % MODULUS


def answer_map(problem: Problem, hide: int) -> list[int]:
    """``g(v)`` for ``v = 0..5``: the answer with operand ``hide`` set to ``v`` (the dual's view)."""
    check_choice(hide, "hide", (0, 1, 2))  # the operand position the dual hides
    out = []
    for v in range(MODULUS):
        operands = list(problem.operands)
        operands[hide] = v
        out.append(evaluate(tuple(operands), problem.ops))
    return out


def is_answerable(problem: Problem, hide: int) -> bool:
    """The answer depends on the hidden operand at all (``g`` is not constant)."""
    return len(set(answer_map(problem, hide))) > 1


def is_unique(problem: Problem, hide: int) -> bool:
    """Each answer has exactly one hidden operand that produces it (``g`` is injective)."""
    return len(set(answer_map(problem, hide))) == MODULUS


def choose_unknown(problem: Problem, rng: random.Random, *, filtered: bool = True) -> int | None:
    """The operand position the dual task hides, or ``None`` if no position passes the filters.

    With ``filtered`` (DuPO), a position drawn uniformly among those that are answerable and
    unique; without it (the ablation), any position, drawn uniformly.
    """
    positions = [0, 1, 2]
    if filtered:
        positions = [i for i in positions if is_answerable(problem, i) and is_unique(problem, i)]
    return rng.choice(positions) if positions else None


def primal_prompt(problem: Problem) -> list[int]:
    """``<primal> a o b o c = ?``: the model's next token is the answer.

    Both formats are eight tokens long, so the answer is always predicted at the same position.
    """
    return encode(["<primal>", *problem.text().split(), "=", "?"])


def dual_prompt(problem: Problem, hide: int, y: int) -> list[int]:
    """``<dual> a o ? o c = y``: the model's next token is the hidden operand.

    ``y`` is the *claimed* answer (a policy's output, right or wrong), not necessarily the truth.
    """
    if not 0 <= y < MODULUS:
        raise ValueError(f"y must be a digit in [0, {MODULUS}), got {y!r}")
    return encode(["<dual>", *problem.text(hide).split(), "=", str(y)])


def all_problems() -> list[Problem]:
    """Every problem of the world: 6 x 6 x 6 operands x 9 operator pairs = 1,944."""
    return [Problem(tuple(v), tuple(o))
            for o in itertools.product(OPS, repeat=2)
            for v in itertools.product(range(MODULUS), repeat=3)]


def split_problems(seed: int, fractions: tuple[float, float, float] = (0.3, 0.4, 0.3)
                   ) -> tuple[list[Problem], list[Problem], list[Problem]]:
    """Shuffle the world with ``seed`` and cut it into (labelled, unlabelled, test) parts.

    The labelled part trains the starting policy by supervision; the RL arms see only the
    *questions* of the unlabelled part (the oracle arm also reads their answers); accuracy is
    measured on the test part, which no arm trains on.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    problems = all_problems()
    random.Random(seed).shuffle(problems)
    n1 = round(fractions[0] * len(problems))
    n2 = n1 + round(fractions[1] * len(problems))
    return problems[:n1], problems[n1:n2], problems[n2:]
