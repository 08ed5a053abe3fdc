"""What circuit tracing needs from a model, and the hooks that read, replace and freeze it.

A cross-layer transcoder (CLT) and an attribution graph need five places in a decoder-only,
pre-norm transformer, and nothing else:

* the **embedding** output (the residual stream before layer 0);
* the **residual stream before each MLP** (the input of the pre-MLP norm), which the CLT's layer-l
  encoder reads;
* each **MLP output**, which the CLT's decoders reconstruct;
* every **normalisation**, whose denominator is frozen in the local replacement model;
* every **attention pattern**, also frozen.

:class:`ModelAdapter` finds them in :class:`~readingroom.common.TinyTransformer` and in Hugging
Face GPT-2- and Llama-style causal LMs (``transformer.h[i].ln_2/.mlp`` or
``model.layers[i].post_attention_layernorm/.mlp``), so the same CLT and graph code runs on the
book's toy and on a reader's own model.

Freezing is done by **substitution**, not by ``detach``: :func:`traced` with a :class:`Frozen`
in ``record`` mode stores each norm's denominator and each attention pattern on a clean pass; in
``apply`` mode it substitutes the stored values. The model is then an affine function of its
embeddings and MLP outputs (Ameisen et al., 2025, §"Building a local replacement model"), both for
gradients and for forward values, so perturbation checks test the same linear map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from readingroom.common.checks import check_choice

__all__ = ["ModelAdapter", "Frozen", "traced", "collect", "TRACE_ATTENTION"]

#: The name under which the freezable attention is registered with ``transformers``.
TRACE_ATTENTION = "readingroom_trace"

_NORM_NAMES = ("LayerNorm", "RMSNorm")


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) or type(module).__name__.endswith(_NORM_NAMES)


@dataclass
class Frozen:
    """Norm denominators and attention patterns of one clean forward pass.

    ``mode="record"`` fills the dictionaries; ``mode="apply"`` substitutes what was recorded
    (broadcast over the batch, so a batch of copies of one prompt can share one recording).
    """

    mode: str = "record"
    scales: dict[int, torch.Tensor] = field(default_factory=dict)  # norm id -> [B, T, 1]
    patterns: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [B, H, T, T]

    def __post_init__(self) -> None:
        check_choice(self.mode, "mode", ("record", "apply"))

    def applied(self) -> Frozen:
        """The same recording in ``apply`` mode."""
        if not self.patterns and not self.scales:
            raise ValueError("nothing was recorded: run a forward pass in record mode first")
        return Frozen("apply", self.scales, self.patterns)

    def to(self, dtype: torch.dtype) -> Frozen:
        """A copy with every stored tensor cast to ``dtype`` (e.g. float64 for exact checks)."""
        return Frozen(self.mode, {k: v.to(dtype) for k, v in self.scales.items()},
                      {k: v.to(dtype) for k, v in self.patterns.items()})


def _expand(stored: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    if stored.shape[0] not in (1, batch):
        raise ValueError(f"the frozen {name} was recorded for batch {stored.shape[0]}, "
                         f"cannot apply it to batch {batch}")
    return stored.expand(batch, *stored.shape[1:])


class ModelAdapter:
    """The sites of a decoder-only transformer that circuit tracing reads and writes.

    Args:
        model: a :class:`~readingroom.common.TinyTransformer`, or a Hugging Face causal LM of
            the GPT-2 (``transformer.h``) or Llama (``model.layers``) layout.

    Attributes:
        n_layers, d_model: depth and width of the residual stream.
        embedding: module whose output is the residual stream before layer 0.
        mlp_inputs: per layer, the module whose *input* is the residual stream before the MLP.
        mlps: per layer, the MLP module (its output is added to the residual stream).
        norms: every LayerNorm / RMSNorm, frozen in the local replacement model.
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.is_hf = hasattr(model, "config") and hasattr(model.config, "model_type")
        if hasattr(model, "blocks") and hasattr(model, "emb_dropout"):  # TinyTransformer
            blocks = list(model.blocks)
            if any(b.mlp is None for b in blocks):
                raise ValueError("model has attention-only blocks (d_mlp=0): there are no MLPs to "
                                 "replace with a transcoder")
            self.embedding = model.emb_dropout
            self.mlp_inputs = [b.ln2 for b in blocks]
            self.mlps = [b.mlp for b in blocks]
            self._patterns = [b.attn.pattern for b in blocks]
            self.d_model = model.config.d_model
        elif self.is_hf and hasattr(model, "transformer") and hasattr(model.transformer, "h"):
            blocks = list(model.transformer.h)  # GPT-2 layout
            self.embedding = model.transformer.drop
            self.mlp_inputs = [b.ln_2 for b in blocks]
            self.mlps = [b.mlp for b in blocks]
            self._patterns = [b.attn for b in blocks]
            self.d_model = model.config.hidden_size
        elif self.is_hf and hasattr(model, "model") and hasattr(model.model, "layers"):
            blocks = list(model.model.layers)  # Llama layout
            self.embedding = model.model.embed_tokens
            self.mlp_inputs = [b.post_attention_layernorm for b in blocks]
            self.mlps = [b.mlp for b in blocks]
            self._patterns = [b.self_attn for b in blocks]
            self.d_model = model.config.hidden_size
        else:
            raise TypeError(
                f"{type(model).__name__} has no supported layout: expected a TinyTransformer "
                "(blocks[i].ln2/.mlp), a GPT-2-style HF model (transformer.h[i].ln_2/.mlp) or a "
                "Llama-style HF model (model.layers[i].post_attention_layernorm/.mlp)"
            )
        self.n_layers = len(blocks)
        self.norms = [m for m in model.modules() if _is_norm(m)]
        for norm in self.norms:
            if isinstance(norm, nn.LayerNorm) or type(norm).__name__.endswith("RMSNorm"):
                continue
            raise TypeError(  # pragma: no cover
                f"cannot freeze normalisation {type(norm).__name__}")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``[B, T, V]`` of token ids ``[B, T]``."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
            raise ValueError(f"tokens must be a 2-D [B, T] tensor of ids, got {tokens!r}")
        if self.is_hf:
            return self.model(input_ids=tokens.to(self.device), use_cache=False).logits
        return self.model(tokens.to(self.device))

    # -- freezing ---------------------------------------------------------------------------

    def _norm_hook(self, frozen: Frozen) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
            x = inputs[0]
            is_ln = isinstance(module, nn.LayerNorm)
            eps = (module.eps if hasattr(module, "eps")
                   else getattr(module, "variance_epsilon", 1e-6))
            centred = x - x.mean(-1, keepdim=True) if is_ln else x
            if frozen.mode == "record":
                scale = (centred.pow(2).mean(-1, keepdim=True) + eps).sqrt()
                frozen.scales[id(module)] = scale.detach()
                return None
            scale = _expand(frozen.scales[id(module)], x.shape[0], "norm scale")
            y = centred / scale
            if getattr(module, "weight", None) is not None:
                y = y * module.weight
            if getattr(module, "bias", None) is not None:
                y = y + module.bias
            return y
        return hook

    @contextmanager
    def _freeze_patterns(self, frozen: Frozen) -> Iterator[None]:
        if not self.is_hf:
            handles = []
            for layer, softmax in enumerate(self._patterns):
                def hook(module, inputs, output, layer=layer):
                    if frozen.mode == "record":
                        frozen.patterns[layer] = output.detach()
                        return None
                    return _expand(frozen.patterns[layer], output.shape[0], "attention pattern")
                handles.append(softmax.register_forward_hook(hook))
            try:
                yield
            finally:
                for h in handles:
                    h.remove()
            return
        _register_trace_attention()
        previous = self.model.config._attn_implementation
        for layer, attn in enumerate(self._patterns):
            _TRACE_STATE[id(attn)] = (frozen, layer)
        self.model.set_attn_implementation(TRACE_ATTENTION)
        try:
            yield
        finally:
            self.model.set_attn_implementation(previous)
            for attn in self._patterns:
                _TRACE_STATE.pop(id(attn), None)


