"""A long-range retrieval task, and one function that trains a small Llama on it with any attention.

Associative recall in a haystack: a sequence of random filler tokens hides ``n_pairs`` pairs
``key value`` at random places, with distinct keys and distinct values; the sequence ends with
``n_queries`` of those keys, each followed by its value. The model is scored on predicting each
query's value from its key: it must find the key's earlier occurrence — usually hundreds of
tokens back, far outside a short sliding window — and copy the token after it. The other pairs
are distractors drawn from the same vocabularies, so finding *a* value is not enough: a model
that finds the values but cannot match the key scores :attr:`RecallTask.chance`. That is the ability NSA's compression and selection branches exist
to keep while attending to few tokens (the paper's needle-in-a-haystack test, Fig. 5, at toy size).

Token ids: ``[0, n_keys)`` keys, ``[n_keys, n_keys + n_values)`` values, the rest filler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_int
from readingroom.common.seed import make_generator, seed_everything
from readingroom.common.train import TrainHistory, train

__all__ = [
    "RecallRun", "RecallTask", "recall_accuracy", "recall_hits", "recall_loss", "train_recall", "value_found",
]


@dataclass(frozen=True)
class RecallTask:
    """Sizes of the associative-recall sequences (see the module docstring)."""

    seq_len: int = 256
    n_pairs: int = 4
    n_queries: int = 4
    n_keys: int = 16
    n_values: int = 16
    n_filler: int = 32

    def __post_init__(self) -> None:
        for name in ("seq_len", "n_pairs", "n_queries", "n_keys", "n_values", "n_filler"):
            check_int(getattr(self, name), name)
        if self.n_pairs > min(self.n_keys, self.n_values):
            raise ValueError(
                f"n_pairs={self.n_pairs} must be <= n_keys={self.n_keys} and <= "
                f"n_values={self.n_values} (distinct keys, distinct values)"
            )
        if self.n_queries > self.n_pairs:
            raise ValueError(f"n_queries={self.n_queries} must be <= n_pairs={self.n_pairs}")
        if 2 * (self.n_pairs + self.n_queries) > self.seq_len:
            raise ValueError(
                f"seq_len={self.seq_len} is too short for {self.n_pairs} pairs and "
                f"{self.n_queries} queries (needs >= {2 * (self.n_pairs + self.n_queries)})"
            )

    @property
    def vocab_size(self) -> int:
        return self.n_keys + self.n_values + self.n_filler

    @property
    def chance(self) -> float:
        """The best accuracy of a model that does not match keys: it finds the ``n_pairs``
        distinct values of the haystack and guesses among those not yet asked. The ``i``-th query
        (from 0) then has ``n_pairs - i`` candidates; averaged over the queries,
        ``mean_i 1 / (n_pairs - i)`` (``1 / n_pairs`` with one query)."""
        P, Q = self.n_pairs, self.n_queries
        return sum(1.0 / (P - i) for i in range(Q)) / Q

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` sequences: ``(tokens [B, seq_len], targets [B, seq_len])``.

        ``targets`` holds ``-100`` (ignored by the loss) everywhere except at each query key,
        where it holds the value the next token must be.
        """
        check_int(batch, "batch")
        T, P, Q = self.seq_len, self.n_pairs, self.n_queries
        body = T - 2 * Q  # the haystack before the queries
        tokens = torch.randint(self.n_keys + self.n_values, self.vocab_size, (batch, T), generator=generator)
        targets = torch.full((batch, T), -100, dtype=torch.long)
        for b in range(batch):
            keys = torch.randperm(self.n_keys, generator=generator)[:P]
            values = self.n_keys + torch.randperm(self.n_values, generator=generator)[:P]
            # P non-overlapping slots of 2 tokens in the haystack: choose P of body // 2 slots.
            slots = torch.randperm(body // 2, generator=generator)[:P] * 2
            tokens[b, slots], tokens[b, slots + 1] = keys, values
            asked = torch.randperm(P, generator=generator)[:Q]
            where = body + 2 * torch.arange(Q)
            tokens[b, where], tokens[b, where + 1] = keys[asked], values[asked]
            targets[b, where] = values[asked]
        return tokens, targets


def _logits(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    out = model(tokens)
    return out.logits if hasattr(out, "logits") else out


def recall_loss(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the query positions only (``targets != -100``)."""
    logits = _logits(model, tokens)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


@torch.no_grad()
def recall_hits(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For each query (in the order of ``targets != -100``), whether its value is the model's
    top prediction: ``[n_queries]`` bool on the CPU. Inputs are moved to the model's device."""
    device = next(model.parameters()).device
    logits = _logits(model, tokens.to(device))
    asked = targets.to(device) != -100
    return (logits.argmax(-1)[asked] == targets.to(device)[asked]).cpu()


@torch.no_grad()
def recall_accuracy(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of queries whose value is the model's top prediction (:func:`recall_hits`)."""
    return float(recall_hits(model, tokens, targets).float().mean())


@torch.no_grad()
def value_found(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor, task: RecallTask) -> torch.Tensor:
    """For each query (in the order of ``targets != -100``), whether the model's top prediction
    is one of the values that appear before it in the sequence, right or wrong: ``[n_queries]``
    bool on the CPU.

    Beside :func:`recall_hits` it separates the two things the task needs: finding the values
    (this, near 1 for a model that has learned where answers come from) and matching the key
    (:func:`recall_hits`, :attr:`RecallTask.chance` for a model that finds values but not keys).
    """
    device = next(model.parameters()).device
    logits = _logits(model, tokens.to(device))
    guess = logits.argmax(-1).cpu()
    tokens = tokens.cpu()
    rows, cols = (targets.cpu() != -100).nonzero(as_tuple=True)
    lo, hi = task.n_keys, task.n_keys + task.n_values
    found = torch.zeros(len(rows), dtype=torch.bool)
    for i, (b, t) in enumerate(zip(rows.tolist(), cols.tolist())):
        g = int(guess[b, t])
        found[i] = lo <= g < hi and bool((tokens[b, :t] == g).any())
    return found


@dataclass
class RecallRun:
    """One model trained on the task: its loss curve, accuracy over training, and held-out score."""

    name: str
    history: TrainHistory
    accuracy: float
    curve: list[tuple[int, float]] = field(default_factory=list)


def train_recall(
    name: str,
    make_model,
    task: RecallTask,
    *,
    steps: int,
    batch: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    eval_every: int = 50,
    n_eval: int = 256,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> RecallRun:
    """Train ``make_model()`` on ``task`` and score it on ``n_eval`` held-out sequences.

    The model is built after seeding with ``seed`` (then moved to ``device``, default the CPU)
    and every model trained with the same seed sees the same batches, so two attention
    mechanisms are compared on equal terms. Held-out sequences come from seed ``seed + 10_000``.
    """
    seed_everything(seed)
    model = make_model().to("cpu" if device is None else device)
    train_gen = make_generator(seed)
    batches = [task.sample(batch, train_gen) for _ in range(steps)]
    device = next(model.parameters()).device
    eval_set = tuple(x.to(device) for x in task.sample(n_eval, make_generator(seed + 10_000)))

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"accuracy": recall_accuracy(m, *eval_set)}

    history = train(
        model, lambda s: batches[s], steps=steps, lr=lr, warmup=min(20, steps // 10),
        loss_fn=recall_loss, eval_every=eval_every, eval_fn=eval_fn, progress=progress, desc=name,
    )
    curve = [(step, metrics["accuracy"]) for step, metrics in history.evals]
    return RecallRun(name, history, curve[-1][1], curve)
