"""What one decoding step reads: NSA vs full attention (the paper's Table 4).

In decoding, attention is bound by memory traffic: each new token reads the keys and values of
its context. Full attention reads all ``s`` of them. NSA reads the compressed tokens, ``n``
selection blocks and the window: about ``s / d + n l' + w`` (§5.2). The paper tabulates this
"equivalent number of tokens" for ``l=32, d=16, l'=64, n=16, w=512`` and takes the ratio as the
expected decoding speed-up (Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from readingroom.common.checks import check_int
from readingroom.nsa.config import NSAConfig

__all__ = ["PAPER_TABLE4", "DecodeCost", "decode_cost", "decode_costs"]

#: Table 4 of the paper: context length -> (full attention, NSA) tokens loaded, expected speed-up.
PAPER_TABLE4: dict[int, tuple[int, int, float]] = {
    8192: (8192, 2048, 4.0),
    16384: (16384, 2560, 6.4),
    32768: (32768, 3584, 9.1),
    65536: (65536, 5632, 11.6),
}


@dataclass(frozen=True)
class DecodeCost:
    """Tokens read by one decoding step at context length ``context``.

    Attributes:
        context: ``s``, tokens in the cache (the new query is the last one).
        full: ``s``, what full attention reads.
        nsa_paper: ``s // d + n l' + w``, the paper's approximation.
        nsa_exact: the exact count for the query at position ``s - 1``
            (:meth:`NSAConfig.tokens_per_query`): compressed tokens whose blocks have ended,
            ``n - 1`` whole blocks plus the query's own, and ``min(w, s)`` window tokens.
    """

    context: int
    full: int
    nsa_paper: int
    nsa_exact: int

    @property
    def speedup(self) -> float:
        """``full / nsa_paper``: the paper's "expected speedup"."""
        return self.full / self.nsa_paper


def decode_cost(context: int, cfg: NSAConfig | None = None) -> DecodeCost:
    """The :class:`DecodeCost` of a decoding step with ``context`` tokens in the cache."""
    check_int(context, "context")
    cfg = NSAConfig() if cfg is None else cfg
    if not isinstance(cfg, NSAConfig):
        raise TypeError(f"cfg must be an NSAConfig, got {type(cfg).__name__}")
    paper = context // cfg.stride + cfg.top_n * cfg.select_block + cfg.window
    return DecodeCost(context, context, paper, cfg.tokens_per_query(context - 1))


def decode_costs(contexts=tuple(PAPER_TABLE4), cfg: NSAConfig | None = None) -> list[DecodeCost]:
    """:func:`decode_cost` for each context length (by default the paper's 8k-64k)."""
    return [decode_cost(c, cfg) for c in contexts]
