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


class ExactBackTranslator(nn.Module):
    """Translates target-language prompts back to the source exactly (and emits <eos> at once for
    anything else): a back-translator whose rewards are known."""

    def __init__(self) -> None:
        super().__init__()
        from readingroom.dupo import translation as tr

        self.tr = tr
        self.dummy = nn.Parameter(torch.zeros(1))
        self.source_of = {t: s for s, t in tr.LANGUAGE["lexicon"].items()}
        self.vocab = tr._VOCAB

    def _back(self, words: list[str]) -> list[str]:
        lang = self.tr.LANGUAGE
        src = [self.source_of.get(w) for w in words]
        if None in src or not src:
            return []
        adverb = src[0] if src[0] in lang["adverbs"] else None
        rest = src[1:] if adverb else src
        nouns = [i for i, w in enumerate(rest) if w in lang["nouns"]]
        if len(nouns) != 2 or rest[-1] not in lang["verbs"]:
            return []
        subj, obj = rest[nouns[0]], rest[nouns[1]]
        subj_adj = rest[nouns[0] + 1] if rest[nouns[0] + 1] in lang["adjectives"] else None
        obj_adj = rest[nouns[1] + 1] if rest[nouns[1] + 1] in lang["adjectives"] else None
        out = [subj_adj, subj, rest[-1], obj_adj, obj, adverb]
        return [w for w in out if w is not None]

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        tr = self.tr
        B, T = idx.shape
        logits = torch.full((B, T, len(self.vocab)), -30.0)
        for b, row in enumerate(idx.tolist()):
            prompt, done = row[: tr.PROMPT], T - tr.PROMPT
            words = [self.vocab[i] for i in prompt if i > tr.SEP]
            answer = self._back(words) if self.vocab[prompt[[i for i, t in enumerate(prompt)
                                                              if t != tr.PAD][0]]] == "<t2s>" \
                else []
            target = [tr._ID[w] for w in answer] + [tr.EOS]
            logits[b, -1, target[min(done, len(target) - 1)]] = 30.0
        return logits + 0 * self.dummy


@pytest.fixture
def exact_back_translator() -> ExactBackTranslator:
    return ExactBackTranslator()
