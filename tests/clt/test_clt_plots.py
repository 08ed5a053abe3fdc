"""Tests for readingroom.clt.plots: the attribution graph's layout, its interactive SVG and PNG
renderings, the static matplotlib drawing, feature dashboards, the sweep and the steering plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from readingroom.clt import (  # noqa: E402
    AttributionGraph, CLTConfig, ModelAdapter, Node, Prompt, PrunedGraph, World, attribute,
    group_supernodes, prune, train_clt,
)
from readingroom.clt.experiments import SwapResult, activation_dataset  # noqa: E402
from readingroom.clt.plots import (  # noqa: E402
    NEGATIVE, POSITIVE, GraphFigure, dashboard_html, draw_graph, draw_supernodes, graph_figure,
    graph_layout, plot_steering, plot_sweep,
)

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
L = 2


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def clt(world, trained_tiny):
    adapter = ModelAdapter(trained_tiny)
    x, y = activation_dataset(adapter, world.prompts)
    config = CLTConfig(n_layers=L, d_model=adapter.d_model, n_features=24, sparsity=3e-3)
    clt, _ = train_clt(x, y, config, steps=200, batch_size=128, progress=False)
    return clt


@pytest.fixture(scope="module")
def pruned_graphs(world, trained_tiny, clt):
    """Pruned graphs of a capital question (3 tokens) and an addition (5 tokens)."""
    adapter = ModelAdapter(trained_tiny)
    out = {}
    for name, p in (("capital", world.prompt("capital", city="Dallas")),
                    ("add", world.prompt("add", a=3, b=4))):
        out[name] = prune(attribute(adapter, clt, p.tokens))
    return out


@pytest.fixture(scope="module")
def pruned(pruned_graphs):
    return pruned_graphs["capital"]


def _hand_made_graph() -> PrunedGraph:
    """Three features and an error in one cell (layer 0, position 1), one feature elsewhere, the
    embeddings and two logits; node 2 (a feature) is pruned away."""
    nodes = [Node("feature", 0, 1, 7, 1.0), Node("feature", 0, 1, 2, 0.5),
             Node("feature", 0, 2, 0, 0.3), Node("feature", 0, 1, 5, 2.0),
             Node("feature", 1, 2, 4, 1.5), Node("error", 0, 1, -1, 0.1),
             Node("embedding", -1, 0, 0, 1.0), Node("embedding", -1, 1, 5, 1.0),
             Node("embedding", -1, 2, 2, 1.0), Node("logit", 2, 2, 9, 0.6),
             Node("logit", 2, 2, 10, 0.3)]
    n = len(nodes)
    A = torch.zeros(n, n, dtype=torch.float64)
    A[4, 0], A[4, 3], A[9, 4], A[10, 4], A[0, 7], A[9, 5] = 1.0, -0.5, 2.0, -1.0, 0.7, 0.2
    graph = AttributionGraph(torch.tensor([0, 5, 2]), nodes, A, torch.tensor([0.6, 0.3]))
    node_mask = torch.ones(n, dtype=torch.bool)
    node_mask[2] = False
    return PrunedGraph(graph, node_mask, A != 0)


# --- graph_layout ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["capital", "add"])
def test_graph_layout_rows_and_columns(pruned_graphs, name):
    pruned = pruned_graphs[name]
    xy = graph_layout(pruned)
    nodes = pruned.graph.nodes
    assert set(xy) == set(pruned.kept())
    for i, (x, y) in xy.items():
        n = nodes[i]
        assert y == n.layer + 1.0
        assert n.pos - 0.45 <= x <= n.pos + 0.45
    assert {xy[i][1] for i in pruned.kept("embedding")} == {0.0}
    assert {xy[i][1] for i in pruned.kept("logit")} == {L + 1.0}
    assert len(set(xy.values())) == len(xy)  # no two nodes on one spot


def test_graph_layout_spreads_a_cell():
    pruned = _hand_made_graph()
    xy = graph_layout(pruned)
    assert set(xy) == {0, 1, 3, 4, 5, 6, 7, 8, 9, 10}
    # the cell (layer 0, position 1): features by index (2, 5, 7), then the error
    assert [xy[i] for i in (1, 3, 0, 5)] == [pytest.approx((1 + dx, 1.0)) for dx in
                                               (-0.42, -0.14, 0.14, 0.42)]
    assert xy[4] == (2.0, 2.0)  # alone in its cell: centred
    assert [xy[i] for i in (6, 7, 8)] == [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    assert [xy[i] for i in (9, 10)] == [pytest.approx((1.58, 3.0)), pytest.approx((2.42, 3.0))]


# --- graph_figure ---------------------------------------------------------------------------


def _svg(figure: GraphFigure) -> ET.Element:
    html = figure._repr_html_()
    assert html.startswith("<svg ") and html.endswith("</svg>")
    return ET.fromstring(html)


def test_graph_figure_svg_has_every_kept_node_and_edge(world, pruned):
    figure = graph_figure(pruned, world)
    assert isinstance(figure, GraphFigure)
    root = _svg(figure)
    assert root.tag == f"{SVG}svg"
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(groups) == len(pruned.kept())
    fid = root.get("id")
    assert {g.get("id") for g in groups} == {f"{fid}n{i}" for i in pruned.kept()}
    assert all(g.find(f"{SVG}title") is not None and g.find(f"{SVG}title").text for g in groups)
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class", "").split()[0] == "edge"]
    assert len(lines) == int(pruned.edge_mask.sum()) > 0
    edges = {(int(t), int(s)) for t, s in pruned.edge_mask.nonzero().tolist()}
    assert POSITIVE != NEGATIVE
    found = set()
    for line in lines:
        _, s, t = line.get("class").split()
        found.add((int(t[1:]), int(s[1:])))
        title = line.find(f"{SVG}title")
        weight = float(pruned.graph.adjacency[int(t[1:]), int(s[1:])])
        assert title is not None and float(title.text) == pytest.approx(weight, abs=5e-4)
        assert line.get("stroke") == (POSITIVE if weight > 0 else NEGATIVE)  # sign -> colour
    assert found == edges


def test_graph_figure_node_tooltips(world, pruned):
    root = _svg(graph_figure(pruned, world))
    fid = root.get("id")
    for i in pruned.kept():
        n = pruned.graph.nodes[i]
        g = root.find(f".//{SVG}g[@id='{fid}n{i}']")
        tip = g.find(f"{SVG}title").text
        assert f"{n.kind} · layer {n.layer} · position {n.pos}" in tip
        assert f"{n.value:.3f}" in tip


def test_graph_figure_ids_are_unique(world, pruned):
    a, b = _svg(graph_figure(pruned, world)), _svg(graph_figure(pruned, world))
    assert a.get("id") != b.get("id")
    ids_a = [e.get("id") for e in a.iter() if e.get("id")]
    ids_b = [e.get("id") for e in b.iter() if e.get("id")]
    assert len(ids_a) == len(set(ids_a)) and len(ids_b) == len(set(ids_b))
    assert not set(ids_a) & set(ids_b)
    # each figure's CSS only addresses its own ids
    style = a.find(f"{SVG}style").text
    assert set(re.findall(r"#(cg\d+)", style)) == {a.get("id")}


def test_graph_figure_escapes_labels_details_and_title(world, pruned):
    feature = pruned.kept("feature")[0]
    figure = graph_figure(pruned, world, labels={feature: "<&>"},
                          details={feature: "a < b & 'c'"}, title='x<y & "z"')
    html = figure._repr_html_()
    assert "&lt;&amp;&gt;" in html and "<&>" not in html
    root = ET.fromstring(html)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == 'x<y & "z"'
    assert "<&>" in texts
    g = root.find(f".//{SVG}g[@id='{root.get('id')}n{feature}']")
    tip = g.find(f"{SVG}title").text.split("\n")
    assert tip[0] == "<&>" and tip[-1] == "a < b & 'c'"


def test_graph_figure_default_labels(world):
    pruned = _hand_made_graph()
    root = _svg(graph_figure(pruned, world))
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"L0#7", "L1#4", "err", "embed", "layer 0", "layer 1", "logits"} <= texts
    assert {world.vocab[0], world.vocab[5], world.vocab[2]} <= texts  # embeddings: the tokens
    assert f"{world.vocab[9]} 0.60" in texts  # logits: token and probability
    assert "L0#0" not in texts  # the pruned node
    lines = [e for e in root.iter(f"{SVG}line")]
    assert len(lines) == 6


def test_graph_figure_staggers_labels_in_a_cell(world):
    pruned = _hand_made_graph()
    root = _svg(graph_figure(pruned, world))
    children = list(root)
    fid = root.get("id")
    label_y = {int(el.get("id")[len(fid) + 1:]): float(children[k + 1].get("y"))
               for k, el in enumerate(children) if el.get("class") == "node"}
    assert set(label_y) == set(pruned.kept())
    # the cell (layer 0, position 1), left to right: nodes 1, 3, 0, 5; three rows of labels
    ys = [label_y[i] for i in (1, 3, 0, 5)]
    assert ys[0] == ys[3] and ys[1] == pytest.approx(ys[0] + 11) and ys[2] == pytest.approx(ys[0] + 22)
    ax = draw_graph(pruned, world)
    offsets = {t.get_text(): t.xyann[1] for t in ax.texts}
    assert [offsets[k] for k in ("L0#2", "L0#5", "L0#7", "err")] == [-14, -23, -32, -14]


def test_graph_figure_png(world, pruned):
    before = plt.get_fignums()
    figure = graph_figure(pruned, world, title="Dallas")
    png = figure._repr_png_()
    assert isinstance(png, bytes) and png.startswith(PNG_SIGNATURE) and len(png) > 1000
    assert plt.get_fignums() == before  # the matplotlib figure is closed


# --- draw_graph -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["capital", "add"])
def test_draw_graph_ticks_are_the_tokens(world, pruned_graphs, name):
    pruned = pruned_graphs[name]
    ax = draw_graph(pruned, world, title="a title")
    assert isinstance(ax, Axes)
    tokens = world.decode(pruned.graph.tokens)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == ["embed", "layer 0", "layer 1", "logits"]
    assert ax.get_title() == "a title"
    assert len(ax.collections) == len(pruned.kept())  # one marker per node
    assert len(ax.get_lines()) == int(pruned.edge_mask.sum())  # one line per edge


def test_draw_graph_on_given_axes(world):
    _, ax = plt.subplots()
    out = draw_graph(_hand_made_graph(), world, labels={0: "Texas"}, ax=ax)
    assert out is ax
    assert "Texas" in [t.get_text() for t in ax.texts]


# --- draw_supernodes ------------------------------------------------------------------------


def test_draw_supernodes_boxes_edges_and_ticks(world):
    # Texas = nodes 0 (layer 0, position 1) and 4 (layer 1, position 2); 3 is "mixed", 1 unlabelled
    sg = group_supernodes(_hand_made_graph(), {0: "Texas", 4: "Texas", 3: "mixed: a/b"})
    ax = draw_supernodes(sg, world, title="supernodes")
    assert ax.get_title() == "supernodes"
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert len(ax.texts) == len(sg.supernodes)  # one box per supernode
    assert texts["[Texas] ×2"] == pytest.approx((1.5, 1.5))  # mean position and row of members
    assert "[mixed: a/b]" in texts and "[L0#2]" in texts and "err" not in texts
    # the cell (layer 0, position 1) holds [L0#2], [mixed: a/b] and [errors]: spread over it
    assert [texts[k][0] for k in ("[L0#2]", "[mixed: a/b]", "[errors]")] == \
        pytest.approx([0.6, 1.0, 1.4])
    assert [world.vocab[t] for t in (0, 5, 2)] == [k for k in texts if texts[k][1] == 0.0]
    assert f"{world.vocab[9]} 0.60" in texts and f"{world.vocab[10]} 0.30" in texts
    # edges: emb 5 -> Texas, mixed -> Texas (red), Texas -> both logits, errors -> logit;
    # the edge 0 -> 4 lies inside [Texas] and is not drawn
    lines = ax.get_lines()
    assert len(lines) == int((sg.adjacency != 0).sum()) == 5
    assert sorted(line.get_color() for line in lines) == sorted([POSITIVE] * 3 + [NEGATIVE] * 2)
    assert [t.get_text() for t in ax.get_xticklabels()] == world.decode([0, 5, 2])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["embed", "layer 0", "layer 1", "logits"]


def test_draw_supernodes_spreads_supernodes_of_one_cell(world):
    sg = group_supernodes(_hand_made_graph(), {}, nodes=[0, 1, 3, 4])  # three in one cell
    ax = draw_supernodes(sg, world)
    xs = sorted(t.get_position()[0] for t in ax.texts if t.get_position()[1] == 1.0)
    assert xs == pytest.approx([0.6, 1.0, 1.4])


def test_draw_supernodes_on_a_real_graph_and_given_axes(world, pruned):
    _, ax = plt.subplots()
    sg = group_supernodes(pruned, {}, other="other")
    assert draw_supernodes(sg, world, ax=ax) is ax
    assert len(ax.texts) == len(sg.supernodes)


# --- dashboard_html -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_world():
    """A world whose tokens need escaping."""
    vocab = ["<bos>", "<b>", "a&b", "x", "'y'"]
    prompts = [Prompt((0, 1, 2, 3), 4, "state"), Prompt((0, 3, 1), 2, "state")]
    return World(vocab, prompts)


def test_dashboard_html_rows_and_highlight(odd_world):
    p, q = odd_world.prompts
    examples = [(p, 2, 4.0), (q, 1, 1.0), (p, 3, 2.0)]
    html = dashboard_html(odd_world, "feature <7>", examples)
    table = ET.fromstring(html)
    rows = table.findall("tr")
    assert len(rows) == 1 + len(examples)  # a header and one row per example
    assert "".join(table.find("caption").itertext()) == "feature <7>"
    for row, (prompt, pos, value) in zip(rows[1:], examples):
        prompt_cell, value_cell = row.findall("td")
        spans = prompt_cell.findall("span")
        words = [w for w in odd_world.decode(prompt.tokens) if w != "<bos>"]
        assert [s.text for s in spans] == words
        bold = [s.text for s in spans if "font-weight:bold" in s.get("style")]
        assert bold == [odd_world.vocab[prompt.tokens[pos]]]
        assert prompt_cell.text is None and spans[-1].tail.strip() == \
            f"→ {odd_world.vocab[prompt.answer]}"
        assert value_cell.text == f"{value:.2f}"
    assert "rgba(246,173,85,1.00)" in html  # the strongest example is the most opaque
    assert "&lt;b&gt;" in html and "a&amp;b" in html
    assert html.count("<b>") == 1  # the caption's own bold tag; the token "<b>" is escaped


def test_dashboard_html_never_active(odd_world):
    html = dashboard_html(odd_world, "L0#3 <x>", [])
    assert html == "<p><b>L0#3 &lt;x&gt;</b>: never active.</p>"


# --- plot_sweep -----------------------------------------------------------------------------


def _sweep(sizes, lambdas=(0.1, 1.0)):
    return [{"n_features": F, "sparsity": lam, "nmse": 0.5 / (F * (1 + lam)), "l0": F / lam,
             "dead": 0.0, "agreement": 0.5} for F in sizes for lam in lambdas]


def test_plot_sweep_one_line_per_size():
    results = _sweep((16, 4, 8))
    ax = plot_sweep(results)
    lines = ax.get_lines()
    assert len(lines) == 3
    assert [line.get_label() for line in lines] == [f"F = {F} per layer" for F in (4, 8, 16)]
    for line, F in zip(lines, (4, 8, 16)):
        rs = sorted((r for r in results if r["n_features"] == F), key=lambda r: r["l0"])
        assert list(line.get_xdata()) == [r["l0"] for r in rs]
        assert list(line.get_ydata()) == [r["nmse"] for r in rs]
    assert ax.get_yscale() == "log"
    assert len(ax.texts) == len(results)  # every run annotated
    assert "agree 0.50" in ax.texts[0].get_text()


def test_plot_sweep_on_given_axes():
    _, ax = plt.subplots()
    assert plot_sweep(_sweep((4,)), ax=ax) is ax


# Regression: more dictionary sizes than palette colours still get one line each.
def test_plot_sweep_many_sizes():
    sizes = tuple(2 ** k for k in range(2, 11))  # 9 sizes
    ax = plot_sweep(_sweep(sizes))
    assert len(ax.get_lines()) == 9


# --- plot_steering --------------------------------------------------------------------------


def _bars(ax: Axes) -> list[BarContainer]:
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2  # the original and the target answer
    return bars


def _swap(src, tgt) -> SwapResult:
    return SwapResult("Dallas capital:", "Texas", "Ohio", 3, 4, "Austin", "Albany", "Columbus",
                      src, tgt, "Columbus")


def test_plot_steering_bars_are_means():
    results = [_swap((0.9, 0.2, 0.1), (0.0, 0.1, 0.6)), _swap((0.7, 0.4, 0.3), (0.1, 0.1, 0.2)),
               _swap((0.8, 0.0, 0.2), (0.2, 0.4, 0.4))]
    ax = plot_steering(results)
    bars = ax.patches
    assert len(bars) == 6
    src = torch.tensor([r.p_source_answer for r in results]).mean(0)
    tgt = torch.tensor([r.p_target_answer for r in results]).mean(0)
    assert [b.get_height() for b in bars[:3]] == pytest.approx(src.tolist())
    assert [b.get_height() for b in bars[3:]] == pytest.approx(tgt.tolist())
    centres = [b.get_x() + b.get_width() / 2 for b in bars]
    assert centres == pytest.approx([-0.2, 0.8, 1.8, 0.2, 1.2, 2.2])
    assert all(c.errorbar is not None for c in _bars(ax))  # the spread, for > 1 result
    assert ax.get_ylim() == (0, 1.05)
    assert len(ax.get_xticklabels()) == 3


def test_plot_steering_single_result_has_no_error_bars():
    _, ax = plt.subplots()
    out = plot_steering([_swap((0.9, 0.2, 0.1), (0.0, 0.1, 0.6))], ax=ax)
    assert out is ax
    assert [b.get_height() for b in ax.patches] == pytest.approx([0.9, 0.2, 0.1, 0.0, 0.1, 0.6])
    assert all(c.errorbar is None for c in _bars(ax))
