"""A small world with a known algorithm to trace: cities -> states -> capitals, and addition.

The paper's first case study (Ameisen et al., 2025, "multi-step reasoning") asks Claude 3.5 Haiku
for "the capital of the state containing Dallas" and finds a path Dallas -> Texas -> say Austin.
This module builds a world where that two-hop computation is *forced*, so a circuit tracer has a
ground truth to find:

* ``<bos> Dallas state:``   -> ``Texas``   (one hop: city -> state, every city);
* ``<bos> Dallas capital:`` -> ``Austin``  (two hops: city -> state -> capital);
* ``<bos> 3 + 4 =``         -> ``7``       (a second, unrelated behaviour: one-digit addition).

One city per state is **held out** of the capital question in training. The model can only answer
it by composing what it learned about that city (its state, from the state question) with what it
learned about the state (its capital, from the *other* cities of that state), so held-out accuracy
measures two-hop composition rather than memorisation.

Every city, state and capital is one token (a word-level vocabulary), so an attribution graph's
nodes line up with words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_int
from readingroom.common.train import eval_mode

__all__ = [
    "STATES",
    "Prompt",
    "World",
    "make_world",
    "batch",
    "prompt_loss",
    "accuracy",
    "predict",
]

#: state -> (cities, capital). Real geography; the capital is never one of the listed cities.
STATES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "Texas": (("Dallas", "Houston", "El Paso"), "Austin"),
    "California": (("Los Angeles", "San Diego", "Fresno"), "Sacramento"),
    "Illinois": (("Chicago", "Peoria", "Naperville"), "Springfield"),
    "New York": (("Buffalo", "Rochester", "Yonkers"), "Albany"),
    "Florida": (("Miami", "Orlando", "Tampa"), "Tallahassee"),
    "Washington": (("Seattle", "Spokane", "Tacoma"), "Olympia"),
    "Pennsylvania": (("Philadelphia", "Pittsburgh", "Erie"), "Harrisburg"),
    "Michigan": (("Detroit", "Flint", "Ann Arbor"), "Lansing"),
    "Ohio": (("Cleveland", "Cincinnati", "Toledo"), "Columbus"),
    "Georgia": (("Savannah", "Macon", "Augusta"), "Atlanta"),
}

TASKS = ("state", "capital", "add")


@dataclass(frozen=True)
class Prompt:
    """One prompt: its token ids, the id of the correct next token, and what it is about.

    Attributes:
        tokens: token ids, starting with ``<bos>``.
        answer: the id of the correct next token.
        task: ``"state"``, ``"capital"`` or ``"add"``.
        held_out: ``True`` for capital questions kept out of training (the composition test).
        info: what the prompt is about, e.g. ``{"city": "Dallas", "state": "Texas",
            "capital": "Austin"}`` or ``{"a": 3, "b": 4}``.
    """

    tokens: tuple[int, ...]
    answer: int
    task: str
    held_out: bool = False
    info: Mapping[str, object] = field(default_factory=dict)


@dataclass
class World:
    """The vocabulary and every prompt of the world.

    Attributes:
        vocab: the token strings; a token's id is its index.
        prompts: every prompt (training and held-out).
    """

    vocab: list[str]
    prompts: list[Prompt]

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Token ids of ``words``; an unknown word raises ``ValueError`` naming it."""
        if isinstance(words, str) or not isinstance(words, Sequence):
            raise TypeError(f"words must be a sequence of token strings, got {words!r}")
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise ValueError(f"unknown token(s) {unknown}; the vocabulary has {self.vocab_size} words")
        return [self.index[w] for w in words]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Token strings of ``ids``; an id outside the vocabulary raises ``ValueError``."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id(s) {bad} outside [0, {self.vocab_size})")
        return [self.vocab[i] for i in ids]

    def text(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The prompt as a readable string (``<bos>`` dropped)."""
        return " ".join(w for w in self.decode(ids) if w != "<bos>")

    def select(self, task: str | None = None, *, held_out: bool | None = None) -> list[Prompt]:
        """The prompts of one task (``None``: all), optionally only held-out or only trained."""
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
        return [
            p for p in self.prompts
            if (task is None or p.task == task) and (held_out is None or p.held_out == held_out)
        ]

    def prompt(self, task: str, **info: object) -> Prompt:
        """The prompt with these attributes, e.g. ``world.prompt("capital", city="Dallas")``."""
        found = [p for p in self.select(task) if all(p.info.get(k) == v for k, v in info.items())]
        if len(found) != 1:
            raise ValueError(f"no unique {task!r} prompt with {info} ({len(found)} match)")
        return found[0]


def make_world(held_out_index: int = 2, max_digit: int = 9) -> World:
    """Build the world: the vocabulary and the state, capital and addition prompts.

    Args:
        held_out_index: which city of each state (0, 1 or 2 in :data:`STATES`) is held out of the
            capital question's training set.
        max_digit: addition prompts cover ``a + b`` for ``0 <= a, b <= max_digit`` (1 to 9).
    """
    check_int(held_out_index, "held_out_index", minimum=0)
    n_cities = min(len(c) for c, _ in STATES.values())
    if held_out_index >= n_cities:
        raise ValueError(f"held_out_index must be in [0, {n_cities}), got {held_out_index}")
    check_int(max_digit, "max_digit", minimum=1)
    if max_digit > 9:
        raise ValueError(f"max_digit must be in [1, 9] (one-digit addition), got {max_digit}")

    vocab = ["<bos>", "state:", "capital:", "+", "="]
    vocab += [str(n) for n in range(2 * max_digit + 1)]
    for state, (cities, capital) in STATES.items():
        vocab += [state, capital, *cities]
    index = {w: i for i, w in enumerate(vocab)}
    bos = index["<bos>"]

    prompts: list[Prompt] = []
    for state, (cities, capital) in STATES.items():
        for j, city in enumerate(cities):
            info = {"city": city, "state": state, "capital": capital}
            prompts.append(Prompt((bos, index[city], index["state:"]), index[state], "state",
                                  False, info))
            prompts.append(Prompt((bos, index[city], index["capital:"]), index[capital],
                                  "capital", j == held_out_index, info))
    for a in range(max_digit + 1):
        for b in range(max_digit + 1):
            prompts.append(Prompt((bos, index[str(a)], index["+"], index[str(b)], index["="]),
                                  index[str(a + b)], "add", False, {"a": a, "b": b}))
    return World(vocab, prompts)


def batch(prompts: Sequence[Prompt]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack prompts of equal length into ``(tokens [B, T], answers [B])``."""
    if not prompts:
        raise ValueError("prompts must not be empty")
    lengths = {len(p.tokens) for p in prompts}
    if len(lengths) != 1:
        raise ValueError(f"prompts must have equal lengths to be batched, got lengths {sorted(lengths)}")
    return (torch.tensor([p.tokens for p in prompts]),
            torch.tensor([p.answer for p in prompts]))


def _groups(prompts: Sequence[Prompt]) -> list[list[Prompt]]:
    return [[prompts[i] for i in idx] for idx in _group_indices(prompts)]


def _group_indices(prompts: Sequence[Prompt]) -> list[list[int]]:
    """Indices of ``prompts`` grouped by prompt length (shortest first), order kept within."""
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p.tokens), []).append(i)
    return [by_length[k] for k in sorted(by_length)]


