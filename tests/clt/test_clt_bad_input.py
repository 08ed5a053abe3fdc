"""Every error path of readingroom.clt's entry points, in one table: a bad input is refused with a
TypeError or ValueError whose message names the parameter.

The objects the calls need are small and built lazily, once (an untrained TinyTransformer and
CLT, the Dallas graph on them, the hand-made pruned graphs of the other test files): the checks
run before any of them is used, so nothing is trained here.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from test_clt_graph import _hand_pruned  # noqa: E402
from test_clt_plots import _hand_made_graph  # noqa: E402
from test_clt_supernodes import LABELS, _hand_made  # noqa: E402
from torch import nn  # noqa: E402

from readingroom.clt import (  # noqa: E402
    CLTConfig, CrossLayerTranscoder, Frozen, ModelAdapter, Prompt, Supernode, World, accuracy,
    activation_dataset, agreement, attribute, evaluate_clt, feature_label, graph_scores,
    group_supernodes, hold_out_cities, influence, intervene, intervene_supernode, jump_relu,
    local_replacement_logits, make_world, max_edge_error, nodes_on_paths, normalized,
    predict_ablation, prompt_loss, prune, replacement_logits, sample_measures, state_features,
    state_swap, swap_all, top_examples, traced, train_clt, train_world_model,
)
from readingroom.clt.experiments import selective_features  # noqa: E402
from readingroom.clt.plots import (  # noqa: E402
    draw_graph, draw_supernodes, graph_layout, plot_steering, plot_sweep,
)
from readingroom.clt.task import batch  # noqa: E402
from readingroom.common import TinyTransformer, TransformerConfig  # noqa: E402
from refusals import refusal_test

# --- cheap shared objects, built on first use ------------------------------------------------


@functools.cache
def world() -> World:
    return make_world()


@functools.cache
def model() -> nn.Module:
    """An untrained TinyTransformer of the conftest's size (2 layers, d_model 32)."""
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=world().vocab_size, n_ctx=8, d_model=32, n_layers=2,
                               n_heads=4, d_mlp=64)
    return TinyTransformer(config).eval()


@functools.cache
def adapter() -> ModelAdapter:
    return ModelAdapter(model())


@functools.cache
def clt() -> CrossLayerTranscoder:
    """An untrained CLT of 24 features per layer, scaled to the model and with a low threshold so
    that the Dallas graph has feature nodes."""
    torch.manual_seed(0)
    out = CrossLayerTranscoder(CLTConfig(n_layers=2, d_model=32, n_features=24,
                                         threshold_init=1e-3))
    x, y = activation_dataset(adapter(), world().select("capital"))
    out.set_scales(x, y)
    return out


def dallas() -> tuple[int, ...]:
    return world().prompt("capital", city="Dallas").tokens


def tokens() -> torch.Tensor:
    """Four three-token prompts."""
    return batch(world().select("state")[3:5] + world().select("capital")[:2])[0]


@functools.cache
def graph():
    graph = attribute(adapter(), clt(), dallas())
    assert graph.indices("feature"), "the table needs a graph with feature nodes"
    return graph


def feature() -> int:
    return graph().indices("feature")[0]


def city_prompts() -> list[Prompt]:
    return world().select("state") + world().select("capital")


def _prompt(length: int = 3, **info) -> Prompt:
    return Prompt(tuple(range(length)), 0, "state", False, info)


def _acts(n: int, T: int = 3) -> list[torch.Tensor]:
    """``n`` all-zero activations ``[L=2, T, F=4]``."""
    return [torch.zeros(2, T, 4) for _ in range(n)]


def texas_ohio() -> tuple[list[Prompt], list[torch.Tensor]]:
    """Two Texas prompts, one Ohio prompt and one addition prompt, with their activations."""
    prompts = [_prompt(state="Texas"), _prompt(state="Texas"), _prompt(state="Ohio"),
               _prompt(5, a=1, b=2)]
    return prompts, _acts(3) + _acts(1, T=5)


def capitals() -> tuple[list[Prompt], list[torch.Tensor]]:
    prompts = [world().prompt("capital", city=c) for c in ("Dallas", "Houston", "Chicago")]
    return prompts, _acts(3)


