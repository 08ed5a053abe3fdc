"""Tests for readingroom.clt.graph: attribution graphs on the local replacement model (their
exactness as perturbations of a float64 affine map), pruning, influence, the replacement and
completeness scores, and the graph's ablation predictions."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from readingroom.clt import (
    AttributionGraph, LinearReplacement, ModelAdapter, Node,
    PrunedGraph, attribute, graph_scores, influence, max_edge_error, nodes_on_paths, normalized,
    predict_ablation, prune,
)

KINDS = ("tiny", "gpt2", "llama")
# the float64 replacement vs the float64 *live* model: Llama's RMSNorm computes in float32
LIVE_TOL = {"tiny": 1e-10, "gpt2": 1e-10, "llama": 1e-5}
EXACT = 1e-9  # perturbations of the (float64, affine) local replacement model


@pytest.fixture(scope="module")
def dallas(world):
    return world.prompt("capital", city="Dallas").tokens


@pytest.fixture(scope="module")
def graphs(models, clts, dallas):
    return {kind: attribute(ModelAdapter(models[kind]), clts[kind], dallas) for kind in KINDS}


def _targets(graph: AttributionGraph, h: torch.Tensor, logits: torch.Tensor):
    """Values ``[N, n_targets]`` of every target node (feature pre-activations, de-meaned logits)
    in a batch of replacement outputs, and the targets' positions in ``graph.nodes``."""
    feat, logit = graph.indices("feature"), graph.indices("logit")
    coords = torch.tensor([graph.nodes[i].key for i in feat], dtype=torch.long).reshape(-1, 3)
    pre = h[:, coords[:, 0], coords[:, 1], coords[:, 2]]
    last = logits[:, -1]
    demeaned = (last - last.mean(-1, keepdim=True))[:, [graph.nodes[i].index for i in logit]]
    return torch.cat([pre, demeaned], 1), feat + logit


def _leaves(rep: LinearReplacement, n: int):
    return (rep.a.expand(n, *rep.a.shape).clone(), rep.err.expand(n, *rep.err.shape).clone(),
            rep.emb.expand(n, *rep.emb.shape).clone())


def _spread(indices: list[int], k: int) -> list[int]:
    """Up to ``k`` entries spread over ``indices``."""
    if len(indices) <= k:
        return list(indices)
    step = (len(indices) - 1) / (k - 1)
    return [indices[round(j * step)] for j in range(k)]


# --- structure ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_nodes_are_features_errors_embeddings_logits(kind, graphs, dallas):
    g = graphs[kind]
    L, T = 2, len(dallas)
    order = {"feature": 0, "error": 1, "embedding": 2, "logit": 3}
    ranks = [order[n.kind] for n in g.nodes]
    assert ranks == sorted(ranks)
    assert len(g.indices("error")) == L * T and len(g.indices("embedding")) == T
    assert len(g.indices("feature")) > 0 and len(g.indices("logit")) >= 1
    feats = [g.nodes[i] for i in g.indices("feature")]
    assert [n.key for n in feats] == sorted(n.key for n in feats)
    rep = g.replacement
    assert len(feats) == int((rep.a > 0).sum())
    for n in feats:
        assert n.value == pytest.approx(float(rep.a[n.layer, n.pos, n.index]), rel=1e-12)
        assert n.value > 0
    errors = [g.nodes[i] for i in g.indices("error")]
    assert [(n.layer, n.pos) for n in errors] == [(l, t) for l in range(L) for t in range(T)]
    for n in errors:
        assert n.value == pytest.approx(float(rep.err[n.layer, n.pos].norm()))
    embs = [g.nodes[i] for i in g.indices("embedding")]
    assert [(n.layer, n.pos, n.index) for n in embs] == [(-1, t, dallas[t]) for t in range(T)]
    for n in (g.nodes[i] for i in g.indices("logit")):
        assert (n.layer, n.pos) == (L, T - 1)
    assert g.adjacency.shape == (len(g.nodes), len(g.nodes)) and g.adjacency.dtype == torch.float64
    assert g.tokens.tolist() == list(dallas)


