"""A small causal decoder that reads text after a prefix of vision tokens.

In DeepSeek-OCR (Wei et al., 2025, arXiv 2510.18234) the DeepEncoder turns a page image into a
few vision tokens, projected to the decoder's width, and the DeepSeek3B-MoE decoder generates
the page's text conditioned on them. :class:`MoEDecoder` is that decoder at toy scale:

* the input sequence is ``[prefix ; embed(tokens)]``, the ``P`` vision tokens used as given
  followed by the ``T`` embedded text tokens, plus a learned position embedding for positions
  ``0 .. P+T-1``;
* ``n_layers`` pre-LayerNorm blocks ``x = x + Attn(LN(x))``, ``x = x + FFN(LN(x))`` with causal
  multi-head self-attention (Vaswani et al., 2017, eq. 1) and, as feed-forward, either the
  DeepSeekMoE layer of :mod:`~readingroom.ocr.moe` or a dense GELU MLP of width ``4 D``;
* a final LayerNorm and an unembedding; logits are returned for the text positions only.

Training is next-token prediction: callers pass ``<bos> c1 c2 ...`` as ``tokens`` and
``c1 c2 ... <eos>`` as targets, so the logits at text position ``t`` predict token ``t + 1``.

Shapes: ``B`` batch, ``P`` prefix length, ``T`` text length, ``L = P + T``, ``D`` = ``d_model``,
``H`` heads, ``Dh = D / H``, ``V`` = ``vocab_size``, ``n`` = ``n_routed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from readingroom.common.checks import check_bool, check_dropout
from readingroom.common.checks import check_int as _check_int
from readingroom.common.transformer import gpt2_init
from readingroom.common.train import eval_mode
from readingroom.ocr.moe import Expert, MoEConfig, MoEFeedForward

__all__ = ["DecoderConfig", "DecoderOutput", "MoEDecoder", "count_parameters"]


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of a :class:`MoEDecoder`.

    Attributes:
        vocab_size: number of token ids ``V``.
        d_model: width ``D`` of the residual stream (and of the prefix vectors).
        n_layers: number of blocks.
        n_heads: attention heads; must divide ``d_model``.
        max_len: the longest ``P + T`` (prefix plus text) the model accepts.
        moe: the feed-forward of every block: an :class:`MoEConfig` (its ``d_model`` must equal
            ``d_model``), or ``None`` for a dense GELU MLP of width ``4 * d_model``.
        dropout: dropout probability on embeddings, attention and block outputs, in ``[0, 1)``.
    """

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    max_len: int
    moe: MoEConfig | None = None
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_len"):
            _check_int(getattr(self, name), name, minimum=1)
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"n_heads must divide d_model, got d_model={self.d_model}, "
                f"n_heads={self.n_heads}"
            )
        if self.moe is not None:
            if not isinstance(self.moe, MoEConfig):
                raise TypeError(
                    f"moe must be an MoEConfig or None, got {type(self.moe).__name__}"
                )
            if self.moe.d_model != self.d_model:
                raise ValueError(
                    f"moe.d_model must equal d_model, got moe.d_model={self.moe.d_model}, "
                    f"d_model={self.d_model}"
                )
        check_dropout(self.dropout)