# id(attention module) -> (Frozen, layer) while a HF model runs under `traced(..., freeze=...)`
_TRACE_STATE: dict[int, tuple[Frozen, int]] = {}


def _trace_attention_forward(module, query, key, value, attention_mask, scaling=None,
                             dropout=0.0, **kwargs):
    """Eager attention whose pattern can be recorded or substituted (``transformers`` API)."""
    if key.shape[1] != query.shape[1]:  # grouped-query attention: repeat the KV heads
        groups = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    frozen, layer = _TRACE_STATE.get(id(module), (None, -1))
    if frozen is not None and frozen.mode == "apply":
        weights = _expand(frozen.patterns[layer], query.shape[0], "attention pattern")
    else:
        scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
        scores = query @ key.transpose(-1, -2) * scaling  # [B, H, T, S]
        T, S = scores.shape[-2:]
        if attention_mask is None:
            causal = torch.ones(T, S, dtype=torch.bool, device=scores.device).tril(S - T)
            scores = scores.masked_fill(~causal, float("-inf"))
        elif attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask[..., :S], float("-inf"))
        else:
            scores = scores + attention_mask[..., :S]
        weights = torch.softmax(scores, dim=-1)
        if frozen is not None:
            frozen.patterns[layer] = weights.detach()
    out = (weights.to(value.dtype) @ value).transpose(1, 2)  # [B, T, H, Dh]
    return out, weights


