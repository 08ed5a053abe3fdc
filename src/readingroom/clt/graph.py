"""Attribution graphs on the local replacement model (Ameisen et al., 2025, §"Attribution graphs").

For one prompt, the **local replacement model** is the model with

* each MLP output replaced by the CLT's reconstruction plus an **error node** (the part the CLT
  misses on this prompt, a constant vector per layer and position);
* attention patterns and normalisation denominators **frozen** at their values on this prompt.

Given the feature activations, it is then an affine map, so the direct effect of a source node
``s`` on a target ``t`` is exact: ``A[t, s] = (d target / d source value) . source value``.
Sources are active features (value ``a_s``), error nodes and token embeddings (vectors); targets
are features (their pre-activation) and logits (de-meaned: ``logit_k - mean_v logit_v``).
Features are held constant as sources, so ``A`` holds *direct* effects and a path through another
feature shows up as two edges.

:func:`attribute` computes every row of ``A`` with backward passes, many targets at a time on a
batch of copies of the prompt. :func:`prune` keeps the nodes that carry 80 % and the edges that
carry 98 % of the influence on the logits; :func:`graph_scores` gives the replacement and
completeness scores.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from readingroom.clt.adapter import Frozen, ModelAdapter, traced
from readingroom.clt.transcoder import CrossLayerTranscoder
from readingroom.common.checks import check_choice, check_float, check_int

__all__ = [
    "Node",
    "LinearReplacement",
    "AttributionGraph",
    "PrunedGraph",
    "attribute",
    "normalized",
    "influence",
    "prune",
    "graph_scores",
    "nodes_on_paths",
    "max_edge_error",
    "predict_ablation",
]

KINDS = ("feature", "error", "embedding", "logit")


@dataclass(frozen=True)
class Node:
    """One node of an attribution graph.

    Attributes:
        kind: ``"feature"``, ``"error"``, ``"embedding"`` or ``"logit"``.
        layer: the feature's or error's layer; ``-1`` for embeddings; ``L`` for logits.
        pos: the token position.
        index: the feature index, the logit's token id, or the embedding's token id.
        value: feature activation, logit probability, or the norm of an error/embedding vector.
    """

    kind: str
    layer: int
    pos: int
    index: int
    value: float

    @property
    def key(self) -> tuple[int, int, int]:
        """``(layer, pos, index)``, e.g. to clamp the feature with
        :func:`~readingroom.clt.intervene`."""
        return (self.layer, self.pos, self.index)


class LinearReplacement:
    """The local replacement model of one prompt as a function of its leaves.

    Call it with feature activations ``a`` ``[N, L, T, F]``, error vectors ``err``
    ``[N, L, T, D]`` and embeddings ``emb`` ``[N, T, D]`` (``N`` copies, each free to differ)
    to get feature pre-activations ``[N, L, T, F]`` and logits ``[N, T, V]``. Attention
    patterns and norm denominators are the recorded ones; the map is affine in the leaves.

    Attributes ``a, err, emb`` hold this prompt's own values (``[L, T, F]``, ``[L, T, D]``,
    ``[T, D]``), with which the call reproduces the real model's logits.
    """

    def __init__(self, adapter: ModelAdapter, clt: CrossLayerTranscoder, tokens: torch.Tensor,
                 frozen: Frozen, a: torch.Tensor, err: torch.Tensor, emb: torch.Tensor) -> None:
        self.adapter, self.clt, self.tokens, self.frozen = adapter, clt, tokens, frozen.applied()
        self.a, self.err, self.emb = a, err, emb

    def __call__(self, a: torch.Tensor, err: torch.Tensor, emb: torch.Tensor,
                 *, features: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
        N = a.shape[0]
        pre: dict[int, torch.Tensor] = {}
        layers = [a[:, l] for l in range(a.shape[1])]

        def on_mid(layer: int, x: torch.Tensor) -> None:
            if features:
                pre[layer] = self.clt.preactivations(x, layer)

        def mlp_out(layer: int, output: torch.Tensor) -> torch.Tensor:
            return self.clt.decode_layer(layers, layer) + err[:, layer]

        with traced(self.adapter, freeze=self.frozen, embed=emb, on_mid=on_mid, mlp_out=mlp_out):
            logits = self.adapter.logits(self.tokens.expand(N, -1))
        h = torch.stack([pre[l] for l in range(len(layers))], 1) if features else None
        return h, logits


@dataclass
class AttributionGraph:
    """An attribution graph: nodes, the direct-effect matrix and the prompt it explains.

    Attributes:
        tokens: the prompt's token ids ``[T]``.
        nodes: features, then errors, then embeddings, then logits (features by layer, position,
            index; errors by layer, position).
        adjacency: ``A[target, source]``: the direct effect of ``source`` on ``target``'s
            pre-activation (features) or de-meaned logit (logits). Rows of errors and embeddings
            are zero.
        logit_probs: the probabilities of the logit nodes, in their order.
        replacement: the prompt's :class:`LinearReplacement` (for checks and interventions).
    """

    tokens: torch.Tensor
    nodes: list[Node]
    adjacency: torch.Tensor
    logit_probs: torch.Tensor
    replacement: LinearReplacement | None = field(default=None, repr=False)

    def indices(self, kind: str) -> list[int]:
        """Positions in ``nodes`` of every node of ``kind``."""
        check_choice(kind, "kind", KINDS)
        return [i for i, n in enumerate(self.nodes) if n.kind == kind]

    def node_index(self, kind: str, layer: int, pos: int, index: int = -1) -> int:
        """Position in ``nodes`` of the node with these coordinates (``ValueError`` if absent)."""
        for i, n in enumerate(self.nodes):
            if (n.kind == kind and n.layer == layer and n.pos == pos
                    and (index < 0 or n.index == index)):
                return i
        raise ValueError(f"no {kind} node at layer {layer}, position {pos}, index {index}")

    def logit_weights(self) -> torch.Tensor:
        """A vector over nodes: each logit node's probability, 0 elsewhere."""
        w = torch.zeros(len(self.nodes), dtype=self.adjacency.dtype)
        w[self.indices("logit")] = self.logit_probs.to(w.dtype)
        return w


