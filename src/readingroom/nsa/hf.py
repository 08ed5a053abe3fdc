"""NSA as a Hugging Face ``transformers`` attention implementation.

``transformers`` lets a model pick its attention function by name (``config._attn_implementation``,
or ``model.set_attn_implementation(name)``); this module registers ``"nsa"``. Attention functions
there are stateless — they get ``query``, ``key``, ``value`` and a mask — while NSA has
parameters of its own (φ for keys and values, the gate MLP) and its gates read the layer's
input ``x_t`` (Eq. 5). So the switch takes two steps:

    model = LlamaForCausalLM(config)             # any model whose attention layers call
    enable_nsa(model, NSAConfig(...))            # ALL_ATTENTION_FUNCTIONS, e.g. Llama, Qwen2, ...

:func:`enable_nsa` gives every attention layer an :class:`NSAParams` child (so the optimiser
sees its parameters), a forward pre-hook that keeps the layer's input for the gates, and sets the
model's attention implementation to ``"nsa"``. The model's own projections, RoPE and KV cache are
used unchanged: NSA replaces only the softmax-attention step. The attention mask of a batch is
ignored apart from causality (NSA is causal by construction): left-padded batches are refused.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from readingroom.nsa.attention import BACKENDS, nsa_attention
from readingroom.nsa.config import NSAConfig
from readingroom.nsa.module import NSAParameters
from readingroom.common.checks import check_choice

__all__ = ["IMPLEMENTATION", "NSAParams", "enable_nsa", "nsa_attention_forward", "register"]

#: The name under which NSA is registered with ``transformers``.
IMPLEMENTATION = "nsa"


class NSAParams(NSAParameters):
    """NSA's own parameters for one ``transformers`` attention layer (φ for keys and values and
    the gate MLP, :class:`~readingroom.nsa.module.NSAParameters`), plus the layer's input for
    the gates."""

    def __init__(self, hidden_size: int, n_heads: int, head_dim: int, cfg: NSAConfig, backend: str):
        if cfg.separate_kv:
            raise ValueError(
                "cfg.separate_kv=True is not available through transformers: the model's k_proj / "
                "v_proj give one set of keys and values; use NativeSparseAttention for it"
            )
        super().__init__(hidden_size, n_heads, head_dim, cfg)
        self.backend = backend
        self.hidden: torch.Tensor | None = None  # the layer's input, set by the pre-hook
        #: Set to a dict to have the next forward store its ``q``, ``k``, ``k_cmp`` there
        #: (detached; ``[B, T, H, D]``, ``[B, S, H_kv, D]``, ``[B, N_c, H_kv, D]``), for pictures.
        self.keep: dict | None = None


def _keep_input(module: nn.Module, args: tuple, kwargs: dict) -> None:
    """Forward pre-hook: remember the attention layer's input ``hidden_states`` for the gates."""
    hidden = kwargs.get("hidden_states", args[0] if args else None)
    module.nsa.hidden = hidden


def _attention_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if all(hasattr(m, a) for a in ("q_proj", "k_proj", "v_proj", "o_proj"))]


def enable_nsa(model: nn.Module, cfg: NSAConfig | None = None, *, backend: str = "torch") -> nn.Module:
    """Switch a ``transformers`` causal LM to NSA in place (see the module docstring); returns it.
    """
    register()
    cfg = NSAConfig() if cfg is None else cfg
    if not isinstance(cfg, NSAConfig):
        raise TypeError(f"cfg must be an NSAConfig, got {type(cfg).__name__}")
    check_choice(backend, "backend", BACKENDS)
    layers = _attention_layers(model)
    if not layers:
        raise ValueError(
            "model has no attention layer with q_proj, k_proj, v_proj and o_proj; enable_nsa "
            "supports transformers' Llama-style models"
        )
    hidden = model.config.hidden_size
    for layer in layers:
        n_heads = layer.q_proj.out_features // layer.head_dim
        params = NSAParams(hidden, n_heads, layer.head_dim, cfg, backend)
        layer.nsa = params.to(device=layer.q_proj.weight.device, dtype=layer.q_proj.weight.dtype)
        if not getattr(layer, "_nsa_hooked", False):
            layer.register_forward_pre_hook(_keep_input, with_kwargs=True)
            layer._nsa_hooked = True
    model.set_attn_implementation(IMPLEMENTATION)
    return model


def nsa_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """The function ``transformers`` calls for ``attn_implementation="nsa"``.

    ``query`` ``[B, H, T, D]``, ``key``/``value`` ``[B, H_kv, S, D]`` (``S > T`` when decoding
    with a KV cache: the queries are the last ``T`` positions). Returns ``([B, T, H, D], None)``.
    """
    params = getattr(module, "nsa", None)
    if params is None:
        raise RuntimeError(
            "this attention layer has no NSA parameters: call readingroom.nsa.hf.enable_nsa(model) "
            "instead of only setting attn_implementation='nsa'"
        )
    B, H, T, D = query.shape
    S = key.shape[2]
    if attention_mask is not None:  # NSA is causal by construction: refuse anything else
        visible = attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0
        rows = torch.arange(S - T, S, device=visible.device)[:, None]
        causal = torch.arange(S, device=visible.device)[None, :] <= rows  # [T, S]
        if visible.shape[-2:] != (T, S) or not bool((visible == causal).all()):
            raise ValueError(
                "NSA through transformers supports plain causal masks only (no padded batches, no "
                "packed sequences): pass batches without an attention_mask"
            )
    q = query.transpose(1, 2)  # [B, T, H, D]
    k = key.transpose(1, 2)  # [B, S, H_kv, D]
    v = value.transpose(1, 2)
    x = params.hidden
    if x is None or x.shape[:2] != (B, T):
        raise RuntimeError("NSA's gate input was not captured: was enable_nsa(model) called?")
    k_cmp, v_cmp = params.compress(k, v)  # Eq. (7)
    gates = params.gates(x)  # Eq. (5)
    if params.keep is not None:
        params.keep.update(q=q.detach(), k=k.detach(), k_cmp=k_cmp.detach(), gates=gates.detach())
    scale = 1.0 / math.sqrt(D) if scaling is None else scaling
    out = nsa_attention(
        q, k, v, k_cmp, v_cmp, gates.to(q.dtype), params.cfg, scale=scale, q_start=S - T,
        backend=params.backend if S == T else "torch",
    )
    params.hidden = None
    return out, None


def register() -> None:
    """Register :func:`nsa_attention_forward` (and a causal mask) under ``"nsa"``; idempotent."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, nsa_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, sdpa_mask)
