r"""The drop-in layer: :class:`NativeSparseAttention`, with its learnable φ and gates.

``NativeSparseAttention(d_model, n_heads, n_kv_heads)`` maps ``x [B, T, d_model]`` to
``[B, T, d_model]`` like any causal self-attention layer:

1. project ``x`` to queries ``[B, T, H, D]`` and keys/values ``[B, T, H_kv, D]`` (three sets,
   one per branch, when ``cfg.separate_kv``);
2. compress the keys and values of each block of ``l`` tokens with φ (:class:`BlockCompressor`,
   Eq. 7);
3. gates :math:`g^c_t = \sigma(\mathrm{MLP}(x_t))` per head and branch (Eq. 5);
4. :func:`~readingroom.nsa.attention.nsa_attention`, then the output projection.

Positions enter only through the model around the layer (learned embeddings, RoPE, ...):
NSA itself is position-agnostic apart from φ's intra-block position encoding.

Decoding: pass an :class:`NSACache` and feed the sequence in pieces (one token at a time, or a
prompt then tokens); the outputs equal those of one pass over the whole sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_choice, check_int
from readingroom.nsa.attention import BACKENDS, NSAParts, nsa_attention
from readingroom.nsa.blocks import compression_blocks, num_compressed
from readingroom.nsa.config import NSAConfig

__all__ = ["BlockCompressor", "NSACache", "NSAParameters", "NativeSparseAttention"]


class BlockCompressor(nn.Module):
    r"""φ of Eq. (7): a block of ``l`` keys (or values) ``[..., l, D]`` to one token ``[..., D]``.

    ``kind="mlp"`` (the paper): add a learned intra-block position encoding ``E [l, D]``, then
    an MLP over the flattened block,

    .. math:: \varphi(k_{i}) = \overline{k_i + E} + W_2\, \mathrm{GELU}(W_1 \mathrm{vec}(k_i + E))

    written with a residual mean (:math:`\overline{\cdot}` averages the ``l`` tokens) and ``W_2``
    initialised to zero, so φ starts as mean pooling and learns what to add. ``kind="mean"``
    keeps only the mean (what several public re-implementations use). Weights are shared by all
    heads.
    """

    def __init__(self, head_dim: int, block_len: int, kind: str = "mlp", hidden: int | None = None):
        super().__init__()
        check_int(head_dim, "head_dim")
        check_int(block_len, "block_len")
        check_choice(kind, "kind", ("mlp", "mean"))
        self.kind, self.block_len, self.head_dim = kind, block_len, head_dim
        if kind == "mlp":
            hidden = 2 * head_dim if hidden is None else check_int(hidden, "hidden")
            self.pos = nn.Parameter(torch.randn(block_len, head_dim) * 0.02)  # E: [l, D]
            self.fc1 = nn.Linear(block_len * head_dim, hidden)
            self.fc2 = nn.Linear(hidden, head_dim)
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    def forward(self, blocks: torch.Tensor) -> torch.Tensor:
        if blocks.shape[-2:] != (self.block_len, self.head_dim):
            raise ValueError(
                f"blocks must end with [l={self.block_len}, D={self.head_dim}], got "
                f"{tuple(blocks.shape)}"
            )
        if self.kind == "mean":
            return blocks.mean(dim=-2)
        x = blocks + self.pos.to(blocks.dtype)  # [..., l, D]
        flat = x.flatten(-2)  # [..., l * D]
        return x.mean(dim=-2) + self.fc2(F.gelu(self.fc1(flat)))  # [..., D]


@dataclass
class NSACache:
    """Keys and values seen so far, for decoding piece by piece (see :meth:`NativeSparseAttention.forward`).

    ``k``, ``v``: raw keys/values per branch ``{"cmp"|"slc"|"win": [B, S, H_kv, D]}`` (one shared
    entry ``"all"`` unless ``separate_kv``); ``k_cmp``, ``v_cmp``: ``[B, N_c, H_kv, D]``, the
    compressed tokens of the blocks completed so far.
    """

    k: dict[str, torch.Tensor] = field(default_factory=dict)
    v: dict[str, torch.Tensor] = field(default_factory=dict)
    k_cmp: torch.Tensor | None = None
    v_cmp: torch.Tensor | None = None

    @property
    def length(self) -> int:
        """Tokens seen so far."""
        return 0 if not self.k else next(iter(self.k.values())).shape[1]


class NSAParameters(nn.Module):
    r"""NSA's own parameters, on top of an attention layer's projections: φ for keys and values
    (:class:`BlockCompressor`, Eq. 7) and the gates (Eq. 5).

    The paper derives each gate "from input features via an MLP and sigmoid activation" (§3.2)
    without giving the MLP's shape; here it is two layers,
    :math:`g_t = \sigma(W_2\, \mathrm{SiLU}(W_1 x_t + b_1) + b_2)` with ``W_1 [C, C]`` and
    ``W_2 [3H, C]`` (``cfg.gate="mlp"``), or one layer :math:`\sigma(W x_t + b)`
    (``cfg.gate="linear"``, what several public re-implementations use).

    Shared by :class:`NativeSparseAttention` and the ``transformers`` route
    (:class:`readingroom.nsa.hf.NSAParams`), so both compress and gate the same way.
    """

    def __init__(self, d_model: int, n_heads: int, head_dim: int, cfg: NSAConfig) -> None:
        super().__init__()
        self.cfg, self.n_heads = cfg, n_heads
        self.phi_k = BlockCompressor(head_dim, cfg.block_len, cfg.phi)
        self.phi_v = BlockCompressor(head_dim, cfg.block_len, cfg.phi)
        if cfg.gate == "mlp":
            self.w_g = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, 3 * n_heads))
        else:
            self.w_g = nn.Linear(d_model, 3 * n_heads)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """``g_t^c = sigmoid(MLP(x_t))`` per head and branch (Eq. 5): ``[B, T, C] -> [B, T, H, 3]``."""
        return torch.sigmoid(self.w_g(x)).view(*x.shape[:2], self.n_heads, 3)

    def compress(self, k: torch.Tensor, v: torch.Tensor, first: int = 0):
        """φ over the compression blocks ``first, first + 1, ...`` of raw ``k``, ``v``
        ``[B, S, H_kv, D]``: returns ``(k_cmp, v_cmp)`` ``[B, N_c - first, H_kv, D]``."""
        start = first * self.cfg.stride
        kb = compression_blocks(k[:, start:], self.cfg.block_len, self.cfg.stride)
        vb = compression_blocks(v[:, start:], self.cfg.block_len, self.cfg.stride)
        return self.phi_k(kb), self.phi_v(vb)  # [B, N_c, H_kv, D] each


class NativeSparseAttention(NSAParameters):
    """Causal self-attention with NSA's three branches (Eq. 5), ``[B, T, C] -> [B, T, C]``.

    Args:
        d_model: width ``C`` of the input and output.
        n_heads: query heads ``H``.
        n_kv_heads: key/value heads ``H_kv`` (GQA; must divide ``H``); default ``H``.
        head_dim: ``D``; default ``d_model // n_heads``.
        cfg: the branch sizes (:class:`~readingroom.nsa.config.NSAConfig`); the paper's by default.
        backend: ``"torch"`` or ``"triton"`` (see :func:`~readingroom.nsa.attention.nsa_attention`).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        cfg: NSAConfig | None = None,
        backend: str = "torch",
    ) -> None:
        check_int(d_model, "d_model")
        check_int(n_heads, "n_heads")
        n_kv_heads = n_heads if n_kv_heads is None else check_int(n_kv_heads, "n_kv_heads")
        if n_heads % n_kv_heads:
            raise ValueError(f"n_kv_heads={n_kv_heads} must divide n_heads={n_heads}")
        if head_dim is None:
            if d_model % n_heads:
                raise ValueError(
                    f"d_model={d_model} must be divisible by n_heads={n_heads} (or give head_dim)"
                )
            head_dim = d_model // n_heads
        check_int(head_dim, "head_dim")
        cfg = NSAConfig() if cfg is None else cfg
        if not isinstance(cfg, NSAConfig):
            raise TypeError(f"cfg must be an NSAConfig, got {type(cfg).__name__}")
        check_choice(backend, "backend", BACKENDS)
        super().__init__(d_model, n_heads, head_dim, cfg)  # φ and the gates
        self.backend = backend
        self.n_kv_heads, self.head_dim = n_kv_heads, head_dim
        self.kv_sets = ("cmp", "slc", "win") if cfg.separate_kv else ("all",)
        n_kv = len(self.kv_sets) * n_kv_heads * head_dim
        self.w_q = nn.Linear(d_model, n_heads * head_dim, bias=False)
        self.w_k = nn.Linear(d_model, n_kv, bias=False)
        self.w_v = nn.Linear(d_model, n_kv, bias=False)
        self.w_o = nn.Linear(n_heads * head_dim, d_model, bias=False)

    def _kv(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        B, T, _ = x.shape
        shape = (B, T, len(self.kv_sets), self.n_kv_heads, self.head_dim)
        k = self.w_k(x).view(shape).unbind(2)
        v = self.w_v(x).view(shape).unbind(2)
        return dict(zip(self.kv_sets, k)), dict(zip(self.kv_sets, v))

    def forward(
        self, x: torch.Tensor, cache: NSACache | None = None, *, return_parts: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, NSAParts]:
        """``x [B, T, C] -> [B, T, C]``.

        With ``cache``, ``x`` continues the sequence the cache holds (its positions start at
        ``cache.length``) and the cache is extended in place. ``return_parts`` also returns the
        :class:`~readingroom.nsa.attention.NSAParts` (selected blocks, branch outputs, ...).
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            raise ValueError(f"x must be a [B, T, d_model] tensor, got {getattr(x, 'shape', x)!r}")
        if x.shape[-1] != self.w_q.in_features:
            raise ValueError(f"x's last dimension must be d_model={self.w_q.in_features}, got {x.shape[-1]}")
        B, T, _ = x.shape
        q = self.w_q(x).view(B, T, self.n_heads, self.head_dim)
        k, v = self._kv(x)
        gates = self.gates(x)  # Eq. (5)
        q_start = 0
        if cache is not None:
            q_start = cache.length
            if cache.k:
                k = {s: torch.cat([cache.k[s], k[s]], dim=1) for s in self.kv_sets}
                v = {s: torch.cat([cache.v[s], v[s]], dim=1) for s in self.kv_sets}
            cache.k, cache.v = k, v
        src = "all" if "all" in k else "cmp"
        if cache is None or cache.k_cmp is None:
            k_cmp, v_cmp = self.compress(k[src], v[src])
        else:  # only the blocks completed since the last call
            done = cache.k_cmp.shape[1]
            new_k, new_v = self.compress(k[src], v[src], first=done)
            k_cmp = torch.cat([cache.k_cmp, new_k], dim=1)
            v_cmp = torch.cat([cache.v_cmp, new_v], dim=1)
        if cache is not None:
            cache.k_cmp, cache.v_cmp = k_cmp, v_cmp
        S = q_start + T
        assert k_cmp.shape[1] == num_compressed(S, self.cfg.block_len, self.cfg.stride)
        slc = "all" if "all" in k else "slc"
        win = "all" if "all" in k else "win"
        result = nsa_attention(
            q, k[slc], v[slc], k_cmp, v_cmp, gates, self.cfg,
            k_win=None if win == slc else k[win], v_win=None if win == slc else v[win],
            scale=1.0 / math.sqrt(self.head_dim), q_start=q_start,
            backend=self.backend if cache is None else "torch", return_parts=return_parts,
        )
        o = result.out if return_parts else result
        y = self.w_o(o.reshape(B, T, self.n_heads * self.head_dim))
        return (y, result) if return_parts else y