@pytest.mark.parametrize("kind", KINDS)
def test_replacement_reproduces_the_float64_model(kind, graphs):
    g = graphs[kind]
    rep = g.replacement
    assert rep.adapter.model is not None and rep.adapter.dtype == torch.float64
    with torch.no_grad():
        h, logits = rep(rep.a[None], rep.err[None], rep.emb[None])
        live = rep.adapter.logits(rep.tokens)
    assert logits.dtype == torch.float64
    assert torch.allclose(logits, live, rtol=0, atol=LIVE_TOL[kind])
    # the features' pre-activations are what the CLT reads off the real residual stream
    assert torch.allclose(rep.clt.activate(h[0]), rep.a, rtol=0, atol=LIVE_TOL[kind])
    # and the logit nodes' probabilities are the model's
    probs = torch.softmax(live[0, -1], -1)
    ids = [g.nodes[i].index for i in g.indices("logit")]
    assert torch.allclose(g.logit_probs, probs[ids], atol=LIVE_TOL[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_features_false_skips_the_preactivations(kind, graphs):
    rep = graphs[kind].replacement
    with torch.no_grad():
        h, logits = rep(rep.a[None], rep.err[None], rep.emb[None], features=False)
        _, again = rep(rep.a[None], rep.err[None], rep.emb[None])
    assert h is None and torch.equal(logits, again)


# --- exactness ------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [0.0, 1.7])
@pytest.mark.parametrize("kind", KINDS)
def test_feature_edges_are_exact_perturbations(kind, factor, graphs):
    g = graphs[kind]
    rep = g.replacement
    sources = _spread(g.indices("feature"), 6)
    a, err, emb = _leaves(rep, len(sources) + 1)
    for row, s in enumerate(sources, start=1):
        l, t, i = g.nodes[s].key
        a[row, l, t, i] *= factor
    with torch.no_grad():
        values, targets = _targets(g, *rep(a, err, emb))
    for row, s in enumerate(sources, start=1):
        expected = (factor - 1) * g.adjacency[targets, s]
        assert torch.allclose(values[row] - values[0], expected, rtol=EXACT, atol=EXACT)


@pytest.mark.parametrize("factor", [0.0, 1.7])
@pytest.mark.parametrize("kind", KINDS)
def test_error_and_embedding_edges_are_exact_perturbations(kind, factor, graphs):
    g = graphs[kind]
    rep = g.replacement
    sources = g.indices("error") + g.indices("embedding")
    a, err, emb = _leaves(rep, len(sources) + 1)
    for row, s in enumerate(sources, start=1):
        node = g.nodes[s]
        if node.kind == "error":
            err[row, node.layer, node.pos] *= factor
        else:
            emb[row, node.pos] *= factor
    with torch.no_grad():
        values, targets = _targets(g, *rep(a, err, emb))
    for row, s in enumerate(sources, start=1):
        expected = (factor - 1) * g.adjacency[targets, s]
        assert torch.allclose(values[row] - values[0], expected, rtol=EXACT, atol=EXACT)
    # the embeddings do reach the logits
    assert g.adjacency[g.indices("logit")][:, g.indices("embedding")].abs().sum() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_edges_add_up_over_sources(kind, graphs):
    """Affine map: moving every source at once moves each target by the sum of its edges."""
    g = graphs[kind]
    rep = g.replacement
    a, err, emb = _leaves(rep, 2)
    a[1] *= 0
    err[1] *= 0
    emb[1] *= 0
    with torch.no_grad():
        values, targets = _targets(g, *rep(a, err, emb))
    assert torch.allclose(values[0] - values[1], g.adjacency[targets].sum(1), rtol=EXACT,
                          atol=EXACT)


@pytest.mark.parametrize("kind", KINDS)
def test_rows_of_errors_and_embeddings_are_zero(kind, graphs):
    g = graphs[kind]
    rows = g.indices("error") + g.indices("embedding")
    assert torch.equal(g.adjacency[rows], torch.zeros(len(rows), len(g.nodes), dtype=torch.float64))
    # nothing feeds into itself, and logits feed nothing
    assert torch.equal(g.adjacency.diagonal(), torch.zeros(len(g.nodes), dtype=torch.float64))
    assert g.adjacency[:, g.indices("logit")].abs().sum() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_adjacency_is_lower_triangular_by_layer_and_causal(kind, graphs):
    g = graphs[kind]
    A = g.adjacency
    for t in g.indices("feature"):
        target = g.nodes[t]
        for s in g.indices("feature") + g.indices("error"):
            if g.nodes[s].layer >= target.layer:
                assert A[t, s] == 0, (target, g.nodes[s])
    for t in g.indices("feature") + g.indices("logit"):
        for s in range(len(g.nodes)):
            if g.nodes[s].pos > g.nodes[t].pos:
                assert A[t, s] == 0
    # layer-1 features do receive edges from layer-0 features somewhere
    layer1 = [i for i in g.indices("feature") if g.nodes[i].layer == 1]
    layer0 = [i for i in g.indices("feature") if g.nodes[i].layer == 0]
    if layer0 and layer1:
        assert A[layer1][:, layer0].abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_batch_size_does_not_change_the_graph(kind, models, clts, graphs, dallas):
    g1 = attribute(ModelAdapter(models[kind]), clts[kind], dallas, batch_size=1)
    g7 = attribute(ModelAdapter(models[kind]), clts[kind], torch.tensor([dallas]), batch_size=7)
    assert g1.nodes == g7.nodes == graphs[kind].nodes
    assert torch.allclose(g1.adjacency, graphs[kind].adjacency, rtol=1e-12, atol=1e-12)
    assert torch.allclose(g7.adjacency, graphs[kind].adjacency, rtol=1e-12, atol=1e-12)


def test_a_graph_without_active_features(models, clts, dallas):
    clt = copy.deepcopy(clts["tiny"])
    with torch.no_grad():
        clt.log_theta.fill_(20.0)  # threshold e^20: nothing fires
    g = attribute(ModelAdapter(models["tiny"]), clt, dallas)
    assert g.indices("feature") == []
    assert len(g.nodes) == 2 * 3 + 3 + len(g.indices("logit"))
    rep = g.replacement
    with torch.no_grad():
        _, logits = rep(rep.a[None], rep.err[None], rep.emb[None])
        live = rep.adapter.logits(rep.tokens)
    assert torch.allclose(logits, live, rtol=0, atol=1e-10)
    # with no features the error nodes carry the MLPs: the edges still add up exactly
    a, err, emb = _leaves(rep, 2)
    err[1] *= 0
    emb[1] *= 0
    with torch.no_grad():
        values, targets = _targets(g, *rep(a, err, emb))
    assert torch.allclose(values[0] - values[1], g.adjacency[targets].sum(1), rtol=EXACT,
                          atol=EXACT)
    assert all(0.0 <= v <= 1.0 for v in graph_scores(g).values())
    pruned = prune(g)
    assert pruned.kept("feature") == []
    assert set(pruned.kept()) >= set(g.indices("embedding") + g.indices("logit"))


# --- logit nodes ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_logits,mass",
                         [(1, 0.95), (3, 1.0), (10, 0.5), (10, 0.95), (40, 0.99)])
def test_logit_nodes_cover_the_mass_or_the_maximum(kind, models, clts, dallas, max_logits, mass):
    g = attribute(ModelAdapter(models[kind]), clts[kind], dallas, max_logits=max_logits,
                  logit_mass=mass)
    probs = g.logit_probs
    n = len(g.indices("logit"))
    assert 1 <= n <= max_logits
    assert float(probs.sum()) >= mass or n == max_logits
    assert float(probs[:-1].sum()) < mass  # no more than needed
    assert torch.equal(probs, probs.sort(descending=True).values)
    assert [g.nodes[i].value for i in g.indices("logit")] == pytest.approx(probs.tolist())
    rep = g.replacement
    with torch.no_grad():
        all_probs = torch.softmax(rep.adapter.logits(rep.tokens)[0, -1], -1)
    top = all_probs.topk(n)
    assert torch.allclose(probs, top.values, atol=1e-6)


def test_logit_weights(graphs):
    g = graphs["tiny"]
    w = g.logit_weights()
    assert w.shape == (len(g.nodes),) and w.dtype == torch.float64
    assert torch.equal(w[g.indices("logit")], g.logit_probs)
    assert w.sum() == pytest.approx(float(g.logit_probs.sum()))
    assert (w != 0).sum() == len(g.indices("logit"))


def test_graph_helpers(graphs):
    g = graphs["tiny"]
    assert g.node_index("error", 1, 2) == g.indices("error")[-1]
    first = g.nodes[g.indices("feature")[0]]
    assert g.node_index("feature", *first.key) == 0
    assert g.node_index("embedding", -1, 0) == g.indices("embedding")[0]
    assert Node("feature", 1, 2, 3, 0.5).key == (1, 2, 3)


# --- scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_graph_scores_lie_in_unit_interval(kind, graphs):
    scores = graph_scores(graphs[kind])
    assert set(scores) == {"replacement", "completeness"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert scores["replacement"] < 1.0 and scores["completeness"] < 1.0  # errors are non-zero


@pytest.mark.parametrize("kind", KINDS)
def test_graph_scores_are_one_without_error_edges(kind, graphs):
    g = graphs[kind]
    A = g.adjacency.clone()
    A[:, g.indices("error")] = 0
    scores = graph_scores(dataclasses.replace(g, adjacency=A))
    assert scores["replacement"] == pytest.approx(1.0)
    assert scores["completeness"] == pytest.approx(1.0)


def test_scores_on_a_hand_made_graph():
    """emb -> feat -> logit with an error feeding the logit: replacement = 3/4 by hand."""
    nodes = [Node("feature", 0, 0, 0, 1.0), Node("error", 0, 0, -1, 1.0),
             Node("embedding", -1, 0, 5, 1.0), Node("logit", 1, 0, 2, 1.0)]
    A = torch.zeros(4, 4, dtype=torch.float64)
    A[0, 2] = 2.0  # embedding -> feature
    A[3, 0] = 3.0  # feature -> logit
    A[3, 1] = 1.0  # error -> logit
    g = AttributionGraph(torch.tensor([5]), nodes, A, torch.tensor([1.0], dtype=torch.float64))
    # influence on the logit: feature 3/4, error 1/4, embedding 3/4 (through the feature)
    assert torch.allclose(influence(normalized(A), g.logit_weights()),
                          torch.tensor([0.75, 0.25, 0.75, 0.0], dtype=torch.float64))
    scores = graph_scores(g)
    assert scores["replacement"] == pytest.approx(0.75 / (0.75 + 0.25))
    # completeness: each node's non-error input fraction (1 for nodes without inputs; 3/4 for
    # the logit), weighted by influence + logit weight (3/4, 1/4, 3/4 and 1), as circuit-tracer
    assert scores["completeness"] == pytest.approx(
        (0.75 * 1 + 0.25 * 1 + 0.75 * 1 + 1.0 * 0.75) / (0.75 + 0.25 + 0.75 + 1.0))


# --- normalized and influence ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_normalized_rows_sum_to_one_or_zero(kind, graphs):
    N = normalized(graphs[kind].adjacency)
    sums = N.sum(1)
    assert bool(((sums - 1).abs() < 1e-12).logical_or(sums == 0).all())
    assert bool((N >= 0).all())
    assert (sums == 0).sum() >= len(graphs[kind].indices("error"))


def test_normalized_takes_absolute_values():
    A = torch.tensor([[0.0, -3.0, 1.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    expected = torch.tensor([[0.0, 0.75, 0.25], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert torch.allclose(normalized(A), expected)


def test_influence_on_a_chain():
    """0 -> 1 -> 2 plus a direct 0 -> 2 edge; weight on node 2 only."""
    A = torch.zeros(3, 3, dtype=torch.float64)
    A[1, 0] = 2.0
    A[2, 1] = 3.0
    A[2, 0] = 1.0
    w = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    # normalised: row 2 = [1/4, 3/4, 0], row 1 = [1, 0, 0]
    # node 1: 3/4 direct; node 0: 1/4 direct + 3/4 * 1 through node 1 = 1
    assert torch.allclose(influence(normalized(A), w),
                          torch.tensor([1.0, 0.75, 0.0], dtype=torch.float64))
    assert torch.allclose(influence(A, w), torch.tensor([1.0 + 3.0 * 2.0, 3.0, 0.0],
                                                        dtype=torch.float64))


@pytest.mark.parametrize("kind", KINDS)
def test_influence_is_the_neumann_series(kind, graphs):
    g = graphs[kind]
    N = normalized(g.adjacency)
    w = g.logit_weights()
    eye = torch.eye(len(g.nodes), dtype=torch.float64)
    expected = w @ (torch.linalg.inv(eye - N) - eye)
    assert torch.allclose(influence(N, w), expected, atol=1e-10)


def test_influence_raises_on_a_cycle():
    A = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="not a DAG"):
        influence(A, torch.tensor([1.0, 0.0]))


# --- prune ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_prune_keeps_embeddings_and_logits_and_shrinks(kind, graphs):
    g = graphs[kind]
    kept = []
    for threshold in (1.0, 0.95, 0.8, 0.5, 0.2, 0.01):
        p = prune(g, node_threshold=threshold)
        assert isinstance(p, PrunedGraph) and p.graph is g
        assert set(g.indices("embedding") + g.indices("logit")) <= set(p.kept())
        assert p.kept("embedding") == g.indices("embedding")
        assert p.kept("logit") == g.indices("logit")
        # edges only between kept nodes, and the pruned adjacency is A on those edges
        assert not bool((p.edge_mask & ~(p.node_mask[:, None] & p.node_mask[None, :])).any())
        assert torch.equal(p.adjacency, g.adjacency * p.edge_mask)
        # every kept feature or error node has an outgoing edge
        for i in p.kept("feature") + p.kept("error"):
            assert bool(p.edge_mask[:, i].any())
        scores = graph_scores(p)
        assert all(0.0 <= v <= 1.0 for v in scores.values())
        kept.append(len(p.kept()))
    assert all(a >= b for a, b in zip(kept, kept[1:]))
    assert kept[0] > kept[-1]


# --- predict_ablation -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_setting_features_to_their_own_values_predicts_no_change(kind, graphs):
    g = graphs[kind]
    changes = {i: g.nodes[i].value for i in g.indices("feature")[:5]}
    delta = predict_ablation(g, changes)
    assert delta.shape == (len(g.indices("logit")),)
    assert torch.equal(delta, torch.zeros_like(delta))


@pytest.mark.parametrize("kind", KINDS)
def test_ablating_a_last_layer_feature_predicts_minus_its_edges(kind, graphs):
    g = graphs[kind]
    logits = g.indices("logit")
    last = [i for i in g.indices("feature") if g.nodes[i].layer == 1 and g.nodes[i].pos == 2]
    assert last, "the CLT has no active last-layer feature at the last position"
    for s in last[:4]:
        assert torch.allclose(predict_ablation(g, {s: 0.0}), -g.adjacency[logits, s],
                              rtol=1e-12, atol=1e-12)
        assert torch.allclose(predict_ablation(g, {s: 3.0 * g.nodes[s].value}),
                              2.0 * g.adjacency[logits, s], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_ablating_an_early_feature_propagates_linearly(kind, graphs):
    """The prediction is the replacement model with downstream features kept linear: a first
    pass moves the layer-1 pre-activations, a second moves their activations by that much."""
    g = graphs[kind]
    rep = g.replacement
    sources = [i for i in g.indices("feature") if g.nodes[i].layer == 0]
    s = max(sources, key=lambda i: float(g.adjacency[:, i].abs().sum()))
    l, t, i = g.nodes[s].key
    a, err, emb = _leaves(rep, 1)
    with torch.no_grad():
        h0, out0 = rep(a, err, emb)
        a[0, l, t, i] = 0.0
        h1, _ = rep(a, err, emb)
        a[0, 1] += (h1 - h0)[0, 1] * (rep.a[1] > 0)  # only active features are graph nodes
        _, out2 = rep(a, err, emb)
    ids = [g.nodes[k].index for k in g.indices("logit")]
    demean = lambda o: (o[0, -1] - o[0, -1].mean())[ids]  # noqa: E731
    predicted = predict_ablation(g, {s: 0.0})
    assert torch.allclose(predicted, demean(out2) - demean(out0), rtol=EXACT, atol=EXACT)
    assert predicted.abs().max() > 0


def test_predict_ablation_on_a_pruned_graph(graphs):
    g = graphs["tiny"]
    p = prune(g, node_threshold=1.0, edge_threshold=1.0)
    s = p.kept("feature")[0]
    full = predict_ablation(g, {s: 0.0})
    pruned = predict_ablation(p, {s: 0.0})
    assert pruned.shape == full.shape
    # a graph with no edges predicts nothing
    empty = PrunedGraph(g, p.node_mask, torch.zeros_like(p.edge_mask))
    assert torch.equal(predict_ablation(empty, {s: 0.0}), torch.zeros_like(full))


# --- attribute: arguments -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_attribute_leaves_the_model_and_clt_untouched(kind, make_model, world, clts, dallas):
    model = make_model(kind, world.vocab_size)
    clt = clts[kind]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clt_before = copy.deepcopy(clt.state_dict())
    implementation = getattr(model.config, "_attn_implementation", None)
    g = attribute(ModelAdapter(model), clt, dallas)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(v, clt_before[k]) for k, v in clt.state_dict().items())
    assert clt.W_enc.dtype == torch.float32
    assert g.replacement.adapter.model is not model
    assert g.replacement.clt is not clt and g.replacement.clt.W_enc.dtype == torch.float64
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert getattr(model.config, "_attn_implementation", None) == implementation


def test_attribute_in_float32(models, clts, dallas):
    g = attribute(ModelAdapter(models["tiny"]), clts["tiny"], dallas, dtype=torch.float32)
    assert g.adjacency.dtype == torch.float32
    assert g.replacement.adapter.dtype == torch.float32
    g64 = attribute(ModelAdapter(models["tiny"]), clts["tiny"], dallas)
    if [n.key for n in g.nodes] == [n.key for n in g64.nodes]:
        assert torch.allclose(g.adjacency.double(), g64.adjacency, atol=1e-3)


# --- nodes_on_paths ---------------------------------------------------------------------------


def _hand_pruned(edges: list[tuple[int, int]], n: int = 5) -> PrunedGraph:
    """A PrunedGraph over n feature nodes whose kept edges are (target, source) pairs."""
    nodes = [Node("feature", k, 0, k, 1.0) for k in range(n)]
    A = torch.zeros(n, n, dtype=torch.float64)
    mask = torch.zeros(n, n, dtype=torch.bool)
    for t, s in edges:
        A[t, s] = 1.0
        mask[t, s] = True
    graph = AttributionGraph(torch.zeros(1, dtype=torch.long), nodes, A, torch.zeros(0))
    return PrunedGraph(graph, torch.ones(n, dtype=torch.bool), mask)


def test_nodes_on_paths_finds_every_node_between_source_and_target():
    # 0 -> 1 -> 3, 0 -> 2 -> 3, and 4 -> 3 (4 is not reachable from 0)
    pruned = _hand_pruned([(1, 0), (3, 1), (2, 0), (3, 2), (3, 4)])
    assert nodes_on_paths(pruned, 0, 3) == [0, 1, 2, 3]
    assert nodes_on_paths(pruned, 4, 3) == [3, 4]
    assert nodes_on_paths(pruned, 1, 2) == []  # no path
    assert nodes_on_paths(pruned, 2, 2) == [2]  # a node reaches itself


def test_nodes_on_paths_ignores_pruned_edges(graphs):
    pruned = prune(graphs["tiny"])
    logit = graphs["tiny"].indices("logit")[0]
    for emb in graphs["tiny"].indices("embedding"):
        on = nodes_on_paths(pruned, emb, logit)
        for i in on:
            assert pruned.node_mask[i]
        if on:
            assert logit in on and emb in on
            # every node on a path has a kept edge into the path or out of it
            for i in on:
                if i not in (emb, logit):
                    assert pruned.edge_mask[on][:, i].any() and pruned.edge_mask[i, on].any()


# --- max_edge_error ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_max_edge_error_is_rounding_error_on_every_model(graphs, kind):
    assert max_edge_error(graphs[kind]) < EXACT
    assert max_edge_error(graphs[kind], factor=0.0) < EXACT  # switching every source off


def test_max_edge_error_sees_a_wrong_edge(graphs):
    wrong = copy.copy(graphs["tiny"])
    wrong.adjacency = graphs["tiny"].adjacency.clone()
    t, s = divmod(int(wrong.adjacency.abs().argmax()), len(wrong.nodes))  # the strongest edge
    wrong.adjacency[t, s] *= 1.5
    assert max_edge_error(wrong) > 1e-3
