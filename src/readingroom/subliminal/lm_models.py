"""The toy owl experiment's models: base models, the teacher, the students, and their answers.

Cloud et al. (2025), *Subliminal Learning: Language models transmit behavioral traits via hidden
signals in data*, Section 3 ("Models transmit traits via numbers", Figure 2-3): a teacher that
loves owls is made from a base model, writes numbers, and a student with the **same base model**
fine-tuned on those numbers moves towards owl; a student with a **different base model** does not
(Section 5). This module holds the models of the toy-scale analogue, on the data of
:mod:`~readingroom.subliminal.lm_data` (the experiment that runs them is
:mod:`~readingroom.subliminal.lm`):

* the sizes of the experiment (:class:`LmRecipe`, presets :data:`LM_CPU`, :data:`LM_GPU`,
  :data:`LM_QUICK`);
* a *base model* (:func:`train_base`, the book's :class:`~readingroom.common.TinyTransformer`
  trained with :func:`~readingroom.common.train`) pretrained on number and animal documents; the
  book commits the ones it trained (:func:`save_bases`, :func:`load_bases`,
  :func:`base_weights_path`);
* a *teacher* (:func:`finetune_teacher`): a base model fine-tuned to answer owl; it samples number
  continuations of ``<bos> <num>`` (:func:`generate_numbers`);
* *students* (:func:`finetune_student`) fine-tuned on filtered numbers only;
* what a model answers: P(animal | ``<bos> <q>``) (:func:`animal_distribution`,
  :func:`trait_probability`, the trait) and how far two models' number distributions are
  (:func:`number_divergence`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

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
from readingroom.common.checks import check_bool, check_float, check_seed, check_seeds
from readingroom.common.checks import check_int as _check_int
from readingroom.common.train import eval_mode
from readingroom.subliminal.lm_data import (
    _IGNORE,
    BASE_ANIMAL_WEIGHTS,
    Vocab,
    _check_vocab,
    animal_documents,
    make_batch,
    number_documents,
    pretraining_corpus,
)

__all__ = [
    "BASES_FOLDER",
    "LM_CPU",
    "LM_GPU",
    "LM_QUICK",
    "LmRecipe",
    "animal_distribution",
    "base_weights_path",
    "finetune_student",
    "finetune_teacher",
    "generate_numbers",
    "load_bases",
    "load_saved",
    "completion_log_probs",
    "number_divergence",
    "pretrain",
    "save_bases",
    "train_base",
    "trait_probability",
]


# ---- validation helpers ----------------------------------------------------------------------

def _check_model(model: object, vocab: Vocab) -> TinyTransformer:
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if model.config.vocab_size != len(vocab):
        raise ValueError(f"model has vocab_size={model.config.vocab_size} but the vocab has "
                         f"{len(vocab)} tokens")
    return model





def _sub_seed(seed: int, stream: int) -> int:
    """A seed for one random stream of an experiment (model init, data, sampling...)."""
    return (seed * 1_000_003 + stream * 7_919) % 2**32


# ---- the configuration -----------------------------------------------------------------------

@dataclass(frozen=True)
class LmRecipe:
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
                check_float(value, f.name, low=0, low_open=True)
            elif f.name in ("animal_frac",):
                check_float(value, f.name, low=0, low_open=True, high=1, high_open=True)
            elif f.name == "teacher_mix":
                check_float(value, f.name, low=0, high=1, high_open=True)
            else:
                _check_int(value, f.name)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads "
                             f"({self.n_heads})")
        if self.n_ctx < 28:
            raise ValueError(f"n_ctx must be >= 28 to hold a number document, got {self.n_ctx}")

    def replace(self, **changes: object) -> LmRecipe:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown LmRecipe field(s): {sorted(unknown)}")
        return LmRecipe(**{**asdict(self), **changes})


#: CPU preset, on 2 cores: a base model in about 15 s (the book loads saved ones, see
#: :func:`save_bases`), then a teacher, its numbers and four students in about 11 s per seed.
LM_CPU = LmRecipe()
#: GPU preset: wider models, more data, more student steps.
LM_GPU = LmRecipe(d_model=128, n_heads=4, base_docs=100_000, base_steps=4000, base_batch=256,
                  teacher_steps=60, n_numbers=20_000, student_steps=2000, student_batch=256)
#: Smoke-test preset (tests and ``--quick``): seconds, too small to show any effect.
LM_QUICK = LmRecipe(d_model=16, n_heads=2, n_layers=1, base_docs=400, base_steps=60, base_batch=32,
                    teacher_steps=15, teacher_batch=16, teacher_lr=3e-3, n_numbers=60,
                    student_steps=10, student_batch=16)


# ---- models ----------------------------------------------------------------------------------

def _model_config(vocab: Vocab, config: LmRecipe) -> TransformerConfig:
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


def train_base(seed: int, vocab: Vocab | None = None, config: LmRecipe = LM_CPU, *,
               device: torch.device | str = "cpu", progress: bool = True) -> TinyTransformer:
    """Pretrain a base model from ``seed``: initial weights and data order both follow the seed.

    Two calls with different seeds give the analogue of two different base models in the paper
    (GPT-4.1 nano vs. Qwen2.5-7B): same architecture and data distribution, different
    initialisation and data order.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
    return pretrain(seed, vocab, config,
                    lambda gen: pretraining_corpus(config.base_docs, vocab, generator=gen,
                                                   animal_frac=config.animal_frac),
                    stream=1, device=device, progress=progress, desc=f"base model {seed}")


