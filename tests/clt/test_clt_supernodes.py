"""Tests for readingroom.clt.supernodes: grouping a pruned graph's nodes into supernodes (names,
members, summed edges, paths) and scaling a supernode in the constrained and free worlds."""

from __future__ import annotations


import pytest
import torch

from readingroom.clt import (
    INTERVENTION_MODES, AttributionGraph, ModelAdapter, Node, PrunedGraph, Supernode,
    SupernodeGraph, attribute, group_supernodes, intervene, intervene_supernode,
    local_replacement_logits, prune,
)

EXACT = 1e-9


def _hand_made() -> PrunedGraph:
    """Five features (two labelled Texas at different layers and positions, two "mixed", one
    unlabelled), an error, two embeddings and a logit; node 5 (a feature) is pruned away.

    Edges: emb 8 -> 0 (2.0), emb 8 -> 1 (1.0), 0 -> 2 (0.5, inside [Texas]), 0 -> 3 (1.5),
    1 -> 3 (-0.25), 2 -> 10 (1.0), 3 -> 10 (0.75), 4 -> 10 (0.5), 6 -> 10 (0.1), 9 -> 4 (3.0).
    """
    nodes = [Node("feature", 0, 1, 7, 1.0), Node("feature", 0, 1, 2, 0.5),
             Node("feature", 1, 2, 3, 0.8), Node("feature", 1, 2, 4, 1.5),
             Node("feature", 1, 2, 6, 0.4), Node("feature", 0, 2, 9, 0.2),
             Node("error", 0, 1, -1, 0.1), Node("embedding", -1, 0, 0, 1.0),
             Node("embedding", -1, 1, 5, 1.0), Node("embedding", -1, 2, 2, 1.0),
             Node("logit", 2, 2, 9, 0.9)]
    n = len(nodes)
    A = torch.zeros(n, n, dtype=torch.float64)
    for t, s, w in ((0, 8, 2.0), (1, 8, 1.0), (2, 0, 0.5), (3, 0, 1.5), (3, 1, -0.25),
                    (10, 2, 1.0), (10, 3, 0.75), (10, 4, 0.5), (10, 6, 0.1), (4, 9, 3.0)):
        A[t, s] = w
    graph = AttributionGraph(torch.tensor([0, 5, 2]), nodes, A, torch.tensor([0.9]))
    node_mask = torch.ones(n, dtype=torch.bool)
    node_mask[5] = False
    return PrunedGraph(graph, node_mask, A != 0)


LABELS = {0: "Texas", 2: "Texas", 1: "mixed: Dallas/Chicago", 3: "mixed: Dallas/Chicago",
          5: "Texas"}


def _by_name(sg: SupernodeGraph) -> dict[str, Supernode]:
    return {s.name: s for s in sg.supernodes}


# --- group_supernodes -------------------------------------------------------------------------


def test_features_with_one_label_form_one_supernode_across_layers_and_positions():
    sg = group_supernodes(_hand_made(), LABELS)
    named = _by_name(sg)
    assert named["Texas"] == Supernode("Texas", "feature", (0, 2))  # node 5 is pruned away
    # "mixed" labels name no group: each stays single, told apart by its coordinates
    mixed = [s for s in sg.supernodes if s.name.startswith("mixed")]
    assert sorted(s.members for s in mixed) == [(1,), (3,)]
    assert len({s.name for s in mixed}) == 2
    assert named["L1#6"].members == (4,)  # unlabelled: its coordinates
    assert named["errors"] == Supernode("errors", "error", (6,))
    assert [named[f"embedding {p}"].members for p in range(3)] == [(7,), (8,), (9,)]
    assert named["logit 9"] == Supernode("logit 9", "logit", (10,))
    assert len({s.name for s in sg.supernodes}) == len(sg.supernodes)
    members = sorted(i for s in sg.supernodes for i in s.members)
    assert members == sorted(_hand_made().kept())  # every kept node exactly once
    assert [s.members[0] for s in sg.supernodes] == sorted(s.members[0] for s in sg.supernodes)


def test_edges_between_supernodes_are_sums_and_internal_edges_vanish():
    sg = group_supernodes(_hand_made(), LABELS, other="other")
    named = _by_name(sg)
    assert named["other"].members == (1, 3, 4)
    k = {name: sg.named(name) for name in ("Texas", "other", "errors", "embedding 1",
                                           "embedding 2", "logit 9")}
    S = sg.adjacency
    assert S.dtype == torch.float64 and S.shape == (len(sg.supernodes),) * 2
    assert float(S[k["Texas"], k["embedding 1"]]) == 2.0
    assert float(S[k["other"], k["embedding 1"]]) == 1.0
    assert float(S[k["other"], k["Texas"]]) == 1.5
    assert float(S[k["other"], k["embedding 2"]]) == 3.0
    assert float(S[k["logit 9"], k["Texas"]]) == 1.0
    assert float(S[k["logit 9"], k["other"]]) == 0.75 + 0.5  # 3 and 4 into the logit
    assert float(S[k["logit 9"], k["errors"]]) == pytest.approx(0.1)
    assert float(S.diagonal().abs().sum()) == 0.0  # 0 -> 2 (inside Texas) and 1 -> 3 are gone
    assert float(S.sum()) == pytest.approx(2.0 + 1.0 + 1.5 + 3.0 + 1.0 + 1.25 + 0.1)


def test_only_kept_edges_count():
    pruned = _hand_made()
    pruned.edge_mask[10, 3] = False  # prune one edge into the logit
    sg = group_supernodes(pruned, LABELS, other="other")
    assert float(sg.adjacency[sg.named("logit 9"), sg.named("other")]) == 0.5


