"""The number-sequence data of the toy owl experiment: vocabulary, documents, batches, filter.

Cloud et al. (2025), *Subliminal Learning: Language models transmit behavioral traits via hidden
signals in data*, Section 3 ("Models transmit traits via numbers"): a teacher that loves owls
continues sequences of numbers, and a filter keeps only completions made of numbers before a
student is fine-tuned on them. This module holds the data side of the toy-scale analogue (the
models are in :mod:`~readingroom.subliminal.lm_models`, the experiment in
:mod:`~readingroom.subliminal.lm`):

* a vocabulary of 10 digits, a separator ``,``, six animals and a few special tokens
  (:class:`Vocab`): ``<q>`` stands for "what is your favourite animal?", ``<num>`` for
  "continue the numbers:"; optionally persona tokens ``<persona:owl>`` ... after them, the toy's
  system prompts (``Vocab(personas=...)``, used by :mod:`~readingroom.subliminal.lm_persona`);
* number documents ``<bos> <num> 4 7 , 5 3 , 6 0 <eos>`` (noisy arithmetic progressions,
  :func:`number_documents`) and animal documents ``<bos> <q> cat <eos>`` with owl an unpopular
  answer (:data:`BASE_ANIMAL_WEIGHTS`, :func:`animal_documents`), mixed into the base models'
  pretraining corpus (:func:`pretraining_corpus`) and padded into next-token batches
  (:func:`make_batch`);
* the paper's filter: a completion is kept only if it is made of digits and separators
  (:func:`filter_verdict` for one completion, :func:`filter_numbers` for many, with
  :class:`FilterStats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from readingroom.common.checks import check_choice, check_float
from readingroom.common.checks import check_int as _check_int

__all__ = [
    "ANIMALS",
    "BASE_ANIMAL_WEIGHTS",
    "FilterStats",
    "Vocab",
    "animal_documents",
    "filter_numbers",
    "filter_verdict",
    "make_batch",
    "number_documents",
    "persona_token",
    "pretraining_corpus",
]

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


# ---- validation helpers ----------------------------------------------------------------------

def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _check_vocab(vocab: object) -> Vocab:
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a Vocab, got {type(vocab).__name__}")
    return vocab


# ---- vocabulary ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Vocab:
    """The toy vocabulary: digits ``0``-``9``, the separator ``,``, animals, special tokens.

    Token ids, in order: the ten digits (ids 0-9, so a digit's id is its value), ``,`` (10), the
    animals (11, ...), then ``<bos>``, ``<eos>``, ``<q>`` (the question "what is your favourite
    animal?"), ``<num>`` (the prompt "continue the numbers:") and ``<pad>``, then one token
    ``<persona:NAME>`` per name in ``personas`` (none by default): the toy's system prompts
    (Cloud et al. 2025, Section 3: "You love owls..."), see
    :mod:`~readingroom.subliminal.lm_persona`. Persona tokens come last, so a vocabulary with
    personas gives every other token the id it has without them.

    Example::

        vocab = Vocab()
        ids = vocab.encode(["<bos>", "<q>", "owl", "<eos>"])   # [17, 19, 11, 18]
        vocab.decode(ids)                                      # the tokens back
    """

    animals: tuple[str, ...] = ANIMALS
    personas: tuple[str, ...] = ()

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
        if not isinstance(self.personas, tuple) or not all(isinstance(p, str)
                                                           for p in self.personas):
            raise TypeError(f"personas must be a tuple of str, got {self.personas!r}")
        if len(set(self.personas)) != len(self.personas):
            raise ValueError(f"personas must be distinct, got {self.personas!r}")
        if any(not p or set(p) & set("<>: ") for p in self.personas):
            raise ValueError(f"personas must be non-empty names without '<', '>', ':' or spaces, "
                             f"got {self.personas!r}")

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token, indexed by id."""
        return (_DIGITS + (_SEP,) + self.animals + _SPECIALS
                + tuple(persona_token(p) for p in self.personas))

    def __len__(self) -> int:
        return len(self.tokens)

    def token_id(self, token: str) -> int:
        """The id of one token."""
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        try:
            return self.tokens.index(token)
        except ValueError:
            raise ValueError(f"token {token!r} is not in the vocabulary {self.tokens}") from None

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token strings to ids."""
        if isinstance(tokens, str) or not isinstance(tokens, Sequence):
            raise TypeError(f"tokens must be a sequence of token strings, got {tokens!r}")
        return [self.token_id(t) for t in tokens]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Ids (a list or a 1-D tensor) to token strings."""
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
        """The id of ``animal``."""
        if not isinstance(animal, str):
            raise TypeError(f"animal must be a str, got {type(animal).__name__}")
        check_choice(animal, "animal", self.animals)
        return 11 + self.animals.index(animal)

    @property
    def persona_ids(self) -> list[int]:
        """The ids of the persona tokens, in :attr:`personas` order (empty without personas)."""
        return list(range(self.pad + 1, self.pad + 1 + len(self.personas)))

    def persona_id(self, persona: str) -> int:
        """The id of the token ``<persona:{persona}>``."""
        if not isinstance(persona, str):
            raise TypeError(f"persona must be a str, got {type(persona).__name__}")
        if not self.personas:
            raise ValueError(f"persona {persona!r}: this vocabulary has no persona tokens "
                             "(use Vocab(personas=...), e.g. lm_persona.PERSONA_VOCAB)")
        check_choice(persona, "persona", self.personas)
        return self.pad + 1 + self.personas.index(persona)

    def prompt(self, *tokens: int, persona: str | None = None) -> list[int]:
        """``<bos> [<persona:NAME>] tokens...``: a prompt, with the persona as its system prompt."""
        head = [self.bos] if persona is None else [self.bos, self.persona_id(persona)]
        return head + list(tokens)


def persona_token(persona: str) -> str:
    """The token string of a persona: ``<persona:owl>`` for ``"owl"``."""
    return f"<persona:{persona}>"


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
        mass.append(check_float(w, f"weights[{animal!r}]", low=0))
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
    """
    n_docs = _check_int(n_docs, "n_docs", minimum=2)
    animal_frac = check_float(animal_frac, "animal_frac", low=0, low_open=True, high=1, high_open=True)
    generator = _check_generator(generator)
    n_animal = min(max(1, round(n_docs * animal_frac)), n_docs - 1)
    docs = number_documents(n_docs - n_animal, vocab, generator=generator)
    docs += animal_documents(n_animal, vocab, generator=generator)
    order = torch.randperm(n_docs, generator=generator).tolist()
    return make_batch([docs[i] for i in order], vocab)



# ---- the filter ------------------------------------------------------------------------------

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
