"""A tiny decoder-only transformer, small enough to train on a laptop CPU in seconds.

The model is GPT-2 shaped (Radford et al., 2019) and written to be read, in the spirit of nanoGPT
and labml's annotated implementations:

* learned token and position embeddings,
* ``n_layers`` pre-LayerNorm residual blocks, each ``x = x + Attn(LN(x))`` then
  ``x = x + MLP(LN(x))`` (the MLP is optional: ``d_mlp=0`` gives an attention-only model, the
  usual object of circuit analysis),
* a final LayerNorm and an unembedding to vocabulary logits.

Attention is computed explicitly (no fused kernel) so that every layer's attention pattern can be
returned and plotted: ``logits, attn = model(idx, return_attention=True)``.

Shapes: ``B`` batch, ``T`` sequence length, ``D`` = ``d_model``, ``H`` = ``n_heads``,
``Dh`` = ``d_head``, ``V`` = ``vocab_size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_bool, check_dropout, check_float
from readingroom.common.checks import check_int as _check_int
from readingroom.common.train import eval_mode

__all__ = ["TransformerConfig", "TinyTransformer", "gpt2_init"]


@dataclass
class TransformerConfig:
    """Sizes and switches of a :class:`TinyTransformer`.

    Attributes:
        vocab_size: number of token ids ``V``; inputs must lie in ``[0, V)``.
        n_ctx: the longest sequence the model accepts (size of the position embedding).
        d_model: width ``D`` of the residual stream.
        n_layers: number of residual blocks.
        n_heads: attention heads per block; must divide ``d_model``.
        d_mlp: hidden width of each block's MLP. ``None`` means ``4 * d_model`` (and is replaced
            by that number when the config is created); ``0`` removes the MLPs (attention-only).
        dropout: dropout probability on embeddings, attention probabilities and block outputs,
            in ``[0, 1)``.
        layer_norm: use LayerNorm before each sublayer and before the unembedding; ``False``
            replaces them by the identity.
        tie_embeddings: share the token embedding matrix with the unembedding.
    """

    vocab_size: int
    n_ctx: int
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_mlp: int | None = None
    dropout: float = 0.0
    layer_norm: bool = True
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.d_mlp is None:
            self.d_mlp = 4 * self.d_model if isinstance(self.d_model, int) else None
        self._validate()

    def _validate(self) -> None:
        """Check every field; raise ``TypeError``/``ValueError`` naming the first bad one."""
        for name in ("vocab_size", "n_ctx", "d_model", "n_layers", "n_heads"):
            _check_int(getattr(self, name), name, minimum=1)
        _check_int(self.d_mlp, "d_mlp", minimum=0)
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={self.d_model}, "
                f"n_heads={self.n_heads}"
            )
        check_dropout(self.dropout)
        check_bool(self.layer_norm, "layer_norm")
        check_bool(self.tie_embeddings, "tie_embeddings")

    @property
    def d_head(self) -> int:
        """Width ``Dh = d_model / n_heads`` of each attention head."""
        return self.d_model // self.n_heads


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with the attention probabilities exposed.

    For each head, with queries, keys and values ``Q, K, V`` of shape ``[T, Dh]``:

    .. math::

        \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\!\\left(
            \\frac{Q K^\\top}{\\sqrt{d_\\mathrm{head}}} + M\\right) V,

    where the causal mask ``M`` is ``0`` on and below the diagonal and ``-inf`` above it, so
    position ``t`` attends only to positions ``<= t`` (Vaswani et al., 2017, eq. 1). The heads'
    outputs are concatenated and projected back to ``d_model``.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.d_head = config.d_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # W_Q, W_K, W_V side by side
        self.out = nn.Linear(config.d_model, config.d_model)  # W_O
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # The softmax is a module (no parameters) so that a forward hook can read or replace the
        # attention pattern, e.g. to freeze it for circuit tracing (readingroom.clt).
        self.pattern = nn.Softmax(dim=-1)
        mask = torch.tril(
            torch.ones(config.n_ctx, config.n_ctx, dtype=torch.bool)
        )  # [n_ctx, n_ctx]
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, cache: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``x`` ``[B, T, D]`` to ``(output [B, T, D], attention probs [B, H, T, S])``.

        Without ``cache``, ``S = T``. With ``cache`` (a list, empty at the first call, that this
        method fills with the keys and values seen so far), ``x`` holds the positions after the
        cached ones and attends to those too (``S`` = cached + ``T``): incremental decoding.
        """
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)  # 3 x [B, T, D]
        # Split the width into heads: [B, T, D] -> [B, H, T, Dh].
        q = q.view(B, T, self.n_heads, self.d_head).transpose(1, 2)
        k = k.view(B, T, self.n_heads, self.d_head).transpose(1, 2)
        v = v.view(B, T, self.n_heads, self.d_head).transpose(1, 2)
        past = 0
        if cache is not None:
            if cache:
                past = cache[0].shape[2]
                k = torch.cat([cache[0], k], dim=2)  # [B, H, past + T, Dh]
                v = torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]

        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # [B, H, T, S]
        # [T, S], True where key position <= query position (queries start at ``past``)
        mask = self.causal_mask[past:past + T, :past + T]
        scores = scores.masked_fill(~mask, float("-inf"))
        attn = self.pattern(scores)  # [B, H, T, T], each row sums to 1

        y = self.attn_dropout(attn) @ v  # [B, H, T, Dh]
        y = y.transpose(1, 2).reshape(B, T, D)  # concatenate heads: [B, T, D]
        return self.resid_dropout(self.out(y)), attn


