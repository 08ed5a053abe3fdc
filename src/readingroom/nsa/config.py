"""NSA's hyper-parameters, in the paper's notation and with its defaults (§4.1).

Native Sparse Attention (Yuan et al., 2025, arXiv 2502.11089) names them:

* ``l`` (:attr:`NSAConfig.block_len`) and ``d`` (:attr:`NSAConfig.stride`): length and stride of
  the blocks the compression branch summarises into one token each (Eq. 7);
* ``l'`` (:attr:`NSAConfig.select_block`): length of the blocks the selection branch picks
  (Eq. 9-12);
* ``n`` (:attr:`NSAConfig.top_n`): how many selection blocks each query attends to, counting the
  forced ones (1 initial block and 2 local blocks in the paper);
* ``w`` (:attr:`NSAConfig.window`): the sliding window.

The paper's values are ``l=32, d=16, l'=64, n=16, w=512``. They are this class's defaults; the
book's CPU experiments use a scaled-down copy (:data:`CPU_CONFIG`) and say so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from readingroom.common.checks import check_bool, check_choice, check_int

__all__ = ["BRANCHES", "CPU_CONFIG", "NSAConfig"]

#: The three branches of Eq. (5), in the order of the gate vector: compressed, selected, window.
BRANCHES: tuple[str, ...] = ("cmp", "slc", "win")

_PHI_KINDS = ("mlp", "mean")
_GATE_KINDS = ("mlp", "linear")


@dataclass(frozen=True)
class NSAConfig:
    """Sizes of NSA's three branches (paper §3.3 and §4.1).

    Attributes:
        block_len: ``l``, tokens per compression block (Eq. 7). Paper: 32.
        stride: ``d``, distance between the starts of consecutive compression blocks; ``d <= l``,
            so blocks overlap when ``d < l`` (Eq. 7). Paper: 16.
        select_block: ``l'``, tokens per selection block (Eq. 9-12). Paper: 64.
        top_n: ``n``, selection blocks per query, the forced ones included (Eq. 11). Paper: 16.
        n_initial: blocks at the start of the sequence that every query selects. Paper: 1.
        n_local: most recent blocks (the query's own and the ones before it) that every query
            selects. Paper: 2.
        window: ``w``, the sliding window of the third branch. Paper: 512.
        phi: the compression function φ of Eq. (7): ``"mlp"`` (the paper's learnable MLP over the
            block, with an intra-block position encoding) or ``"mean"`` (mean pooling, as several
            public re-implementations use).
        gate: the gate network of Eq. (5): ``"mlp"`` (the paper's MLP and sigmoid; two layers
            here, the paper gives no shape) or ``"linear"`` (one layer and a sigmoid).
        separate_kv: give each branch its own keys and values (the paper's choice, §3.3), instead
            of one set of keys and values shared by the three branches.
        branches: which branches are switched on, a subset of :data:`BRANCHES` (for ablations;
            the paper uses all three).
    """

    block_len: int = 32
    stride: int = 16
    select_block: int = 64
    top_n: int = 16
    n_initial: int = 1
    n_local: int = 2
    window: int = 512
    phi: str = "mlp"
    gate: str = "mlp"
    separate_kv: bool = False
    branches: tuple[str, ...] = BRANCHES

    def __post_init__(self) -> None:
        for name in ("block_len", "stride", "select_block", "top_n", "window"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.n_initial, "n_initial", minimum=0)
        check_int(self.n_local, "n_local", minimum=0)
        if self.stride > self.block_len:
            raise ValueError(
                f"stride (d={self.stride}) must be <= block_len (l={self.block_len}): with d > l "
                "some tokens would belong to no compression block"
            )
        if self.n_initial + self.n_local > self.top_n:
            raise ValueError(
                f"top_n (n={self.top_n}) must be >= n_initial + n_local "
                f"({self.n_initial} + {self.n_local}): the forced blocks count towards n"
            )
        check_choice(self.phi, "phi", _PHI_KINDS)
        check_choice(self.gate, "gate", _GATE_KINDS)
        check_bool(self.separate_kv, "separate_kv")
        branches = tuple(self.branches) if isinstance(self.branches, (list, tuple)) else None
        if not branches or any(b not in BRANCHES for b in branches) or len(set(branches)) != len(
            branches
        ):
            raise ValueError(
                f"branches must be a non-empty subset of {BRANCHES}, got {self.branches!r}"
            )
        if "slc" in branches and "cmp" not in branches:
            raise ValueError(
                "branches: 'slc' needs 'cmp', because the selection scores are the compression "
                f"branch's attention probabilities (Eq. 8-10); got {self.branches!r}"
            )
        # Canonical order, so that equal configs compare equal.
        object.__setattr__(self, "branches", tuple(b for b in BRANCHES if b in branches))

    def replace(self, **changes) -> NSAConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def tokens_per_query(self, t: int) -> int:
        """How many keys the query at (0-indexed) position ``t`` attends to, summed over the
        branches that are on: compressed tokens whose block has ended, the tokens of ``n``
        selection blocks up to ``t``, and at most ``w`` window tokens. (Tokens seen by two
        branches are counted twice: each branch loads them.)

        Exact when ``n_local >= 1`` (the query's own, partial block is always selected); with
        ``n_local = 0`` the count depends on the scores and this is its maximum (``n`` whole
        blocks from the past)."""
        check_int(t, "t", minimum=0)
        total = 0
        if "cmp" in self.branches:
            total += 0 if t + 1 < self.block_len else (t + 1 - self.block_len) // self.stride + 1
        if "slc" in self.branches:
            candidates = t // self.select_block + 1  # blocks 0 .. own
            own_part = t % self.select_block + 1  # the query's own block is cut at t
            if candidates <= self.top_n:
                total += (candidates - 1) * self.select_block + own_part
            elif self.n_local >= 1:
                total += (self.top_n - 1) * self.select_block + own_part
            else:
                total += self.top_n * self.select_block
        if "win" in self.branches:
            total += min(self.window, t + 1)
        return total


#: The scaled-down configuration of the book's CPU experiments: every size divided by 2-16 so
#: that sequences of a few hundred tokens already have many blocks. The ratios the paper relies
#: on are kept (d = l/2, l' = 2l, n counts 1 initial + 2 local blocks).
CPU_CONFIG = NSAConfig(block_len=16, stride=8, select_block=32, top_n=4, window=32)
