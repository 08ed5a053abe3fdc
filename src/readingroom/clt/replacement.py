"""Running the model with its MLPs replaced, and steering it through CLT features.

* :func:`replacement_logits` — the **replacement model**: every MLP replaced by the CLT, features
  recomputed from the replacement's own residual stream, no error terms, attention live. Its
  agreement with the real model's next token is the paper's headline fidelity number (~50 % on
  diverse prompts for its 18-layer model).
* :func:`intervene` — steer the **real** model: clamp chosen features to new activations; each
  affected MLP output moves by the clamped features' decoders times the change (``y_l +=
  sum_{l' <= l} W_dec^{l'->l} (a_new - a)``), everything else (attention, later MLPs, the CLT's
  error) responds as the model computes it. This is how the paper tests a graph's predictions
  (§"Intervention experiments").
* :func:`local_replacement_logits` — the same clamps in the **local replacement model** (attention
  and norms frozen, error nodes fixed, unclamped features recomputed through their JumpReLUs): the
  world the attribution graph describes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from readingroom.clt.adapter import ModelAdapter, traced
from readingroom.clt.graph import AttributionGraph, check_pair
from readingroom.clt.transcoder import CrossLayerTranscoder

__all__ = ["replacement_logits", "intervene", "local_replacement_logits", "Clamps"]

#: ``{(layer, pos, feature): new activation}``
Clamps = Mapping[tuple[int, int, int], float]


def _check_clamps(clamps: object, clt: CrossLayerTranscoder, T: int) -> dict:
    if not isinstance(clamps, Mapping):
        raise TypeError(f"clamps must be a mapping {{(layer, pos, feature): value}}, got {type(clamps).__name__}")
    L, F = clt.config.n_layers, clt.config.n_features
    out = {}
    for key, value in clamps.items():
        if not (isinstance(key, tuple) and len(key) == 3
                and all(isinstance(k, int) and not isinstance(k, bool) for k in key)):
            raise ValueError(f"clamp keys must be (layer, pos, feature) int triples, got {key!r}")
        l, t, i = key
        if not (0 <= l < L and -T <= t < T and 0 <= i < F):
            raise ValueError(f"clamp {key} is outside layers [0, {L}), positions [0, {T}), "
                             f"features [0, {F})")
        out[(l, t % T, i)] = float(value)
    return out


def _tokens(tokens: torch.Tensor) -> torch.Tensor:
    tokens = torch.as_tensor(tokens)
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2 or tokens.shape[1] == 0:
        raise ValueError(f"tokens must be [T] or [B, T], got shape {tuple(tokens.shape)}")
    return tokens


@torch.no_grad()
def replacement_logits(adapter: ModelAdapter, clt: CrossLayerTranscoder,
                       tokens: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, T, V]`` of the replacement model (every MLP output is the CLT's
    reconstruction from features computed on the replacement's own residual stream)."""
    check_pair(adapter, clt)
    tokens = _tokens(tokens)
    acts: dict[int, torch.Tensor] = {}

    def on_mid(layer: int, x: torch.Tensor) -> None:
        acts[layer] = clt.activate(clt.preactivations(x, layer), layer)

    def mlp_out(layer: int, output: torch.Tensor) -> torch.Tensor:
        return clt.decode_layer(acts, layer).to(output.dtype)

    with traced(adapter, on_mid=on_mid, mlp_out=mlp_out):
        return adapter.logits(tokens)


def _clamped_run(adapter, clt, tokens, clamps, *, frozen=None, err=None):
    T = tokens.shape[1]
    clamps = _check_clamps(clamps, clt, T)
    deltas: dict[int, torch.Tensor] = {}
    acts: dict[int, torch.Tensor] = {}

    def on_mid(layer: int, x: torch.Tensor) -> None:
        a = clt.activate(clt.preactivations(x, layer), layer)  # [B, T, F]
        new = a.clone()
        for (l, t, i), value in clamps.items():
            if l == layer:
                new[:, t, i] = value
        deltas[layer] = new - a
        acts[layer] = new

    def mlp_out(layer: int, output: torch.Tensor) -> torch.Tensor:
        if err is not None:  # local replacement: CLT reconstruction + the prompt's fixed error
            return clt.decode_layer(acts, layer) + err[layer]
        shift = clt.decode_layer(deltas, layer) - clt.b_dec[layer] / clt.out_scale[layer]
        return output + shift.to(output.dtype)

    with traced(adapter, freeze=frozen, on_mid=on_mid, mlp_out=mlp_out):
        return adapter.logits(tokens)


@torch.no_grad()
def intervene(adapter: ModelAdapter, clt: CrossLayerTranscoder, tokens: torch.Tensor,
              clamps: Clamps) -> torch.Tensor:
    """Logits ``[B, T, V]`` of the real model with features clamped (see the module docstring).

    Args:
        clamps: ``{(layer, pos, feature): value}``; ``value=0`` suppresses a feature, a value
            taken from another prompt injects it. With no clamps the logits are the model's own.
    """
    check_pair(adapter, clt)
    return _clamped_run(adapter, clt, _tokens(tokens), clamps)


@torch.no_grad()
def local_replacement_logits(graph: AttributionGraph, clamps: Clamps) -> torch.Tensor:
    """Logits ``[T, V]`` of the graph's local replacement model with features clamped.

    Attention and norms stay frozen at the prompt's values and the error nodes fixed; unclamped
    features are recomputed through their JumpReLUs from the changed residual stream.
    """
    if not isinstance(graph, AttributionGraph) or graph.replacement is None:
        raise TypeError("graph must be an AttributionGraph built by attribute()")
    rep = graph.replacement
    clt = rep.clt
    out = _clamped_run(rep.adapter, clt, rep.tokens, clamps, frozen=rep.frozen,
                       err=rep.err[:, None])
    return out[0]
