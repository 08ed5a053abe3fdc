"""Native Sparse Attention (Yuan et al., 2025, arXiv 2502.11089), in PyTorch and Triton.

* :mod:`~readingroom.nsa.config` — the sizes ``l, d, l', n, w`` (:class:`NSAConfig`);
* :mod:`~readingroom.nsa.blocks` — blocks, masks and the selection of Eq. (7)-(11);
* :mod:`~readingroom.nsa.attention` — Eq. (5): :func:`nsa_attention`, dense or Triton;
* :mod:`~readingroom.nsa.prefill` — :func:`nsa_prefill`, Eq. (5) chunk by chunk, gathering the
  selected blocks (no ``T x T`` tensor);
* :mod:`~readingroom.nsa.reference` — the per-token float64 loop it is tested against;
* :mod:`~readingroom.nsa.module` — the drop-in layer :class:`NativeSparseAttention`;
* :mod:`~readingroom.nsa.analysis` — what a trained model attends to (:func:`attention_maps`,
  :func:`branches_only`);
* :mod:`~readingroom.nsa.cost` — tokens loaded per decoding step (:func:`decode_costs`, the
  paper's Table 4);
* :mod:`~readingroom.nsa.recall` — the key-value retrieval task (:func:`recall_accuracy`,
  :func:`value_found`);
* :mod:`~readingroom.nsa.experiments` — the chapter's retrieval experiment (:func:`run_recall`)
  and its committed models (:func:`load_recall`);
* :mod:`~readingroom.nsa.plots` — the chapter's figures.
"""

from readingroom.nsa.analysis import attention_maps, branches_only
from readingroom.nsa.attention import BACKENDS, NSAParts, masked_attention, nsa_attention
from readingroom.nsa.blocks import (
    choose_blocks,
    compressed_mask,
    compression_blocks,
    forced_blocks,
    num_compressed,
    num_selection_blocks,
    overlap_matrix,
    overlap_pairs,
    select_blocks,
    selection_mask,
    selection_scores,
    window_mask,
)
from readingroom.nsa.config import BRANCHES, CPU_CONFIG, NSAConfig
from readingroom.nsa.cost import PAPER_TABLE4, decode_costs
from readingroom.nsa.experiments import (
    KINDS,
    RECALL_RECIPE,
    RecallRecipe,
    accuracy_by_distance,
    heldout_set,
    learned_at,
    load_recall,
    make_recall_model,
    recall_path,
    run_recall,
)
from readingroom.nsa.module import BlockCompressor, NativeSparseAttention, NSACache, NSAParameters
from readingroom.nsa.plots import plot_branch_maps, plot_decode_cost, plot_recall, plot_recall_records
from readingroom.nsa.prefill import nsa_prefill
from readingroom.nsa.recall import recall_accuracy, value_found
from readingroom.nsa.reference import nsa_loop_reference

__all__ = [
    "BACKENDS", "BRANCHES", "CPU_CONFIG", "BlockCompressor", "NSACache", "NSAConfig", "NSAParameters", "NSAParts",
    "NativeSparseAttention", "choose_blocks", "compressed_mask", "forced_blocks", "overlap_pairs", "compression_blocks", "masked_attention",
    "nsa_attention", "nsa_loop_reference", "nsa_prefill", "num_compressed", "num_selection_blocks",
    "overlap_matrix", "select_blocks", "selection_mask", "selection_scores", "window_mask",
    # what a trained model attends to, and the decoding cost
    "attention_maps", "branches_only", "PAPER_TABLE4", "decode_costs",
    # the retrieval experiment and its committed models
    "KINDS", "RECALL_RECIPE", "RecallRecipe", "accuracy_by_distance", "heldout_set", "learned_at",
    "load_recall", "make_recall_model", "recall_path", "run_recall", "recall_accuracy",
    "value_found",
    # figures
    "plot_branch_maps", "plot_decode_cost", "plot_recall", "plot_recall_records",
]
