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

This module is the experiment, at a toy scale small enough for a laptop CPU, on the number data of
:mod:`~readingroom.subliminal.lm_data` (vocabulary, documents, the filter) and the models of
:mod:`~readingroom.subliminal.lm_models` (base models, teacher, students, the trait):

:func:`run_lm_seeds` runs the whole pipeline for many seeds (:func:`run_lm_experiment` for one)
and returns an :class:`LmResult` per seed: same-initialisation student, different-initialisation
student, and a control student for each initialisation trained on the base model's own numbers.
The fine-tuned models are always compared with their control, which sees the same number of
filtered sequences produced the same way, so that the drift every model shows when it is
fine-tuned on numbers cancels. :func:`summarize_lm` and :func:`lm_table` summarise the seeds; the
paper's in-context control (the same numbers as a prompt, not trained on) is
:func:`in_context_shift`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from readingroom.common import TinyTransformer
from readingroom.common.checks import check_int as _check_int
from readingroom.common.checks import check_seed, check_seeds
from readingroom.common.train import eval_mode
from readingroom.subliminal.lm_data import FilterStats, Vocab, _check_vocab, filter_numbers
from readingroom.subliminal.lm_models import (
    LM_CPU,
    LmRecipe,
    _check_model,
    _sub_seed,
    animal_distribution,
    finetune_student,
    finetune_teacher,
    generate_numbers,
    number_divergence,
    train_base,
    trait_probability,
)

__all__ = [
    "InContextShift",
    "LM_RECORD_FIELDS",
    "LM_SEEDS_RECORD",
    "LmResult",
    "in_context_shift",
    "lm_table",
    "ring_base_seeds",
    "run_lm_experiment",
    "run_lm_seeds",
    "summarize_lm",
]

#: The book's committed record of the owl experiment over many seeds, made by
#: ``python -m readingroom.subliminal lm-seeds`` (a path under ``book/data/``).
LM_SEEDS_RECORD = "subliminal_lm/lm_seeds.json"

# ---- the in-context control ------------------------------------------------------------------

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

class StudentEffects:
    """What every owl experiment reports about its students: the trait shift of the same-init
    and the different-init student over their controls, and its filters' counts for a record
    (for a dataclass with ``p_student_*``, ``p_control_*``, ``teacher_filter`` and
    ``control_filter``)."""

    @property
    def effect_same(self) -> float:
        """Trait shift of the same-init student over its control (the paper's headline)."""
        return self.p_student_same - self.p_control_same

    @property
    def effect_other(self) -> float:
        """Trait shift of the different-init student over its control (the paper: about 0)."""
        return self.p_student_other - self.p_control_other

    def filters_dict(self) -> dict[str, dict]:
        """``{"teacher_filter": ..., "control_filter": ...}``: the counts and the kept share."""
        return {f"{name}_filter": {**asdict(stats), "kept_fraction": stats.kept_fraction}
                for name, stats in (("teacher", self.teacher_filter),
                                    ("control", self.control_filter))}


@dataclass
class LmResult(StudentEffects):
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
    config: LmRecipe
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every probability, both effects, the filters' counts and the seconds;
        not the numbers themselves (see :data:`LM_RECORD_FIELDS`)."""
        return {
            "seed": self.seed, "animal": self.animal,
            **{name: float(getattr(self, name)) for name in LM_RECORD_FIELDS},
            **self.filters_dict(),
            "seconds": round(self.seconds, 3),
        }


#: The per-seed numbers :meth:`LmResult.to_dict` records (and a committed record compares).
LM_RECORD_FIELDS: tuple[str, ...] = (
    "p_base", "p_teacher", "p_student_same", "p_control_same", "p_base_other", "p_student_other",
    "p_control_other", "effect_same", "effect_other", "kl_teacher_base")


def run_lm_experiment(seed: int, config: LmRecipe = LM_CPU, *, animal: str = "owl",
                      device: torch.device | str = "cpu", progress: bool = True) -> LmResult:
    """The owl experiment of Cloud et al. (2025, Section 3, Figure 3) at toy scale, one seed.

    Trains the base model of ``seed`` and a second base model from a seed derived from it (the
    different initialisation), then runs :func:`run_lm_seeds`' steps 2-5 for this one teacher.
    Same ``seed`` and ``config`` on the same machine give identical numbers.
    """
    check_seed(seed)
    return run_lm_seeds([seed], config, animal=animal, device=device, progress=progress)[0]


def _one_teacher(seed: int, base: TinyTransformer, other: TinyTransformer, vocab: Vocab,
                 config: LmRecipe, animal: str, progress: bool, start: float) -> LmResult:
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
    """
    seeds = check_seeds(seeds, distinct=True)
    return seeds if len(seeds) > 1 else [seeds[0], _sub_seed(seeds[0], 6)]


def ring_bases(seeds: Sequence[int], bases: Mapping[int, TinyTransformer] | None,
               train: Callable[[int], TinyTransformer], vocab: Vocab,
               what: str = "base model") -> tuple[list[int], list[TinyTransformer]]:
    """The ring of base models of an experiment over ``seeds`` (:func:`ring_base_seeds`): the
    given ``bases`` (seed -> model, each checked against ``vocab``), or ``train(seed)`` for each
    when ``bases`` is None. Returns the base seeds and their models, in ring order."""
    base_seeds = ring_base_seeds(seeds)
    if bases is None:
        return base_seeds, [train(s) for s in base_seeds]
    if not isinstance(bases, Mapping):
        raise TypeError(f"bases must be a dict seed -> TinyTransformer, got "
                        f"{type(bases).__name__}")
    missing = [s for s in base_seeds if s not in bases]
    if missing:
        raise ValueError(f"bases lacks the {what}(s) of seed(s) {missing}; the experiment "
                         f"needs {base_seeds}")
    return base_seeds, [_check_model(bases[s], vocab) for s in base_seeds]


def run_lm_seeds(seeds: Sequence[int], config: LmRecipe = LM_CPU, *, animal: str = "owl",
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
    """
    start = time.perf_counter()
    seeds = check_seeds(seeds, distinct=True)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
    vocab = Vocab()
    vocab.animal_id(animal)  # validates animal before any training
    device = torch.device(device)
    base_seeds, models = ring_bases(
        seeds, bases, lambda s: train_base(s, vocab, config, device=device, progress=progress),
        vocab)
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
