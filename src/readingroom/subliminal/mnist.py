"""The paper's MNIST experiment: a teacher's digit skill leaks through auxiliary logits on noise.

Cloud et al. (2025), Section 6 (subliminal learning of an MNIST MLP classifier):

1. A teacher MLP ``784 -> 256 -> 256 -> (10 + m)`` starts from an initialisation ``theta_0`` and
   is trained with cross-entropy on the **10 digit logits only**; its ``m`` auxiliary logits are
   never supervised.
2. A student is distilled on the teacher's **auxiliary logits only**, on images of **uniform
   noise**: it minimises the soft-label cross-entropy
   ``-sum_j softmax(z_T^aux)_j log softmax(z_S^aux)_j`` (the KL divergence up to a constant).
   It never sees a digit, a digit label, or a digit logit.
3. Its digit accuracy on real MNIST test images is then measured.

Conditions (:data:`CONDITIONS`): ``same-aux`` (student starts from the teacher's ``theta_0``),
``diff-aux`` (student starts from another initialisation), and the controls ``same-all`` /
``diff-all`` (distilled on all ``10 + m`` logits, so digit information is in the targets). The
paper's finding: ``same-aux`` students learn to classify digits well above chance, ``diff-aux``
students stay at chance (10 %).

Which part of the shared initialisation carries the signal? The layer conditions
(:data:`LAYER_CONDITIONS`, aux-only) share it in part: a ``head-aux`` student starts with the
teacher's initial output layer (``w3``, ``b3``) on the hidden layers of another initialisation, a
``body-aux`` student with the teacher's initial hidden layers (``w1`` to ``b2``) under another
output layer (:func:`student_params`).

Everything is batched: all teachers train as one :mod:`~readingroom.subliminal.mlp` batch, then
all students of all conditions as another (``M = len(seeds) * len(conditions)``). A model's seed
decides only its **initialisation**: the digit split, the minibatch order and the noise images
come from ``data_seed`` and are shared by every model, so condition and seed are the only things
that differ between models (the confidence intervals measure the spread over initialisations).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from readingroom.common import make_generator
from readingroom.common.checks import (
    check_bool, check_choice, check_device, check_float, check_int, check_seed, check_seeds,
)
from readingroom.common.train import PROGRESS_ENV, progress_enabled
from readingroom.subliminal.data import MnistSplit, load_mnist, noise_images
from readingroom.subliminal.mlp import (
    N_DIGITS,
    Params,
    accuracy,
    digit_logits,
    forward,
    init_params,
)

__all__ = [
    "CONDITIONS",
    "DIFF_SEED_OFFSET",
    "HEAD",
    "LAYER_CONDITIONS",
    "MNIST_LAYERS_RECORD",
    "PROGRESS_ENV",
    "MnistResult",
    "SweepResult",
    "student_seed",
    "student_params",
    "layer_tests",
    "train_teachers",
    "distill_students",
    "run_mnist",
    "sweep",
    "sweep_aux",
    "MNIST_SWEEP_RECORD",
    "mean_ci",
    "CPU_PRESET",
    "GPU_PRESET",
    "QUICK_PRESET",
    "settings_of",
]

#: The four student conditions: (same | different initialisation) x (aux-only | all logits).
CONDITIONS: tuple[str, ...] = ("same-aux", "diff-aux", "same-all", "diff-all")
#: Students that share the teacher's initialisation in part (distilled on auxiliary logits only):
#: ``head-aux`` shares only the output layer :data:`HEAD`, ``body-aux`` only the hidden layers.
LAYER_CONDITIONS: tuple[str, ...] = ("head-aux", "body-aux")
#: The output layer's parameters (the rest, ``w1 b1 w2 b2``, are the hidden layers).
HEAD: tuple[str, ...] = ("w3", "b3")
#: A "different initialisation" student of seed ``s`` starts from seed ``s + DIFF_SEED_OFFSET``.
DIFF_SEED_OFFSET: int = 10_000

_MAX_SEED = 2**32 - 1

#: The chapter's CPU preset: 5 seeds x 4 conditions + teachers took 28 s on the book's 2-core CPU
#: (torch 2.13, 2 threads, idle machine). ``n_seeds`` is the chapter's; ``sweep_*`` size a live
#: sweep (:func:`settings_of` with ``sweep=``; the chapter reads the :data:`MNIST_SWEEP_RECORD`
#: made with the run settings instead); :func:`settings_of` returns run_mnist's keys.
CPU_PRESET: dict[str, Any] = dict(
    n_seeds=5, n_aux=3, width=256, n_noise=60_000,
    teacher_epochs=5, teacher_batch=128, teacher_lr=1e-3,
    student_steps=600, student_batch=256, student_lr=1e-3,
    sweep_seeds=3, sweep_student_steps=400,
)
#: A larger preset for a CUDA GPU: more seeds, more distillation steps on 60k noise images.
GPU_PRESET: dict[str, Any] = dict(
    n_seeds=20, n_aux=3, width=256, n_noise=60_000,
    teacher_epochs=5, teacher_batch=128, teacher_lr=1e-3,
    student_steps=2400, student_batch=256, student_lr=1e-3,
    sweep_seeds=10, sweep_student_steps=1200,
)
#: Tiny settings for smoke tests and ``python -m readingroom.subliminal mnist --quick``.
QUICK_PRESET: dict[str, Any] = dict(
    n_seeds=2, n_aux=3, width=32, n_noise=2048,
    teacher_epochs=1, teacher_batch=256, teacher_lr=1e-3,
    student_steps=20, student_batch=128, student_lr=1e-3,
    sweep_seeds=2, sweep_student_steps=10,
)
#: The book's committed record of the MNIST experiment over ``m`` in all four conditions, made by
#: ``python -m readingroom.subliminal mnist-sweep`` (a path under ``book/data/``).
MNIST_SWEEP_RECORD = "subliminal/mnist_sweep.json"
#: The book's committed record of the layer conditions beside same-aux and diff-aux, made by
#: ``python -m readingroom.subliminal mnist-layers``.
MNIST_LAYERS_RECORD = "subliminal/mnist_layers.json"
_RUN_KEYS = ("n_aux", "width", "n_noise", "teacher_epochs", "teacher_batch", "teacher_lr",
             "student_steps", "student_batch", "student_lr")


def settings_of(preset: Any, *, sweep: str | None = None) -> dict[str, Any]:
    """The :func:`run_mnist` keyword arguments in ``preset`` (a dict or a
    :class:`~readingroom.common.Preset`), without ``n_seeds`` and the ``sweep_*`` keys.

    With ``sweep="n_aux"`` (any swept setting), the settings for :func:`sweep`: that key is left
    out and ``student_steps`` is the preset's ``sweep_student_steps``::

        run_mnist(range(preset.n_seeds), **settings_of(preset))
        sweep_aux((2, 3, 10), range(preset.sweep_seeds), **settings_of(preset, sweep="n_aux"))
    """
    params = getattr(preset, "params", preset)
    if not hasattr(params, "keys"):
        raise TypeError(f"preset must be a mapping or a Preset, got {type(preset).__name__}")
    missing = [k for k in _RUN_KEYS if k not in params]
    if missing:
        raise ValueError(f"preset lacks {missing}")
    out = {k: params[k] for k in _RUN_KEYS}
    if sweep is not None:
        check_choice(sweep, "sweep", _RUN_KEYS)
        if "sweep_student_steps" not in params:
            raise ValueError("preset lacks 'sweep_student_steps'")
        out["student_steps"] = params["sweep_student_steps"]
        del out[sweep]
    return out


def _check_conditions(conditions: object,
                      allowed: tuple[str, ...] = CONDITIONS + LAYER_CONDITIONS) -> tuple[str, ...]:
    if isinstance(conditions, str):
        conditions = (conditions,)
    if not isinstance(conditions, Sequence):
        raise TypeError(f"conditions must be a sequence of str from {allowed}, "
                        f"got {type(conditions).__name__}")
    if len(conditions) == 0:
        raise ValueError(f"conditions must name at least one of {allowed}")
    for cond in conditions:
        if cond not in allowed:
            raise ValueError(f"unknown condition {cond!r} in conditions; "
                             f"expected one of {', '.join(allowed)}")
    if len(set(conditions)) != len(conditions):
        raise ValueError(f"conditions must not repeat, got {list(conditions)}")
    return tuple(conditions)


def student_seed(seed: int, condition: str) -> int:
    """The initialisation seed of the student of teacher ``seed`` in ``condition``.

    ``same-*`` students reuse the teacher's seed (bit-identical start); ``diff-*`` students use
    ``(seed + DIFF_SEED_OFFSET) mod 2**32``, a deterministic, different initialisation.
    """
    seed = check_seed(seed)
    _check_conditions((condition,), CONDITIONS)  # a layer condition mixes two seeds
    if condition.startswith("same"):
        return seed
    return (seed + DIFF_SEED_OFFSET) % (_MAX_SEED + 1)


def student_params(seeds: Sequence[int], conditions: Sequence[str], width: int, n_aux: int, *,
                   device: torch.device | str = "cpu") -> Params:
    """The initial parameters of every student: student ``c * len(seeds) + i`` of condition
    ``c`` belongs to the teacher of ``seeds[i]``.

    ``same-*`` students start from the teacher's initialisation, ``diff-*`` from
    :func:`student_seed`'s other one; a ``head-aux`` student takes :data:`HEAD` from the
    teacher's initialisation and the hidden layers from the other one, a ``body-aux`` student
    the reverse. Each layer is bit-identical to the model it was taken from (:func:`init_params`
    draws each model from its own seed).
    """
    seeds = check_seeds(seeds)
    conditions = _check_conditions(conditions)
    same = init_params(len(seeds), width, n_aux, seeds, device=device)
    other_seeds = [student_seed(seed, "diff-aux") for seed in seeds]
    other = init_params(len(seeds), width, n_aux, other_seeds, device=device)
    parts = []
    for cond in conditions:
        if cond in LAYER_CONDITIONS:
            from_same = HEAD if cond == "head-aux" else tuple(k for k in same if k not in HEAD)
            parts.append({k: (same if k in from_same else other)[k] for k in same})
        else:
            parts.append(same if cond.startswith("same") else other)
    return {k: torch.cat([part[k] for part in parts]) for k in same}


def layer_tests(result: MnistResult) -> dict[str, dict[str, float]]:
    """Each aux-only condition of ``result`` against ``diff-aux``: a one-sided paired *t*-test
    over seeds (``scipy.stats.ttest_rel``, ``alternative="greater"``) of digit test accuracy.

    Returns ``{condition: {"mean_gain", "t", "p"}}`` (``mean_gain``: the mean over seeds of the
    condition's accuracy minus its diff-aux sibling's). Needs ``diff-aux`` and two seeds.
    """
    from scipy import stats

    if not isinstance(result, MnistResult):
        raise TypeError(f"result must be an MnistResult, got {type(result).__name__}")
    if "diff-aux" not in result.conditions or len(result.seeds) < 2:
        raise ValueError("layer_tests needs the diff-aux condition and at least two seeds, got "
                         f"{list(result.conditions)} over {len(result.seeds)} seed(s)")
    base = np.asarray(result.student_accuracy["diff-aux"])
    out = {}
    for cond in result.conditions:
        if cond == "diff-aux" or not cond.endswith("aux"):
            continue
        acc = np.asarray(result.student_accuracy[cond])
        test = stats.ttest_rel(acc, base, alternative="greater")
        out[cond] = {"mean_gain": float(np.mean(acc - base)), "t": float(test.statistic),
                     "p": float(test.pvalue)}
    return out


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided ``level`` confidence interval from Student's t distribution.

    ``mean ± t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard deviation: the
    usual interval for the mean of ``n`` independent runs. With one value the interval is
    ``(nan, nan)``. Returns ``(mean, low, high)``.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"values must be a sequence of numbers, got {type(values).__name__}")
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {arr.shape}")
    check_float(level, "level", low=0, low_open=True, high=1, high_open=True)
    mean = float(arr.mean())
    if arr.size == 1:
        return mean, math.nan, math.nan
    from scipy import stats  # local import: only needed for summaries

    t_quantile = float(stats.t.ppf(0.5 + level / 2, df=arr.size - 1))
    half = t_quantile * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return mean, mean - half, mean + half  # plain floats: they are glued into the book's text


@dataclass
class MnistResult:
    """What :func:`run_mnist` measured.

    Attributes:
        seeds: the teachers' initialisation seeds.
        conditions: the student conditions run, in order.
        teacher_accuracy: per seed, the teacher's digit test accuracy.
        student_accuracy: condition -> per-seed digit test accuracy of the students.
        config: every setting of the run (sizes, steps, learning rates, data seed, ...).
        seconds: wall time of the whole run; ``device``: where it ran.
        teachers / students: the trained parameters (batched dicts, on the CPU); student ``i`` of
            condition ``c`` is at index ``conditions.index(c) * len(seeds) + i``.
        student_losses: the mean distillation loss of each condition at every student step.
    """

    seeds: list[int]
    conditions: tuple[str, ...]
    teacher_accuracy: list[float]
    student_accuracy: dict[str, list[float]]
    config: dict[str, Any]
    seconds: float
    device: str
    teachers: Params | None = field(default=None, repr=False)
    students: Params | None = field(default=None, repr=False)
    student_losses: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def n_aux(self) -> int:
        return int(self.config["n_aux"])

    def mean(self, condition: str) -> float:
        """Mean student accuracy of ``condition`` over seeds (``"teacher"`` for the teachers)."""
        return self.summary()[condition]["mean"]

    def summary(self, level: float = 0.95) -> dict[str, dict[str, float]]:
        """``{"teacher" | condition: {"mean", "low", "high", "n"}}``: mean accuracy over seeds and
        its ``level`` t-interval (see :func:`mean_ci`)."""
        rows = {"teacher": self.teacher_accuracy, **self.student_accuracy}
        out = {}
        for name, values in rows.items():
            mean, low, high = mean_ci(values, level)
            out[name] = {"mean": mean, "low": low, "high": high, "n": len(values)}
        return out

    def replay_gap(self, record: MnistResult) -> float:
        """The largest per-seed difference in student accuracy between this run and ``record``,
        over this run's conditions and the seeds both runs start with (the shorter list of
        seeds must begin the longer): how far a replay of a committed record drifted from it."""
        if not isinstance(record, MnistResult):
            raise TypeError(f"record must be an MnistResult, got {type(record).__name__}")
        n = min(len(self.seeds), len(record.seeds))
        if self.seeds[:n] != record.seeds[:n]:
            raise ValueError(f"the seeds {self.seeds} and the record's {record.seeds} do not "
                             "start alike")
        missing = [c for c in self.conditions if c not in record.student_accuracy]
        if missing:
            raise ValueError(f"the record has no students of {missing}")
        return max(abs(a - b) for cond in self.conditions
                   for a, b in zip(self.student_accuracy[cond], record.student_accuracy[cond]))

    def table(self) -> str:
        """A plain-text table of :meth:`summary`, one row per model kind."""
        lines = [f"{'':<10} {'mean':>6}   95% CI           n"]
        for name, row in self.summary().items():
            lines.append(f"{name:<10} {row['mean']:6.3f}   [{row['low']:.3f}, {row['high']:.3f}]"
                         f"   {row['n']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: everything but the parameters."""
        return {
            "seeds": list(self.seeds),
            "conditions": list(self.conditions),
            "teacher_accuracy": list(self.teacher_accuracy),
            "student_accuracy": {k: list(v) for k, v in self.student_accuracy.items()},
            "summary": self.summary(),
            "config": dict(self.config),
            "seconds": self.seconds,
            "device": self.device,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MnistResult:
        """The result :meth:`to_dict` wrote (e.g. read back from a committed record), without
        parameters or loss curves.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("seeds", "conditions", "teacher_accuracy", "student_accuracy",
                               "config", "seconds", "device") if k not in data]
        if missing:
            raise ValueError(f"data lacks {missing}")
        seeds, conditions = list(data["seeds"]), tuple(data["conditions"])
        accuracy = {c: [float(a) for a in data["student_accuracy"].get(c, [])]
                    for c in conditions}
        if len(data["teacher_accuracy"]) != len(seeds) or any(
                len(v) != len(seeds) for v in accuracy.values()):
            raise ValueError(f"data holds accuracies for other seeds than its {len(seeds)} seeds")
        return cls(seeds=seeds, conditions=conditions,
                   teacher_accuracy=[float(a) for a in data["teacher_accuracy"]],
                   student_accuracy=accuracy, config=dict(data["config"]),
                   seconds=float(data["seconds"]), device=str(data["device"]))


def _requires_grad(params: Params) -> Params:
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def _detached(params: Params) -> Params:
    return {k: v.detach() for k, v in params.items()}


def train_teachers(
    params: Params,
    data: MnistSplit,
    *,
    epochs: int,
    batch: int,
    lr: float,
    generator: torch.Generator,
    progress: bool = True,
) -> Params:
    """Train every model in ``params`` on the digits with cross-entropy on the 10 digit logits.

    The paper's teacher (Section 6): the auxiliary logits get no loss (and so no gradient through
    the last layer's auxiliary columns). All models see the same minibatches (order drawn from
    ``generator``); the loss is the sum over models of each model's mean cross-entropy, so each
    model gets exactly its own gradient. Adam with a constant learning rate ``lr``.

    Returns the trained parameters (detached; the input is not modified).
    """
    epochs = check_int(epochs, "teacher_epochs")
    batch = check_int(batch, "teacher_batch")
    lr = check_float(lr, "teacher_lr", low=0, low_open=True)
    params = _requires_grad(params)
    m = params["w1"].shape[0]
    n = data.x_train.shape[0]
    steps_per_epoch = math.ceil(n / batch)
    opt = torch.optim.Adam(params.values(), lr=lr)
    bar = tqdm(total=epochs * steps_per_epoch, desc=f"teachers x{m}", mininterval=0.5,
               disable=not progress_enabled(progress))
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator, device=generator.device)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            logits = digit_logits(forward(params, data.x_train[idx]))  # [M, B, 10]
            target = data.y_train[idx].repeat(m)  # [M * B]
            # sum over models of each model's mean CE: per-model gradients are exact
            loss = F.cross_entropy(logits.reshape(-1, N_DIGITS), target, reduction="sum") / len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item() / m:.3f}", refresh=False)
    bar.close()
    return _detached(params)


def _soft_ce(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Soft-label cross-entropy per model: ``-sum_j p_T log p_S``, mean over rows -> ``[M]``."""
    return -(F.softmax(teacher, -1) * F.log_softmax(student, -1)).sum(-1).mean(-1)


