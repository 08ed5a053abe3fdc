"""Circuit tracing (Ameisen et al., 2025): cross-layer transcoders and attribution graphs.

* :mod:`~readingroom.clt.task` — a world with a known two-hop algorithm (city -> state -> capital)
  and one-digit addition;
* :mod:`~readingroom.clt.adapter` — the hook sites of a model (:class:`ModelAdapter`), freezing;
* :mod:`~readingroom.clt.transcoder` — the :class:`CrossLayerTranscoder` and its training;
* :mod:`~readingroom.clt.graph` — attribution graphs, pruning and scores;
* :mod:`~readingroom.clt.replacement` — replacement model and interventions;
* :mod:`~readingroom.clt.supernodes` — features grouped into supernodes, interventions on them;
* :mod:`~readingroom.clt.experiments` — the chapter's experiments on the toy world model
  (:class:`WorldRecipe`, :func:`train_world_model`, state swaps, the sweep);
* :mod:`~readingroom.clt.plots` — graphs, supernodes, dashboards and the chapter's figures.
"""

from readingroom.clt.adapter import Frozen, ModelAdapter, collect, traced
from readingroom.clt.experiments import (
    WorldRecipe, ablation_predictions, activation_dataset, agreement, feature_activations,
    feature_label, hold_out_cities, sample_measures, state_features, state_swap, swap_all, sweep,
    top_examples, train_world_model, world_accuracies,
)
from readingroom.clt.graph import (
    AttributionGraph, LinearReplacement, Node, PrunedGraph, attribute, graph_scores, influence,
    max_edge_error, nodes_on_paths, normalized, predict_ablation, prune,
)
from readingroom.clt.plots import (
    dashboard_html, draw_supernodes, graph_figure, plot_steering, plot_sweep,
)
from readingroom.clt.replacement import intervene, local_replacement_logits, replacement_logits
from readingroom.clt.supernodes import (
    INTERVENTION_MODES, Supernode, SupernodeGraph, group_supernodes, intervene_supernode,
)
from readingroom.clt.task import STATES, Prompt, World, accuracy, make_world, predict, prompt_loss
from readingroom.clt.transcoder import (
    CLTConfig, CLTMetrics, CrossLayerTranscoder, JumpReLU, evaluate_clt, jump_relu, train_clt,
)

__all__ = [
    "INTERVENTION_MODES", "Supernode", "SupernodeGraph", "group_supernodes", "intervene_supernode",
    "AttributionGraph", "CLTConfig", "CLTMetrics", "CrossLayerTranscoder", "Frozen", "JumpReLU",
    "LinearReplacement", "ModelAdapter", "Node", "Prompt", "PrunedGraph", "STATES", "World",
    "accuracy", "attribute", "collect", "evaluate_clt", "graph_scores", "influence", "intervene",
    "jump_relu", "local_replacement_logits", "make_world", "max_edge_error", "nodes_on_paths", "normalized",
    "predict",
    "predict_ablation", "prompt_loss", "prune", "replacement_logits", "traced", "train_clt",
    # the chapter's experiments
    "WorldRecipe", "ablation_predictions", "activation_dataset", "agreement",
    "feature_activations", "feature_label", "hold_out_cities", "sample_measures", "state_features",
    "state_swap", "swap_all", "sweep", "top_examples", "train_world_model", "world_accuracies",
    # figures
    "dashboard_html", "draw_supernodes", "graph_figure", "plot_steering", "plot_sweep",
]