def test_a_subset_of_nodes_and_labels_for_tokens():
    sg = group_supernodes(_hand_made(), {**LABELS, 8: "Dallas", 10: "Austin"},
                          nodes=[8, 0, 2, 3, 10, 10])
    assert [s.name for s in sg.supernodes] == ["Texas", "mixed: Dallas/Chicago", "Dallas",
                                               "Austin"]
    S = sg.adjacency
    assert float(S[sg.named("Austin"), sg.named("Texas")]) == 1.0
    assert float(S[sg.named("mixed: Dallas/Chicago"), sg.named("Texas")]) == 1.5


def test_a_single_named_like_a_group_gets_its_coordinates():
    sg = group_supernodes(_hand_made(), {**LABELS, 8: "Texas"})
    names = [s.name for s in sg.supernodes]
    assert "Texas" in names and "Texas (L-1 p1 #5)" in names


def test_on_graph_of_a_real_prompt_edges_add_up(world, models, clts):
    graph = attribute(ModelAdapter(models["tiny"]), clts["tiny"],
                      world.prompt("capital", city="Dallas").tokens)
    pruned = prune(graph)
    labels = {i: "f" + str(graph.nodes[i].layer) for i in graph.indices("feature")}  # by layer
    sg = group_supernodes(pruned, labels)
    inside = sum(float(pruned.adjacency[list(s.members)][:, list(s.members)].sum())
                 for s in sg.supernodes)
    assert float(sg.adjacency.sum()) + inside == pytest.approx(float(pruned.adjacency.sum()))


def test_find_named_and_on_paths():
    sg = group_supernodes(_hand_made(), LABELS, other="other")
    texas, emb1, logit = sg.named("Texas"), sg.named("embedding 1"), sg.named("logit 9")
    assert sg.find(2) == texas and sg.find(0) == texas
    on = sg.on_paths(emb1, logit)
    assert [sg.supernodes[k].name for k in on] == ["Texas", "other", "embedding 1", "logit 9"]
    assert sg.on_paths(sg.named("errors"), logit) == sorted([sg.named("errors"), logit])
    assert sg.on_paths(logit, emb1) == []  # edges run one way


# --- intervene_supernode ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def graphs(world, models, clts):
    tokens = world.prompt("capital", city="Dallas").tokens
    return {kind: attribute(ModelAdapter(models[kind]), clts[kind], tokens)
            for kind in ("tiny", "gpt2")}


def _demeaned(z: torch.Tensor) -> torch.Tensor:
    return z - z.mean()


def _first_layer_features(graph: AttributionGraph, k: int = 2) -> list[int]:
    return [i for i in graph.indices("feature") if graph.nodes[i].layer == 0][:k]


@pytest.mark.parametrize("kind", ["tiny", "gpt2"])
@pytest.mark.parametrize("mode", INTERVENTION_MODES)
def test_a_factor_of_one_reproduces_the_model(kind, mode, graphs):
    graph = graphs[kind]
    rep = graph.replacement
    with torch.no_grad():
        own = rep.adapter.logits(rep.tokens)[0, -1]
    z = intervene_supernode(graph, graph.indices("feature")[:3], 1.0, mode=mode)
    assert z.dtype == torch.float64 and z.shape == own.shape
    assert torch.allclose(z, own, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["tiny", "gpt2"])
@pytest.mark.parametrize("factor", [0.0, -1.0, 2.0])
def test_constrained_moves_each_logit_by_the_members_direct_edges(kind, factor, graphs):
    graph = graphs[kind]
    members = _first_layer_features(graph)
    assert members
    logits = graph.indices("logit")
    ids = [graph.nodes[i].index for i in logits]
    base = _demeaned(intervene_supernode(graph, members, 1.0, mode="constrained"))[ids]
    moved = _demeaned(intervene_supernode(graph, members, factor, mode="constrained"))[ids] - base
    predicted = (factor - 1) * graph.adjacency[logits][:, members].sum(1)
    assert torch.allclose(moved, predicted, atol=EXACT, rtol=0)


def test_constrained_freezes_what_free_local_lets_respond(graphs):
    graph = graphs["tiny"]
    members = _first_layer_features(graph)
    constrained = intervene_supernode(graph, members, -1.0, mode="constrained")
    local = intervene_supernode(graph, members, -1.0, mode="free_local")
    assert not torch.allclose(constrained, local, atol=1e-6)  # later features respond
    # with only last-layer members, no feature is downstream: the two worlds agree
    last = [i for i in graph.indices("feature") if graph.nodes[i].layer == 1][:2]
    assert last
    assert torch.allclose(intervene_supernode(graph, last, -1.0, mode="constrained"),
                          intervene_supernode(graph, last, -1.0, mode="free_local"),
                          atol=EXACT, rtol=0)


@pytest.mark.parametrize("factor", [0.0, -1.0])
def test_free_modes_are_the_clamped_local_and_real_models(factor, graphs):
    graph = graphs["tiny"]
    members = _first_layer_features(graph)
    clamps = {graph.nodes[i].key: factor * graph.nodes[i].value for i in members}
    rep = graph.replacement
    assert torch.equal(intervene_supernode(graph, members, factor, mode="free_local"),
                       local_replacement_logits(graph, clamps)[-1])
    assert torch.equal(intervene_supernode(graph, members, factor),  # free_model by default
                       intervene(rep.adapter, rep.clt, rep.tokens, clamps)[0, -1])


def test_a_supernode_and_a_pruned_graph_are_accepted(graphs):
    graph = graphs["tiny"]
    members = tuple(_first_layer_features(graph))
    supernode = Supernode("Texas", "feature", members)
    for mode in INTERVENTION_MODES:
        assert torch.equal(intervene_supernode(prune(graph), supernode, 0.0, mode=mode),
                           intervene_supernode(graph, list(members), 0.0, mode=mode))