def _logits(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    out = model(tokens)
    return out.logits if hasattr(out, "logits") else out  # HF models return an output object


def prompt_loss(model: nn.Module, prompts: Sequence[Prompt]) -> torch.Tensor:
    """Mean cross-entropy of the answer token at each prompt's last position.

    Prompts of different lengths are run in one batch per length; the loss is the mean over
    prompts. Works for :class:`~readingroom.common.TinyTransformer` and Hugging Face causal LMs.
    """
    if not prompts:
        raise ValueError("prompts must not be empty")
    device = next(model.parameters()).device
    total = torch.zeros((), device=device)
    for group in _groups(prompts):
        tokens, answers = batch(group)
        logits = _logits(model, tokens.to(device))[:, -1]  # [B, V]
        total = total + F.cross_entropy(logits, answers.to(device), reduction="sum")
    return total / len(prompts)


@torch.no_grad()
def predict(model: nn.Module, prompts: Sequence[Prompt]) -> list[int]:
    """The model's greedy next token for each prompt, in order."""
    device = next(model.parameters()).device
    out: list[int] = [0] * len(prompts)
    for idx in _group_indices(prompts):
        tokens, _ = batch([prompts[i] for i in idx])
        pred = _logits(model, tokens.to(device))[:, -1].argmax(-1).tolist()
        for i, y in zip(idx, pred):
            out[i] = y
    return out


def accuracy(model: nn.Module, prompts: Sequence[Prompt]) -> float:
    """Fraction of prompts whose greedy next token is the answer."""
    if not prompts:
        raise ValueError("prompts must not be empty")
    with eval_mode(model):
        pred = predict(model, prompts)
    return sum(y == p.answer for y, p in zip(pred, prompts)) / len(prompts)
