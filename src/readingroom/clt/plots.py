"""Pictures of attribution graphs, supernode graphs, features, the sparsity-fidelity sweep and
steering.

:func:`graph_figure` draws a pruned graph twice from one layout: an inline SVG for the HTML book
(hover a node to see its label, activation and top-activating prompts, and to light up its edges;
no JavaScript, no CDN, so it works offline) and a matplotlib PNG as the static fallback for
notebook viewers and print. The returned object carries both (``_repr_html_`` and
``_repr_png_``); Jupyter and the book pick the richest one they can show.
"""

from __future__ import annotations

import html
import io
import itertools
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes

from readingroom.clt.graph import PrunedGraph
from readingroom.clt.supernodes import SupernodeGraph
from readingroom.clt.task import Prompt, World
from readingroom.common.plotting import BOOK_COLORS, get_axes

__all__ = ["GraphFigure", "graph_layout", "graph_figure", "draw_graph", "draw_supernodes",
           "dashboard_html", "plot_sweep", "plot_steering"]

POSITIVE, NEGATIVE = "#2b6cb0", "#c53030"
_KIND_COLOR = {"feature": "#f6ad55", "error": "#a0aec0", "embedding": "#9ae6b4", "logit": "#90cdf4"}
_ids = itertools.count()


def graph_layout(pruned: PrunedGraph) -> dict[int, tuple[float, float]]:
    """``node -> (x, y)``: x is the token position (nodes of one cell spread over +-0.42 of
    it), y the row (embeddings 0, layer ``l`` at ``l + 1``, logits at ``L + 1``)."""
    if not isinstance(pruned, PrunedGraph):
        raise TypeError(f"pruned must be a PrunedGraph, got {type(pruned).__name__}")
    nodes = pruned.graph.nodes
    cells: dict[tuple[int, int], list[int]] = {}
    for i in pruned.kept():
        n = nodes[i]
        cells.setdefault((n.layer, n.pos), []).append(i)
    xy = {}
    for (layer, pos), members in cells.items():
        members.sort(key=lambda i: (nodes[i].kind != "feature", nodes[i].index))
        k = len(members)
        for j, i in enumerate(members):
            offset = 0.0 if k == 1 else -0.42 + 0.84 * j / (k - 1)
            xy[i] = (pos + offset, layer + 1.0)
    return xy


def _cell_rank(pruned: PrunedGraph, xy: Mapping[int, tuple[float, float]]) -> dict[int, int]:
    """Each node's rank from the left within its (layer, position) cell."""
    nodes = pruned.graph.nodes
    rank, cells = {}, {}
    for i in sorted(xy, key=lambda i: xy[i][0]):
        key = (nodes[i].layer, nodes[i].pos)
        rank[i] = cells.get(key, 0)
        cells[key] = rank[i] + 1
    return rank


def _node_text(world: World, pruned: PrunedGraph, i: int, labels: Mapping[int, str]) -> str:
    n = pruned.graph.nodes[i]
    if n.kind == "embedding":
        return world.vocab[n.index]
    if n.kind == "logit":
        return f"{world.vocab[n.index]} {n.value:.2f}"
    if n.kind == "error":
        return "err"
    return labels.get(i, f"L{n.layer}#{n.index}")


def _edges(pruned: PrunedGraph) -> list[tuple[int, int, float]]:
    A = pruned.adjacency
    return [(int(t), int(s), float(A[t, s])) for t, s in pruned.edge_mask.nonzero().tolist()]


def _graph_axes(ax, graph, world: World, title: str | None, *, pad: float):
    """Token ticks along x, embed / layers / logits along y (the layout of
    :func:`graph_layout`), no grid, the title: the frame shared by :func:`draw_graph` and
    :func:`draw_supernodes`."""
    T = len(graph.tokens)
    L = max(n.layer for n in graph.nodes if n.kind == "logit")
    ax.set_xticks(range(T), [world.vocab[int(t)] for t in graph.tokens])
    ax.set_yticks(range(L + 2), ["embed"] + [f"layer {l}" for l in range(L)] + ["logits"])
    ax.set_xlim(-1 + pad, T - pad)
    ax.set_ylim(-0.6, L + 1.6)
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax


