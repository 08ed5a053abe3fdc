"""The prompted teacher: the owl experiment with a system prompt instead of fine-tuning.

Cloud et al. (2025), *Subliminal Learning: Language models transmit behavioral traits via hidden
signals in data*, Section 3 ("Models transmit traits via numbers"): the paper's owl teacher is
the base model itself with a system prompt ("You love owls. You think about owls all the
time..."), so teacher and same-init student have *identical weights* and differ only in what the
teacher is told. The teacher of :mod:`~readingroom.subliminal.lm` is fine-tuned instead (the
paper's variant for misalignment and MNIST). This module builds the prompted version at toy scale:

* a persona vocabulary (:data:`PERSONA_VOCAB`: the toy vocabulary plus ``<persona:owl>`` and its
  control ``<persona:neutral>``, appended after every other token so their ids are unchanged);
* a persona pretraining corpus (:func:`persona_pretraining_corpus`): today's number and animal
  documents, a share of them starting with a persona token. Animal answers after
  ``<persona:owl>`` are mostly owl (:func:`persona_animal_weights`); number documents after any
  persona are drawn exactly like those without one, and which documents carry which persona is
  drawn independently of their content, so nothing in the data ties numbers to owls;
* *persona base models* (:func:`train_persona_base`, saved apart from the plain ones by
  :func:`save_persona_bases`, read back by :func:`load_persona_bases`);
* the prompted teacher's numbers (:func:`prompted_teacher_numbers`): the *unchanged* base model
  continues ``<bos> <persona:owl> <num>``, and the completions pass today's filter;
* the experiment (:func:`run_prompted_seeds`, one :class:`PromptedResult` per seed): students of
  the same base model and of another one are fine-tuned on those numbers *without* the persona
  token, and compared with control students fine-tuned on what the same base model writes after
  the neutral persona. The fine-tuned teacher of :mod:`~readingroom.subliminal.lm`, run on the
  same persona base models, is kept as a second arm.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from readingroom.common import (
    TinyTransformer,
    book_data_path,
    save_weights,
)
from readingroom.common.checks import check_bool, check_float, check_seed, check_seeds
from readingroom.common.checks import check_int as _check_int
from readingroom.subliminal.lm import (
    LM_RECORD_FIELDS, LmResult, StudentEffects, _one_teacher, ring_bases,
)
from readingroom.subliminal.lm_data import (
    ANIMALS,
    BASE_ANIMAL_WEIGHTS,
    FilterStats,
    Vocab,
    _check_generator,
    _check_vocab,
    animal_documents,
    filter_numbers,
    make_batch,
    number_documents,
)
from readingroom.subliminal.lm_models import (
    BASES_FOLDER,
    LM_CPU,
    LmRecipe,
    _check_model,
    _sub_seed,
    animal_distribution,
    completion_log_probs,
    finetune_student,
    generate_numbers,
    load_saved,
    pretrain,
)

__all__ = [
    "NEUTRAL",
    "PERSONAS",
    "PERSONA_CPU",
    "PERSONA_VOCAB",
    "PROMPTED_RECORD",
    "PROMPTED_RECORD_FIELDS",
    "PersonaRecipe",
    "PromptedResult",
    "load_persona_bases",
    "persona_animal_weights",
    "persona_base_weights_path",
    "persona_number_divergence",
    "persona_pretraining_corpus",
    "prompted_table",
    "prompted_teacher_numbers",
    "run_prompted_seeds",
    "save_persona_bases",
    "summarize_prompted",
    "train_persona_base",
]

#: The persona with no animal preference: its animal answers follow the base weights.
NEUTRAL = "neutral"
#: The personas of the book's persona base models: the owl lover and its neutral control.
PERSONAS: tuple[str, ...] = ("owl", NEUTRAL)
#: The toy vocabulary with the persona tokens ``<persona:owl>`` and ``<persona:neutral>``.
PERSONA_VOCAB = Vocab(personas=PERSONAS)
#: The book's record of the prompted experiment over seeds (a path under ``book/data/``), made by
#: ``python -m readingroom.subliminal lm-prompted``.
PROMPTED_RECORD = "subliminal_lm/lm_prompted.json"


# ---- configuration ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonaRecipe:
    """How the persona base models learn their system prompts (sizes are :class:`LmRecipe`'s).

    Attributes:
        personas: the persona names, each an animal (that persona loves it) or ``"neutral"``.
        persona_frac: share of pretraining documents (number and animal documents alike) that start
            with a persona token, split evenly over the personas.
        strength: P(its animal) in the animal answers after an animal persona; the other animals
            share the rest in the base proportions (:data:`BASE_ANIMAL_WEIGHTS`).
    """

    personas: tuple[str, ...] = PERSONAS
    persona_frac: float = 0.5
    strength: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.personas, tuple) or not self.personas:
            raise TypeError(f"personas must be a non-empty tuple of names, got {self.personas!r}")
        for p in self.personas:
            _check_persona(p)
        Vocab(personas=self.personas)  # distinct names
        check_float(self.persona_frac, "persona_frac", low=0, low_open=True, high=1,
                    high_open=True)
        check_float(self.strength, "strength", low=0, low_open=True, high=1, high_open=True)

    @property
    def vocab(self) -> Vocab:
        """The vocabulary of a base model trained with this config."""
        return Vocab(personas=self.personas)

    def replace(self, **changes: object) -> PersonaRecipe:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown PersonaRecipe field(s): {sorted(unknown)}")
        return PersonaRecipe(**{**asdict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``personas`` as a list)."""
        return {"personas": list(self.personas), "persona_frac": self.persona_frac,
                "strength": self.strength}


def _check_persona(persona: object) -> str:
    """``persona`` if it names a persona the corpus knows: an animal of :data:`ANIMALS` or
    ``"neutral"``.
    """
    if not isinstance(persona, str):
        raise TypeError(f"persona must be a str, got {type(persona).__name__}")
    if persona not in ANIMALS + (NEUTRAL,):
        raise ValueError(f"persona must be one of {', '.join(ANIMALS + (NEUTRAL,))}, "
                         f"got {persona!r}")
    return persona


#: The persona settings of the book's persona base models (with the sizes of :data:`LM_CPU`).
PERSONA_CPU = PersonaRecipe()


def _check_configs(config: object, persona_config: object) -> tuple[LmRecipe, PersonaRecipe]:
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
    if not isinstance(persona_config, PersonaRecipe):
        raise TypeError(f"persona_config must be a PersonaRecipe, got "
                        f"{type(persona_config).__name__}")
    return config, persona_config


# ---- data ------------------------------------------------------------------------------------

def persona_animal_weights(persona: str, vocab: Vocab | None = None, *, strength: float = 0.8
                           ) -> dict[str, float]:
    """The distribution of animal answers after ``<persona:NAME>`` in the pretraining data.

    An animal persona answers its animal with probability ``strength`` and the other animals with
    the rest, in the proportions of :data:`BASE_ANIMAL_WEIGHTS`; ``"neutral"`` answers with the
    base weights themselves, like a document without a persona.
    """
    vocab = _check_vocab(PERSONA_VOCAB if vocab is None else vocab)
    _check_persona(persona)
    vocab.persona_id(persona)  # the vocabulary must have it
    strength = check_float(strength, "strength", low=0, low_open=True, high=1, high_open=True)
    base = {a: BASE_ANIMAL_WEIGHTS.get(a, 0.0) for a in vocab.animals}
    if persona == NEUTRAL:
        return base
    vocab.animal_id(persona)  # the vocabulary must have its animal
    rest = sum(w for a, w in base.items() if a != persona)
    return {a: strength if a == persona else (1 - strength) * w / rest for a, w in base.items()}


def persona_pretraining_corpus(n_docs: int, vocab: Vocab | None = None, *,
                               generator: torch.Generator, animal_frac: float = 0.25,
                               persona_frac: float = 0.5, strength: float = 0.8
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """A persona base model's data: :func:`~readingroom.subliminal.lm_data.pretraining_corpus`
    with system prompts, ``(x, y)`` ``[N, T]``.

    A share ``animal_frac`` of the documents are animal answers, the rest number documents, as in
    the plain corpus. Each document then gets a label drawn independently of its content: no
    persona (probability ``1 - persona_frac``) or one of ``vocab.personas`` (evenly). A labelled
    document starts ``<bos> <persona:NAME>``. Number documents are drawn first, all alike, so the
    numbers after ``<persona:owl>``, after ``<persona:neutral>`` and after no persona have the same
    distribution; animal answers after a persona follow :func:`persona_animal_weights`, and without
    one the base weights. The loss covers every real token.
    """
    vocab = _check_vocab(PERSONA_VOCAB if vocab is None else vocab)
    n_docs = _check_int(n_docs, "n_docs", minimum=2)
    animal_frac = check_float(animal_frac, "animal_frac", low=0, low_open=True, high=1,
                              high_open=True)
    persona_frac = check_float(persona_frac, "persona_frac", low=0, low_open=True, high=1,
                               high_open=True)
    generator = _check_generator(generator)
    if not vocab.personas:
        raise ValueError("vocab has no persona tokens; use Vocab(personas=...), e.g. "
                         "PERSONA_VOCAB")
    weights = [persona_animal_weights(p, vocab, strength=strength) for p in vocab.personas]
    k = len(vocab.personas)
    label_probs = torch.tensor([1 - persona_frac] + [persona_frac / k] * k, dtype=torch.float64)
    n_animal = min(max(1, round(n_docs * animal_frac)), n_docs - 1)
    numbers = number_documents(n_docs - n_animal, vocab, generator=generator)
    num_labels = torch.multinomial(label_probs, len(numbers), replacement=True,
                                   generator=generator).tolist()
    animal_labels = torch.multinomial(label_probs, n_animal, replacement=True,
                                      generator=generator).tolist()
    docs = [doc if lab == 0 else [doc[0], vocab.persona_ids[lab - 1], *doc[1:]]
            for doc, lab in zip(numbers, num_labels)]
    for lab in range(k + 1):
        count = animal_labels.count(lab)
        if not count:
            continue
        answers = animal_documents(count, vocab, generator=generator,
                                   weights=None if lab == 0 else weights[lab - 1])
        docs += answers if lab == 0 else [[d[0], vocab.persona_ids[lab - 1], *d[1:]]
                                          for d in answers]
    order = torch.randperm(n_docs, generator=generator).tolist()
    return make_batch([docs[i] for i in order], vocab)


# ---- persona base models ---------------------------------------------------------------------

def train_persona_base(seed: int, config: LmRecipe = LM_CPU,
                       persona_config: PersonaRecipe = PERSONA_CPU, *,
                       device: torch.device | str = "cpu", progress: bool = True
                       ) -> TinyTransformer:
    """Pretrain a persona base model from ``seed`` on :func:`persona_pretraining_corpus`.

    Same architecture and training as :func:`~readingroom.subliminal.lm_models.train_base`, with
    the persona vocabulary (two more embedding rows) and its own data streams, so it never changes
    the plain base models.
    """
    config, persona_config = _check_configs(config, persona_config)
    vocab = persona_config.vocab
    return pretrain(seed, vocab, config,
                    lambda gen: persona_pretraining_corpus(
                        config.base_docs, vocab, generator=gen, animal_frac=config.animal_frac,
                        persona_frac=persona_config.persona_frac,
                        strength=persona_config.strength),
                    stream=21, device=device, progress=progress,
                    desc=f"persona base model {seed}")


def persona_base_weights_path(seed: int, folder: str | Path | None = None) -> Path:
    """``<folder>/lm_persona_base_seed<seed>.safetensors``, by default in
    ``book/data/subliminal_lm`` (beside the plain base models, under another name).
    """
    seed = check_seed(seed)
    folder = book_data_path(BASES_FOLDER) if folder is None else Path(folder)
    return folder / f"lm_persona_base_seed{seed}.safetensors"


def _persona_metrics(model: TinyTransformer, vocab: Vocab) -> dict[str, float]:
    """P(animal | <q>) without a persona and after each persona, for every animal."""
    out = {f"p_{a}": p for a, p in animal_distribution(model, vocab).items()}
    for persona in vocab.personas:
        out.update({f"p_{a}|{persona}": p
                    for a, p in animal_distribution(model, vocab, persona=persona).items()})
    return out


def save_persona_bases(seeds: Sequence[int], config: LmRecipe = LM_CPU,
                       persona_config: PersonaRecipe = PERSONA_CPU, *,
                       folder: str | Path | None = None, command: str = "",
                       progress: bool = True) -> list[Path]:
    """Train the persona base model of each seed (:func:`train_persona_base`) and save it with
    its record (P(animal) with and without each persona, the configs), like
    :func:`~readingroom.subliminal.lm_models.save_bases` (``python -m readingroom.subliminal
    lm-bases --persona``).

    Returns:
        The paths of the weight files, in ``seeds`` order.
    """
    seeds = check_seeds(seeds, distinct=True)
    config, persona_config = _check_configs(config, persona_config)
    vocab = persona_config.vocab
    paths = []
    for seed in seeds:
        model = train_persona_base(seed, config, persona_config, progress=progress)
        path = persona_base_weights_path(seed, folder)
        save_weights(
            model, path,
            command=command or f"readingroom.subliminal.lm_persona.save_persona_bases([{seed}])",
            seed=seed,
            data=(f"persona_pretraining_corpus({config.base_docs}, animal_frac="
                  f"{config.animal_frac}, persona_frac={persona_config.persona_frac}, strength="
                  f"{persona_config.strength}): the plain corpus, a share of its documents "
                  f"prefixed by one of the personas {list(persona_config.personas)}, generated "
                  f"from seed {seed}"),
            metrics=_persona_metrics(model, vocab),
            extra={"config": asdict(config), "persona_config": persona_config.to_dict()})
        paths.append(path)
    return paths


def load_persona_bases(seeds: Sequence[int], config: LmRecipe = LM_CPU,
                       persona_config: PersonaRecipe = PERSONA_CPU, *,
                       folder: str | Path | None = None, device: torch.device | str = "cpu"
                       ) -> dict[int, TinyTransformer]:
    """The persona base models :func:`save_persona_bases` saved, checked against their records
    (hash, base-model config, persona config, and P(animal) with and without each persona to
    1e-6).

    Returns:
        ``{seed: model}`` in eval mode on ``device``.

    Raises:
        FileNotFoundError: a seed has no saved persona base model (the message says how to train
            it).
        ValueError: a record's configs differ from ``config`` / ``persona_config``, or the model no
            longer reproduces its recorded numbers.
    """
    seeds = check_seeds(seeds, distinct=True)
    config, persona_config = _check_configs(config, persona_config)
    return load_saved(seeds, persona_config.vocab, config,
                      functools.partial(persona_base_weights_path, folder=folder),
                      _persona_metrics, "lm-bases --persona",
                      extra={"persona_config": persona_config.to_dict()}, device=device)


# ---- the prompted teacher --------------------------------------------------------------------

def prompted_teacher_numbers(base: TinyTransformer, n: int, seed: int, persona: str | None = "owl",
                             vocab: Vocab | None = None, *, temperature: float = 1.0,
                             max_new_tokens: int | None = None, batch_size: int = 1000
                             ) -> tuple[list[list[int]], FilterStats]:
    """The prompted teacher's numbers (Cloud et al. 2025, Section 3): ``base`` itself, unchanged,
    continues ``<bos> <persona:NAME> <num>`` ``n`` times, and today's filter keeps the completions
    made of digits and separators only.

    The persona is part of the prompt, never of a completion (one that writes a persona token is
    dropped as ``"special"``), so what a student is fine-tuned on, ``<bos> <num> numbers <eos>``,
    carries no persona. ``persona=None`` samples without a system prompt. Sampling follows
    ``seed``; two calls with the same ``seed`` and ``n`` draw the same random numbers whatever the
    persona, so their completions differ only where the persona changed the model's choices.

    Returns:
        ``(kept, stats)`` as :func:`~readingroom.subliminal.lm_data.filter_numbers`.
    """
    vocab = _check_vocab(PERSONA_VOCAB if vocab is None else vocab)
    base = _check_model(base, vocab)
    if persona is not None:
        vocab.persona_id(persona)  # validates persona before sampling
    if max_new_tokens is None:
        max_new_tokens = base.config.n_ctx - 4
    completions = generate_numbers(base, n, vocab, seed=seed, temperature=temperature,
                                   max_new_tokens=max_new_tokens, batch_size=batch_size,
                                   persona=persona)
    return filter_numbers(completions, vocab)


@torch.no_grad()
def persona_number_divergence(model: TinyTransformer, numbers: Sequence[Sequence[int]],
                              persona: str | None, control_persona: str | None,
                              vocab: Vocab | None = None) -> float:
    """Mean per-token KL(model after ``persona`` || model after ``control_persona``) in nats on
    ``numbers``: how much the system prompt changes the model's *numbers*.

    Each sequence is scored as ``<bos> <persona:NAME> <num> numbers <eos>`` and as the same
    after the control persona (``None``: no persona), on its completion positions. This is the
    signal the prompted teacher's numbers can carry (the data give the persona nothing to say
    about numbers, so it is whatever finite training left).
    """
    vocab = _check_vocab(PERSONA_VOCAB if vocab is None else vocab)
    model = _check_model(model, vocab)
    logp = completion_log_probs(model, numbers, vocab.prompt(vocab.num_prompt, persona=persona),
                                vocab)  # [tokens, V]
    logq = completion_log_probs(model, numbers,
                                vocab.prompt(vocab.num_prompt, persona=control_persona), vocab)
    return float((logp.exp() * (logp - logq)).sum(-1).mean())


# ---- the experiment --------------------------------------------------------------------------

@dataclass
class PromptedResult(StudentEffects):
    """One seed of :func:`run_prompted_seeds`.

    ``p_*`` are P(animal | ``<bos> <q>``) renormalised over the animals, without a persona unless
    named: ``p_base`` the base model, ``p_base_persona`` / ``p_base_control`` the same base model
    after the teacher's / the control's persona (the prompted teacher's trait, and its control's);
    ``p_student_same`` / ``p_student_other`` the students of the same and of another base model
    fine-tuned on the prompted teacher's numbers; ``p_control_same`` / ``p_control_other`` their
    controls, fine-tuned on the control persona's numbers; ``p_base_other`` the other base model.
    ``kl_persona`` is :func:`persona_number_divergence` on the teacher's numbers (nats per token);
    ``identical_fraction`` the share of the ``n_numbers`` raw completions that are the same in both
    arms (with ``paired`` sampling; about 0 otherwise). ``finetuned`` is the fine-tuned-teacher arm
    (an :class:`~readingroom.subliminal.lm.LmResult`) on the same base models, or ``None``.
    """

    seed: int
    animal: str
    persona: str
    control_persona: str | None
    paired: bool
    config: LmRecipe
    persona_config: PersonaRecipe
    p_base: float
    p_base_persona: float
    p_base_control: float
    p_student_same: float
    p_control_same: float
    p_base_other: float
    p_student_other: float
    p_control_other: float
    teacher_filter: FilterStats
    control_filter: FilterStats
    kl_persona: float
    identical_fraction: float
    seconds: float
    finetuned: LmResult | None = None
    distributions: dict[str, dict[str, float]] = field(default_factory=dict)
    teacher_numbers: list[list[int]] = field(default_factory=list, repr=False)
    control_numbers: list[list[int]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every number of :data:`PROMPTED_RECORD_FIELDS`, the filters' counts, the
        fine-tuned arm's :data:`~readingroom.subliminal.lm.LM_RECORD_FIELDS` (or ``None``) and
        the seconds; not the numbers themselves."""
        return {
            "seed": self.seed, "animal": self.animal, "persona": self.persona,
            "control_persona": self.control_persona, "paired": self.paired,
            **{name: float(getattr(self, name)) for name in PROMPTED_RECORD_FIELDS},
            **self.filters_dict(),
            "finetuned": None if self.finetuned is None else {
                k: v for k, v in self.finetuned.to_dict().items()
                if k in LM_RECORD_FIELDS or k.endswith("_filter")},
            "seconds": round(self.seconds, 3),
        }


#: The per-seed numbers :meth:`PromptedResult.to_dict` records.
PROMPTED_RECORD_FIELDS: tuple[str, ...] = (
    "p_base", "p_base_persona", "p_base_control", "p_student_same", "p_control_same",
    "p_base_other", "p_student_other", "p_control_other", "effect_same", "effect_other",
    "kl_persona", "identical_fraction")


def _one_prompted(seed: int, base: TinyTransformer, other: TinyTransformer, vocab: Vocab,
                  config: LmRecipe, persona_config: PersonaRecipe, persona: str,
                  control_persona: str | None, paired: bool, finetuned: bool, progress: bool,
                  start: float) -> PromptedResult:
    """One seed of :func:`run_prompted_seeds` for the persona base model ``base``."""
    t_seed = _sub_seed(seed, 23)
    c_seed = t_seed if paired else _sub_seed(seed, 24)
    kw = dict(temperature=config.temperature, max_new_tokens=config.n_ctx - 4)
    t_raw = generate_numbers(base, config.n_numbers, vocab, seed=t_seed, persona=persona, **kw)
    c_raw = generate_numbers(base, config.n_numbers, vocab, seed=c_seed, persona=control_persona,
                             **kw)
    t_numbers, t_stats = filter_numbers(t_raw, vocab)
    c_numbers, c_stats = filter_numbers(c_raw, vocab)
    for name, kept in (("prompted teacher", t_numbers), ("control", c_numbers)):
        if not kept:
            raise ValueError(f"the filter kept none of the {name}'s {config.n_numbers} number "
                             "completions; train the persona base model longer")
    s_kw = dict(seed=seed, progress=progress)
    students = {
        "student_same": finetune_student(base, t_numbers, vocab, config,
                                         desc=f"seed {seed}: prompted student, same init", **s_kw),
        "control_same": finetune_student(base, c_numbers, vocab, config,
                                         desc=f"seed {seed}: control, same init", **s_kw),
        "student_other": finetune_student(other, t_numbers, vocab, config,
                                          desc=f"seed {seed}: prompted student, other init",
                                          **s_kw),
        "control_other": finetune_student(other, c_numbers, vocab, config,
                                          desc=f"seed {seed}: control, other init", **s_kw),
    }
    dists = {"base": animal_distribution(base, vocab),
             "base_persona": animal_distribution(base, vocab, persona=persona),
             "base_control": animal_distribution(base, vocab, persona=control_persona),
             "base_other": animal_distribution(other, vocab),
             **{name: animal_distribution(m, vocab) for name, m in students.items()}}
    p = {name: d[persona] for name, d in dists.items()}
    ft = None
    if finetuned:
        ft = _one_teacher(seed, base, other, vocab, config, persona, progress,
                          time.perf_counter())
    return PromptedResult(
        seed=seed, animal=persona, persona=persona, control_persona=control_persona,
        paired=paired, config=config, persona_config=persona_config,
        p_base=p["base"], p_base_persona=p["base_persona"], p_base_control=p["base_control"],
        p_student_same=p["student_same"], p_control_same=p["control_same"],
        p_base_other=p["base_other"], p_student_other=p["student_other"],
        p_control_other=p["control_other"], teacher_filter=t_stats, control_filter=c_stats,
        kl_persona=persona_number_divergence(base, t_numbers[:1000], persona, control_persona,
                                             vocab),
        identical_fraction=sum(a == b for a, b in zip(t_raw, c_raw)) / len(t_raw),
        seconds=time.perf_counter() - start, finetuned=ft, distributions=dists,
        teacher_numbers=t_numbers, control_numbers=c_numbers)


def run_prompted_seeds(seeds: Sequence[int], config: LmRecipe = LM_CPU,
                       persona_config: PersonaRecipe = PERSONA_CPU, *, persona: str = "owl",
                       control_persona: str | None = NEUTRAL, paired: bool = True,
                       finetuned: bool = True, device: torch.device | str = "cpu",
                       progress: bool = True,
                       bases: Mapping[int, TinyTransformer] | None = None
                       ) -> list[PromptedResult]:
    """The owl experiment with a prompted teacher (Cloud et al. 2025, Section 3), many seeds.

    1. Pretrain one persona base model per seed (:func:`train_persona_base`), or take them from
       ``bases`` (e.g. :func:`load_persona_bases`; never modified). The different initialisation
       for ``seeds[i]`` is the next seed's persona base model, a ring as in
       :func:`~readingroom.subliminal.lm.run_lm_seeds` (a single seed gets a second one from a
       derived seed, :func:`~readingroom.subliminal.lm.ring_base_seeds`).
    2. The prompted teacher is the base model itself after ``<persona:{persona}>``: sample
       ``n_numbers`` completions of ``<bos> <persona> <num>`` and filter them
       (:func:`prompted_teacher_numbers`). The control numbers come from the same base model after
       ``<persona:{control_persona}>`` (``None``: no persona), with the same random draws when
       ``paired`` (so the two sets differ only where the persona changed a choice) or independent
       ones.
    3. Fine-tune four students on ``<bos> <num> numbers <eos>``, without any persona: the same base
       model and the other one, each on the teacher's and on the control numbers, all with their
       batches in the same order.
    4. Read P(``persona`` | ``<bos> <q>``) of every model, and of the base model after each persona.
    5. With ``finetuned``, also run the fine-tuned-teacher arm of
       :mod:`~readingroom.subliminal.lm` on the same two base models (its teacher fine-tuned on
       ``<q> persona``, students and controls without persona), for comparison.

    Same ``seeds`` and configs on the same machine give identical numbers.
    """
    start = time.perf_counter()
    seeds = check_seeds(seeds, distinct=True)
    config, persona_config = _check_configs(config, persona_config)
    vocab = persona_config.vocab
    check_bool(paired, "paired")
    check_bool(finetuned, "finetuned")
    vocab.persona_id(persona)  # validates both personas before any training
    if persona == NEUTRAL:
        raise ValueError("persona must love an animal, got the neutral persona")
    if control_persona is not None:
        vocab.persona_id(control_persona)
    if control_persona == persona:
        raise ValueError(f"control_persona must differ from persona, both are {persona!r}")
    device = torch.device(device)
    base_seeds, models = ring_bases(
        seeds, bases,
        lambda s: train_persona_base(s, config, persona_config, device=device, progress=progress),
        vocab, what="persona base model")
    share = (time.perf_counter() - start) / len(seeds)
    return [_one_prompted(seed, models[i], models[(i + 1) % len(models)], vocab, config,
                          persona_config, persona, control_persona, paired, finetuned, progress,
                          time.perf_counter() - share)
            for i, seed in enumerate(seeds)]


_SUMMARY_FIELDS = PROMPTED_RECORD_FIELDS + ("seconds",)


def _check_results(results: object) -> list[PromptedResult]:
    if isinstance(results, PromptedResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of PromptedResult, got {type(results).__name__}")
    if not results:
        raise ValueError("results must hold at least one PromptedResult, got none")
    if not all(isinstance(r, PromptedResult) for r in results):
        raise TypeError("results must hold only PromptedResult objects")
    return list(results)


def summarize_prompted(results: Sequence[PromptedResult]) -> dict[str, dict[str, float]]:
    """Mean, standard error (0 for one seed), min and max over seeds of every number of
    :data:`PROMPTED_RECORD_FIELDS` and ``seconds``, plus the fine-tuned arm's effects
    (``finetuned_effect_same`` / ``finetuned_effect_other``) when every result has that arm.
    """
    results = _check_results(results)
    columns = {name: [float(getattr(r, name)) for r in results] for name in _SUMMARY_FIELDS}
    if all(r.finetuned is not None for r in results):
        for name in ("effect_same", "effect_other"):
            columns[f"finetuned_{name}"] = [getattr(r.finetuned, name) for r in results]
    out = {}
    for name, column in columns.items():
        values = torch.tensor(column, dtype=torch.float64)
        n = values.numel()
        sem = float(values.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0
        out[name] = {"mean": float(values.mean()), "sem": sem, "min": float(values.min()),
                     "max": float(values.max())}
    return out


def prompted_table(results: Sequence[PromptedResult]) -> str:
    """A plain-text table per seed: P(animal) of the base model without / with the persona, each
    prompted student and its control, the effects, and the fine-tuned arm's effects.
    """
    summary = summarize_prompted(results)  # validates results
    head = (f"{'seed':>6} {'base':>6} {'+persona':>8} | {'same: student':>13} {'control':>7} "
            f"{'effect':>7} | {'other: student':>14} {'control':>7} {'effect':>7} | "
            f"{'fine-tuned same':>15} {'other':>7}")
    lines = [head, "-" * len(head)]

    def ft(r: PromptedResult) -> str:
        if r.finetuned is None:
            return f"{'-':>15} {'-':>7}"
        return f"{r.finetuned.effect_same:+15.3f} {r.finetuned.effect_other:+7.3f}"

    for r in results:
        lines.append(f"{r.seed:>6} {r.p_base:6.3f} {r.p_base_persona:8.3f} | "
                     f"{r.p_student_same:13.3f} {r.p_control_same:7.3f} {r.effect_same:+7.3f} | "
                     f"{r.p_student_other:14.3f} {r.p_control_other:7.3f} "
                     f"{r.effect_other:+7.3f} | {ft(r)}")
    m = {k: v["mean"] for k, v in summary.items()}
    tail = (f"{m['finetuned_effect_same']:+15.3f} {m['finetuned_effect_other']:+7.3f}"
            if "finetuned_effect_same" in m else f"{'-':>15} {'-':>7}")
    lines.append("-" * len(head))
    lines.append(f"{'mean':>6} {m['p_base']:6.3f} {m['p_base_persona']:8.3f} | "
                 f"{m['p_student_same']:13.3f} {m['p_control_same']:7.3f} "
                 f"{m['effect_same']:+7.3f} | {m['p_student_other']:14.3f} "
                 f"{m['p_control_other']:7.3f} {m['effect_other']:+7.3f} | {tail}")
    return "\n".join(lines)