@dataclass
class DecoderOutput:
    """What :meth:`MoEDecoder.forward` returns.

    Attributes:
        logits: ``[B, T, V]``, for the text positions only; position ``t`` predicts token
            ``t + 1``.
        balance_loss: scalar, the MoE balance losses summed over layers (a 0.0 tensor when the
            feed-forward is dense).
        load: ``[n_layers, n]``, the fraction of token-slots each layer routed to each expert
            (prefix and real text tokens), or ``None`` when dense.
    """

    logits: torch.Tensor
    balance_loss: torch.Tensor
    load: torch.Tensor | None


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, ``softmax(Q K^T / sqrt(Dh) + M) V`` per head.

    ``M`` is 0 on and below the diagonal and ``-inf`` above (Vaswani et al., 2017, eq. 1), via
    :func:`torch.nn.functional.scaled_dot_product_attention` with ``is_causal=True``.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # W_Q, W_K, W_V side by side
        self.out = nn.Linear(config.d_model, config.d_model)  # W_O

    def forward(self, x: torch.Tensor, cache: dict[str, torch.Tensor] | None = None
                ) -> torch.Tensor:
        """Map ``x`` ``[B, L, D]`` to ``[B, L, D]``.

        With ``cache`` (a dict, filled in place), keys and values are kept for the next call:
        an empty cache takes a whole causal prefill; a filled one takes one new position
        (``L = 1``), which attends to every cached position and itself.
        """
        B, L, D = x.shape
        H = self.n_heads
        q, k, v = self.qkv(x).split(D, dim=-1)  # 3 x [B, L, D]
        q, k, v = (t.view(B, L, H, D // H).transpose(1, 2) for t in (q, k, v))  # [B, H, L, Dh]
        causal = True
        if cache is not None:
            if "k" in cache:
                if L != 1:
                    raise ValueError(f"a filled cache takes one new position, got {L}")
                k = torch.cat([cache["k"], k], dim=2)  # [B, H, Lc + 1, Dh]
                v = torch.cat([cache["v"], v], dim=2)
                causal = False  # the one new query may see every position so far
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )  # [B, H, L, Dh]
        return self.out(y.transpose(1, 2).reshape(B, L, D))  # [B, L, D]


class DecoderBlock(nn.Module):
    """Pre-LayerNorm block: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))``, FFN MoE or dense."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.ffn: nn.Module
        if config.moe is None:
            self.ffn = Expert(config.d_model, 4 * config.d_model)
        else:
            self.ffn = MoEFeedForward(config.moe)
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Return ``(x [B, L, D], balance loss or None, load [n] or None)``; ``cache`` as
        :meth:`CausalSelfAttention.forward`."""
        x = x + self.drop(self.attn(self.ln1(x), cache))
        h = self.ln2(x)
        if isinstance(self.ffn, MoEFeedForward):
            y, aux = self.ffn(h, mask)
            return x + self.drop(y), aux.balance_loss, aux.load
        return x + self.drop(self.ffn(h)), None, None


class MoEDecoder(nn.Module):
    """A causal decoder over ``[vision-token prefix ; text tokens]`` with MoE feed-forwards.

    Args:
        config: the sizes, a :class:`DecoderConfig`.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        if not isinstance(config, DecoderConfig):
            raise TypeError(f"config must be a DecoderConfig, got {type(config).__name__}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.max_len, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.unembed = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(gpt2_init)  # GPT-2 style

    def _check_prefix(self, prefix: object) -> None:
        """Validate a ``prefix`` ``[B, P, d_model]`` floating-point tensor."""
        cfg = self.config
        if not isinstance(prefix, torch.Tensor):
            raise TypeError(f"prefix must be a torch.Tensor, got {type(prefix).__name__}")
        if prefix.dim() != 3:
            raise ValueError(
                f"prefix must have shape [B, P, d_model], got shape {tuple(prefix.shape)}"
            )
        if not prefix.is_floating_point():
            raise TypeError(f"prefix must be a floating-point tensor, got dtype {prefix.dtype}")
        if prefix.shape[-1] != cfg.d_model:
            raise ValueError(
                f"prefix must have width d_model={cfg.d_model}, got shape {tuple(prefix.shape)}"
            )

    def _check_forward_args(
        self, prefix: torch.Tensor, tokens: object, token_mask: object
    ) -> None:
        """Validate the arguments of :meth:`forward`, raising errors that name them."""
        cfg = self.config
        self._check_prefix(prefix)
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch.Tensor, got {type(tokens).__name__}")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape [B, T], got shape {tuple(tokens.shape)}")
        if tokens.dtype != torch.long:
            raise TypeError(f"tokens must be a long (int64) tensor, got dtype {tokens.dtype}")
        if tokens.shape[1] == 0:
            raise ValueError("tokens must hold at least one token per row, got T=0")
        if tokens.shape[0] != prefix.shape[0]:
            raise ValueError(
                f"tokens and prefix must have the same batch size, got tokens "
                f"{tuple(tokens.shape)} and prefix {tuple(prefix.shape)}"
            )
        P, T = prefix.shape[1], tokens.shape[1]
        if P + T > cfg.max_len:
            raise ValueError(
                f"prefix length P={P} plus tokens length T={T} exceeds max_len={cfg.max_len}"
            )
        lo, hi = int(tokens.min()), int(tokens.max())
        if lo < 0 or hi >= cfg.vocab_size:
            raise ValueError(
                f"tokens must be ids in [0, vocab_size={cfg.vocab_size}), got values in "
                f"[{lo}, {hi}]"
            )
        if token_mask is None:
            return
        if not isinstance(token_mask, torch.Tensor):
            raise TypeError(
                f"token_mask must be a torch.Tensor or None, got {type(token_mask).__name__}"
            )
        if token_mask.dtype != torch.bool:
            raise TypeError(f"token_mask must be a bool tensor, got dtype {token_mask.dtype}")
        if token_mask.shape != tokens.shape:
            raise ValueError(
                f"token_mask must have the shape of tokens {tuple(tokens.shape)}, "
                f"got {tuple(token_mask.shape)}"
            )

    def forward(
        self,
        prefix: torch.Tensor,
        tokens: torch.Tensor,
        *,
        token_mask: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """Run the decoder over ``[prefix ; embed(tokens)]``.

        Args:
            prefix: ``[B, P, D]`` vision tokens, already projected to ``d_model`` (``P`` may
                be 0); cast to the model's dtype.
            tokens: ``[B, T]`` long text ids, ``T >= 1``, ``P + T <= max_len``.
            token_mask: optional ``[B, T]`` bool, ``True`` for real tokens. Padded tokens are
                left out of the MoE balance statistics; attention is not masked, so pad on the
                right (causality then keeps real positions from seeing the padding).

        Returns:
            A :class:`DecoderOutput` with ``logits [B, T, V]`` for the text positions.
        """
        self._check_forward_args(prefix, tokens, token_mask)
        B, P, _ = prefix.shape
        T = tokens.shape[1]
        weight = self.tok_emb.weight
        x = torch.cat([prefix.to(weight.dtype), self.tok_emb(tokens)], dim=1)  # [B, L, D]
        positions = torch.arange(P + T, device=tokens.device)  # [L]
        x = self.drop(x + self.pos_emb(positions)[None])  # [B, L, D]

        mask = None
        if token_mask is not None:
            real_prefix = torch.ones(B, P, dtype=torch.bool, device=token_mask.device)
            mask = torch.cat([real_prefix, token_mask], dim=1)  # [B, L]

        balance = weight.new_zeros(())
        loads = []
        for block in self.blocks:
            x, layer_balance, layer_load = block(x, mask)
            if layer_balance is not None:
                balance = balance + layer_balance
                loads.append(layer_load)
        logits = self.unembed(self.ln_f(x[:, P:]))  # [B, T, V]
        load = torch.stack(loads) if loads else None  # [n_layers, n]
        return DecoderOutput(logits=logits, balance_loss=balance, load=load)

    def loss(
        self, output: DecoderOutput, targets: torch.Tensor, ignore_index: int = 0
    ) -> torch.Tensor:
        """Next-token cross-entropy plus the MoE balance loss.

        ``L = mean_t CE(logits_t, targets_t) + sum_layers alpha sum_i f_i P_i``, the mean over
        positions whose target is not ``ignore_index`` (DeepSeekMoE eq. (12) adds the balance
        term to the language-modelling loss). If every target is ignored the cross-entropy term
        is 0.

        Args:
            output: what :meth:`forward` returned.
            targets: ``[B, T]`` long, the token each position should predict.
            ignore_index: target id that does not count (the padding id; default 0).

        Returns:
            A scalar tensor.
        """
        if not isinstance(output, DecoderOutput):
            raise TypeError(f"output must be a DecoderOutput, got {type(output).__name__}")
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
        if targets.dtype != torch.long:
            raise TypeError(f"targets must be a long (int64) tensor, got dtype {targets.dtype}")
        if targets.shape != output.logits.shape[:2]:
            raise ValueError(
                f"targets must have shape [B, T] = {tuple(output.logits.shape[:2])}, "
                f"got {tuple(targets.shape)}"
            )
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
        logits = output.logits
        if bool((targets != ignore_index).any()):
            ce = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                ignore_index=ignore_index,
            )
        else:
            ce = logits.sum() * 0.0  # keeps the graph, avoids CE's 0/0 = nan
        return ce + output.balance_loss

    @torch.no_grad()
    def _step(self, prefix: torch.Tensor | None, tokens: torch.Tensor,
              caches: list[dict[str, torch.Tensor]], start: int) -> torch.Tensor:
        """Logits ``[B, V]`` of the last position, feeding only the new positions.

        The first call passes ``prefix`` and ``<bos>`` (``start = 0``) and fills ``caches``;
        later calls pass one token at position ``start``.
        """
        x = self.tok_emb(tokens)  # [B, L, D]
        if prefix is not None:
            x = torch.cat([prefix.to(x.dtype), x], dim=1)
        positions = torch.arange(start, start + x.shape[1], device=tokens.device)
        x = x + self.pos_emb(positions)[None]
        for block, cache in zip(self.blocks, caches):
            x, _, _ = block(x, None, cache)
        return self.unembed(self.ln_f(x[:, -1]))  # [B, V]

    def generate(
        self, prefix: torch.Tensor, bos_id: int, eos_id: int, max_new_tokens: int,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Greedy decoding after ``prefix``, starting from ``<bos>``.

        Each step appends the argmax token. With ``use_cache`` (the default) the keys and
        values of earlier positions are kept, so a step computes one new position; without it
        every step reruns the whole sequence (the slow reference the tests compare with). Rows
        that have produced ``eos_id`` keep emitting ``eos_id``; decoding stops when every row
        has produced it or after ``max_new_tokens`` tokens. The model is put in eval mode for
        the call and its mode restored afterwards.

        Args:
            prefix: ``[B, P, D]`` vision tokens.
            bos_id: id fed first.
            eos_id: id that ends a row.
            max_new_tokens: most tokens to generate; ``P + max_new_tokens <= max_len`` (the last
                step reads ``P`` prefix vectors, ``<bos>`` and ``max_new_tokens - 1`` tokens).

        Returns:
            ``[B, S]`` long, ``S <= max_new_tokens``, without the ``<bos>``; a finished row ends
            with ``eos_id`` (repeated as padding).
        """
        cfg = self.config
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
            _check_int(value, name, minimum=0)
            if value >= cfg.vocab_size:
                raise ValueError(
                    f"{name} must be in [0, vocab_size={cfg.vocab_size}), got {value}"
                )
        _check_int(max_new_tokens, "max_new_tokens", minimum=1)
        check_bool(use_cache, "use_cache")
        self._check_prefix(prefix)
        P = prefix.shape[1]
        if P + max_new_tokens > cfg.max_len:
            raise ValueError(
                f"prefix length P={P} plus max_new_tokens={max_new_tokens} exceeds "
                f"max_len={cfg.max_len}"
            )
        with eval_mode(self):
            B = prefix.shape[0]
            device = self.tok_emb.weight.device
            seq = torch.full((B, 1), bos_id, dtype=torch.long, device=device)  # [B, 1]
            done = torch.zeros(B, dtype=torch.bool, device=device)  # [B]
            caches: list[dict[str, torch.Tensor]] = [{} for _ in self.blocks]
            for t in range(max_new_tokens):
                if use_cache:
                    logits = self._step(prefix if t == 0 else None, seq[:, -1:], caches,
                                        start=0 if t == 0 else P + t)  # [B, V]
                else:
                    logits = self(prefix, seq).logits[:, -1]  # [B, V]
                nxt = logits.argmax(dim=-1)  # [B]
                nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
                seq = torch.cat([seq, nxt[:, None]], dim=1)  # [B, t + 1]
                done = done | (nxt == eos_id)
                if bool(done.all()):
                    break
        return seq[:, 1:]


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Total parameters and parameters active for one token, as DeepSeek quotes "3B / 570M".

    ``active_per_token`` counts everything except, in each :class:`MoEFeedForward`, the
    ``n_routed - top_k`` routed experts a token does not visit: embeddings (one row of each is
    read, but like DeepSeek we count the whole matrices), attention, norms, the gates, the
    shared experts and ``top_k`` routed experts. For a dense model the two numbers are equal.

    Args:
        model: any module, typically a :class:`MoEDecoder` or :class:`MoEFeedForward`.

    Returns:
        ``{"total": int, "active_per_token": int}``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    total = sum(p.numel() for p in model.parameters())
    inactive = 0
    for module in model.modules():
        if isinstance(module, MoEFeedForward):
            per_expert = sum(p.numel() for p in module.routed[0].parameters())
            inactive += (module.config.n_routed - module.config.top_k) * per_expert
    return {"total": total, "active_per_token": total - inactive}