def draw_graph(pruned: PrunedGraph, world: World, labels: Mapping[int, str] | None = None,
               ax: Axes | None = None, title: str | None = None) -> Axes:
    """The pruned graph as a static matplotlib figure (edge width ~ |weight|, blue +, red -)."""
    labels = labels or {}
    ax = get_axes(ax)
    xy = graph_layout(pruned)
    rank = _cell_rank(pruned, xy)
    edges = _edges(pruned)
    biggest = max((abs(w) for _, _, w in edges), default=1.0) or 1.0
    for t, s, w in edges:
        (x0, y0), (x1, y1) = xy[s], xy[t]
        ax.plot([x0, x1], [y0, y1], color=POSITIVE if w > 0 else NEGATIVE,
                lw=0.4 + 3.6 * abs(w) / biggest, alpha=0.55, zorder=1)
    for i, (x, y) in xy.items():
        n = pruned.graph.nodes[i]
        marker = {"feature": "o", "error": "s", "embedding": "D", "logit": "h"}[n.kind]
        ax.scatter([x], [y], s=140, marker=marker, color=_KIND_COLOR[n.kind], edgecolor="#2d3748",
                   zorder=2)
        below = -14 - 9 * (rank[i] % 3)  # stagger the labels of neighbours in one cell
        text = _node_text(world, pruned, i, labels)
        text = text if len(text) <= 14 else text[:13] + "…"
        ax.annotate(text, (x, y), textcoords="offset points",
                    xytext=(0, below if n.kind != "logit" else 10), ha="center", fontsize=7,
                    zorder=3)
    return _graph_axes(ax, pruned.graph, world, title, pad=0.4)


def _supernode_layout(sgraph: SupernodeGraph) -> dict[int, tuple[float, float]]:
    """``supernode -> (x, y)``: the mean position and row (as in :func:`graph_layout`) of its
    members; supernodes that land in one cell spread over +-0.4 of it."""
    nodes = sgraph.pruned.graph.nodes
    centre = {}
    for k, s in enumerate(sgraph.supernodes):
        members = [nodes[i] for i in s.members]
        centre[k] = (sum(n.pos for n in members) / len(members),
                     sum(n.layer for n in members) / len(members) + 1.0)
    cells: dict[tuple[float, float], list[int]] = {}
    for k, (x, y) in centre.items():
        cells.setdefault((round(x, 1), round(y, 1)), []).append(k)
    xy = {}
    for members in cells.values():
        for j, k in enumerate(members):
            x, y = centre[k]
            offset = 0.0 if len(members) == 1 else -0.4 + 0.8 * j / (len(members) - 1)
            xy[k] = (x + offset, y)
    return xy


