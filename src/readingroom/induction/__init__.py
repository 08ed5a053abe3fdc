"""Induction heads (Olsson et al., 2022): the book's example chapter, ``book/template.md``.

A transformer that has seen ``... A B ... A`` predicts ``B``: an *induction head* attends from
the current token to the token that followed its previous occurrence and copies it. This package
holds the data (random sequences that repeat with a random period), the split loss that measures
in-context learning, the attention scores that find previous-token and induction heads, and the
phase change: both logged during training, and the step at which each jumps.

Command line: ``python -m readingroom.induction phase --seeds 0 1 2 3 4`` (see ``__main__``).
"""

from readingroom.induction.data import repeated_sequences
from readingroom.induction.experiment import (
    CPU_RECIPE,
    GPU_RECIPE,
    InductionRun,
    train_induction_model,
)
from readingroom.induction.metrics import (
    ablate_heads,
    head_scores,
    induction_scores,
    phase_change_metrics,
    previous_token_scores,
    split_loss,
)
from readingroom.induction.phase import change_share, jump_step, phase_change_run
from readingroom.induction.plots import plot_attention, plot_in_context_loss, plot_phase_change

__all__ = [
    "CPU_RECIPE",
    "GPU_RECIPE",
    "InductionRun",
    "ablate_heads",
    "change_share",
    "head_scores",
    "induction_scores",
    "jump_step",
    "phase_change_metrics",
    "phase_change_run",
    "plot_attention",
    "plot_in_context_loss",
    "plot_phase_change",
    "previous_token_scores",
    "repeated_sequences",
    "split_loss",
    "train_induction_model",
]