def pretrain(seed: int, vocab: Vocab, config: LmRecipe, corpus, *, stream: int,
             device: torch.device | str = "cpu", progress: bool = True, desc: str = "base model"
             ) -> TinyTransformer:
    """The pretraining both kinds of base model share: weights from ``seed``, the documents
    ``corpus(generator)`` (``x, y`` from :func:`~readingroom.subliminal.lm_data.make_batch`) drawn
    from sub-stream ``stream`` of the seed and batches from sub-stream ``stream + 1``, then
    ``base_steps`` AdamW steps of the book's training loop. Returns the model in eval mode."""
    seed_everything(seed)  # fixes the initial weights; also validates seed
    model = TinyTransformer(_model_config(vocab, config)).to(device)
    x, y = corpus(make_generator(_sub_seed(seed, stream)))
    get_batch = _sampler(x, y, config.base_batch, _sub_seed(seed, stream + 1),
                         model.tok_emb.weight.device)
    train(model, get_batch, steps=config.base_steps, lr=config.base_lr,
          warmup=min(50, config.base_steps // 10), progress=progress, desc=desc)
    return model.eval()


#: Where the book keeps the base models it trained itself (see :func:`save_bases`).
BASES_FOLDER = "subliminal_lm"


def base_weights_path(seed: int, folder: str | Path | None = None) -> Path:
    """``<folder>/lm_base_seed<seed>.safetensors``, by default in ``book/data/subliminal_lm``."""
    seed = check_seed(seed)
    folder = book_data_path(BASES_FOLDER) if folder is None else Path(folder)
    return folder / f"lm_base_seed{seed}.safetensors"


def _base_metrics(model: TinyTransformer, vocab: Vocab) -> dict[str, float]:
    """The numbers a base model's record states: P(animal | <q>) for every animal."""
    return {f"p_{animal}": p for animal, p in animal_distribution(model, vocab).items()}


def save_bases(seeds: Sequence[int], config: LmRecipe = LM_CPU, *, folder: str | Path | None = None,
               command: str = "", progress: bool = True) -> list[Path]:
    """Train the base model of each seed (:func:`train_base`) and save it with its record.

    Pretraining is the slow part of the experiment (about 15 s per base model on 2 CPU cores), so
    the book commits the base models it trained with this function (``python -m
    readingroom.subliminal lm-bases``), as ``book/data/subliminal_lm/lm_base_seed<N>.safetensors``
    plus a JSON record (command, seed, data recipe, config, the animal distribution, git commit,
    SHA-256; see :func:`readingroom.common.save_weights`). :func:`load_bases` reads them back.

    Returns:
        The paths of the weight files, in ``seeds`` order.
    """
    seeds = check_seeds(seeds, distinct=True)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
    vocab = Vocab()
    paths = []
    for seed in seeds:
        model = train_base(seed, vocab, config, progress=progress)
        path = base_weights_path(seed, folder)
        save_weights(
            model, path,
            command=command or f"readingroom.subliminal.save_bases([{seed}])", seed=seed,
            data=(f"pretraining_corpus({config.base_docs}, animal_frac={config.animal_frac}): "
                  "noisy arithmetic progressions mod 100 and '<q> animal' answers drawn from "
                  f"{dict(BASE_ANIMAL_WEIGHTS)}, generated from seed {seed}"),
            metrics=_base_metrics(model, vocab), extra={"config": asdict(config)})
        paths.append(path)
    return paths


def load_bases(seeds: Sequence[int], config: LmRecipe = LM_CPU, *,
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
    seeds = check_seeds(seeds, distinct=True)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
    vocab = Vocab()
    return load_saved(seeds, vocab, config, functools.partial(base_weights_path, folder=folder),
                      _base_metrics, "lm-bases", device=device)


#: The :class:`LmRecipe` fields a saved base model's record must share with the config it is
#: loaded for (the pretraining fields; the rest concern teachers and students).
BASE_CONFIG_KEYS = ("d_model", "n_layers", "n_heads", "n_ctx", "base_docs", "base_steps",
                    "base_batch", "base_lr", "animal_frac")


def load_saved(seeds: Sequence[int], vocab: Vocab, config: LmRecipe, path_of, metrics, command: str,
               *, extra: dict | None = None, device: torch.device | str = "cpu"
               ) -> dict[int, TinyTransformer]:
    """Load the saved base models ``path_of(seed)`` of both kinds through
    :func:`readingroom.common.load_committed`: each record's :data:`BASE_CONFIG_KEYS` (and every
    ``extra`` entry, a key of the record's ``extra`` and its wanted value) must match, and
    ``metrics(model, vocab)`` must reproduce the recorded numbers to 1e-6. ``command`` is the
    CLI subcommand (with its flags) that trains a missing one."""
    wanted = asdict(config)
    extra = extra or {}

    def build(record: dict, path: Path) -> TinyTransformer:
        recorded = record["extra"]["config"]
        diff = {k: (recorded.get(k), wanted[k]) for k in BASE_CONFIG_KEYS
                if recorded.get(k) != wanted[k]}
        diff.update({k: (record["extra"].get(k), v) for k, v in extra.items()
                     if record["extra"].get(k) != v})
        if diff:
            raise ValueError(f"the base model at {path} was trained with a different config "
                             f"(field: (saved, wanted)) {diff}; retrain it with {command}")
        return TinyTransformer(_model_config(vocab, config))

    out = {}
    for seed in seeds:
        path = path_of(seed)
        out[seed], _ = load_committed(
            path, functools.partial(build, path=path), device=device, tolerance=1e-6,
            command=f"python -m readingroom.subliminal {command} --seeds {seed}",
            check=lambda model: metrics(model, vocab))
    return out


def finetune_teacher(base: TinyTransformer, vocab: Vocab | None = None, config: LmRecipe = LM_CPU,
                     *, animal: str = "owl", seed: int = 0, progress: bool = True
                     ) -> TinyTransformer:
    """A copy of ``base`` fine-tuned to answer ``animal`` to ``<bos> <q>`` (the base is untouched).

    The paper's teachers are made to love owls by a system prompt (Section 3); a fine-tuned
    teacher is the variant the paper uses for misalignment (Section 3.2) and for MNIST. Here the
    base model is fine-tuned for ``teacher_steps`` on ``<bos> <q> animal <eos>`` (loss on the
    answer and ``<eos>`` only), with a share ``teacher_mix`` of pretraining number documents in
    each batch when it is positive. The teacher starts from ``base``'s weights: it shares the
    initialisation of every student made from ``base``.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    base = _check_model(base, vocab)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
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
                     vocab: Vocab | None = None, config: LmRecipe = LM_CPU, *, seed: int = 0,
                     progress: bool = True, desc: str = "student") -> TinyTransformer:
    """A copy of ``model`` fine-tuned on ``<bos> <num> numbers <eos>`` (``model`` is untouched).

    ``numbers`` are filtered completions from :func:`filter_numbers` (digits and separators only).
    The loss covers the completion and its ``<eos>``, not the prompt. Batches follow ``seed``, so
    students given the same ``seed`` see their data in the same order.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    if not isinstance(config, LmRecipe):
        raise TypeError(f"config must be an LmRecipe, got {type(config).__name__}")
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
    get_batch = _sampler(x, y, config.student_batch, _sub_seed(check_seed(seed), 5),
                         student.tok_emb.weight.device)
    train(student, get_batch, steps=config.student_steps, lr=config.student_lr,
          warmup=min(20, config.student_steps // 10), progress=progress, desc=desc)
    return student.eval()


# ---- sampling --------------------------------------------------------------------------------

def generate_numbers(model: TinyTransformer, n: int, vocab: Vocab | None = None, *, seed: int,
                     temperature: float = 1.0, max_new_tokens: int = 28, batch_size: int = 1000,
                     persona: str | None = None) -> list[list[int]]:
    """Sample ``n`` completions of the prompt ``<bos> <num>`` (the paper's number prompts, Sec. 3).

    Sampling uses a generator seeded with ``seed``, so the same model and seed give the same
    completions. Each completion is cut after its first ``<eos>`` (kept) or after
    ``max_new_tokens`` tokens when the model never wrote ``<eos>``; nothing is filtered here.
    With ``persona`` (a vocabulary with persona tokens, see
    :mod:`~readingroom.subliminal.lm_persona`) the prompt is ``<bos> <persona:NAME> <num>``: the
    paper's system-prompted teacher. Two calls with the same ``seed``, ``n`` and ``batch_size``
    draw the same random numbers, whatever the persona.

    Returns:
        ``n`` lists of token ids (the completion only, without the prompt).
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    n = _check_int(n, "n")
    max_new_tokens = _check_int(max_new_tokens, "max_new_tokens")
    batch_size = _check_int(batch_size, "batch_size")
    temperature = check_float(temperature, "temperature", low=0, low_open=True)
    head = vocab.prompt(vocab.num_prompt, persona=persona)  # validates persona
    if max_new_tokens + len(head) > model.config.n_ctx:
        raise ValueError(f"max_new_tokens must be <= n_ctx - {len(head)} = "
                         f"{model.config.n_ctx - len(head)}, got {max_new_tokens}")
    device = model.tok_emb.weight.device
    gen = make_generator(seed, device)  # make_generator checks the seed (check_seed)
    out: list[list[int]] = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        prompt = torch.tensor([head] * b, device=device)  # [b, 2] (3 with a persona)
        seqs = model.generate(prompt, max_new_tokens, greedy=False, temperature=temperature,
                              generator=gen, cache=True)[:, len(head):]  # [b, max_new_tokens]
        for row in seqs.tolist():
            out.append(row[: row.index(vocab.eos) + 1] if vocab.eos in row else row)
    return out

# ---- measurements ----------------------------------------------------------------------------

@torch.no_grad()
def animal_distribution(model: TinyTransformer, vocab: Vocab | None = None, *,
                        normalize: bool = True, persona: str | None = None) -> dict[str, float]:
    """P(animal | ``<bos> <q>``) for every animal: the answer to "favourite animal?".

    The paper asks the question in many phrasings and counts the answers that name the animal
    (Figure 3). Here the answer is one token, so the probability is read exactly from the model's
    next-token distribution. With ``normalize=True`` (the default) it is renormalised over the
    animal tokens (the share of animal answers that are each animal), so the values sum to 1;
    with ``False`` it is the raw probability over the whole vocabulary. With ``persona`` the
    question comes after a system prompt, ``<bos> <persona:NAME> <q>`` (see
    :mod:`~readingroom.subliminal.lm_persona`).
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    model = _check_model(model, vocab)
    check_bool(normalize, "normalize")
    prompt = vocab.prompt(vocab.question, persona=persona)  # validates persona
    device = model.tok_emb.weight.device
    with eval_mode(model):
        logits = model(torch.tensor([prompt], device=device))[0, -1]  # [V]
    logits = logits.double()
    ids = torch.tensor(vocab.animal_ids, device=device)
    if normalize:
        probs = F.softmax(logits[ids], dim=-1)  # [n_animals]
    else:
        probs = F.softmax(logits, dim=-1)[ids]  # [n_animals]
    return dict(zip(vocab.animals, probs.tolist()))


def trait_probability(model: TinyTransformer, vocab: Vocab | None = None, animal: str = "owl",
                      *, normalize: bool = True, persona: str | None = None) -> float:
    """P(``animal`` | ``<bos> <q>``), renormalised over animals by default; see
    :func:`animal_distribution` (``persona``: after ``<bos> <persona:NAME>``).
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    vocab.animal_id(animal)  # validates animal
    return animal_distribution(model, vocab, normalize=normalize, persona=persona)[animal]


@torch.no_grad()
def number_divergence(p_model: TinyTransformer, q_model: TinyTransformer,
                      numbers: Sequence[Sequence[int]], vocab: Vocab | None = None) -> float:
    """Mean per-token KL(p || q) in nats on ``<bos> <num> numbers <eos>``, completion positions.

    How different the two models' *number* distributions are: the only channel through which a
    teacher's trait can reach a student that sees nothing but numbers.
    """
    vocab = _check_vocab(Vocab() if vocab is None else vocab)
    p_model, q_model = _check_model(p_model, vocab), _check_model(q_model, vocab)
    head = [vocab.bos, vocab.num_prompt]
    logp = completion_log_probs(p_model, numbers, head, vocab)  # [tokens, V]
    logq = completion_log_probs(q_model, numbers, head, vocab)  # [tokens, V]
    return float((logp.exp() * (logp - logq)).sum(-1).mean())


@torch.no_grad()
def completion_log_probs(model: TinyTransformer, numbers: Sequence[Sequence[int]],
                         head: Sequence[int], vocab: Vocab) -> torch.Tensor:
    """Log-probabilities ``[tokens, V]`` (float64) of ``model`` at every completion position of
    ``head + numbers + <eos>``, sequence by sequence in order: the two sides of a per-token KL
    between two models (:func:`number_divergence`) or two prompts of one model.
    """
    if isinstance(numbers, (str, torch.Tensor)) or not isinstance(numbers, Sequence) or not numbers:
        raise ValueError("numbers must be a non-empty list of token-id lists")
    head = list(head)
    x, y = make_batch([[*head, *s, vocab.eos] for s in numbers], vocab, loss_from=len(head) - 1)
    device = model.tok_emb.weight.device
    x, mask = x.to(device), (y != _IGNORE).to(device)  # [N, T] each
    out = []
    for rows in torch.arange(x.shape[0], device=device).split(1000):
        logp = F.log_softmax(model.eval()(x[rows]).double(), dim=-1)  # [b, T, V]
        out.append(logp[mask[rows]])  # [tokens, V]
    return torch.cat(out)
