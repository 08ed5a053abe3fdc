"""Native Sparse Attention (Yuan et al., 2025, arXiv 2502.11089), in PyTorch and Triton.

* :mod:`~readingroom.nsa.config` — the sizes ``l, d, l', n, w`` (:class:`NSAConfig`);
* :mod:`~readingroom.nsa.blocks` — blocks, masks and the selection of Eq. (7)-(11);
* :mod:`~readingroom.nsa.attention` — Eq. (5): :func:`nsa_attention`, dense or Triton;
* :mod:`~readingroom.nsa.prefill` — :func:`nsa_prefill`, Eq. (5) chunk by chunk, gathering the
  selected blocks (no ``T x T`` tensor);
* :mod:`~readingroom.nsa.reference` — the per-token float64 loop it is tested against;
* :mod:`~readingroom.nsa.module` — the drop-in layer :class:`NativeSparseAttention`.
"""

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
from readingroom.nsa.module import BlockCompressor, NativeSparseAttention, NSACache, NSAParameters
from readingroom.nsa.prefill import nsa_prefill
from readingroom.nsa.reference import nsa_loop_reference

__all__ = [
    "BACKENDS", "BRANCHES", "CPU_CONFIG", "BlockCompressor", "NSACache", "NSAConfig", "NSAParameters", "NSAParts",
    "NativeSparseAttention", "choose_blocks", "compressed_mask", "forced_blocks", "overlap_pairs", "compression_blocks", "masked_attention",
    "nsa_attention", "nsa_loop_reference", "nsa_prefill", "num_compressed", "num_selection_blocks",
    "overlap_matrix", "select_blocks", "selection_mask", "selection_scores", "window_mask",
]
