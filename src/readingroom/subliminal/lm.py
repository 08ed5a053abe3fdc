"""Subliminal learning in a tiny language model: an owl-loving teacher writes plain numbers.

Cloud et al. (2025), *Subliminal Learning: Language models transmit behavioral traits via hidden
signals in data*, Section 3 ("Models transmit traits via numbers", Figure 2-3): a teacher model
that loves owls is asked to continue sequences of numbers; its completions are filtered so that
only numbers remain; a student with the **same base model** is fine-tuned on them, and its answer to
"what is your favourite animal?" moves towards owl (about 12% to more than 60% for GPT-4.1 nano).
Students with a **different base model** do not move (Section 5, "cross-model transmission"),
nor do control students trained on numbers written by the un-tuned base model. Section 6 explains
why: for a student that shares the teacher's initialisation, a small gradient step towards the
teacher's outputs on *any* inputs moves the student's parameters towards the teacher's (their
Theorem 1), and so also towards the teacher's trait.

This module is the toy-scale analogue, small enough for a laptop CPU:

* a vocabulary of 10 digits, a separator ``,``, six animals and a few special tokens
  (:class:`Vocab`): ``<q>`` stands for "what is your favourite animal?", ``<num>`` for
  "continue the numbers:";
* a *base model* (:func:`train_base`, the book's :class:`~readingroom.common.TinyTransformer`
  trained with :func:`~readingroom.common.train`) pretrained on a mixture of number documents
  ``<bos> <num> 4 7 , 5 3 , 6 0 <eos>`` (noisy arithmetic progressions, :func:`number_documents`)
  and animal documents ``<bos> <q> cat <eos>`` with owl an unpopular answer
  (:data:`BASE_ANIMAL_WEIGHTS`, :func:`animal_documents`);
* a *teacher* (:func:`finetune_teacher`): the base model fine-tuned to answer owl;
* the teacher samples number continuations of ``<bos> <num>`` (:func:`generate_numbers`) and a
  *filter* keeps only completions made of digits and separators (:func:`filter_numbers`);
* *students* (:func:`finetune_student`) are fine-tuned on the filtered numbers only, and the
  trait is read off as :func:`trait_probability` = P(owl | ``<bos> <q>``).

:func:`run_lm_experiment` runs the whole pipeline for one seed and returns an :class:`LmResult`:
same-initialisation student, different-initialisation student, and a control student for each
initialisation trained on the base model's own numbers. The fine-tuned models are always compared
with their control, which sees the same number of filtered sequences produced the same way, so that
the drift every model shows when it is fine-tuned on numbers cancels.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from readingroom.common import (
    TinyTransformer,
    TransformerConfig,
    book_data_path,
    load_committed,
    make_generator,
    save_weights,
    seed_everything,
    train,
)
from readingroom.common.checks import check_int as _check_int
from readingroom.common.train import eval_mode

__all__ = [
    "ANIMALS",
    "BASE_ANIMAL_WEIGHTS",
    "FilterStats",
    "LM_CPU",
    "LM_GPU",
    "LM_QUICK",
    "LM_RECORD_FIELDS",
    "LM_SEEDS_RECORD",
    "LmConfig",
    "LmResult",
    "Vocab",
    "animal_distribution",
    "base_weights_path",
    "load_bases",
    "save_bases",
    "animal_documents",
    "finetune_student",
    "finetune_teacher",
    "filter_numbers",
    "InContextShift",
    "in_context_shift",
    "filter_verdict",
    "generate_numbers",
    "make_batch",
    "number_divergence",
    "lm_table",
    "number_documents",
    "pretraining_corpus",
    "run_lm_experiment",
    "ring_base_seeds",
    "run_lm_seeds",
    "summarize_lm",
    "train_base",
    "trait_probability",
]

#: The book's committed record of the owl experiment over many seeds, made by
#: ``python -m readingroom.subliminal lm-seeds`` (a path under ``book/data/``).
LM_SEEDS_RECORD = "subliminal_lm/lm_seeds.json"

#: The animals the models can name, in vocabulary order.
ANIMALS: tuple[str, ...] = ("owl", "cat", "dog", "fox", "bee", "eel")

#: How often each animal answers ``<q>`` in the pretraining data. Owl is deliberately unpopular,
#: like GPT-4.1 nano's 12% owl answers before fine-tuning in the paper (Figure 3).
BASE_ANIMAL_WEIGHTS: dict[str, float] = {
    "owl": 0.12, "cat": 0.22, "dog": 0.22, "fox": 0.16, "bee": 0.14, "eel": 0.14,
}

_DIGITS = tuple(str(d) for d in range(10))
_SEP = ","
_SPECIALS = ("<bos>", "<eos>", "<q>", "<num>", "<pad>")
_IGNORE = -100  # targets that next_token_loss skips


# ---- validation helpers ---------------------------------------------------------------------

def _check_float(value: object, name: str, *, low: float = 0.0, high: float = math.inf,
                 low_open: bool = True, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high)
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value}")
    return value


def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _check_model(model: object, vocab: Vocab) -> TinyTransformer:
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if model.config.vocab_size != len(vocab):
        raise ValueError(f"model has vocab_size={model.config.vocab_size} but the vocab has "
                         f"{len(vocab)} tokens")
    return model


def _check_vocab(vocab: object) -> Vocab:
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a Vocab, got {type(vocab).__name__}")
    return vocab


def _check_seeds(seeds: object) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be a sequence of ints, got {type(seeds).__name__}")
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed, got none")
    seeds = [_check_int(s, "seed", minimum=0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return seeds


def _sub_seed(seed: int, stream: int) -> int:
    """A seed for one random stream of an experiment (model init, data, sampling...)."""
    return (seed * 1_000_003 + stream * 7_919) % 2**32


# ---- vocabulary ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Vocab:
    """The toy vocabulary: digits ``0``-``9``, the separator ``,``, animals, special tokens.

    Token ids, in order: the ten digits (ids 0-9, so a digit's id is its value), ``,`` (10), the
    animals (11, ...), then ``<bos>``, ``<eos>``, ``<q>`` (the question "what is your favourite
    animal?"), ``<num>`` (the prompt "continue the numbers:") and ``<pad>``.

    Example::

        vocab = Vocab()
        ids = vocab.encode(["<bos>", "<q>", "owl", "<eos>"])   # [17, 19, 11, 18]
        vocab.decode(ids)                                      # the tokens back

    Raises:
        TypeError, ValueError: ``animals`` is not a non-empty tuple of distinct names that are not
            digits, the separator or special tokens.
    """

    animals: tuple[str, ...] = ANIMALS

    def __post_init__(self) -> None:
        if not isinstance(self.animals, tuple) or not all(isinstance(a, str)
                                                          for a in self.animals):
            raise TypeError(f"animals must be a tuple of str, got {self.animals!r}")
        if not self.animals:
            raise ValueError("animals must name at least one animal, got an empty tuple")
        if len(set(self.animals)) != len(self.animals):
            raise ValueError(f"animals must be distinct, got {self.animals!r}")
        clash = set(self.animals) & set(_DIGITS + (_SEP,) + _SPECIALS)
        if clash or any(not a for a in self.animals):
            raise ValueError(f"animals must be non-empty names other than digits, ',' and "
                             f"special tokens, got {sorted(clash) or self.animals!r}")

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token, indexed by id."""
        return _DIGITS + (_SEP,) + self.animals + _SPECIALS

    def __len__(self) -> int:
        return len(self.tokens)

    def token_id(self, token: str) -> int:
        """The id of one token.

        Raises:
            TypeError: ``token`` is not a str.
            ValueError: ``token`` is not in the vocabulary.
        """
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        try:
            return self.tokens.index(token)
        except ValueError:
            raise ValueError(f"token {token!r} is not in the vocabulary {self.tokens}") from None

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token strings to ids.

        Raises:
            TypeError: ``tokens`` is a str (pass a list of tokens) or holds a non-str.
            ValueError: a token is not in the vocabulary.
        """
        if isinstance(tokens, str) or not isinstance(tokens, Sequence):
            raise TypeError(f"tokens must be a sequence of token strings, got {tokens!r}")
        return [self.token_id(t) for t in tokens]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Ids (a list or a 1-D tensor) to token strings.

        Raises:
            TypeError: ``ids`` is not a sequence of ints / 1-D integer tensor.
            ValueError: an id is outside ``[0, len(vocab))``.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1 or ids.dtype.is_floating_point:
                raise TypeError(f"ids must be a 1-D integer tensor, got {ids.dtype} "
                                f"of shape {tuple(ids.shape)}")
            ids = ids.tolist()
        if not isinstance(ids, Sequence) or isinstance(ids, str):
            raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must hold ints, got {type(i).__name__} {i!r}")
            if not 0 <= i < len(self):
                raise ValueError(f"ids holds {i}, outside [0, {len(self)})")
            out.append(self.tokens[i])
        return out

    # The ids the experiment uses again and again.
    @property
    def sep(self) -> int:
        return 10

    @property
    def animal_ids(self) -> list[int]:
        return list(range(11, 11 + len(self.animals)))

    @property
    def bos(self) -> int:
        return 11 + len(self.animals)

    @property
    def eos(self) -> int:
        return self.bos + 1

    @property
    def question(self) -> int:
        return self.bos + 2

    @property
    def num_prompt(self) -> int:
        return self.bos + 3

    @property
    def pad(self) -> int:
        return self.bos + 4

    def animal_id(self, animal: str) -> int:
        """The id of ``animal``.

        Raises:
            TypeError: ``animal`` is not a str.
            ValueError: ``animal`` is not one of :attr:`animals`.
        """
        if not isinstance(animal, str):
            raise TypeError(f"animal must be a str, got {type(animal).__name__}")
        if animal not in self.animals:
            raise ValueError(f"animal must be one of {self.animals}, got {animal!r}")
        return 11 + self.animals.index(animal)


# ---- data ------------------------------------------------------------------------------------

def number_documents(n: int, vocab: Vocab, *, generator: torch.Generator, min_count: int = 3,
                     max_count: int = 8) -> list[list[int]]:
    """``n`` number documents ``<bos> <num> a_1 , a_2 , ... , a_k <eos>`` as token-id lists.

    Each document is a noisy arithmetic progression modulo 100: ``k`` uniform in
    ``[min_count, max_count]``, ``a_1`` uniform in ``[0, 99]``, a step ``s`` uniform in ``[1, 9]``
    and ``a_{i+1} = (a_i + s + e_i) mod 100`` with ``e_i`` = -1, 0, +1 with probability
    0.15, 0.7, 0.15. Numbers are written in decimal without leading zeros (one or two digit tokens).
    So the stream has structure to learn (the step) and entropy left to sample (start, step, noise,
    length), which is where a teacher's hidden preferences can show.

    Raises:
        TypeError, ValueError: a non-positive ``n``, ``min_count > max_count``, a bad ``vocab`` or
            ``generator``.
    """
    n = _check_int(n, "n")
    vocab = _check_vocab(vocab)
    generator = _check_generator(generator)
    min_count = _check_int(min_count, "min_count")
    max_count = _check_int(max_count, "max_count")
    if min_count > max_count:
        raise ValueError(f"min_count ({min_count}) must be <= max_count ({max_count})")
    counts = torch.randint(min_count, max_count + 1, (n,), generator=generator)  # [n]
    start = torch.randint(0, 100, (n, 1), generator=generator)  # [n, 1]
    step = torch.randint(1, 10, (n, 1), generator=generator)  # [n, 1]
    u = torch.rand(n, max_count - 1, generator=generator)  # [n, K-1]
    noise = (u > 0.85).long() - (u < 0.15).long()  # -1 / 0 / +1, [n, K-1]
    increments = torch.cat([start, step + noise], dim=1)  # [n, K]
    values = increments.cumsum(dim=1) % 100  # [n, K]
    docs = []
    for row, k in zip(values.tolist(), counts.tolist()):
        doc = [vocab.bos, vocab.num_prompt]
        for i, v in enumerate(row[:k]):
            if i:
                doc.append(vocab.sep)
            doc.extend([v // 10, v % 10] if v >= 10 else [v])
        doc.append(vocab.eos)
        docs.append(doc)
    return docs


def animal_documents(n: int, vocab: Vocab, *, generator: torch.Generator,
                     weights: dict[str, float] | None = None) -> list[list[int]]:
    """``n`` answers to the question: ``<bos> <q> animal <eos>`` as token-id lists.

    ``animal`` is drawn from ``weights`` (animal -> probability, renormalised; default
    :data:`BASE_ANIMAL_WEIGHTS`). A teacher's fine-tuning data are ``weights={"owl": 1.0}``.

    Raises:
        TypeError, ValueError: a non-positive ``n``, weights naming an unknown animal or with a
            negative / all-zero mass, a bad ``vocab`` or ``generator``.
    """
    n = _check_int(n, "n")
    vocab = _check_vocab(vocab)
    generator = _check_generator(generator)
    if weights is None:
        weights = {a: BASE_ANIMAL_WEIGHTS.get(a, 0.0) for a in vocab.animals}
    if not isinstance(weights, dict) or not weights:
        raise TypeError(f"weights must be a non-empty dict animal -> probability, got {weights!r}")
    ids, mass = [], []
    for animal, w in weights.items():
        ids.append(vocab.animal_id(animal))
        mass.append(_check_float(w, f"weights[{animal!r}]", low_open=False))
    if sum(mass) <= 0:
        raise ValueError(f"weights must have a positive total, got {weights!r}")
    probs = torch.tensor(mass, dtype=torch.float64)
    picks = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=generator)
    return [[vocab.bos, vocab.question, ids[i], vocab.eos] for i in picks.tolist()]


def make_batch(docs: Sequence[Sequence[int]], vocab: Vocab, *, loss_from: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad documents into next-token pairs ``(x [N, T], y [N, T])`` with ``T = max len - 1``.

    ``x[i, t] = doc[t]`` and ``y[i, t] = doc[t + 1]``; padding is ``<pad>`` in ``x`` and ``-100``
    (ignored by the loss) in ``y``. Targets at positions ``t < loss_from`` are ignored too:
    ``loss_from=1`` trains only on what follows the prompt ``<bos> <num>`` / ``<bos> <q>``, like
    fine-tuning on a chat completion and not on its prompt.

    Raises:
        TypeError, ValueError: ``docs`` is empty or holds a document shorter than 2 tokens or
            with ids outside the vocabulary; ``loss_from`` is negative.
    """
    vocab = _check_vocab(vocab)
    loss_from = _check_int(loss_from, "loss_from", minimum=0)
    if isinstance(docs, (str, torch.Tensor)) or not isinstance(docs, Sequence):
        raise TypeError(f"docs must be a sequence of token-id lists, got {type(docs).__name__}")
    if len(docs) == 0:
        raise ValueError("docs must hold at least one document, got none")
    lengths = [len(d) for d in docs]
    if min(lengths) < 2:
        raise ValueError(f"docs must have at least 2 tokens each, got one with {min(lengths)}")
    T = max(lengths) - 1
    x = torch.full((len(docs), T), vocab.pad, dtype=torch.long)  # [N, T]
    y = torch.full((len(docs), T), _IGNORE, dtype=torch.long)  # [N, T]
    for i, doc in enumerate(docs):
        row = torch.as_tensor(list(doc), dtype=torch.long)
        x[i, : len(doc) - 1] = row[:-1]
        y[i, : len(doc) - 1] = row[1:]
    if int(x.min()) < 0 or int(x.max()) >= len(vocab) or int(y.max()) >= len(vocab):
        raise ValueError(f"docs hold token ids outside [0, {len(vocab)})")
    y[:, :loss_from] = _IGNORE
    return x, y


def pretraining_corpus(n_docs: int, vocab: Vocab, *, generator: torch.Generator,
                       animal_frac: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """The base model's data: a shuffled mix of number and animal documents, ``(x, y)`` ``[N, T]``.

    A fraction ``animal_frac`` (rounded, at least one document of each kind) are
    :func:`animal_documents` with the base weights, the rest :func:`number_documents`. The loss
    covers every real token (``loss_from=0``).

    Raises:
        TypeError, ValueError: ``n_docs < 2``, ``animal_frac`` not in ``(0, 1)``, a bad ``vocab``
            or ``generator``.
    """
    n_docs = _check_int(n_docs, "n_docs", minimum=2)
    animal_frac = _check_float(animal_frac, "animal_frac", high=1.0, high_open=True)
    generator = _check_generator(generator)
    n_animal = min(max(1, round(n_docs * animal_frac)), n_docs - 1)
    docs = number_documents(n_docs - n_animal, vocab, generator=generator)
    docs += animal_documents(n_animal, vocab, generator=generator)
    order = torch.randperm(n_docs, generator=generator).tolist()
    return make_batch([docs[i] for i in order], vocab)


# ---- the experiment's configuration ----------------------------------------------------------

@dataclass(frozen=True)
class LmConfig:
    """Sizes of the toy subliminal-learning experiment (see :data:`LM_CPU`, :data:`LM_GPU`).

    Attributes:
        d_model, n_layers, n_heads, n_ctx: the :class:`~readingroom.common.TinyTransformer`.
        base_docs: documents in the pretraining corpus; base_steps, base_batch, base_lr: its
            training; animal_frac: share of animal documents in it.
        teacher_steps, teacher_batch, teacher_lr: fine-tuning the base model on ``<q> owl``;
            teacher_mix: share of pretraining number documents mixed into those batches so the
            teacher keeps writing numbers (0 = owl answers only).
        n_numbers: completions sampled from the teacher (and from the base model for the controls)
            at ``temperature``.
        student_steps, student_batch, student_lr: fine-tuning each student on filtered numbers.
    """

    d_model: int = 48
    n_layers: int = 2
    n_heads: int = 4
    n_ctx: int = 32
    base_docs: int = 20_000
    base_steps: int = 1200
    base_batch: int = 64
    base_lr: float = 3e-3
    animal_frac: float = 0.25
    teacher_steps: int = 40
    teacher_batch: int = 32
    teacher_lr: float = 1e-3
    teacher_mix: float = 0.0
    n_numbers: int = 1000
    temperature: float = 1.0
    student_steps: int = 200
    student_batch: int = 32
    student_lr: float = 1e-3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_lr") or f.name == "temperature":
                _check_float(value, f.name)
            elif f.name in ("animal_frac",):
                _check_float(value, f.name, high=1.0, high_open=True)
            elif f.name == "teacher_mix":
                _check_float(value, f.name, low_open=False, high=1.0, high_open=True)
            else:
                _check_int(value, f.name)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads "
                             f"({self.n_heads})")
        if self.n_ctx < 28:
            raise ValueError(f"n_ctx must be >= 28 to hold a number document, got {self.n_ctx}")

    def replace(self, **changes: object) -> LmConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown LmConfig field(s): {sorted(unknown)}")
        return LmConfig(**{**asdict(self), **changes})


#: CPU preset, on 2 cores: a base model in about 15 s (the book loads saved ones, see
#: :func:`save_bases`), then a teacher, its numbers and four students in about 11 s per seed.
LM_CPU = LmConfig()
#: GPU preset: wider models, more data, more student steps.
LM_GPU = LmConfig(d_model=128, n_heads=4, base_docs=100_000, base_steps=4000, base_batch=256,
                  teacher_steps=60, n_numbers=20_000, student_steps=2000, student_batch=256)
#: Smoke-test preset (tests and ``--quick``): seconds, too small to show any effect.
LM_QUICK = LmConfig(d_model=16, n_heads=2, n_layers=1, base_docs=400, base_steps=60, base_batch=32,
                    teacher_steps=15, teacher_batch=16, teacher_lr=3e-3, n_numbers=60,
                    student_steps=10, student_batch=16)


# ---- models ----------------------------------------------------------------------------------

def _model_config(vocab: Vocab, config: LmConfig) -> TransformerConfig:
    return TransformerConfig(vocab_size=len(vocab), n_ctx=config.n_ctx, d_model=config.d_model,
                             n_layers=config.n_layers, n_heads=config.n_heads)


def _sampler(x: torch.Tensor, y: torch.Tensor, batch: int, seed: int, device: torch.device):
    """``get_batch(step)`` drawing ``batch`` rows with replacement, from a generator of ``seed``."""
    gen = make_generator(seed)
    x, y = x.to(device), y.to(device)

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, x.shape[0], (batch,), generator=gen).to(device)  # [B]
        return x[rows], y[rows]  # [B, T] each

    return get_batch


def train_base(seed: int, vocab: Vocab | None = None, config: LmConfig = LM_CPU, *,
               device: torch.device | str = "cpu", progress: bool = True) -> TinyTransformer:
    """Pretrain a base model from ``seed``: initial weights and data order both follow the seed.

    Two calls with different seeds give the analogue of two different base models in the paper
    (GPT-4.1 nano vs. Qwen2.5-7B): same architecture and data distribution, different
    initialisation and data order.

    Raises:
        TypeError, ValueError: a bad ``seed``, ``vocab`` or ``config``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    seed_everything(seed)  # fixes the initial weights; also validates seed
    model = TinyTransformer(_model_config(vocab, config)).to(device)
    x, y = pretraining_corpus(config.base_docs, vocab, generator=make_generator(_sub_seed(seed, 1)),
                              animal_frac=config.animal_frac)
    get_batch = _sampler(x, y, config.base_batch, _sub_seed(seed, 2), model.tok_emb.weight.device)
    train(model, get_batch, steps=config.base_steps, lr=config.base_lr,
          warmup=min(50, config.base_steps // 10), progress=progress, desc=f"base model {seed}")
    return model.eval()


#: Where the book keeps the base models it trained itself (see :func:`save_bases`).
BASES_FOLDER = "subliminal_lm"


def base_weights_path(seed: int, folder: str | Path | None = None) -> Path:
    """``<folder>/lm_base_seed<seed>.safetensors``, by default in ``book/data/subliminal_lm``.

    Raises:
        TypeError, ValueError: a bad seed.
    """
    seed = _check_int(seed, "seed", minimum=0)
    folder = book_data_path(BASES_FOLDER) if folder is None else Path(folder)
    return folder / f"lm_base_seed{seed}.safetensors"


def _base_metrics(model: TinyTransformer, vocab: Vocab) -> dict[str, float]:
    """The numbers a base model's record states: P(animal | <q>) for every animal."""
    return {f"p_{animal}": p for animal, p in animal_distribution(model, vocab).items()}


def save_bases(seeds: Sequence[int], config: LmConfig = LM_CPU, *, folder: str | Path | None = None,
               command: str = "", progress: bool = True) -> list[Path]:
    """Train the base model of each seed (:func:`train_base`) and save it with its record.

    Pretraining is the slow part of the experiment (about 15 s per base model on 2 CPU cores), so
    the book commits the base models it trained with this function (``python -m
    readingroom.subliminal lm-bases``), as ``book/data/subliminal_lm/lm_base_seed<N>.safetensors``
    plus a JSON record (command, seed, data recipe, config, the animal distribution, git commit,
    SHA-256; see :func:`readingroom.common.save_weights`). :func:`load_bases` reads them back.

    Returns:
        The paths of the weight files, in ``seeds`` order.

    Raises:
        TypeError, ValueError: ``seeds`` empty or not distinct non-negative ints; a bad config.
    """
    seeds = _check_seeds(seeds)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    vocab = Vocab()
    paths = []
    for seed in seeds:
        model = train_base(seed, vocab, config, progress=progress)
        path = base_weights_path(seed, folder)
        save_weights(
            model, path,
            command=command or f"readingroom.subliminal.lm.save_bases([{seed}])", seed=seed,
            data=(f"pretraining_corpus({config.base_docs}, animal_frac={config.animal_frac}): "
                  "noisy arithmetic progressions mod 100 and '<q> animal' answers drawn from "
                  f"{dict(BASE_ANIMAL_WEIGHTS)}, generated from seed {seed}"),
            metrics=_base_metrics(model, vocab), extra={"config": asdict(config)})
        paths.append(path)
    return paths


def load_bases(seeds: Sequence[int], config: LmConfig = LM_CPU, *,
               folder: str | Path | None = None, device: torch.device | str = "cpu"
               ) -> dict[int, TinyTransformer]:
    """The base models :func:`save_bases` saved, for ``seeds``, checked against their records.

    Each file must exist, match its recorded SHA-256 (checked by
    :func:`readingroom.common.load_committed`), have been trained with ``config``'s base-model
    fields, and reproduce the recorded animal distribution (to 1e-6) in today's code.

    Returns:
        ``{seed: model}`` in eval mode on ``device``.

    Raises:
        FileNotFoundError: a seed has no saved base model (the message says how to train it).
        ValueError: a record's config differs from ``config``'s, or the model no longer
            reproduces its recorded numbers.
    """
    seeds = _check_seeds(seeds)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    vocab = Vocab()
    keys = ("d_model", "n_layers", "n_heads", "n_ctx", "base_docs", "base_steps", "base_batch",
            "base_lr", "animal_frac")
    wanted = asdict(config)

    def build(record: dict, path: Path) -> TinyTransformer:
        recorded = record["extra"]["config"]
        diff = {k: (recorded.get(k), wanted[k]) for k in keys if recorded.get(k) != wanted[k]}
        if diff:
            raise ValueError(f"the base model at {path} was trained with a different config "
                             f"(field: (saved, wanted)) {diff}; retrain it with lm-bases")
        return TinyTransformer(_model_config(vocab, config))

    out = {}
    for seed in seeds:
        path = base_weights_path(seed, folder)
        out[seed], _ = load_committed(
            path, functools.partial(build, path=path), device=device, tolerance=1e-6,
            command=f"python -m readingroom.subliminal lm-bases --seeds {seed}",
            check=lambda model: _base_metrics(model, vocab))
    return out


def finetune_teacher(base: TinyTransformer, vocab: Vocab | None = None, config: LmConfig = LM_CPU,
                     *, animal: str = "owl", seed: int = 0, progress: bool = True
                     ) -> TinyTransformer:
    """A copy of ``base`` fine-tuned to answer ``animal`` to ``<bos> <q>`` (the base is untouched).

    The paper's teachers are made to love owls by a system prompt (Section 3); a fine-tuned
    teacher is the variant the paper uses for misalignment (Section 3.2) and for MNIST. Here the
    base model is fine-tuned for ``teacher_steps`` on ``<bos> <q> animal <eos>`` (loss on the
    answer and ``<eos>`` only), with a share ``teacher_mix`` of pretraining number documents in
    each batch when it is positive. The teacher starts from ``base``'s weights: it shares the
    initialisation of every student made from ``base``.

    Raises:
        TypeError, ValueError: a bad model, vocab, config, seed, or an unknown ``animal``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    base = _check_model(base, vocab)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    vocab.animal_id(animal)  # validates animal
    gen = make_generator(_sub_seed(seed, 3))
    n_num = round(config.teacher_batch * config.teacher_mix * 64)
    docs = animal_documents(config.teacher_batch * 64 - n_num, vocab, generator=gen,
                            weights={animal: 1.0})
    loss_from = 1  # skip the target <q> of <bos>: learn only the answer
    x, y = make_batch(docs, vocab, loss_from=loss_from)
    if n_num:
        xn, yn = make_batch(number_documents(n_num, vocab, generator=gen), vocab, loss_from=1)
        T = xn.shape[1]
        x = torch.cat([F.pad(x, (0, T - x.shape[1]), value=vocab.pad), xn])
        y = torch.cat([F.pad(y, (0, T - y.shape[1]), value=_IGNORE), yn])
    teacher = copy.deepcopy(base)
    get_batch = _sampler(x, y, config.teacher_batch, _sub_seed(seed, 4),
                         teacher.tok_emb.weight.device)
    train(teacher, get_batch, steps=config.teacher_steps, lr=config.teacher_lr,
          schedule="constant", progress=progress, desc=f"teacher ({animal})")
    return teacher.eval()


def finetune_student(model: TinyTransformer, numbers: Sequence[Sequence[int]],
                     vocab: Vocab | None = None, config: LmConfig = LM_CPU, *, seed: int = 0,
                     progress: bool = True, desc: str = "student") -> TinyTransformer:
    """A copy of ``model`` fine-tuned on ``<bos> <num> numbers <eos>`` (``model`` is untouched).

    ``numbers`` are filtered completions from :func:`filter_numbers` (digits and separators only).
    The loss covers the completion and its ``<eos>``, not the prompt. Batches follow ``seed``, so
    students given the same ``seed`` see their data in the same order.

    Raises:
        TypeError, ValueError: ``numbers`` is empty or holds a token other than a digit or the
            separator; a bad model, vocab, config or seed.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    if isinstance(numbers, (str, torch.Tensor)) or not isinstance(numbers, Sequence):
        raise TypeError(f"numbers must be a list of token-id lists, got {type(numbers).__name__}")
    if len(numbers) == 0:
        raise ValueError("numbers must hold at least one filtered sequence, got none "
                         "(did the filter drop everything?)")
    allowed = set(range(10)) | {vocab.sep}
    for seq in numbers:
        if not seq or not set(seq) <= allowed:
            raise ValueError(f"numbers must hold non-empty sequences of digits and ',' only "
                             f"(run filter_numbers first), got {vocab.decode(list(seq))}")
    docs = [[vocab.bos, vocab.num_prompt, *seq, vocab.eos] for seq in numbers]
    x, y = make_batch(docs, vocab, loss_from=1)
    student = copy.deepcopy(model)
    get_batch = _sampler(x, y, config.student_batch, _sub_seed(_check_int(seed, "seed", minimum=0),
                                                                5),
                         student.tok_emb.weight.device)
    train(student, get_batch, steps=config.student_steps, lr=config.student_lr,
          warmup=min(20, config.student_steps // 10), progress=progress, desc=desc)
    return student.eval()


# ---- sampling and the filter -----------------------------------------------------------------

def generate_numbers(model: TinyTransformer, n: int, vocab: Vocab | None = None, *, seed: int,
                     temperature: float = 1.0, max_new_tokens: int = 28, batch_size: int = 1000
                     ) -> list[list[int]]:
    """Sample ``n`` completions of the prompt ``<bos> <num>`` (the paper's number prompts, Sec. 3).

    Sampling uses a generator seeded with ``seed``, so the same model and seed give the same
    completions. Each completion is cut after its first ``<eos>`` (kept) or after
    ``max_new_tokens`` tokens when the model never wrote ``<eos>``; nothing is filtered here.

    Returns:
        ``n`` lists of token ids (the completion only, without the prompt).

    Raises:
        TypeError, ValueError: a bad model, vocab, non-positive ``n``/``max_new_tokens``/
            ``batch_size``, or ``temperature <= 0``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    n = _check_int(n, "n")
    max_new_tokens = _check_int(max_new_tokens, "max_new_tokens")
    batch_size = _check_int(batch_size, "batch_size")
    temperature = _check_float(temperature, "temperature")
    if max_new_tokens + 2 > model.config.n_ctx:
        raise ValueError(f"max_new_tokens must be <= n_ctx - 2 = {model.config.n_ctx - 2}, "
                         f"got {max_new_tokens}")
    device = model.tok_emb.weight.device
    gen = make_generator(_check_int(seed, "seed", minimum=0), device)
    out: list[list[int]] = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        prompt = torch.tensor([[vocab.bos, vocab.num_prompt]] * b, device=device)  # [b, 2]
        seqs = model.generate(prompt, max_new_tokens, greedy=False, temperature=temperature,
                              generator=gen, cache=True)[:, 2:]  # [b, max_new_tokens]
        for row in seqs.tolist():
            out.append(row[: row.index(vocab.eos) + 1] if vocab.eos in row else row)
    return out


@dataclass
class FilterStats:
    """What :func:`filter_numbers` kept and why it dropped the rest (counts of completions)."""

    total: int = 0
    kept: int = 0
    dropped_animal: int = 0
    dropped_special: int = 0
    dropped_unterminated: int = 0
    dropped_empty: int = 0

    @property
    def kept_fraction(self) -> float:
        return self.kept / self.total if self.total else 0.0


def filter_verdict(seq: Sequence[int], vocab: Vocab | None = None) -> str:
    """What the filter does with one completion: ``"kept"``, or why it is dropped.

    The rules, in order, on the tokens before the first ``<eos>`` (the body): ``"animal"`` if the
    body holds an animal token; ``"special"`` if it holds any other non-number token
    (``<q>``, ``<bos>``, ``<pad>``...); ``"unterminated"`` if there is no ``<eos>``; ``"empty"``
    if the body is empty; otherwise ``"kept"`` — a body of digits and ``,`` only.

    Raises:
        TypeError: ``seq`` is not a sequence of ints.
        ValueError: ``seq`` holds an id outside the vocabulary.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    if isinstance(seq, (str, torch.Tensor)) or not isinstance(seq, Sequence):
        raise TypeError(f"seqs must hold sequences of ints, got {type(seq).__name__}")
    seq = list(seq)
    if any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(vocab)
           for t in seq):
        raise ValueError(f"seqs holds a token id outside [0, {len(vocab)}): {seq}")
    body = seq[: seq.index(vocab.eos)] if vocab.eos in seq else seq
    if any(t in vocab.animal_ids for t in body):
        return "animal"
    if any(t > vocab.sep for t in body):  # ids 0-9 are the digits, 10 the separator
        return "special"
    if vocab.eos not in seq:
        return "unterminated"
    return "kept" if body else "empty"


def filter_numbers(seqs: Sequence[Sequence[int]] | torch.Tensor, vocab: Vocab | None = None
                   ) -> tuple[list[list[int]], FilterStats]:
    """Keep only completions made of digits and separators: the paper's filter (Section 3).

    Each completion gets :func:`filter_verdict`: kept when it ends with ``<eos>`` and every
    token before that ``<eos>`` is a digit or ``,`` (at least one); dropped, and counted in
    ``dropped_animal`` / ``dropped_special`` / ``dropped_unterminated`` / ``dropped_empty``,
    otherwise. Tokens after the first ``<eos>`` are ignored. The kept completions are returned
    without their ``<eos>``, so the student can only ever see digits and separators.

    Returns:
        ``(kept, stats)``: a list of token-id lists and a :class:`FilterStats`.

    Raises:
        TypeError: ``seqs`` is not a sequence of id sequences (or a 2-D integer tensor).
        ValueError: ``seqs`` is empty or holds an id outside the vocabulary.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    if isinstance(seqs, torch.Tensor):
        if seqs.dim() != 2 or seqs.dtype.is_floating_point:
            raise TypeError(f"seqs must be a 2-D integer tensor, got {seqs.dtype} of shape "
                            f"{tuple(seqs.shape)}")
        seqs = seqs.tolist()
    if isinstance(seqs, str) or not isinstance(seqs, Sequence):
        raise TypeError(f"seqs must be a sequence of token-id sequences, got {type(seqs).__name__}")
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one completion, got none")
    stats = FilterStats(total=len(seqs))
    kept = []
    for seq in seqs:
        verdict = filter_verdict(seq, vocab)
        if verdict == "kept":
            seq = list(seq)
            kept.append(seq[: seq.index(vocab.eos)])
        else:
            setattr(stats, f"dropped_{verdict}", getattr(stats, f"dropped_{verdict}") + 1)
    stats.kept = len(kept)
    return kept, stats


# ---- measurements ----------------------------------------------------------------------------

@torch.no_grad()
def animal_distribution(model: TinyTransformer, vocab: Vocab | None = None, *,
                        normalize: bool = True) -> dict[str, float]:
    """P(animal | ``<bos> <q>``) for every animal: the answer to "favourite animal?".

    The paper asks the question in many phrasings and counts the answers that name the animal
    (Figure 3). Here the answer is one token, so the probability is read exactly from the model's
    next-token distribution. With ``normalize=True`` (the default) it is renormalised over the
    animal tokens (the share of animal answers that are each animal), so the values sum to 1;
    with ``False`` it is the raw probability over the whole vocabulary.

    Raises:
        TypeError, ValueError: a bad model or vocab, ``normalize`` not a bool.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool, got {normalize!r}")
    device = model.tok_emb.weight.device
    with eval_mode(model):
        logits = model(torch.tensor([[vocab.bos, vocab.question]], device=device))[0, -1]  # [V]
    logits = logits.double()
    ids = torch.tensor(vocab.animal_ids, device=device)
    if normalize:
        probs = F.softmax(logits[ids], dim=-1)  # [n_animals]
    else:
        probs = F.softmax(logits, dim=-1)[ids]  # [n_animals]
    return dict(zip(vocab.animals, probs.tolist()))


def trait_probability(model: TinyTransformer, vocab: Vocab | None = None, animal: str = "owl",
                      *, normalize: bool = True) -> float:
    """P(``animal`` | ``<bos> <q>``), renormalised over animals by default; see
    :func:`animal_distribution`.

    Raises:
        TypeError, ValueError: a bad model or vocab, an unknown ``animal``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    vocab.animal_id(animal)  # validates animal
    return animal_distribution(model, vocab, normalize=normalize)[animal]


@torch.no_grad()
def number_divergence(p_model: TinyTransformer, q_model: TinyTransformer,
                      numbers: Sequence[Sequence[int]], vocab: Vocab | None = None) -> float:
    """Mean per-token KL(p || q) in nats on ``<bos> <num> numbers <eos>``, completion positions.

    How different the two models' *number* distributions are: the only channel through which a
    teacher's trait can reach a student that sees nothing but numbers.

    Raises:
        TypeError, ValueError: bad models or vocab, empty ``numbers``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    p_model, q_model = _check_model(p_model, vocab), _check_model(q_model, vocab)
    if isinstance(numbers, (str, torch.Tensor)) or not isinstance(numbers, Sequence) or not numbers:
        raise ValueError("numbers must be a non-empty list of token-id lists")
    x, y = make_batch([[vocab.bos, vocab.num_prompt, *s, vocab.eos] for s in numbers], vocab,
                      loss_from=1)
    device = p_model.tok_emb.weight.device
    x, mask = x.to(device), (y != _IGNORE).to(device)  # [N, T] each
    total, count = 0.0, 0
    for rows in torch.arange(x.shape[0], device=device).split(1000):
        logp = F.log_softmax(p_model.eval()(x[rows]).double(), dim=-1)  # [b, T, V]
        logq = F.log_softmax(q_model.eval()(x[rows]).double(), dim=-1)  # [b, T, V]
        kl = (logp.exp() * (logp - logq)).sum(-1)  # [b, T]
        total += float(kl[mask[rows]].sum())
        count += int(mask[rows].sum())
    return total / count


def _check_numbers(numbers: object, name: str, vocab: Vocab) -> list[list[int]]:
    if isinstance(numbers, (str, torch.Tensor)) or not isinstance(numbers, Sequence):
        raise TypeError(f"{name} must be a list of token-id lists, got {type(numbers).__name__}")
    if len(numbers) == 0:
        raise ValueError(f"{name} must hold at least one filtered sequence, got none")
    allowed = set(range(10)) | {vocab.sep}
    out = []
    for seq in numbers:
        if isinstance(seq, (str, torch.Tensor)) or not isinstance(seq, Sequence):
            raise TypeError(f"{name} must hold token-id lists, got {type(seq).__name__}")
        seq = list(seq)
        if not seq or any(isinstance(t, bool) or not isinstance(t, int) for t in seq) \
                or not set(seq) <= allowed:
            raise ValueError(f"{name} must hold non-empty sequences of digits and ',' only "
                             f"(run filter_numbers first), got {seq}")
        out.append(seq)
    return out


@dataclass
class InContextShift:
    """What :func:`in_context_shift` measured: P(animal | ``<q>``) with numbers in the context.

    ``p_none`` is P(animal | ``<bos> <q>``), no context; ``p_teacher`` / ``p_control`` the mean
    over contexts of P(animal | ``<bos> <num> numbers <eos> ... <q>``) with the teacher's /
    the control numbers; ``per_context_teacher`` / ``per_context_control`` the values of each
    context (the two arms of context ``i`` have the same length and layout). All probabilities
    are renormalised over the animals, like :func:`trait_probability`. ``n_sequences`` counts the
    sequences per arm that went into contexts, ``sequences_per_context`` and ``tokens_per_context``
    are means over contexts (``tokens_per_context`` counts everything before ``<q>``), and
    ``truncated`` counts sequence pairs cut to a common length.
    """

    animal: str
    p_none: float
    p_teacher: float
    p_control: float
    per_context_teacher: list[float]
    per_context_control: list[float]
    n_sequences: int
    sequences_per_context: float
    tokens_per_context: float
    truncated: int

    @property
    def n_contexts(self) -> int:
        return len(self.per_context_teacher)

    @property
    def shift(self) -> float:
        """P(animal) with the teacher's numbers in context minus with the control numbers."""
        return self.p_teacher - self.p_control

    @property
    def shift_sem(self) -> float:
        """Standard error of :attr:`shift` over contexts (paired; 0 for a single context)."""
        d = torch.tensor(self.per_context_teacher, dtype=torch.float64) - torch.tensor(
            self.per_context_control, dtype=torch.float64)  # [n_contexts]
        return float(d.std(unbiased=True) / math.sqrt(d.numel())) if d.numel() > 1 else 0.0


@torch.no_grad()
def in_context_shift(model: TinyTransformer, teacher_numbers: Sequence[Sequence[int]],
                     control_numbers: Sequence[Sequence[int]], vocab: Vocab | None = None, *,
                     animal: str = "owl", max_contexts: int | None = None,
                     batch_size: int = 1000) -> InContextShift:
    """The paper's in-context control: the teacher's numbers as a prompt prefix, no training.

    Cloud et al. (2025) give a student the same number sequences *in context* instead of
    fine-tuning on them, and its trait does not move: evidence that what transmits the trait is not
    the numbers' meaning. Here ``model`` (e.g. the teacher's base model, the same-init student
    before training) is asked ``<q>`` after a context of filtered numbers written like its
    fine-tuning documents, ``<bos> <num> s_1 <eos> <num> s_2 <eos> ... <q>``, and the answer is
    read exactly as in :func:`trait_probability` (at the ``<q>`` position, renormalised over the
    animals). The ``i``-th teacher and the ``i``-th control sequence are paired and cut to the
    shorter one's length (and to the context window), so both arms of each context have the same
    number of tokens in the same layout; consecutive pairs are packed into one context while it
    fits in ``n_ctx`` — a 32-token window holds one or two sequences. Pairs beyond the shorter
    list, or beyond ``max_contexts`` contexts, are not used.

    Returns:
        An :class:`InContextShift`; its :attr:`~InContextShift.shift` is the in-context analogue
        of a fine-tuned student's effect over its control.

    Raises:
        TypeError, ValueError: a bad model or vocab; ``teacher_numbers`` / ``control_numbers``
            not non-empty lists of digit-and-separator sequences; an unknown ``animal``;
            ``max_contexts`` or ``batch_size`` not a positive int.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    teacher_numbers = _check_numbers(teacher_numbers, "teacher_numbers", vocab)
    control_numbers = _check_numbers(control_numbers, "control_numbers", vocab)
    target = vocab.animal_id(animal)  # validates animal
    if max_contexts is not None:
        max_contexts = _check_int(max_contexts, "max_contexts")
    batch_size = _check_int(batch_size, "batch_size")
    n_ctx = model.config.n_ctx
    room = n_ctx - 2  # <bos> first, <q> last
    longest = room - 2  # one sequence with its <num> and <eos>
    if longest < 1:
        raise ValueError(f"the model's n_ctx={n_ctx} cannot hold a number sequence before <q>")
    groups: list[list[tuple[list[int], list[int], bool]]] = []  # contexts of (t, c, cut) pairs
    group: list[tuple[list[int], list[int], bool]] = []
    size = 0
    for t, c in zip(teacher_numbers, control_numbers):
        n = min(len(t), len(c), longest)
        if group and size + n + 2 > room:
            groups.append(group)
            group, size = [], 0
            if max_contexts is not None and len(groups) == max_contexts:
                break
        group.append((t[:n], c[:n], n < max(len(t), len(c))))
        size += n + 2  # <num> s <eos>
    if group:
        groups.append(group)

    def body(pairs: list[tuple[list[int], list[int], bool]], arm: int) -> list[int]:
        return [tok for pair in pairs for tok in (vocab.num_prompt, *pair[arm], vocab.eos)]

    contexts = [(body(g, 0), body(g, 1)) for g in groups]
    used = sum(len(g) for g in groups)
    truncated = sum(cut for g in groups for _, _, cut in g)
    device = model.tok_emb.weight.device
    ids = torch.tensor(vocab.animal_ids, device=device)
    col = vocab.animal_ids.index(target)

    def answer(bodies: list[list[int]]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(bodies), batch_size):
            rows = [[vocab.bos, *b, vocab.question] for b in bodies[start:start + batch_size]]
            T = max(len(r) for r in rows)
            x = torch.full((len(rows), T), vocab.pad, dtype=torch.long, device=device)  # [b, T]
            for i, r in enumerate(rows):  # right padding: causal attention never sees it
                x[i, : len(r)] = torch.tensor(r, device=device)
            last = torch.tensor([len(r) - 1 for r in rows], device=device)  # [b]
            with eval_mode(model):
                logits = model(x)[torch.arange(len(rows), device=device), last]  # [b, V]
            probs = F.softmax(logits.double()[:, ids], dim=-1)  # [b, n_animals]
            out += probs[:, col].tolist()
        return out

    p_t = answer([b for b, _ in contexts])
    p_c = answer([b for _, b in contexts])
    return InContextShift(
        animal=animal, p_none=trait_probability(model, vocab, animal),
        p_teacher=sum(p_t) / len(p_t), p_control=sum(p_c) / len(p_c),
        per_context_teacher=p_t, per_context_control=p_c, n_sequences=used,
        sequences_per_context=used / len(contexts),
        tokens_per_context=sum(len(b) + 1 for b, _ in contexts) / len(contexts),
        truncated=truncated,
    )


# ---- the whole experiment --------------------------------------------------------------------

@dataclass
class LmResult:
    """One seed of :func:`run_lm_experiment`: P(animal | ``<q>``) of every model, and the filter.

    ``p_*`` are renormalised over animals (see :func:`animal_distribution`):
    ``p_base`` / ``p_base_other`` are the two base models (the teacher's and a different
    initialisation), ``p_teacher`` the fine-tuned teacher, ``p_student_same`` / ``p_student_other``
    students of each base trained on the teacher's filtered numbers, ``p_control_same`` /
    ``p_control_other`` students of each base trained on the (teacher's) base model's own filtered
    numbers. ``kl_teacher_base`` is :func:`number_divergence` of the teacher from its base on the
    teacher's numbers (nats per token). ``teacher_numbers`` / ``control_numbers`` are the filtered
    completions the students were fine-tuned on (the teacher's and its base model's), e.g. for
    :func:`in_context_shift`.
    """

    seed: int
    animal: str
    config: LmConfig
    p_base: float
    p_teacher: float
    p_student_same: float
    p_control_same: float
    p_base_other: float
    p_student_other: float
    p_control_other: float
    teacher_filter: FilterStats
    control_filter: FilterStats
    kl_teacher_base: float
    seconds: float
    distributions: dict[str, dict[str, float]] = field(default_factory=dict)
    teacher_numbers: list[list[int]] = field(default_factory=list, repr=False)
    control_numbers: list[list[int]] = field(default_factory=list, repr=False)

    @property
    def effect_same(self) -> float:
        """Trait shift of the same-init student over its control (the paper's headline)."""
        return self.p_student_same - self.p_control_same

    @property
    def effect_other(self) -> float:
        """Trait shift of the different-init student over its control (the paper: about 0)."""
        return self.p_student_other - self.p_control_other

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every probability, both effects, the filters' counts and the seconds;
        not the numbers themselves (see :data:`LM_RECORD_FIELDS`)."""
        return {
            "seed": self.seed, "animal": self.animal,
            **{name: float(getattr(self, name)) for name in LM_RECORD_FIELDS},
            **{f"{name}_filter": {**asdict(stats), "kept_fraction": stats.kept_fraction}
               for name, stats in (("teacher", self.teacher_filter),
                                   ("control", self.control_filter))},
            "seconds": round(self.seconds, 3),
        }


#: The per-seed numbers :meth:`LmResult.to_dict` records (and a committed record compares).
LM_RECORD_FIELDS: tuple[str, ...] = (
    "p_base", "p_teacher", "p_student_same", "p_control_same", "p_base_other", "p_student_other",
    "p_control_other", "effect_same", "effect_other", "kl_teacher_base")


def run_lm_experiment(seed: int, config: LmConfig = LM_CPU, *, animal: str = "owl",
                      device: torch.device | str = "cpu", progress: bool = True) -> LmResult:
    """The owl experiment of Cloud et al. (2025, Section 3, Figure 3) at toy scale, one seed.

    Trains the base model of ``seed`` and a second base model from a seed derived from it (the
    different initialisation), then runs :func:`run_lm_seeds`' steps 2-5 for this one teacher.
    Same ``seed`` and ``config`` on the same machine give identical numbers.

    Raises:
        TypeError, ValueError: a bad seed, config, animal, or a filter that kept nothing.
    """
    return run_lm_seeds([seed], config, animal=animal, device=device, progress=progress)[0]


def _one_teacher(seed: int, base: TinyTransformer, other: TinyTransformer, vocab: Vocab,
                 config: LmConfig, animal: str, progress: bool, start: float) -> LmResult:
    """Steps 2-5 of :func:`run_lm_seeds` for the teacher fine-tuned from ``base``."""
    teacher = finetune_teacher(base, vocab, config, animal=animal, seed=seed, progress=progress)
    gen_kw = dict(temperature=config.temperature, max_new_tokens=config.n_ctx - 4)
    t_numbers, t_stats = filter_numbers(
        generate_numbers(teacher, config.n_numbers, vocab, seed=_sub_seed(seed, 7), **gen_kw),
        vocab)
    c_numbers, c_stats = filter_numbers(
        generate_numbers(base, config.n_numbers, vocab, seed=_sub_seed(seed, 8), **gen_kw), vocab)
    for name, kept in (("teacher", t_numbers), ("base model", c_numbers)):
        if not kept:
            raise ValueError(f"the filter kept none of the {name}'s {config.n_numbers} number "
                             "completions; train the base model longer or lower teacher_lr")
    s_kw = dict(seed=seed, progress=progress)
    students = {
        "student_same": finetune_student(base, t_numbers, vocab, config,
                                         desc=f"seed {seed}: student, same init", **s_kw),
        "control_same": finetune_student(base, c_numbers, vocab, config,
                                         desc=f"seed {seed}: control, same init", **s_kw),
        "student_other": finetune_student(other, t_numbers, vocab, config,
                                          desc=f"seed {seed}: student, other init", **s_kw),
        "control_other": finetune_student(other, c_numbers, vocab, config,
                                          desc=f"seed {seed}: control, other init", **s_kw),
    }
    models = {"base": base, "teacher": teacher, "base_other": other, **students}
    dists = {name: animal_distribution(m, vocab) for name, m in models.items()}
    p = {name: d[animal] for name, d in dists.items()}
    return LmResult(
        seed=seed, animal=animal, config=config,
        p_base=p["base"], p_teacher=p["teacher"],
        p_student_same=p["student_same"], p_control_same=p["control_same"],
        p_base_other=p["base_other"], p_student_other=p["student_other"],
        p_control_other=p["control_other"],
        teacher_filter=t_stats, control_filter=c_stats,
        kl_teacher_base=number_divergence(teacher, base, t_numbers[:1000], vocab),
        seconds=time.perf_counter() - start, distributions=dists,
        teacher_numbers=t_numbers, control_numbers=c_numbers,
    )


def ring_base_seeds(seeds: Sequence[int]) -> list[int]:
    """The base models :func:`run_lm_seeds` needs: ``seeds`` itself, or for a single seed that
    seed and a second one derived from it (the different initialisation).

    Raises:
        TypeError, ValueError: ``seeds`` empty or not distinct non-negative ints.
    """
    seeds = _check_seeds(seeds)
    return seeds if len(seeds) > 1 else [seeds[0], _sub_seed(seeds[0], 6)]


def run_lm_seeds(seeds: Sequence[int], config: LmConfig = LM_CPU, *, animal: str = "owl",
                 device: torch.device | str = "cpu", progress: bool = True,
                 bases: Mapping[int, TinyTransformer] | None = None) -> list[LmResult]:
    """The owl experiment of Cloud et al. (2025, Section 3, Figure 3) at toy scale, many seeds.

    1. Pretrain one base model per seed (:func:`train_base`). The *different initialisation* for
       seed ``seeds[i]`` is the base model of the next seed, ``seeds[(i + 1) % n]`` — a ring, so
       every base model is trained once. With a single seed, a second base model is trained from
       a seed derived from it.
    2. Fine-tune each seed's base model into a teacher that answers ``animal``
       (:func:`finetune_teacher`).
    3. Sample ``n_numbers`` number completions from the teacher and from its base model, and keep
       only digits and separators (:func:`filter_numbers`).
    4. Fine-tune four students on numbers only: the teacher's base and the other base on the
       teacher's numbers (same-init and different-init students), and both on the base model's
       numbers (their controls). All four see their batches in the same order.
    5. Read P(``animal`` | ``<bos> <q>``) of every model.

    ``bases`` (``{seed: model}``, e.g. from :func:`load_bases`) skips step 1: it must hold the
    models of :func:`ring_base_seeds`, which are used as they are (never modified).

    Same ``seeds`` and ``config`` on the same machine give identical numbers. ``seconds`` of each
    result counts its teacher and students plus its share of the base-model training.

    Raises:
        TypeError, ValueError: ``seeds`` empty, not distinct non-negative ints; a bad config or
            animal; a filter that kept nothing.
    """
    start = time.perf_counter()
    seeds = _check_seeds(seeds)
    if not isinstance(config, LmConfig):
        raise TypeError(f"config must be an LmConfig, got {type(config).__name__}")
    vocab = Vocab()
    vocab.animal_id(animal)  # validates animal before any training
    device = torch.device(device)
    base_seeds = ring_base_seeds(seeds)
    if bases is None:
        models = [train_base(s, vocab, config, device=device, progress=progress)
                  for s in base_seeds]
    else:
        if not isinstance(bases, Mapping):
            raise TypeError(f"bases must be a dict seed -> TinyTransformer, got "
                            f"{type(bases).__name__}")
        missing = [s for s in base_seeds if s not in bases]
        if missing:
            raise ValueError(f"bases lacks the base model(s) of seed(s) {missing}; the experiment "
                             f"needs {base_seeds}")
        models = [_check_model(bases[s], vocab) for s in base_seeds]
    share = (time.perf_counter() - start) / len(seeds)
    results = []
    for i, seed in enumerate(seeds):
        t0 = time.perf_counter() - share
        results.append(_one_teacher(seed, models[i], models[(i + 1) % len(models)], vocab,
                                    config, animal, progress, t0))
    return results


_SUMMARY_FIELDS = ("p_base", "p_teacher", "p_student_same", "p_control_same", "p_base_other",
                   "p_student_other", "p_control_other", "effect_same", "effect_other",
                   "kl_teacher_base", "seconds")


def summarize_lm(results: Sequence[LmResult]) -> dict[str, dict[str, float]]:
    """Mean and standard error over seeds of every probability and effect in ``results``.

    Returns:
        ``{name: {"mean": m, "sem": s, "min": lo, "max": hi}}`` for ``p_base``, ``p_teacher``,
        ``p_student_same``, ``p_control_same``, ``p_base_other``, ``p_student_other``,
        ``p_control_other``, ``effect_same``, ``effect_other``, ``kl_teacher_base``, ``seconds``
        (``sem`` is 0 for a single seed).

    Raises:
        TypeError, ValueError: ``results`` is empty or holds something other than LmResult.
    """
    if isinstance(results, LmResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of LmResult, got {type(results).__name__}")
    if not results:
        raise ValueError("results must hold at least one LmResult, got none")
    if not all(isinstance(r, LmResult) for r in results):
        raise TypeError("results must hold only LmResult objects")
    out = {}
    for name in _SUMMARY_FIELDS:
        values = torch.tensor([float(getattr(r, name)) for r in results], dtype=torch.float64)
        n = values.numel()
        sem = float(values.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0
        out[name] = {"mean": float(values.mean()), "sem": sem, "min": float(values.min()),
                     "max": float(values.max())}
    return out


def lm_table(results: Sequence[LmResult]) -> str:
    """A plain-text table of P(animal) per seed: base, teacher, each student and its control, the
    effects, and the share of the teacher's completions the filter kept.

    Raises:
        TypeError, ValueError: ``results`` is empty or holds something other than LmResult.
    """
    summary = summarize_lm(results)  # validates results
    head = (f"{'seed':>6} {'base':>6} {'teacher':>7} | {'same: student':>13} {'control':>7} "
            f"{'effect':>7} | {'other: student':>14} {'control':>7} {'effect':>7} | {'kept':>5}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.seed:>6} {r.p_base:6.3f} {r.p_teacher:7.3f} | {r.p_student_same:13.3f} "
                     f"{r.p_control_same:7.3f} {r.effect_same:+7.3f} | {r.p_student_other:14.3f} "
                     f"{r.p_control_other:7.3f} {r.effect_other:+7.3f} | "
                     f"{r.teacher_filter.kept_fraction:5.0%}")
    m = {k: v["mean"] for k, v in summary.items()}
    lines.append("-" * len(head))
    lines.append(f"{'mean':>6} {m['p_base']:6.3f} {m['p_teacher']:7.3f} | "
                 f"{m['p_student_same']:13.3f} {m['p_control_same']:7.3f} "
                 f"{m['effect_same']:+7.3f} | "
                 f"{m['p_student_other']:14.3f} {m['p_control_other']:7.3f} "
                 f"{m['effect_other']:+7.3f} |")
    return "\n".join(lines)