def dallas_prompts() -> list[Prompt]:
    """Both questions about Dallas (the held-out prompts of a split)."""
    return [world().prompt("state", city="Dallas"), world().prompt("capital", city="Dallas")]


def fit_cities() -> list[Prompt]:
    return [p for p in city_prompts() if p.info["city"] != "Dallas"]


def _cfg(**kw) -> CLTConfig:
    return CLTConfig(n_layers=2, d_model=4, **kw)


L, D = 3, 8  # the transcoder's own tests: 3 layers, d_model 8
TRAIN_CFG = CLTConfig(n_layers=L, d_model=D, n_features=16, sparsity=1e-3)


def small_clt() -> CrossLayerTranscoder:
    torch.manual_seed(0)
    return CrossLayerTranscoder(CLTConfig(n_layers=L, d_model=D, n_features=6))


def data(n: int = 8, zero: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``x, y`` ``[L, n, D]``; ``zero="x"`` or ``"y"`` makes that tensor's layer 1 all zero."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(L, n, D, generator=g), torch.randn(L, n, D, generator=g)
    if zero is not None:
        (x if zero == "x" else y)[1] = 0
    return x, y


def _enter(context) -> None:
    with context:
        pass


# --- the table ------------------------------------------------------------------------------

BAD_TOKENS_2D = [torch.tensor([0, 1, 2]), torch.zeros(1, 1, 3, dtype=torch.long), [[0, 1, 2]]]
BAD_ONE_PROMPT = [torch.tensor([[0, 6, 1], [0, 7, 1]]), torch.tensor([]),
                  torch.zeros(1, 1, 3, dtype=torch.long), [], torch.tensor(3)]
BAD_CLAMP_KEYS = [(0, 0), (0, 0, 0, 0), ("0", 0, 0), (0.0, 0, 0), (0, 1.0, 0), 5, "0,0,0",
                  (0, 0, None)]
OUTSIDE_CLAMPS = [(2, 0, 0), (-1, 0, 0), (0, 3, 0), (0, -4, 0), (0, 0, 24), (0, 0, -1)]
BAD_RUN_TOKENS = [torch.zeros(1, 1, 3, dtype=torch.long), torch.zeros(1, 0, dtype=torch.long),
                  torch.tensor(3)]
COEFFICIENTS = ["sparsity", "c", "preact", "bandwidth", "threshold_init"]
SHAPES = [(torch.zeros(L + 1, 4, D), ValueError, "must have shape"),
          (torch.zeros(L, 4, D + 1), ValueError, "must have shape"),
          (torch.zeros(L), ValueError, "must have shape"),
          (torch.zeros(L, 4, D, dtype=torch.long), TypeError, "floating-point"),
          ([[0.0] * D] * L, TypeError, "torch.Tensor")]


def _run(fn, tokens, clamps=None):
    """``intervene`` or ``replacement_logits`` on the shared adapter and CLT."""
    args = (tokens, {} if clamps is None else clamps) if fn is intervene else (tokens,)
    return lambda a=None, c=None: fn(adapter() if a is None else a, clt() if c is None else c,
                                     *args)


CASES = [
    # (id, call, exception, match)
    # adapter
    ("ModelAdapter: a str", lambda: ModelAdapter("gpt2"), TypeError,
     "must be a torch.nn.Module"),
    ("ModelAdapter: a Linear", lambda: ModelAdapter(nn.Linear(4, 4)), TypeError,
     "Linear has no supported layout"),
    ("ModelAdapter: attention only",
     lambda: ModelAdapter(TinyTransformer(TransformerConfig(vocab_size=10, n_ctx=8, d_model=16,
                                                            d_mlp=0))),
     ValueError, "d_mlp=0"),
    ("Frozen: mode replay", lambda: Frozen("replay"), ValueError, "mode must be one of record, apply"),
    ("Frozen.applied: nothing recorded", lambda: Frozen().applied(), ValueError,
     "nothing was recorded"),
    ("traced: a model, not an adapter", lambda: _enter(traced(model())), TypeError,
     "adapter must be a ModelAdapter"),
    *[(f"logits: tokens {i}", lambda b=b: adapter().logits(b), ValueError, "2-D")
      for i, b in enumerate(BAD_TOKENS_2D)],
    # task
    *[(f"make_world: {k}={v!r}", lambda k=k, v=v: make_world(**{k: v}), exc, k)
      for k, v, exc in [("held_out_index", 3, ValueError), ("held_out_index", -1, ValueError),
                        ("held_out_index", 1.0, TypeError), ("held_out_index", True, TypeError),
                        ("max_digit", 0, ValueError), ("max_digit", 10, ValueError),
                        ("max_digit", 3.0, TypeError), ("max_digit", "9", TypeError)]],
    ("encode: unknown word", lambda: world().encode(["Dallas", "Atlantis"]), ValueError,
     "Atlantis"),
    ("encode: a str", lambda: world().encode("Dallas"), TypeError, "sequence of token strings"),
    ("encode: an int", lambda: world().encode(5), TypeError, "sequence of token strings"),
    *[(f"decode: {ids}", lambda ids=ids: world().decode(ids), ValueError, "outside")
      for ids in ([999], [-1], [1.0], [0, 1, 74])],
    ("decode: float tensor", lambda: world().decode(torch.tensor([0.0, 1.0])), ValueError,
     "outside"),
    ("select: unknown task", lambda: world().select("multiply"), ValueError,
     "task must be one of"),
    *[(f"prompt: {task} {info}", lambda task=task, info=info: world().prompt(task, **info),
       ValueError, match)
      for task, info, match in [("capital", {}, "30 match"),
                                ("capital", {"city": "Atlantis"}, "0 match"),
                                ("capital", {"state": "Texas"}, "3 match"),
                                ("add", {"a": 3}, "10 match")]],
    ("prompt: unknown task", lambda: world().prompt("multiply", city="Dallas"), ValueError,
     "task must be one of"),
    ("batch: empty", lambda: batch([]), ValueError, "must not be empty"),
    ("batch: unequal lengths",
     lambda: batch([world().select("state")[0], world().select("add")[0]]), ValueError,
     r"equal lengths.*\[3, 5\]"),
    ("prompt_loss: empty", lambda: prompt_loss(model(), []), ValueError, "must not be empty"),
    ("accuracy: empty", lambda: accuracy(model(), []), ValueError, "must not be empty"),
    # experiments
    *[(f"train_world_model: world {bad!r}", lambda bad=bad: train_world_model(bad, progress=False),
       TypeError, "world must be a World") for bad in (None, "world", [1, 2])],
    ("activation_dataset: empty", lambda: activation_dataset(adapter(), []), ValueError,
     "prompts must not be empty"),
    ("selective_features: lengths differ",
     lambda: selective_features(texas_ohio()[0], texas_ohio()[1][:3], "state", "Texas"),
     ValueError, "differ in length: 4 vs 3"),
    *[(f"selective_features: min_frac {bad}",
       lambda bad=bad: selective_features(*texas_ohio(), "state", "Texas", min_frac=bad),
       ValueError, "min_frac must be in") for bad in (0, -0.5, 1.01)],
    ("selective_features: no such value",
     lambda: selective_features(*texas_ohio(), "state", "Utah"), ValueError,
     "no prompt has state='Utah'"),
    ("selective_features: no such key",
     lambda: selective_features(*texas_ohio(), "city", "Dallas"), ValueError,
     "no prompt has city"),
    ("state_features: no such state", lambda: state_features(*texas_ohio(), "Utah2"), ValueError,
     "no prompt about state 'Utah2'"),
    *[(f"state_features: max_other {bad}",
       lambda bad=bad: state_features(*texas_ohio(), "Texas", max_other=bad), ValueError,
       r"max_other must be in \[0, 1\)") for bad in (1.0, 1.5, -0.1)],
    ("state_features: two lengths",
     lambda: state_features(texas_ohio()[0][:3] + [_prompt(4, state="Ohio")],
                            _acts(3) + _acts(1, T=4), "Texas"),
     ValueError, "one length"),
    ("top_examples: k 0", lambda: top_examples(world(), *capitals(), 1, 2, k=0), ValueError,
     "k must be a positive int"),
    ("top_examples: k 2.0", lambda: top_examples(world(), *capitals(), 1, 2, k=2.0), TypeError,
     "k must be an int"),
    ("feature_label: lengths differ",
     lambda: feature_label(world(), capitals()[0], capitals()[1][:-1], 1, 1, 3), ValueError,
     "differ in length"),
    ("feature_label: empty", lambda: feature_label(world(), [], [], 1, 1, 3), ValueError,
     "prompts must not be empty"),
    *[(f"feature_label: min_share {bad}",
       lambda bad=bad: feature_label(world(), *capitals(), 1, 1, 3, min_share=bad), ValueError,
       "min_share") for bad in (0, -0.5, 1.01)],
    *[(f"feature_label: min_share {bad!r}",
       lambda bad=bad: feature_label(world(), *capitals(), 1, 1, 3, min_share=bad), TypeError,
       "min_share") for bad in ("1", True, None)],
    *[(f"feature_label: {name} {args}",
       lambda args=args: feature_label(world(), *capitals(), *args), ValueError, name)
      for name, args in (("layer", (2, 1, 3)), ("layer", (-1, 1, 3)), ("pos", (1, -1, 3)),
                         ("index", (1, 1, 4)), ("index", (1, 1, -2)))],
    ("feature_label: layer 1.0", lambda: feature_label(world(), *capitals(), 1.0, 1, 3),
     TypeError, "layer"),
    ("state_swap: not a city prompt",
     lambda: state_swap(world(), adapter(), clt(), city_prompts(), _acts(60),
                        world().prompt("add", a=3, b=4), "Ohio"),
     ValueError, "prompt has no city and state"),
    *[(f"state_swap: target {bad}",
       lambda bad=bad: state_swap(world(), adapter(), clt(), city_prompts(), _acts(60),
                                  world().prompt("capital", city="Dallas"), bad),
       ValueError, f"target_state must be another state.*'{bad}'")
      for bad in ("Texas", "Utah", "Austin")],
    ("swap_all: unknown task", lambda: swap_all(world(), adapter(), clt(), "capitals"),
     ValueError, "task must be one of"),
    ("agreement: empty", lambda: agreement(adapter(), clt(), []), ValueError, "prompts"),
    *[(f"hold_out_cities: {kwargs}", lambda kwargs=kwargs: hold_out_cities(world().prompts,
                                                                           **kwargs),
       ValueError, match)
      for kwargs, match in [(dict(per_state=0), "per_state"),
                            (dict(per_state=3), "per_state"),  # none left to fit
                            (dict(seed=-1), "seed"), (dict(cities=[]), "cities"),
                            (dict(cities=["Dallas", "Atlantis"]), "cities.*Atlantis")]],
    *[(f"hold_out_cities: {kwargs}", lambda kwargs=kwargs: hold_out_cities(world().prompts,
                                                                           **kwargs),
       TypeError, match)
      for kwargs, match in [(dict(per_state=1.0), "per_state"), (dict(seed="0"), "seed"),
                            (dict(cities="Dallas"), "cities")]],
    ("hold_out_cities: no city prompts", lambda: hold_out_cities(world().select("add")),
     ValueError, "prompts"),
    ("hold_out_cities: empty", lambda: hold_out_cities([]), ValueError, "prompts"),
    ("sample_measures: empty prompts",
     lambda: sample_measures(world(), adapter(), clt(), [], fit_cities()), ValueError, "prompts"),
    ("sample_measures: empty reference",
     lambda: sample_measures(world(), adapter(), clt(), dallas_prompts(), []), ValueError,
     "reference"),
    ("sample_measures: an addition prompt",
     lambda: sample_measures(world(), adapter(), clt(),
                             dallas_prompts() + world().select("add")[:1], fit_cities()),
     ValueError, "prompts"),
    ("sample_measures: no capital prompt",
     lambda: sample_measures(world(), adapter(), clt(), dallas_prompts()[:1], fit_cities()),
     ValueError, "capital"),
    # graph
    ("node_index: no such node", lambda: graph().node_index("feature", 5, 0, 0), ValueError,
     "no feature node at layer 5"),
    ("indices: unknown kind", lambda: graph().indices("neuron"), ValueError,
     "kind must be one of"),
    ("graph_scores: a tensor", lambda: graph_scores(graph().adjacency), TypeError,
     "graph must be an AttributionGraph or PrunedGraph"),
    *[(f"normalized: {i}", lambda bad=bad: normalized(bad), ValueError, "square")
      for i, bad in enumerate([torch.zeros(3, 4), torch.zeros(3), [[0.0]]])],
    ("influence: weights of another size", lambda: influence(torch.zeros(3, 3), torch.zeros(4)),
     ValueError, r"weights must have shape \[3\]"),
    *[(f"prune: {k}={v}", lambda k=k, v=v: prune(graph(), **{k: v}), ValueError, f"{k} must be in")
      for k, v in [("node_threshold", 0), ("node_threshold", 1.5), ("edge_threshold", 0.0),
                   ("edge_threshold", -1)]],
    *[(f"prune: {k}={v!r}", lambda k=k, v=v: prune(graph(), **{k: v}), TypeError, k)
      for k, v in [("node_threshold", "0.8"), ("edge_threshold", True),
                   ("node_threshold", None)]],
    *[(f"predict_ablation: {which} node",
       lambda which=which: predict_ablation(graph(), {{
           "error": graph().indices("error")[0], "embedding": graph().indices("embedding")[0],
           "logit": graph().indices("logit")[0], "out of range": len(graph().nodes),
           "negative": -1}[which]: 0.0}),
       ValueError, "feature-node positions")
      for which in ["error", "embedding", "logit", "out of range", "negative"]],
    ("attribute: a model, not an adapter", lambda: attribute(model(), clt(), dallas()),
     TypeError, "adapter must be a ModelAdapter"),
    ("attribute: a state dict, not a CLT",
     lambda: attribute(adapter(), clt().state_dict(), dallas()), TypeError,
     "clt must be a CrossLayerTranscoder"),
    *[(f"attribute: a CLT for L={n}, D={d}",
       lambda n=n, d=d: attribute(adapter(), CrossLayerTranscoder(CLTConfig(
           n_layers=n, d_model=d, n_features=4)), dallas()),
       ValueError, "the CLT is for") for n, d in [(3, 32), (2, 16), (1, 32)]],
    *[(f"attribute: tokens {i}", lambda t=t: attribute(adapter(), clt(), t), ValueError,
       "tokens must be one prompt") for i, t in enumerate(BAD_ONE_PROMPT)],
    *[(f"attribute: {k}={v!r}", lambda k=k, v=v: attribute(adapter(), clt(), dallas(), **{k: v}),
       ValueError, k)
      for k, v in [("max_logits", 0), ("max_logits", -2), ("logit_mass", 0),
                   ("logit_mass", 1.5), ("logit_mass", -0.1), ("logit_mass", float("nan")),
                   ("batch_size", 0)]],
    *[(f"attribute: {k}={v!r}", lambda k=k, v=v: attribute(adapter(), clt(), dallas(), **{k: v}),
       TypeError, k)
      for k, v in [("max_logits", 2.5), ("max_logits", "3"), ("max_logits", True),
                   ("logit_mass", "0.5"), ("batch_size", 1.5), ("batch_size", True)]],
    *[(f"nodes_on_paths: {end} {bad!r}",
       lambda end=end, bad=bad: nodes_on_paths(_hand_pruned([(1, 0)]),
                                               *((bad, 1) if end == "source" else (0, bad))),
       ValueError, f"{end} must be a node position")
      for end in ("source", "target") for bad in (-1, 99, 1.5, "0")],
    *[(f"max_edge_error: factor {bad!r}", lambda bad=bad: max_edge_error(graph(), factor=bad),
       ValueError, "factor must be a number other than 1") for bad in (1, 1.0, True, "2")],
    ("max_edge_error: no replacement",
     lambda: max_edge_error(dataclasses.replace(graph(), replacement=None)), TypeError,
     "built by attribute"),
    # replacement
    ("local_replacement_logits: a tensor", lambda: local_replacement_logits(graph().adjacency, {}),
     TypeError, "graph must be an AttributionGraph built by attribute"),
    ("local_replacement_logits: no replacement",
     lambda: local_replacement_logits(dataclasses.replace(graph(), replacement=None), {}),
     TypeError, "graph must be an AttributionGraph built by attribute"),
    ("intervene: clamps a list",
     lambda: intervene(adapter(), clt(), tokens(), [((0, 0, 0), 1.0)]), TypeError,
     "clamps must be a mapping"),
    ("local_replacement_logits: clamps None", lambda: local_replacement_logits(graph(), None),
     TypeError, "clamps must be a mapping"),
    *[(f"intervene: clamp key {key!r}",
       lambda key=key: intervene(adapter(), clt(), tokens(), {key: 1.0}), ValueError,
       "int triples") for key in BAD_CLAMP_KEYS],
    *[(f"local_replacement_logits: clamp key {key!r}",
       lambda key=key: local_replacement_logits(graph(), {key: 1.0}), ValueError,
       "int triples") for key in BAD_CLAMP_KEYS],
    *[(f"intervene: clamp {key}",
       lambda key=key: intervene(adapter(), clt(), tokens(), {key: 1.0}), ValueError,
       "is outside layers") for key in OUTSIDE_CLAMPS],
    *[(f"local_replacement_logits: clamp {key}",
       lambda key=key: local_replacement_logits(graph(), {key: 1.0}), ValueError,
       "is outside layers") for key in OUTSIDE_CLAMPS],
    *[row for fn in (intervene, replacement_logits) for row in [
        (f"{fn.__name__}: a model, not an adapter",
         lambda fn=fn: _run(fn, tokens())(a=model()), TypeError,
         "adapter must be a ModelAdapter"),
        (f"{fn.__name__}: clt None",
         lambda fn=fn: fn(adapter(), None, *((tokens(), {}) if fn is intervene else (tokens(),))),
         TypeError, "clt must be a CrossLayerTranscoder"),
        (f"{fn.__name__}: a CLT for 3 layers",
         lambda fn=fn: _run(fn, tokens())(c=CrossLayerTranscoder(CLTConfig(
             n_layers=3, d_model=32, n_features=4))),
         ValueError, "the CLT is for L=3"),
        *[(f"{fn.__name__}: tokens {i}", lambda fn=fn, bad=bad: _run(fn, bad)(), ValueError,
           "tokens must be") for i, bad in enumerate(BAD_RUN_TOKENS)],
    ]],
    # supernodes
    ("find: a pruned node", lambda: group_supernodes(_hand_made(), LABELS, other="other").find(5),
     ValueError, "node must be a member of a supernode"),
    ("named: unknown name",
     lambda: group_supernodes(_hand_made(), LABELS, other="other").named("California"),
     ValueError, "name must be one of"),
    *[(f"on_paths: {end} {bad!r}",
       lambda end=end, bad=bad: group_supernodes(_hand_made(), LABELS).on_paths(
           *((bad, 0) if end == "source" else (0, bad))),
       ValueError, f"{end} must be a supernode position")
      for end in ("source", "target") for bad in (-1, 99, 1.5, True)],
    ("group_supernodes: unpruned graph", lambda: group_supernodes(_hand_made().graph, LABELS),
     TypeError, "pruned must be a PrunedGraph, got AttributionGraph"),
    ("group_supernodes: labels a list", lambda: group_supernodes(_hand_made(), ["Texas"]),
     TypeError, "labels must be a mapping"),
    ("group_supernodes: other 1", lambda: group_supernodes(_hand_made(), LABELS, other=1),
     TypeError, "other must be a string or None"),
    ("group_supernodes: other empty", lambda: group_supernodes(_hand_made(), LABELS, other=""),
     ValueError, "other must not be empty"),
    ("group_supernodes: other a label",
     lambda: group_supernodes(_hand_made(), LABELS, other="Texas"), ValueError,
     "other must differ from every feature label"),
    *[(f"group_supernodes: nodes {nodes}",
       lambda nodes=nodes: group_supernodes(_hand_made(), LABELS, nodes=nodes), ValueError,
       "nodes must be positions of kept nodes")
      for nodes in ([5], [99], [0, "1"], [True])],  # pruned, absent, not ints
    ("intervene_supernode: no replacement",
     lambda: intervene_supernode(dataclasses.replace(graph(), replacement=None), [feature()], 0.0),
     TypeError, "graph must be an AttributionGraph built by attribute"),
    ("intervene_supernode: a str", lambda: intervene_supernode("graph", [feature()], 0.0),
     TypeError, "graph must be an AttributionGraph"),
    *[(f"intervene_supernode: factor {bad!r}",
       lambda bad=bad: intervene_supernode(graph(), [feature()], bad), TypeError,
       "factor must be a float") for bad in (True, "0", None)],
    *[(f"intervene_supernode: factor {bad}",
       lambda bad=bad: intervene_supernode(graph(), [feature()], bad), ValueError,
       "factor must be a finite float") for bad in (math.nan, math.inf)],
    ("intervene_supernode: mode",
     lambda: intervene_supernode(graph(), [feature()], 0.0, mode="iterative"), ValueError,
     "mode must be one of"),
    ("intervene_supernode: no members", lambda: intervene_supernode(graph(), [], 0.0), ValueError,
     "members must hold at least one feature node"),
    ("intervene_supernode: an empty supernode",
     lambda: intervene_supernode(graph(), Supernode("empty", "feature", ()), 0.0), ValueError,
     "members must hold at least one feature node"),
    *[(f"intervene_supernode: member {which}",
       lambda which=which: intervene_supernode(graph(), [feature(), {
           "embedding": graph().indices("embedding")[0], "logit": graph().indices("logit")[0],
           "negative": -1, "out of range": len(graph().nodes), "bool": True}[which]], 0.0),
       ValueError, "members must be positions of feature nodes")
      for which in ("embedding", "logit", "negative", "out of range", "bool")],
    # plots
    *[(f"graph_layout: {bad!r}", lambda bad=bad: graph_layout(bad), TypeError,
       "pruned must be a PrunedGraph") for bad in (None, "graph", 3)],
    ("graph_layout: unpruned graph", lambda: graph_layout(_hand_made_graph().graph), TypeError,
     "pruned must be a PrunedGraph, got AttributionGraph"),
    ("draw_graph: ax a str", lambda: draw_graph(_hand_made_graph(), world(), ax="axes"),
     TypeError, "ax must be a matplotlib Axes"),
    ("draw_supernodes: a pruned graph", lambda: draw_supernodes(_hand_made_graph(), world()),
     TypeError, "sgraph must be a SupernodeGraph, got PrunedGraph"),
    ("draw_supernodes: world a str",
     lambda: draw_supernodes(group_supernodes(_hand_made_graph(), {}), "world"), TypeError,
     "world must be a World"),
    ("draw_supernodes: ax a str",
     lambda: draw_supernodes(group_supernodes(_hand_made_graph(), {}), world(), ax="axes"),
     TypeError, "ax must be a matplotlib Axes"),
    ("plot_sweep: empty", lambda: plot_sweep([]), ValueError, "results must not be empty"),
    ("plot_steering: empty", lambda: plot_steering([]), ValueError, "results must not be empty"),
    # transcoder
    *[(f"CLTConfig: {name}={bad!r}", lambda name=name, bad=bad: CLTConfig(
        **{"n_layers": 2, "d_model": 4, name: bad}), exc, name)
      for name in ("n_layers", "d_model", "n_features")
      for bad, exc in [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError),
                       ("4", TypeError), (None, TypeError)]],
    *[(f"CLTConfig: {name}={bad!r}", lambda name=name, bad=bad: _cfg(**{name: bad}), TypeError,
       f"{name} must be a float") for name in COEFFICIENTS for bad in ("0.1", None, True)],
    *[(f"CLTConfig: {name}={bad}", lambda name=name, bad=bad: _cfg(**{name: bad}), ValueError,
       name) for name in COEFFICIENTS for bad in (float("nan"), float("inf"), -0.1)],
    *[(f"CLTConfig: {name}=0", lambda name=name: _cfg(**{name: 0.0}), ValueError,
       f"{name} must be a positive finite float, got 0.0")
      for name in ("c", "bandwidth", "threshold_init")],
    *[(f"CLTConfig: cross_layer={bad!r}", lambda bad=bad: _cfg(cross_layer=bad), TypeError,
       "cross_layer must be a bool") for bad in (1, "yes", None)],
    *[(f"jump_relu: theta {shape}",
       lambda shape=shape: jump_relu(torch.zeros(2, 4), torch.zeros(shape), 0.1), ValueError,
       r"theta must have shape \[4\]") for shape in [(3,), (4, 4), (1,), ()]],
    ("CrossLayerTranscoder: a dict",
     lambda: CrossLayerTranscoder({"n_layers": 2, "d_model": 4}), TypeError,
     "config must be a CLTConfig"),
    *[(f"set_scales: {which} all zero at a layer",
       lambda which=which: small_clt().set_scales(*data(zero=which)), ValueError,
       f"{name}: a layer's activations are all zero")
      for which, name in [("x", "in_scale"), ("y", "out_scale")]],
    *[row for i, (bad, exc, match) in enumerate(SHAPES) for row in [
        (f"set_scales: x {i}", lambda bad=bad: small_clt().set_scales(bad, data()[1]), exc, match),
        (f"loss: y {i}", lambda bad=bad: small_clt().loss(data()[0], bad), exc, match),
        (f"evaluate_clt: x {i}", lambda bad=bad: evaluate_clt(small_clt(), bad, data()[1]), exc,
         match),
    ]],
    ("loss: shapes differ", lambda: small_clt().loss(data()[0], data()[1][:, :4]), ValueError,
     "x and y must have the same shape"),
    *[(f"train_clt: {kwargs}",
       lambda kwargs=kwargs: train_clt(*data(), TRAIN_CFG, progress=False, **kwargs), exc, match)
      for kwargs, exc, match in [
          ({"steps": 0}, ValueError, "steps"), ({"steps": 1.5}, TypeError, "steps"),
          ({"batch_size": 0}, ValueError, "batch_size"), ({"seed": -1}, ValueError, "seed"),
          ({"lr": 0}, ValueError, "lr must be a positive finite float"),
          ({"lr": -1e-3}, ValueError, "lr must be a positive finite float"),
          ({"lr": "0.1"}, TypeError, "lr must be a float"),
          ({"ramp": -0.1}, ValueError, "ramp must be in"),
          ({"ramp": 1.5}, ValueError, "ramp must be in")]],
    ("train_clt: config a dict",
     lambda: train_clt(*data(), dataclasses.asdict(TRAIN_CFG), progress=False), TypeError,
     "config must be a CLTConfig"),
    ("train_clt: x 2-D", lambda: train_clt(data()[0][0], data()[1], TRAIN_CFG, progress=False),
     ValueError, r"x must be a \[L, N, D\] tensor"),
    ("train_clt: y 4-D",
     lambda: train_clt(data()[0], data()[1].reshape(L, 2, 4, D), TRAIN_CFG, progress=False),
     ValueError, r"y must be a \[L, N, D\] tensor"),
    ("train_clt: x a list",
     lambda: train_clt(data()[0].tolist(), data()[1], TRAIN_CFG, progress=False), ValueError,
     "x must be a"),
    ("train_clt: two layers of three",
     lambda: train_clt(data()[0][:2], data()[1][:2], TRAIN_CFG, progress=False), ValueError,
     "the config expects"),
    ("train_clt: width 4 of 8",
     lambda: train_clt(data()[0][..., :4], data()[1][..., :4], TRAIN_CFG, progress=False),
     ValueError, "the config expects"),
    ("train_clt: shapes differ",
     lambda: train_clt(data()[0], data()[1][:, :4], TRAIN_CFG, progress=False), ValueError,
     "x and y must have the same shape"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