def draw_supernodes(sgraph: SupernodeGraph, world: World, ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """The supernode graph (Ameisen et al., 2025, §"Grouping Features into Supernodes"): each
    supernode a box at the mean position and layer of its members, named by its label and its
    number of members; edge width ~ |summed weight|, blue excites, red inhibits (as
    :func:`draw_graph`; edges run upwards, from earlier layers to later ones). Embeddings and
    logits are named by their tokens."""
    if not isinstance(sgraph, SupernodeGraph):
        raise TypeError(f"sgraph must be a SupernodeGraph, got {type(sgraph).__name__}")
    if not isinstance(world, World):
        raise TypeError(f"world must be a World, got {type(world).__name__}")
    ax = get_axes(ax)
    graph = sgraph.pruned.graph
    xy = _supernode_layout(sgraph)
    S = sgraph.adjacency
    edges = [(int(t), int(s), float(S[t, s])) for t, s in (S != 0).nonzero().tolist()]
    biggest = max((abs(w) for _, _, w in edges), default=1.0) or 1.0
    for t, s, w in edges:
        (x0, y0), (x1, y1) = xy[s], xy[t]
        ax.plot([x0, x1], [y0, y1], color=POSITIVE if w > 0 else NEGATIVE,
                lw=0.6 + 4.4 * abs(w) / biggest, alpha=0.55, zorder=1)
    for k, (x, y) in xy.items():
        node = sgraph.supernodes[k]
        first = graph.nodes[node.members[0]]
        if node.kind == "embedding":
            text = world.vocab[first.index]
        elif node.kind == "logit":
            text = f"{world.vocab[first.index]} {first.value:.2f}"
        else:
            text = node.name if len(node.name) <= 18 else node.name[:17] + "…"
            text = f"[{text}]" + (f" ×{len(node.members)}" if len(node.members) > 1 else "")
        ax.text(x, y, text, ha="center", va="center", fontsize=8, zorder=3,
                bbox=dict(boxstyle="round,pad=0.35", facecolor=_KIND_COLOR[node.kind],
                          edgecolor="#2d3748"))
    return _graph_axes(ax, graph, world, title, pad=0.3)


class GraphFigure:
    """An attribution graph with an interactive SVG (``_repr_html_``) and a PNG fallback."""

    def __init__(self, svg: str, png: bytes) -> None:
        self.svg, self.png = svg, png

    def _repr_html_(self) -> str:
        return self.svg

    def _repr_png_(self) -> bytes:
        return self.png


def graph_figure(pruned: PrunedGraph, world: World, labels: Mapping[int, str] | None = None,
                 details: Mapping[int, str] | None = None, title: str = "") -> GraphFigure:
    """Both renderings of a pruned graph.

    Args:
        labels: short names of feature nodes (by position in ``graph.nodes``).
        details: longer hover text per node (e.g. top-activating prompts).
        title: a caption drawn above the graph.
    """
    labels, details = labels or {}, details or {}
    xy = graph_layout(pruned)
    T = len(pruned.graph.tokens)
    L = max(n.layer for n in pruned.graph.nodes if n.kind == "logit")
    W, H, mx, my = 170, 95, 70, 40
    width, height = int(mx * 2 + W * (T - 1) + 60), int(my * 2 + H * (L + 1) + 30)

    def px(x: float, y: float) -> tuple[float, float]:
        return mx + 30 + x * W, height - my - y * H

    fid = f"cg{next(_ids)}"
    rank = _cell_rank(pruned, xy)
    edges = _edges(pruned)
    biggest = max((abs(w) for _, _, w in edges), default=1.0) or 1.0
    css = [f"#{fid} .edge{{stroke-opacity:.5}}",
           f"#{fid}:has(.node:hover) .edge{{stroke-opacity:.06}}",
           f"#{fid} .node:hover circle, #{fid} .node:hover rect{{stroke-width:3}}",
           f"#{fid} text{{font:10px sans-serif;pointer-events:none}}"]
    for i in xy:
        css.append(f"#{fid}:has(#{fid}n{i}:hover) .s{i}, #{fid}:has(#{fid}n{i}:hover) .t{i}"
                   "{stroke-opacity:.95}")
    parts = [f'<svg id="{fid}" xmlns="http://www.w3.org/2000/svg" width="100%" '
             f'viewBox="0 0 {width} {height}" style="max-width:{width}px;height:auto" role="img">',
             f"<style>{' '.join(css)}</style>"]
    if title:
        parts.append(f'<text x="{width / 2}" y="18" text-anchor="middle" '
                     f'style="font-weight:bold">{html.escape(title)}</text>')
    for l in range(L + 2):
        _, y = px(0, l)
        name = "embed" if l == 0 else ("logits" if l == L + 1 else f"layer {l - 1}")
        parts.append(f'<text x="6" y="{y + 4:.1f}" fill="#4a5568">{name}</text>')
    for t, s, w in edges:
        (x0, y0), (x1, y1) = px(*xy[s]), px(*xy[t])
        parts.append(
            f'<line class="edge s{s} t{t}" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="{POSITIVE if w > 0 else NEGATIVE}" '
            f'stroke-width="{0.6 + 5 * abs(w) / biggest:.2f}"><title>{w:+.3f}</title></line>')
    for i, (x, y) in xy.items():
        n = pruned.graph.nodes[i]
        cx, cy = px(x, y)
        text = _node_text(world, pruned, i, labels)
        tip = [f"{n.kind} · layer {n.layer} · position {n.pos}"
               + (f" · feature {n.index}" if n.kind == "feature" else ""),
               f"{'activation' if n.kind == 'feature' else 'probability' if n.kind == 'logit' else 'norm'}"
               f" {n.value:.3f}"]
        if n.kind == "feature":
            tip.insert(0, text)  # before truncation below
        if i in details:
            tip.append(details[i])
        shape = (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="{_KIND_COLOR[n.kind]}" '
                 f'stroke="#2d3748"/>' if n.kind in ("feature", "error") else
                 f'<rect x="{cx - 9:.1f}" y="{cy - 9:.1f}" width="18" height="18" rx="3" '
                 f'fill="{_KIND_COLOR[n.kind]}" stroke="#2d3748"/>')
        dy = -14 if n.kind == "logit" else 22 + 11 * (rank.get(i, 0) % 3)  # stagger neighbours
        if len(text) > 14:  # the full label is in the tooltip
            text = text[:13] + "…"
        parts.append(f'<g class="node" id="{fid}n{i}">{shape}'
                     f'<title>{html.escape(chr(10).join(tip))}</title></g>'
                     f'<text x="{cx:.1f}" y="{cy + dy:.1f}" text-anchor="middle">'
                     f'{html.escape(text)}</text>')
    parts.append("</svg>")
    svg = "".join(parts)

    fig, ax = plt.subplots(figsize=(2.2 * T + 1.5, 1.2 * (L + 2) + 0.8))
    draw_graph(pruned, world, labels, ax=ax, title=title or None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return GraphFigure(svg, buffer.getvalue())


def dashboard_html(world: World, title: str, examples: Sequence[tuple[Prompt, int, float]]) -> str:
    """A feature's top-activating prompts as an HTML table, the firing token highlighted."""
    if not examples:
        return f"<p><b>{html.escape(title)}</b>: never active.</p>"
    top = max(v for _, _, v in examples)
    rows = []
    for prompt, pos, value in examples:
        words = world.decode(prompt.tokens)
        cells = []
        for t, word in enumerate(words):
            if word == "<bos>" and t != pos:
                continue
            style = (f"background:rgba(246,173,85,{0.25 + 0.75 * value / top:.2f});"
                     "font-weight:bold" if t == pos else "")
            cells.append(f'<span style="{style}">{html.escape(word)}</span>')
        rows.append(f"<tr><td>{' '.join(cells)} → {html.escape(world.vocab[prompt.answer])}</td>"
                    f"<td style='text-align:right'>{value:.2f}</td></tr>")
    return (f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
            f"<tr><th>prompt (firing token highlighted)</th><th>activation</th></tr>"
            f"{''.join(rows)}</table>")


def plot_sweep(results: Sequence[Mapping[str, float]], ax: Axes | None = None) -> Axes:
    """Sparsity vs fidelity: total L0 against normalised MSE, one line per dictionary size,
    each point annotated with the replacement model's top-token agreement."""
    if not results:
        raise ValueError("results must not be empty")
    ax = get_axes(ax)
    sizes = sorted({int(r["n_features"]) for r in results})
    for k, F in enumerate(sizes):
        colour = BOOK_COLORS[k % len(BOOK_COLORS)]
        rs = sorted((r for r in results if int(r["n_features"]) == F), key=lambda r: r["l0"])
        ax.plot([r["l0"] for r in rs], [r["nmse"] for r in rs], "o-", color=colour,
                label=f"F = {F} per layer")
        for r in rs:
            ax.annotate(f"λ={r['sparsity']:g}\nagree {r['agreement']:.2f}", (r["l0"], r["nmse"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("L0: active features per token, summed over layers")
    ax.set_ylabel("normalised MSE (mean over layers)")
    ax.legend()
    return ax


def plot_steering(results: Sequence, ax: Axes | None = None) -> Axes:
    """Probabilities of the original and the target answer under the three conditions (baseline,
    suppress, swap), each a mean over ``results`` (a list of
    :class:`~readingroom.clt.experiments.SwapResult`), with the spread as error bars."""
    if not results:
        raise ValueError("results must not be empty")
    ax = get_axes(ax)
    src = torch.tensor([r.p_source_answer for r in results], dtype=torch.float64)
    tgt = torch.tensor([r.p_target_answer for r in results], dtype=torch.float64)
    xs = torch.arange(3, dtype=torch.float64)
    for shift, values, name, colour in ((-0.2, src, "original answer", BOOK_COLORS[0]),
                                        (0.2, tgt, "target state's answer", BOOK_COLORS[1])):
        spread = values.std(0).tolist() if len(results) > 1 else None
        ax.bar((xs + shift).tolist(), values.mean(0).tolist(), 0.38, yerr=spread,
               color=colour, label=name, capsize=3)
    ax.set_xticks(range(3), ["baseline", "suppress source\nstate features", "swap in target\nstate features"])
    ax.set_ylabel("probability of the next token")
    ax.set_ylim(0, 1.05)
    ax.legend()
    return ax