class MLP(nn.Module):
    """Position-wise feed-forward network ``W_out GELU(W_in x)``: ``[B, T, D] -> [B, T, D]``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        assert config.d_mlp is not None  # resolved by TransformerConfig.__post_init__
        self.fc_in = nn.Linear(config.d_model, config.d_mlp)
        self.fc_out = nn.Linear(config.d_mlp, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc_out(F.gelu(self.fc_in(x))))  # [B, T, D]


class Block(nn.Module):
    """Pre-LayerNorm residual block: ``x += Attn(LN1(x))``, then ``x += MLP(LN2(x))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        norm = nn.LayerNorm if config.layer_norm else (lambda d: nn.Identity())
        self.ln1 = norm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.has_mlp = bool(config.d_mlp)
        self.ln2 = norm(config.d_model) if self.has_mlp else nn.Identity()
        self.mlp = MLP(config) if self.has_mlp else None

    def forward(self, x: torch.Tensor, cache: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the updated residual stream ``[B, T, D]`` and the attention ``[B, H, T, S]``
        (``cache``: see :meth:`CausalSelfAttention.forward`)."""
        a, attn = self.attn(self.ln1(x), cache)
        x = x + a
        if self.mlp is not None:
            x = x + self.mlp(self.ln2(x))
        return x, attn


def gpt2_init(module: nn.Module) -> None:
    """GPT-2's initialisation, for ``model.apply``: Linear and Embedding weights ``N(0, 0.02)``,
    Linear biases 0 (LayerNorms keep their defaults)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class TinyTransformer(nn.Module):
    """Decoder-only transformer: token ids ``[B, T]`` to next-token logits ``[B, T, V]``.

    Parameters are initialised from ``N(0, 0.02^2)`` (biases zero, LayerNorm gain one), with the
    output projections of each residual branch scaled by ``1 / sqrt(2 * n_layers)`` as in GPT-2,
    so the initial weights are fixed by PyTorch's global seed.

    Example::

        seed_everything(0)
        model = TinyTransformer(TransformerConfig(vocab_size=16, n_ctx=32, d_model=64))
        logits = model(torch.randint(0, 16, (8, 32)))              # [8, 32, 16]
        logits, attn = model(idx, return_attention=True)           # attn[l]: [8, 4, 32, 32]
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
        config._validate()  # the dataclass is mutable: re-check in case a field was changed
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)  # W_E: [V, D]
        self.pos_emb = nn.Embedding(config.n_ctx, config.d_model)  # W_pos: [n_ctx, D]
        self.emb_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model) if config.layer_norm else nn.Identity()
        self.unembed = nn.Linear(config.d_model, config.vocab_size, bias=False)  # W_U
        if config.tie_embeddings:
            self.unembed.weight = self.tok_emb.weight
        self.apply(gpt2_init)
        # GPT-2: scale the residual-branch output projections by 1/sqrt(2 * n_layers).
        for name, param in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.fc_out.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layers))

    def _check_idx(self, idx: object, name: str, *, max_len: int | None) -> torch.Tensor:
        """Validate a batch of token ids (type, dtype, rank, length, range, device)."""
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
            raise TypeError(f"{name} must have an integer dtype (torch.long), got {idx.dtype}")
        if idx.dim() != 2:
            raise ValueError(f"{name} must be 2-D [B, T], got shape {tuple(idx.shape)}")
        T = idx.shape[1]
        if T < 1 or (max_len is not None and T > max_len):
            raise ValueError(
                f"{name} has sequence length T={T}; it must be in [1, n_ctx={self.config.n_ctx}]"
            )
        if idx.numel() > 0:
            low, high = int(idx.min()), int(idx.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"{name} holds token ids in [{low}, {high}]; they must be in "
                    f"[0, vocab_size={self.config.vocab_size})"
                )
        device = self.tok_emb.weight.device
        if idx.device != device:
            raise ValueError(f"{name} is on {idx.device} but the model is on {device}")
        return idx.long()

    def forward(
        self, idx: torch.Tensor, *, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Compute next-token logits.

        Args:
            idx: token ids ``[B, T]`` with an integer dtype, ``1 <= T <= n_ctx``, values in
                ``[0, vocab_size)``, on the model's device.
            return_attention: also return each layer's attention probabilities.

        Returns:
            ``logits`` ``[B, T, V]``, or ``(logits, attn)`` where ``attn`` is a list with one
            ``[B, H, T, T]`` tensor per layer (rows sum to 1; entries above the diagonal are 0).
        """
        idx = self._check_idx(idx, "idx", max_len=self.config.n_ctx)
        T = idx.shape[1]
        pos = torch.arange(T, device=idx.device)  # [T]
        x = self.emb_dropout(self.tok_emb(idx) + self.pos_emb(pos))  # [B, T, D]
        attention: list[torch.Tensor] = []
        for block in self.blocks:
            x, attn = block(x)  # [B, T, D], [B, H, T, T]
            attention.append(attn)
        logits = self.unembed(self.ln_f(x))  # [B, T, V]
        if return_attention:
            return logits, attention
        return logits

    def num_parameters(self) -> int:
        """Number of trainable scalars (a tied embedding matrix is counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        greedy: bool = True,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        cache: bool = False,
    ) -> torch.Tensor:
        """Extend ``idx`` ``[B, T]`` by ``max_new_tokens`` tokens, one at a time.

        Each step feeds the last ``n_ctx`` tokens and picks the next token from the last
        position's logits: the argmax when ``greedy``, else a sample from
        ``softmax(logits / temperature)`` drawn with ``generator`` (for repeatable samples).
        The model is put in eval mode while generating and its mode restored afterwards.

        With ``cache=True`` each step computes only the new position, reusing the keys and values
        of the earlier ones (a key/value cache): the same logits up to float rounding, in time
        linear rather than quadratic in the length. It applies while the whole sequence fits in
        ``n_ctx`` (``T + max_new_tokens <= n_ctx``); beyond that the window slides and every step
        is recomputed. Forward hooks on the attention then see ``[B, H, 1, S]`` patterns.

        Returns:
            ``[B, T + max_new_tokens]`` token ids (the input followed by the new tokens).
        """
        idx = self._check_idx(idx, "idx", max_len=None)
        _check_int(max_new_tokens, "max_new_tokens", minimum=0)
        check_bool(greedy, "greedy")
        check_float(temperature, "temperature", low=0, low_open=True)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}"
            )

        check_bool(cache, "cache")
        if cache and idx.shape[1] + max_new_tokens <= self.config.n_ctx:
            with eval_mode(self):
                return self._generate_cached(idx, max_new_tokens, greedy, temperature, generator)
        with eval_mode(self):
            for _ in range(max_new_tokens):
                context = idx[:, -self.config.n_ctx :]  # [B, <= n_ctx]
                logits = self(context)[:, -1, :]  # [B, V]
                if greedy:
                    next_id = logits.argmax(dim=-1, keepdim=True)  # [B, 1]
                else:
                    probs = F.softmax(logits / temperature, dim=-1)  # [B, V]
                    next_id = torch.multinomial(probs, 1, generator=generator)  # [B, 1]
                idx = torch.cat([idx, next_id], dim=1)  # [B, T + 1]
        return idx

    def _generate_cached(self, idx: torch.Tensor, max_new_tokens: int, greedy: bool,
                         temperature: float, generator: torch.Generator | None) -> torch.Tensor:
        """:meth:`generate` with a key/value cache per layer (the sequence fits in ``n_ctx``)."""
        caches: list[list[torch.Tensor]] = [[] for _ in self.blocks]
        tokens, start = idx, 0
        for _ in range(max_new_tokens):
            pos = torch.arange(start, start + tokens.shape[1], device=idx.device)  # [t]
            x = self.emb_dropout(self.tok_emb(tokens) + self.pos_emb(pos))  # [B, t, D]
            for block, cache in zip(self.blocks, caches):
                x, _ = block(x, cache)
            logits = self.unembed(self.ln_f(x[:, -1]))  # [B, V]
            if greedy:
                next_id = logits.argmax(dim=-1, keepdim=True)  # [B, 1]
            else:
                probs = F.softmax(logits / temperature, dim=-1)  # [B, V]
                next_id = torch.multinomial(probs, 1, generator=generator)  # [B, 1]
            start += tokens.shape[1]
            tokens = next_id
            idx = torch.cat([idx, next_id], dim=1)  # [B, T + 1]
        return idx