def _register_trace_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(TRACE_ATTENTION, _trace_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(TRACE_ATTENTION, eager_mask)


@contextmanager
def traced(
    adapter: ModelAdapter,
    *,
    freeze: Frozen | None = None,
    embed: torch.Tensor | None = None,
    on_embed: Callable[[torch.Tensor], None] | None = None,
    on_mid: Callable[[int, torch.Tensor], None] | None = None,
    mlp_out: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[None]:
    """Run the model with circuit-tracing hooks installed (removed on exit).

    Args:
        adapter: the model's sites.
        freeze: record (or substitute) norm denominators and attention patterns.
        embed: replace the embedding output (the residual stream before layer 0) by this tensor.
        on_embed: called as ``on_embed(output)`` with the embedding output ``[B, T, D]``.
        on_mid: called as ``on_mid(layer, resid_mid)`` with the residual stream ``[B, T, D]``
            before each MLP.
        mlp_out: called as ``mlp_out(layer, output)``; its return value replaces the MLP output.
    """
    if not isinstance(adapter, ModelAdapter):
        raise TypeError(f"adapter must be a ModelAdapter, got {type(adapter).__name__}")
    with ExitStack() as stack:
        handles = []
        if freeze is not None:
            if not isinstance(freeze, Frozen):
                raise TypeError(f"freeze must be a Frozen, got {type(freeze).__name__}")
            for norm in adapter.norms:
                handles.append(norm.register_forward_hook(adapter._norm_hook(freeze)))
            stack.enter_context(adapter._freeze_patterns(freeze))
        if embed is not None:
            handles.append(adapter.embedding.register_forward_hook(lambda m, i, o: embed))
        if on_embed is not None:
            def embed_hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
                on_embed(output)  # an observer: its return value is ignored

            handles.append(adapter.embedding.register_forward_hook(embed_hook))
        if on_mid is not None:
            def mid_hook(module: nn.Module, inputs: tuple, layer: int) -> None:
                on_mid(layer, inputs[0])  # an observer: its return value is ignored

            for layer, module in enumerate(adapter.mlp_inputs):
                handles.append(module.register_forward_pre_hook(
                    lambda m, inputs, layer=layer: mid_hook(m, inputs, layer)))
        if mlp_out is not None:
            for layer, module in enumerate(adapter.mlps):
                handles.append(module.register_forward_hook(
                    lambda m, inputs, output, layer=layer: mlp_out(layer, output)))
        try:
            yield
        finally:
            for h in handles:
                h.remove()


@torch.no_grad()
def collect(adapter: ModelAdapter, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CLT's training pairs for a batch: residual streams before each MLP and MLP outputs.

    Returns:
        ``(x, y)``, each ``[L, B, T, D]``: ``x[l]`` is what layer ``l``'s encoder reads and
        ``y[l]`` what the decoders writing to layer ``l`` must reconstruct.
    """
    mids: dict[int, torch.Tensor] = {}
    outs: dict[int, torch.Tensor] = {}

    def keep_out(layer: int, output: torch.Tensor) -> torch.Tensor:
        outs[layer] = output
        return output

    with traced(adapter, on_mid=lambda l, x: mids.__setitem__(l, x), mlp_out=keep_out):
        adapter.logits(tokens)
    L = adapter.n_layers
    return (torch.stack([mids[l] for l in range(L)]), torch.stack([outs[l] for l in range(L)]))