def distill_students(
    students: Params,
    teacher_logits: Callable[[torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    aux_only: torch.Tensor,
    *,
    steps: int,
    batch: int,
    lr: float,
    generator: torch.Generator,
    progress: bool = True,
    desc: str = "students",
) -> tuple[Params, torch.Tensor]:
    """Distil every student on its teacher's logits on noise images (Cloud et al., Section 6).

    Args:
        students: batched initial parameters of ``M`` students.
        teacher_logits: maps row indices of ``noise`` ``[B]`` to the matching teacher logits for
            every student, ``[M, B, 10 + m]`` (student ``i``'s own teacher in row ``i``).
        noise: ``[n_noise, 784]`` noise images, visited in shuffled epochs (order from
            ``generator``).
        aux_only: ``[M]`` bool; True: soft-label cross-entropy on the ``m`` auxiliary logits only
            (softmax over those ``m``); False: on all ``10 + m`` logits.
        steps, batch, lr: Adam steps, noise images per step, constant learning rate.

    Returns:
        ``(trained params, losses [steps, M])``.
    """
    steps = check_int(steps, "student_steps")
    batch = check_int(batch, "student_batch")
    lr = check_float(lr, "student_lr", low=0, low_open=True)
    n_noise = noise.shape[0]
    if batch > n_noise:
        raise ValueError(f"student_batch ({batch}) must not exceed n_noise ({n_noise})")
    params = _requires_grad(students)
    opt = torch.optim.Adam(params.values(), lr=lr)
    aux_only = aux_only.to(noise.device)
    per_epoch = n_noise // batch  # drop the ragged last batch of each epoch
    losses = []
    bar = tqdm(range(steps), desc=desc, mininterval=0.5, disable=not progress_enabled(progress))
    for step in bar:
        if step % per_epoch == 0:
            perm = torch.randperm(n_noise, generator=generator, device=generator.device)
        k = step % per_epoch
        idx = perm[k * batch:(k + 1) * batch]
        target = teacher_logits(idx)  # [M, B, 10 + m]
        logits = forward(params, noise[idx])  # [M, B, 10 + m]
        aux = _soft_ce(logits[..., N_DIGITS:], target[..., N_DIGITS:])  # [M]
        full = _soft_ce(logits, target)  # [M]
        loss = torch.where(aux_only, aux, full)  # [M]
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        losses.append(loss.detach())
        bar.set_postfix(loss=f"{loss.mean().item():.4f}", refresh=False)
    return _detached(params), torch.stack(losses).cpu()


def run_mnist(
    seeds: Sequence[int],
    *,
    n_aux: int = 3,
    width: int = 256,
    n_noise: int = 60_000,
    teacher_epochs: int = 5,
    teacher_batch: int = 128,
    teacher_lr: float = 1e-3,
    student_steps: int = 600,
    student_batch: int = 256,
    student_lr: float = 1e-3,
    conditions: Sequence[str] = CONDITIONS,
    data_seed: int = 0,
    n_test: int = 1000,
    device: torch.device | str = "cpu",
    progress: bool = True,
    keep_params: bool = True,
) -> MnistResult:
    """Run the paper's MNIST subliminal-learning experiment (Section 6) for every seed.

    One teacher per seed is trained from ``init_params(seed)`` on ``5000 - n_test`` digits
    (:func:`train_teachers`); then one student per (condition, seed) is distilled on the noise
    images (:func:`distill_students`), all in one batch, and every model's digit accuracy on the
    ``n_test`` held-out digits is measured.

    Args:
        seeds: teacher initialisation seeds (one teacher and one student per condition each).
        n_aux: number ``m`` of auxiliary logits. width: hidden width.
        n_noise: size of the fixed set of uniform-noise images the students see.
        teacher_epochs, teacher_batch, teacher_lr: the teachers' training (Adam).
        student_steps, student_batch, student_lr: the students' distillation (Adam).
        conditions: which of :data:`CONDITIONS` and :data:`LAYER_CONDITIONS` to run.
        data_seed: seeds the digit split, the minibatch orders and the noise (shared by all
            models; see the module docstring).
        n_test: held-out digits (multiple of 10).
        device: where to compute. progress: tqdm bars (also off when ``READINGROOM_PROGRESS=0``).
        keep_params: keep the trained parameters (on the CPU) in the result.

    Notes on the defaults (measured on the book's 2-core CPU, 5 seeds): the teachers reach about
    90 % test accuracy (4,000 training digits, not the paper's 60,000). The same-aux students'
    accuracy grows with the number of distillation steps (about 0.51 / 0.63 / 0.67 after
    300 / 600 / 1200 steps) and with the variety of the noise (600 steps on 20,000 noise images:
    0.41; on 60,000: 0.63); a larger learning rate (3e-3) or a cosine decay hurt; and it grows
    with ``n_aux`` (see :func:`sweep_aux`). Different-init students stay near chance (0.10-0.15).
    """
    start = time.perf_counter()
    seeds = check_seeds(seeds)
    conditions = _check_conditions(conditions)
    n_aux = check_int(n_aux, "n_aux")
    width = check_int(width, "width")
    n_noise = check_int(n_noise, "n_noise")
    for name, value in (("teacher_epochs", teacher_epochs), ("teacher_batch", teacher_batch),
                        ("student_steps", student_steps), ("student_batch", student_batch)):
        check_int(value, name)
    check_float(teacher_lr, "teacher_lr", low=0, low_open=True)
    check_float(student_lr, "student_lr", low=0, low_open=True)
    if student_batch > n_noise:
        raise ValueError(f"student_batch ({student_batch}) must not exceed n_noise ({n_noise})")
    data_seed = check_seed(data_seed, "data_seed")
    device = check_device(device)
    check_bool(progress, "progress")
    check_bool(keep_params, "keep_params")
    config = dict(n_aux=n_aux, width=width, n_noise=n_noise, teacher_epochs=teacher_epochs,
                  teacher_batch=teacher_batch, teacher_lr=teacher_lr, student_steps=student_steps,
                  student_batch=student_batch, student_lr=student_lr, data_seed=data_seed,
                  n_test=n_test)

    data = load_mnist(data_seed, n_test=n_test).to(device)
    # Independent streams for the teachers' minibatches, the noise images and the students' order.
    gen_teacher = make_generator(data_seed, device)
    gen_noise = make_generator(data_seed + 1 if data_seed < _MAX_SEED else 0, device)
    gen_student = make_generator(data_seed + 2 if data_seed < _MAX_SEED - 1 else 1, device)

    s = len(seeds)
    teachers = train_teachers(init_params(s, width, n_aux, seeds, device=device), data,
                              epochs=teacher_epochs, batch=teacher_batch, lr=teacher_lr,
                              generator=gen_teacher, progress=progress)
    teacher_acc = accuracy(teachers, data.x_test, data.y_test)  # [S]

    noise = noise_images(n_noise, gen_noise)  # [n_noise, 784]
    with torch.no_grad():
        t_logits = torch.cat([forward(teachers, noise[i:i + 8192])
                              for i in range(0, n_noise, 8192)], dim=1)  # [S, n_noise, 10 + m]
    # Student c * S + i imitates teacher i; its initialisation depends on the condition.
    teacher_of = torch.arange(s, device=device).repeat(len(conditions))  # [M]
    aux_only = torch.tensor([c.endswith("aux") for c in conditions for _ in seeds], device=device)
    students, losses = distill_students(
        student_params(seeds, conditions, width, n_aux, device=device),
        lambda idx: t_logits[:, idx][teacher_of],  # [S, B, K] -> [M, B, K]
        noise, aux_only, steps=student_steps, batch=student_batch, lr=student_lr,
        generator=gen_student, progress=progress, desc=f"students x{len(teacher_of)}")
    student_acc = accuracy(students, data.x_test, data.y_test).reshape(len(conditions), s).cpu()
    losses = losses.reshape(-1, len(conditions), s).mean(-1)  # [steps, C]

    return MnistResult(
        seeds=seeds,
        conditions=conditions,
        teacher_accuracy=teacher_acc.cpu().tolist(),
        student_accuracy={c: student_acc[i].tolist() for i, c in enumerate(conditions)},
        config=config,
        seconds=time.perf_counter() - start,
        device=str(device),
        teachers={k: v.cpu() for k, v in teachers.items()} if keep_params else None,
        students={k: v.cpu() for k, v in students.items()} if keep_params else None,
        student_losses={c: losses[:, i].tolist() for i, c in enumerate(conditions)},
    )


@dataclass
class SweepResult:
    """What :func:`sweep` measured: one :class:`MnistResult` per value of ``param``."""

    param: str
    values: list[Any]
    results: list[MnistResult]

    def means(self, condition: str) -> list[float]:
        """Mean accuracy of ``condition`` (or ``"teacher"``) at each value."""
        return [r.mean(condition) for r in self.results]

    def summaries(self) -> list[dict[str, dict[str, float]]]:
        """:meth:`MnistResult.summary` at each value."""
        return [r.summary() for r in self.results]

    @property
    def conditions(self) -> tuple[str, ...]:
        return self.results[0].conditions

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    def table(self) -> str:
        """One row per value: the mean accuracy of the teachers and of each condition."""
        names = ["teacher", *self.conditions]
        lines = [f"{self.param:>10} " + " ".join(f"{n:>9}" for n in names)]
        for value, result in zip(self.values, self.results):
            lines.append(f"{value!s:>10} " + " ".join(f"{result.mean(n):9.3f}" for n in names))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "values": list(self.values),
                "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepResult:
        """The sweep :meth:`to_dict` wrote (see :meth:`MnistResult.from_dict`)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("param", "values", "results") if k not in data]
        if missing:
            raise ValueError(f"data lacks {missing}")
        if len(data["values"]) != len(data["results"]) or not data["values"]:
            raise ValueError(f"data holds {len(data['values'])} values and "
                             f"{len(data['results'])} results; they must match, at least one")
        return cls(param=str(data["param"]), values=list(data["values"]),
                   results=[MnistResult.from_dict(r) for r in data["results"]])


#: Settings of :func:`run_mnist` that :func:`sweep` may vary.
SWEEPABLE: tuple[str, ...] = ("n_aux", "width", "n_noise", "teacher_epochs", "teacher_lr",
                              "student_steps", "student_lr", "student_batch")


def sweep(
    param: str,
    values: Sequence[Any],
    seeds: Sequence[int],
    *,
    conditions: Sequence[str] = ("same-aux", "diff-aux"),
    progress: bool = True,
    **kwargs: Any,
) -> SweepResult:
    """Run :func:`run_mnist` once per value of one setting ``param`` (others from ``kwargs``).

    Example: ``sweep("n_aux", (1, 3, 10), seeds=[0, 1, 2])`` — the paper's knob "number of
    auxiliary logits". Parameters are not kept (``keep_params=False``) to save memory.
    """
    if not isinstance(param, str):
        raise TypeError(f"param must be a str, got {type(param).__name__}")
    check_choice(param, "param", SWEEPABLE)
    if param in kwargs:
        raise ValueError(f"{param!r} is swept; do not also pass it as a keyword argument")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"values must be a non-empty sequence of {param} values, got {values!r}")
    seeds = check_seeds(seeds)
    check_bool(progress, "progress")
    bar = tqdm(list(values), desc=f"sweep {param}", mininterval=0.5,
               disable=not progress_enabled(progress))
    results = []
    for value in bar:
        bar.set_postfix({param: value}, refresh=False)
        results.append(run_mnist(seeds, conditions=conditions, progress=False, keep_params=False,
                                 **{param: value}, **kwargs))
    return SweepResult(param=param, values=list(values), results=results)


def sweep_aux(
    values: Sequence[int] = (2, 3, 10),
    seeds: Sequence[int] = (0, 1, 2),
    **kwargs: Any,
) -> SweepResult:
    """:func:`sweep` over the number ``m`` of auxiliary logits (same-aux vs diff-aux students).

    ``m = 1`` is a degenerate point for the aux-only students: a softmax over a single logit is
    always 1, so their soft-label loss is constant and they receive **zero gradient** (they stay
    at their initialisation). Hence the default values start at 2.
    """
    return sweep("n_aux", values, seeds, **kwargs)
