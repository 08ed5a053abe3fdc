"""Supernodes: related features of a graph merged into one node, and interventions on them.

Ameisen et al. (2025, §"Grouping Features into Supernodes") present attribution graphs by
merging features that play one role (e.g. every "Texas" feature, whatever its layer or
position) into a **supernode**; an edge between two supernodes is the sum of the edges between
their members. Their companion paper (Lindsey et al., 2025) tells each case study with such
graphs (*Dallas* -> [Texas] -> [say Austin]) and tests them by intervening on whole supernodes
(§"Validating Attribution Graph Hypotheses with Interventions").

* :func:`group_supernodes` groups a pruned graph's nodes by their labels into a
  :class:`SupernodeGraph`;
* :func:`intervene_supernode` scales every member of a supernode by a factor and returns the
  next-token logits in one of three worlds, from the graph's own to the real model's:

  - ``"constrained"``: the local replacement model (attention, norms and error nodes frozen) with
    **every other feature frozen** at its value on the prompt. Only the members' direct effects
    act, so the change of a de-meaned logit is exactly ``(factor - 1)`` times the sum of the
    members' edges into it: what the graph's edges claim, and nothing else.
  - ``"free_local"``: the same local replacement model, but every other feature is recomputed
    through its JumpReLU, so downstream features respond (attention still frozen).
  - ``"free_model"``: the real model (the graph's float64 copy) with the members clamped;
    attention, later MLPs and the CLT's error all respond
    (:func:`~readingroom.clt.intervene`).

  The companion paper's interventions pin features up to a chosen layer and let the model run
  freely after it; in a three-layer toy we take the two ends of that range: everything pinned
  (constrained) and nothing pinned (free).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from readingroom.clt.graph import AttributionGraph, PrunedGraph, _on_paths
from readingroom.clt.replacement import intervene, local_replacement_logits
from readingroom.common.checks import check_choice, check_float

__all__ = ["Supernode", "SupernodeGraph", "group_supernodes", "intervene_supernode",
           "INTERVENTION_MODES"]

#: the worlds :func:`intervene_supernode` can intervene in, from the graph's to the model's
INTERVENTION_MODES = ("constrained", "free_local", "free_model")


@dataclass(frozen=True)
class Supernode:
    """A group of nodes of one attribution graph.

    Attributes:
        name: the members' shared label (a feature group), or one node's name.
        kind: the members' kind: ``"feature"``, ``"error"``, ``"embedding"`` or ``"logit"``.
        members: positions in ``graph.nodes``, ascending.
    """

    name: str
    kind: str
    members: tuple[int, ...]


@dataclass
class SupernodeGraph:
    """A pruned graph seen through its supernodes.

    Attributes:
        pruned: the graph whose nodes were grouped.
        supernodes: the groups, in the order of their first member in ``graph.nodes``.
        adjacency: ``S[a, b]``, the sum of the kept edges from the members of ``b`` to those of
            ``a`` (edges inside one supernode are left out), in the graph's dtype.
    """

    pruned: PrunedGraph
    supernodes: list[Supernode]
    adjacency: torch.Tensor

    def find(self, node: int) -> int:
        """The position of the supernode that holds graph node ``node``."""
        for k, s in enumerate(self.supernodes):
            if node in s.members:
                return k
        raise ValueError(f"node must be a member of a supernode, got {node!r}")

    def named(self, name: str) -> int:
        """The position of the supernode called ``name``."""
        for k, s in enumerate(self.supernodes):
            if s.name == name:
                return k
        raise ValueError(f"name must be one of {[s.name for s in self.supernodes]}, got {name!r}")

    def on_paths(self, source: int, target: int) -> list[int]:
        """The supernodes on at least one path ``source -> ... -> target`` of nonzero supernode
        edges (both ends included; empty when there is none)."""
        n = len(self.supernodes)
        for name, i in (("source", source), ("target", target)):
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                raise ValueError(f"{name} must be a supernode position in [0, {n}), got {i!r}")
        return _on_paths(self.adjacency != 0, source, target)


def _groupable(label: str | None) -> bool:
    """A label that names a group: not missing, not "inactive", not "mixed: ..."."""
    return bool(label) and label != "inactive" and not label.startswith("mixed")


def group_supernodes(pruned: PrunedGraph, labels: Mapping[int, str], *,
                     nodes: Sequence[int] | None = None, other: str | None = None) -> SupernodeGraph:
    """Group the nodes of a pruned graph into supernodes (Ameisen et al., 2025, §"Grouping
    Features into Supernodes").

    * Feature nodes with the same label form one supernode, whatever their layers and positions
      (every ``"Texas"`` feature is ``[Texas]``). A feature without a label, or labelled
      ``"inactive"`` or ``"mixed: ..."``, names no group: it stays a supernode of its own (named
      by its label, or ``"L<layer>#<index>"``), or, when ``other`` is given, joins the one
      supernode called ``other``.
    * Every error node joins one supernode ``"errors"``.
    * Embeddings and logits stay single, named by ``labels`` if it names them, else
      ``"embedding <pos>"`` / ``"logit <token id>"``.

    A name that two supernodes would share gets the ``(layer, position, index)`` of the single
    node it names appended, so names are unique. The edge from supernode ``b`` to ``a`` is the
    sum of the pruned graph's kept edges from ``b``'s members to ``a``'s.

    Args:
        pruned: the graph (its kept nodes and edges).
        labels: names of nodes by their position in ``graph.nodes`` (e.g. from ``feature_label``).
        nodes: the nodes to group (e.g. those on the paths from a token to the answer,
            :func:`~readingroom.clt.nodes_on_paths`); every one must be kept. Default: all kept
            nodes. Edges to or from other nodes are left out.
        other: the name of the supernode that collects the features naming no group; ``None``
            keeps each of them single.
    """
    if not isinstance(pruned, PrunedGraph):
        raise TypeError(f"pruned must be a PrunedGraph, got {type(pruned).__name__}")
    if not isinstance(labels, Mapping):
        raise TypeError(f"labels must be a mapping {{node: label}}, got {type(labels).__name__}")
    if other is not None and not isinstance(other, str):
        raise TypeError(f"other must be a string or None, got {type(other).__name__}")
    if other is not None and not other:
        raise ValueError("other must not be empty")
    graph = pruned.graph
    kept = set(pruned.kept())
    if nodes is None:
        chosen = sorted(kept)
    else:
        bad = [i for i in nodes if isinstance(i, bool) or not isinstance(i, int) or i not in kept]
        if bad:
            raise ValueError(f"nodes must be positions of kept nodes of the graph, got {bad[:5]}")
        chosen = sorted(set(nodes))

    if other is not None and any(graph.nodes[i].kind == "feature" and labels.get(i) == other
                                 and _groupable(other) for i in chosen):
        raise ValueError(f"other must differ from every feature label, got {other!r}")

    groups: dict[tuple[str, str], list[int]] = {}  # (kind, name) -> members, in node order
    for i in chosen:
        n = graph.nodes[i]
        label = labels.get(i)
        if n.kind == "feature" and _groupable(label):
            key = ("feature", str(label))
        elif n.kind == "feature" and other is not None:
            key = ("feature", other)
        elif n.kind == "error":
            key = ("error", "errors")
        else:
            default = {"feature": f"L{n.layer}#{n.index}", "embedding": f"embedding {n.pos}",
                       "logit": f"logit {n.index}"}[n.kind]
            key = (n.kind, str(label) if label else default)
            while key in groups:  # two singles of one name: tell them apart
                key = (n.kind, f"{key[1]} (L{n.layer} p{n.pos} #{n.index})")
        groups.setdefault(key, []).append(i)

    ordered = sorted(groups.items(), key=lambda kv: kv[1][0])
    names: set[str] = set()
    supernodes = []
    for (kind, name), members in ordered:
        if name in names:  # e.g. a single embedding named like a feature group
            n = graph.nodes[members[0]]
            name = f"{name} (L{n.layer} p{n.pos} #{n.index})"
        names.add(name)
        supernodes.append(Supernode(name, kind, tuple(members)))

    A = pruned.adjacency
    member = torch.zeros(len(graph.nodes), len(supernodes), dtype=A.dtype)
    for k, s in enumerate(supernodes):
        member[list(s.members), k] = 1.0
    S = member.T @ A @ member
    S.fill_diagonal_(0.0)
    return SupernodeGraph(pruned, supernodes, S)


@torch.no_grad()
def intervene_supernode(graph: AttributionGraph | PrunedGraph, members: Supernode | Sequence[int],
                        factor: float, *, mode: str = "free_model") -> torch.Tensor:
    """Scale every member feature of a supernode by ``factor`` at its own layer and position and
    return the next-token logits ``[V]`` (float64, the prompt's last position).

    ``factor=0`` switches the supernode off, ``-1`` reverses it, ``2`` doubles it (the paper
    reports its supernode interventions as such multiples of the activations). ``mode`` picks the world (Ameisen et al., 2025,
    §"Validating Attribution Graph Hypotheses with Interventions"; see the module docstring):
    ``"constrained"`` (local replacement model, every other feature frozen), ``"free_local"``
    (local replacement model, other features recomputed) or ``"free_model"`` (the real model).
    With ``factor=1`` every mode returns the model's own logits.

    Args:
        graph: a graph built by :func:`~readingroom.clt.attribute` (or a pruned view of one).
        members: a feature :class:`Supernode` of that graph, or positions of feature nodes in
            ``graph.nodes`` (e.g. a random control set).
    """
    base = graph.graph if isinstance(graph, PrunedGraph) else graph
    if not isinstance(base, AttributionGraph) or base.replacement is None:
        raise TypeError("graph must be an AttributionGraph built by attribute(), or a PrunedGraph "
                        "of one")
    check_float(factor, "factor")
    check_choice(mode, "mode", INTERVENTION_MODES)
    positions = list(members.members) if isinstance(members, Supernode) else list(members)
    if not positions:
        raise ValueError("members must hold at least one feature node")
    nodes = base.nodes
    for i in positions:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(nodes) \
                or nodes[i].kind != "feature":
            raise ValueError(f"members must be positions of feature nodes, got {i!r}")
    clamps = {nodes[i].key: factor * nodes[i].value for i in positions}
    rep = base.replacement
    if mode == "constrained":
        a = rep.a.clone()
        for (layer, pos, index), value in clamps.items():
            a[layer, pos, index] = value
        _, logits = rep(a[None], rep.err[None], rep.emb[None], features=False)
        return logits[0, -1]
    if mode == "free_local":
        return local_replacement_logits(base, clamps)[-1]
    return intervene(rep.adapter, rep.clt, rep.tokens, clamps)[0, -1]
