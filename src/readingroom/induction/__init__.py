"""Induction heads (Olsson et al., 2022): the book's example chapter, ``book/template.md``.

A transformer that has seen ``... A B ... A`` predicts ``B``: an *induction head* attends from
the current token to the token that followed its previous occurrence and copies it. This package
holds the data (random sequences that repeat with a random period), the split loss that measures
in-context learning, and the attention scores that find previous-token and induction heads.
"""

from readingroom.induction.data import repeated_sequences
from readingroom.induction.experiment import InductionRun, train_induction_model
from readingroom.induction.metrics import (
    ablate_heads,
    head_scores,
    induction_scores,
    previous_token_scores,
    split_loss,
)
from readingroom.induction.plots import plot_attention, plot_in_context_loss

__all__ = [
    "InductionRun",
    "ablate_heads",
    "head_scores",
    "induction_scores",
    "plot_attention",
    "plot_in_context_loss",
    "previous_token_scores",
    "repeated_sequences",
    "split_loss",
    "train_induction_model",
]
