"""Subliminal learning (Cloud et al., 2025, arXiv 2507.14805): traits travel through hidden signals.

A student distilled on a teacher's outputs picks up the teacher's traits even when those outputs
have nothing to do with the trait — as long as student and teacher share their initialisation.
This package reproduces the paper's MNIST experiment (Section 6: a digit classifier's skill
transmitted through auxiliary logits on noise images, :func:`run_mnist`) and checks its theorem
(Section 6, Theorem 1: one imitation step never points away from the teacher's update,
:func:`single_step_cosines`, :func:`single_step`, :func:`first_order_check`), and builds the
paper's owl experiment (Section 3) at toy scale in a tiny language model (:func:`run_lm_seeds`),
with the paper's in-context control (the same numbers as a prompt, not trained on,
:func:`in_context_shift`), and its misalignment experiment (a teacher fine-tuned on harmful answers,
its "evil numbers" filtered out, :func:`run_misalign_seeds`).

Modules: :mod:`~readingroom.subliminal.data` (digits and noise), :mod:`~readingroom.subliminal.mlp`
(a batch of independent MLPs), :mod:`~readingroom.subliminal.mnist` (the experiment),
:mod:`~readingroom.subliminal.lm_data` (the toy language model's number data: vocabulary,
documents, the filter), :mod:`~readingroom.subliminal.lm_models` (its base models, teacher,
students and trait), :mod:`~readingroom.subliminal.lm` (the owl experiment), :mod:`~readingroom.subliminal.lm_misalign`
(the misalignment analogue),
:mod:`~readingroom.subliminal.theorem`, :mod:`~readingroom.subliminal.plots`; command line:
``python -m readingroom.subliminal mnist --seed 0`` and ``... lm --seed 0``.
"""

from readingroom.subliminal.data import MnistSplit, load_mnist, noise_images
from readingroom.subliminal.mlp import (
    accuracy,
    aux_logits,
    digit_logits,
    flatten_params,
    forward,
    init_params,
)
from readingroom.subliminal.mnist import (
    CONDITIONS,
    CPU_PRESET,
    GPU_PRESET,
    QUICK_PRESET,
    DIFF_SEED_OFFSET,
    HEAD,
    LAYER_CONDITIONS,
    MNIST_LAYERS_RECORD,
    MNIST_SWEEP_RECORD,
    MnistResult,
    SweepResult,
    layer_tests,
    mean_ci,
    distill_students,
    run_mnist,
    settings_of,
    student_params,
    student_seed,
    sweep,
    sweep_aux,
    train_teachers,
)
from readingroom.subliminal.lm_data import (
    BASE_ANIMAL_WEIGHTS,
    Vocab,
    filter_numbers,
    filter_verdict,
)
from readingroom.subliminal.lm_models import (
    LM_CPU,
    LM_GPU,
    LM_QUICK,
    LmRecipe,
    finetune_teacher,
    generate_numbers,
    load_bases,
    save_bases,
    train_base,
    trait_probability,
)
from readingroom.subliminal.lm import (
    LM_RECORD_FIELDS,
    LM_SEEDS_RECORD,
    InContextShift,
    LmResult,
    in_context_shift,
    lm_table,
    ring_base_seeds,
    run_lm_experiment,
    run_lm_seeds,
    summarize_lm,
)
from readingroom.subliminal.lm_misalign import (
    EVIL_NUMBERS,
    MISALIGN_CPU,
    MISALIGN_RECORD,
    run_misalign_seeds,
)
from readingroom.subliminal.lm_persona import PROMPTED_RECORD, prompted_teacher_numbers
from readingroom.subliminal.plots import plot_conditions, plot_cosines, plot_lm, plot_sweep
from readingroom.subliminal.theorem import (
    FirstOrderCheck,
    SingleStep,
    first_order_check,
    imitation_loss,
    single_step,
    single_step_cosines,
    student_step,
    teacher_direction,
)

__all__ = [
    # data
    "MnistSplit",
    "load_mnist",
    "noise_images",
    # batched MLP
    "init_params",
    "forward",
    "digit_logits",
    "aux_logits",
    "accuracy",
    "flatten_params",
    # MNIST experiment (Section 6)
    "CONDITIONS",
    "DIFF_SEED_OFFSET",
    "HEAD",
    "LAYER_CONDITIONS",
    "MNIST_LAYERS_RECORD",
    "MNIST_SWEEP_RECORD",
    "MnistResult",
    "SweepResult",
    "CPU_PRESET",
    "GPU_PRESET",
    "QUICK_PRESET",
    "settings_of",
    "train_teachers",
    "distill_students",
    "run_mnist",
    "sweep",
    "sweep_aux",
    "student_seed",
    "student_params",
    "layer_tests",
    "mean_ci",
    # theorem (Section 6, Theorem 1)
    "imitation_loss",
    "teacher_direction",
    "student_step",
    "single_step_cosines",
    "SingleStep",
    "single_step",
    "FirstOrderCheck",
    "first_order_check",
    # plots
    "plot_conditions",
    "plot_cosines",
    "plot_sweep",
    "plot_lm",
    # toy language model (Section 3): the number data
    "BASE_ANIMAL_WEIGHTS",
    "Vocab",
    "filter_numbers",
    "filter_verdict",
    # its models
    "LM_CPU",
    "LM_GPU",
    "LM_QUICK",
    "LmRecipe",
    "finetune_teacher",
    "generate_numbers",
    "load_bases",
    "save_bases",
    "train_base",
    "trait_probability",
    # the experiment
    "LM_RECORD_FIELDS",
    "LM_SEEDS_RECORD",
    "InContextShift",
    "LmResult",
    "in_context_shift",
    "lm_table",
    "ring_base_seeds",
    "run_lm_experiment",
    "run_lm_seeds",
    "summarize_lm",
    # the prompted teacher
    "PROMPTED_RECORD",
    "prompted_teacher_numbers",
    # the misalignment analogue
    "EVIL_NUMBERS",
    "MISALIGN_CPU",
    "MISALIGN_RECORD",
    "run_misalign_seeds",
]