def check_pair(adapter: object, clt: object) -> None:
    """Raise unless ``adapter`` is a :class:`ModelAdapter` and ``clt`` a transcoder of its size."""
    if not isinstance(adapter, ModelAdapter):
        raise TypeError(f"adapter must be a ModelAdapter, got {type(adapter).__name__}")
    if not isinstance(clt, CrossLayerTranscoder):
        raise TypeError(f"clt must be a CrossLayerTranscoder, got {type(clt).__name__}")
    if clt.config.n_layers != adapter.n_layers or clt.config.d_model != adapter.d_model:
        raise ValueError(f"the CLT is for L={clt.config.n_layers}, D={clt.config.d_model} but the "
                         f"model has L={adapter.n_layers}, D={adapter.d_model}")


def _top_logits(probs: torch.Tensor, max_logits: int, mass: float) -> list[int]:
    order = probs.argsort(descending=True).tolist()
    chosen, total = [], 0.0
    for k in order[:max_logits]:
        chosen.append(k)
        total += float(probs[k])
        if total >= mass:
            break
    return chosen


def attribute(
    adapter: ModelAdapter,
    clt: CrossLayerTranscoder,
    tokens: torch.Tensor | Sequence[int],
    *,
    max_logits: int = 10,
    logit_mass: float = 0.95,
    batch_size: int = 64,
    dtype: torch.dtype = torch.float64,
) -> AttributionGraph:
    """Build the (unpruned) attribution graph of the next token after ``tokens``.

    Args:
        adapter: the model (it is copied to ``dtype``, the original is left untouched).
        clt: a transcoder trained on that model.
        tokens: one prompt, ``[T]`` or ``[1, T]``.
        max_logits, logit_mass: logit nodes are the most likely next tokens, at most
            ``max_logits`` of them, stopping once their probabilities sum to ``logit_mass``.
        batch_size: targets attributed per backward pass.
        dtype: precision of the attribution (float64 makes the exactness checks tight).
    """
    check_pair(adapter, clt)
    tokens = torch.as_tensor(tokens)
    if tokens.dim() == 2 and tokens.shape[0] == 1:
        tokens = tokens[0]
    if tokens.dim() != 1 or tokens.numel() == 0:
        raise ValueError(
            f"tokens must be one prompt, [T] or [1, T], got shape {tuple(tokens.shape)}")
    check_int(max_logits, "max_logits", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_float(logit_mass, "logit_mass", low=0, low_open=True, high=1)

    model = copy.deepcopy(adapter.model).to(dtype).eval()
    adapter = ModelAdapter(model)
    clt = copy.deepcopy(clt).to(dtype).eval()
    tokens = tokens.to(adapter.device)[None]  # [1, T]
    L, T = adapter.n_layers, tokens.shape[1]

    # 1. A clean pass: record norm scales and patterns; read embeddings, MLP inputs and outputs.
    frozen = Frozen("record")
    mids, outs, embs = {}, {}, []

    def keep_out(layer: int, output: torch.Tensor) -> torch.Tensor:
        outs[layer] = output
        return output

    with torch.no_grad(), traced(adapter, freeze=frozen, on_embed=embs.append,
                                 on_mid=lambda l, x: mids.__setitem__(l, x), mlp_out=keep_out):
        logits = adapter.logits(tokens)[0, -1]  # [V]
        x = torch.stack([mids[l][0] for l in range(L)])  # [L, T, D]
        y = torch.stack([outs[l][0] for l in range(L)])
        a = clt.encode(x)  # [L, T, F]
        err = y - clt.decode(a)  # [L, T, D]
    emb = embs[0][0].detach()  # [T, D]
    replacement = LinearReplacement(adapter, clt, tokens, frozen, a, err, emb)

    probs = torch.softmax(logits.double(), -1)
    logit_ids = _top_logits(probs, max_logits, logit_mass)

    # 2. Nodes: active features, errors, embeddings, logits.
    active = (a > 0).nonzero().tolist()  # sorted by (layer, pos, index)
    nodes = [Node("feature", l, t, i, float(a[l, t, i])) for l, t, i in active]
    nodes += [Node("error", l, t, -1, float(err[l, t].norm())) for l in range(L) for t in range(T)]
    nodes += [Node("embedding", -1, t, int(tokens[0, t]), float(emb[t].norm())) for t in range(T)]
    nodes += [Node("logit", L, T - 1, k, float(probs[k])) for k in logit_ids]
    n_feat, n_err = len(active), L * T
    A = torch.zeros(len(nodes), len(nodes), dtype=dtype)

    # 3. One row per target: backward passes on `batch_size` copies of the prompt at once.
    targets = list(range(n_feat)) + list(range(len(nodes) - len(logit_ids), len(nodes)))
    act_idx = torch.tensor(active, dtype=torch.long).reshape(-1, 3)
    for start in range(0, len(targets), batch_size):
        chunk = targets[start:start + batch_size]
        N = len(chunk)
        a_leaf = a.expand(N, *a.shape).clone().requires_grad_(True)
        err_leaf = err.expand(N, *err.shape).clone().requires_grad_(True)
        emb_leaf = emb.expand(N, *emb.shape).clone().requires_grad_(True)
        h, out = replacement(a_leaf, err_leaf, emb_leaf)
        last = out[:, -1]  # [N, V]
        demeaned = last - last.mean(-1, keepdim=True)
        picked = []
        for row, target in enumerate(chunk):
            node = nodes[target]
            if node.kind == "feature":
                picked.append(h[row, node.layer, node.pos, node.index])
            else:
                picked.append(demeaned[row, node.index])
        g_a, g_err, g_emb = torch.autograd.grad(torch.stack(picked).sum(),
                                                (a_leaf, err_leaf, emb_leaf))
        with torch.no_grad():
            rows = torch.tensor(chunk)
            if n_feat:
                A[rows, :n_feat] = g_a[:, act_idx[:, 0], act_idx[:, 1], act_idx[:, 2]] * \
                    a[act_idx[:, 0], act_idx[:, 1], act_idx[:, 2]]
            A[rows, n_feat:n_feat + n_err] = (g_err * err).sum(-1).reshape(N, -1)
            A[rows, n_feat + n_err:n_feat + n_err + T] = (g_emb * emb).sum(-1)
    return AttributionGraph(tokens[0].cpu(), nodes, A, probs[logit_ids].to(dtype), replacement)


def normalized(adjacency: torch.Tensor) -> torch.Tensor:
    """``|A|`` with each row divided by its sum (rows summing to 0 stay 0): each target's inputs
    as fractions."""
    if not isinstance(adjacency, torch.Tensor) or adjacency.dim() != 2 or \
            adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError("adjacency must be a square 2-D tensor")
    absolute = adjacency.abs()
    return absolute / absolute.sum(1, keepdim=True).clamp_min(1e-30)


def influence(normalized_adjacency: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Total (direct + indirect) influence of every node on the weighted targets:
    ``w^T (A + A^2 + A^3 + ...)`` for the normalised matrix ``A`` of a DAG.

    Raises ``ValueError`` if the series does not terminate (the graph has a cycle).
    """
    n = normalized_adjacency.shape[0]
    if weights.shape != (n,):
        raise ValueError(f"weights must have shape [{n}], got {tuple(weights.shape)}")
    total = torch.zeros_like(weights)
    current = weights @ normalized_adjacency
    for _ in range(n + 1):
        if not bool(current.abs().sum() > 0):
            return total
        total = total + current
        current = current @ normalized_adjacency
    raise ValueError("influence did not converge: the adjacency matrix is not a DAG")


def _cumulative_keep(scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mask of the highest scores that together reach ``threshold`` of the total."""
    keep = torch.zeros_like(scores, dtype=torch.bool)
    total = float(scores.sum())
    if total <= 0:
        return keep
    order = scores.argsort(descending=True)
    cumulative = scores[order].cumsum(0) / total
    n = int((cumulative < threshold).sum()) + 1  # include the entry that crosses the threshold
    keep[order[:n]] = True
    return keep & (scores > 0)


@dataclass
class PrunedGraph:
    """A pruned view of an :class:`AttributionGraph`: which nodes and edges survive."""

    graph: AttributionGraph
    node_mask: torch.Tensor  # [n] bool
    edge_mask: torch.Tensor  # [n, n] bool

    @property
    def adjacency(self) -> torch.Tensor:
        return self.graph.adjacency * self.edge_mask

    def kept(self, kind: str | None = None) -> list[int]:
        """Indices of kept nodes (of one kind)."""
        idx = self.node_mask.nonzero().flatten().tolist()
        return [i for i in idx if kind is None or self.graph.nodes[i].kind == kind]


def prune(graph: AttributionGraph, node_threshold: float = 0.8,
          edge_threshold: float = 0.98) -> PrunedGraph:
    """Prune by influence on the logits (the paper's §"Graph pruning").

    Feature and error nodes are ranked by their total influence on the logits (weighted by the
    logits' probabilities); the fewest that carry ``node_threshold`` of it are kept, with every
    embedding and logit node. Edges between kept nodes are then scored by (normalised edge weight)
    x (influence of their target + its logit weight) and the fewest that carry ``edge_threshold``
    of the total are kept. Feature and error nodes left without an outgoing edge are dropped.
    """
    check_float(node_threshold, "node_threshold", low=0, low_open=True, high=1)
    check_float(edge_threshold, "edge_threshold", low=0, low_open=True, high=1)
    w = graph.logit_weights()
    A = graph.adjacency
    node_inf = influence(normalized(A), w)
    prunable = torch.tensor([n.kind in ("feature", "error") for n in graph.nodes])
    scores = torch.where(prunable, node_inf, torch.zeros_like(node_inf))
    node_mask = _cumulative_keep(scores, node_threshold) | ~prunable
    A_kept = A * node_mask[:, None] * node_mask[None, :]
    A_norm = normalized(A_kept)
    target_inf = influence(A_norm, w) + w
    edge_scores = A_norm * target_inf[:, None]
    edge_mask = _cumulative_keep(edge_scores.flatten(), edge_threshold).reshape(A.shape)
    for _ in range(len(graph.nodes)):  # drop nodes whose every outgoing edge was pruned
        has_out = edge_mask.any(0)
        dead = prunable & node_mask & ~has_out
        if not dead.any():
            break
        node_mask = node_mask & ~dead
        edge_mask = edge_mask & node_mask[:, None] & node_mask[None, :]
    return PrunedGraph(graph, node_mask, edge_mask)


@torch.no_grad()
def max_edge_error(graph: AttributionGraph, factor: float = 1.7) -> float:
    """The exactness check of attribution: scale each source (feature, error or embedding node)
    by ``factor`` in the graph's local replacement model and compare how every target (feature
    pre-activation, de-meaned logit) moves with ``(factor - 1) * A[t, s]``.

    Returns the largest absolute difference; it is rounding error when the graph is exact.
    """
    if not isinstance(graph, AttributionGraph) or graph.replacement is None:
        raise TypeError("graph must be an AttributionGraph built by attribute()")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor == 1:
        raise ValueError(f"factor must be a number other than 1, got {factor!r}")
    rep = graph.replacement
    targets = graph.indices("feature") + graph.indices("logit")

    def values(a: torch.Tensor, err: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h, logits = rep(a[None], err[None], emb[None])
        last = logits[0, -1] - logits[0, -1].mean()
        return torch.stack([h[0, n.layer, n.pos, n.index] if n.kind == "feature" else last[n.index]
                            for n in (graph.nodes[t] for t in targets)]) if targets else last[:0]

    base = values(rep.a, rep.err, rep.emb)
    worst = 0.0
    for s in graph.indices("feature") + graph.indices("error") + graph.indices("embedding"):
        node = graph.nodes[s]
        a, err, emb = rep.a.clone(), rep.err.clone(), rep.emb.clone()
        if node.kind == "feature":
            a[node.layer, node.pos, node.index] *= factor
        elif node.kind == "error":
            err[node.layer, node.pos] *= factor
        else:
            emb[node.pos] *= factor
        moved = values(a, err, emb) - base
        predicted = (factor - 1) * graph.adjacency[targets, s]
        worst = max(worst, float((moved - predicted).abs().max())) if targets else worst
    return worst


def nodes_on_paths(pruned: PrunedGraph, source: int, target: int) -> list[int]:
    """The nodes that lie on at least one path ``source -> ... -> target`` of kept edges
    (both ends included; empty when there is no such path)."""
    n = len(pruned.graph.nodes)
    for name, i in (("source", source), ("target", target)):
        if not (isinstance(i, int) and 0 <= i < n):
            raise ValueError(f"{name} must be a node position in [0, {n}), got {i!r}")
    return _on_paths(pruned.edge_mask, source, target)


def _on_paths(edges: torch.Tensor, source: int, target: int) -> list[int]:
    """The nodes on at least one path ``source -> ... -> target`` of a boolean edge matrix
    ``edges[target, source]`` (both ends included; empty when there is no such path)."""

    def reach(start: int, forward: bool) -> set[int]:
        seen, frontier = {start}, [start]
        while frontier:
            i = frontier.pop()
            nxt = edges[:, i] if forward else edges[i, :]
            for j in nxt.nonzero().flatten().tolist():
                if j not in seen:
                    seen.add(j)
                    frontier.append(j)
        return seen

    both = reach(source, True) & reach(target, False)
    return sorted(both) if source in both and target in both else []


def graph_scores(graph: AttributionGraph | PrunedGraph) -> dict[str, float]:
    """The replacement and completeness scores (the paper's §"Evaluating attribution graphs").

    * **replacement**: of the influence that reaches the logits from the graph's sources
      (embeddings and error nodes), the fraction that starts at embeddings;
    * **completeness**: the fraction of each node's input that comes from non-error nodes,
      averaged over nodes weighted by their influence on the logits (plus the logits' own weight).

    Both lie in ``[0, 1]`` and are 1 when every error node is zero. On a :class:`PrunedGraph`,
    the pruned edges and nodes are treated as errors, as in the paper's pruned-graph scores.
    """
    if isinstance(graph, PrunedGraph):
        base, A_full, mask = graph.graph, graph.graph.adjacency, graph.edge_mask
        A = A_full.clone()
        # What pruning removed from each target's input counts as error.
        lost = (A_full.abs() * ~mask).sum(1)
        err_idx = base.indices("error")
        A = A * mask
        extra = torch.zeros(A.shape[0], 1, dtype=A.dtype)
        extra[:, 0] = lost
        A = torch.cat([torch.cat([A, extra], 1), torch.zeros(1, A.shape[1] + 1, dtype=A.dtype)], 0)
        err_idx = err_idx + [A.shape[0] - 1]
        w = torch.cat([base.logit_weights(), torch.zeros(1, dtype=A.dtype)])
        emb_idx = base.indices("embedding")
    elif isinstance(graph, AttributionGraph):
        A, w = graph.adjacency, graph.logit_weights()
        err_idx, emb_idx = graph.indices("error"), graph.indices("embedding")
    else:
        raise TypeError(
            f"graph must be an AttributionGraph or PrunedGraph, got {type(graph).__name__}")
    A_norm = normalized(A)
    node_inf = influence(A_norm, w)
    emb_inf = float(node_inf[emb_idx].sum())
    err_inf = float(node_inf[err_idx].sum())
    replacement = emb_inf / (emb_inf + err_inf) if emb_inf + err_inf > 0 else 1.0
    has_input = A.abs().sum(1) > 0
    non_error = torch.where(has_input, 1 - A_norm[:, err_idx].sum(1), torch.ones_like(w))
    out_inf = node_inf + w
    completeness = float((non_error * out_inf).sum() / out_inf.sum())
    return {"replacement": replacement, "completeness": completeness}


def predict_ablation(graph: AttributionGraph | PrunedGraph,
                     changes: dict[int, float]) -> torch.Tensor:
    """The graph's prediction of how the logit nodes move when feature nodes are set to new values.

    ``changes`` maps node positions (in ``graph.nodes``) of features to new activations. The
    change propagates linearly along the graph's edges, layer by layer: a downstream feature's
    activation moves by its pre-activation change (features stay linear, as in the graph), and
    each logit by the sum of its incoming edges' changes. Returns the change of each logit node's
    de-meaned logit, in the order of ``graph.indices("logit")``.
    """
    base = graph.graph if isinstance(graph, PrunedGraph) else graph
    A = graph.adjacency
    nodes = base.nodes
    delta = torch.zeros(len(nodes), dtype=A.dtype)
    for i, value in changes.items():
        if not (0 <= i < len(nodes)) or nodes[i].kind != "feature":
            raise ValueError(f"changes must map feature-node positions to values; {i} is not one")
    # per-unit weights: a feature source's edge divided by its activation
    act = torch.tensor([n.value if n.kind == "feature" else 1.0 for n in nodes], dtype=A.dtype)
    is_feature = torch.tensor([n.kind == "feature" for n in nodes])
    W = A / torch.where(is_feature, act, torch.ones_like(act))[None, :]
    W = W * is_feature[None, :]  # only features change; errors and embeddings stay fixed
    for i in sorted(range(len(nodes)), key=lambda k: (nodes[k].layer, nodes[k].pos)):
        if nodes[i].kind != "feature":
            continue
        if i in changes:
            delta[i] = changes[i] - nodes[i].value
        else:
            delta[i] = W[i] @ delta
    logits = base.indices("logit")
    return W[logits] @ delta
