"""Subliminal learning (Cloud et al., 2025, arXiv 2507.14805): traits travel through hidden signals.

A student distilled on a teacher's outputs picks up the teacher's traits even when those outputs
have nothing to do with the trait — as long as student and teacher share their initialisation.
This package reproduces the paper's MNIST experiment (Section 6: a digit classifier's skill
transmitted through auxiliary logits on noise images, :func:`run_mnist`) and checks its theorem
(Section 6, Theorem 1: one imitation step never points away from the teacher's update,
:func:`single_step_cosines`, :func:`first_order_check`).

Modules: :mod:`~readingroom.subliminal.data` (digits and noise), :mod:`~readingroom.subliminal.mlp`
(a batch of independent MLPs), :mod:`~readingroom.subliminal.mnist` (the experiment),
:mod:`~readingroom.subliminal.theorem`, :mod:`~readingroom.subliminal.plots`; command line:
``python -m readingroom.subliminal mnist --seed 0``.
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
    MnistResult,
    SweepResult,
    mean_ci,
    distill_students,
    run_mnist,
    settings_of,
    student_seed,
    sweep,
    sweep_aux,
    train_teachers,
)
from readingroom.subliminal.plots import plot_conditions, plot_cosines, plot_sweep
from readingroom.subliminal.theorem import (
    FirstOrderCheck,
    first_order_check,
    imitation_loss,
    single_step_cosines,
    student_step,
    teacher_direction,
)

# --- toy language-model version (readingroom.subliminal.lm) -----------------------------------
# The lm module's public names are imported and listed here by its author; nothing from lm is
# imported above this line.
# ------------------------------------------------------------------------------------------------

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
    "mean_ci",
    # theorem (Section 6, Theorem 1)
    "imitation_loss",
    "teacher_direction",
    "student_step",
    "single_step_cosines",
    "FirstOrderCheck",
    "first_order_check",
    # plots
    "plot_conditions",
    "plot_cosines",
    "plot_sweep",
    # --- lm names go here ---
]
