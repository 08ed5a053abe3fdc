"""A hand-written model that solves both formats exactly: a verifier whose rewards are known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from readingroom.dupo import MODULUS, VOCAB, evaluate


class ExactSolver(nn.Module):
    """Next-token logits that put all mass on the right answer of a primal or dual prompt
    (for a dual with several solutions, the smallest; with none, digit 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        logits = torch.full((B, T, len(VOCAB)), -30.0)
        for b, row in enumerate(idx.tolist()):
            tok = [VOCAB[i] for i in row]
            ops = (tok[2], tok[4])
            if tok[0] == "<primal>":
                target = evaluate((int(tok[1]), int(tok[3]), int(tok[5])), ops)
            else:
                y, hide = int(tok[7]), [1, 3, 5].index(tok.index("?"))
                target = 0
                for v in range(MODULUS):
                    operands = [int(t) if t != "?" else v for t in (tok[1], tok[3], tok[5])]
                    if evaluate(tuple(operands), ops) == y:
                        target = v
                        break
                del hide
            logits[b, -1, target] = 30.0
        return logits + 0 * self.dummy


@pytest.fixture
def exact_solver() -> ExactSolver:
    return ExactSolver()
