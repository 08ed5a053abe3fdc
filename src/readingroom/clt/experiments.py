"""The chapter's experiments: the toy model, its CLT, feature labels, steering and the sweep.

Everything here is seeded and general over the world's prompts: the "Texas" features are found
by what they respond to, not by index, and the swap experiment runs over every (city, other
state) pair rather than one hand-picked prompt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from readingroom.clt.adapter import ModelAdapter, collect
from readingroom.clt.graph import (
    attribute, graph_scores, nodes_on_paths, predict_ablation, prune,
)
from readingroom.clt.replacement import intervene, local_replacement_logits, replacement_logits
from readingroom.clt.task import (
    Prompt, World, _group_indices, _groups, accuracy, batch, make_world, prompt_loss,
)
from readingroom.clt.transcoder import CLTConfig, CrossLayerTranscoder, evaluate_clt, train_clt
from readingroom.common import TinyTransformer, TransformerConfig, seed_everything, train
from readingroom.common.checks import check_float, check_int, check_seed

__all__ = [
    "WorldRecipe",
    "train_world_model",
    "world_accuracies",
    "activation_dataset",
    "feature_activations",
    "selective_features",
    "state_features",
    "feature_label",
    "top_examples",
    "SwapResult",
    "state_swap",
    "swap_all",
    "agreement",
    "sweep",
    "robustness",
    "ablation_predictions",
    "hold_out_cities",
    "sample_measures",
]


@dataclass(frozen=True)
class WorldRecipe:
    """How the toy model is built and trained (CPU preset by default)."""

    d_model: int = 64
    n_layers: int = 3
    n_heads: int = 4
    steps: int = 800
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup: int = 50
    seed: int = 0
    freeze_embeddings: bool = True


def train_world_model(world: World, recipe: WorldRecipe = WorldRecipe(), *,
                      progress: bool = True) -> tuple[TinyTransformer, object]:
    """Train a :class:`~readingroom.common.TinyTransformer` on the world's training prompts
    (full batch: every trained prompt at every step; held-out capital questions never seen).

    Returns ``(model in eval mode, TrainHistory)``.
    """
    if not isinstance(world, World):
        raise TypeError(f"world must be a World, got {type(world).__name__}")
    seed_everything(recipe.seed)
    n_ctx = max(len(p.tokens) for p in world.prompts)
    model = TinyTransformer(TransformerConfig(
        vocab_size=world.vocab_size, n_ctx=n_ctx, d_model=recipe.d_model,
        n_layers=recipe.n_layers, n_heads=recipe.n_heads))
    if recipe.freeze_embeddings:
        model.tok_emb.weight.requires_grad_(False)
    prompts = world.select(held_out=False)
    history = train(model, lambda step: (0, 0), steps=recipe.steps, lr=recipe.lr,
                    weight_decay=recipe.weight_decay, warmup=recipe.warmup,
                    loss_fn=lambda m, x, y: prompt_loss(m, prompts), progress=progress,
                    desc="two-hop model")
    return model.eval(), history


def world_accuracies(model: nn.Module, world: World) -> dict[str, float]:
    """Greedy accuracy on each kind of prompt, with the held-out capitals on their own."""
    return {
        "state": accuracy(model, world.select("state")),
        "capital (trained)": accuracy(model, world.select("capital", held_out=False)),
        "capital (held out)": accuracy(model, world.select("capital", held_out=True)),
        "add": accuracy(model, world.select("add")),
    }


@torch.no_grad()
def activation_dataset(adapter: ModelAdapter,
                       prompts: Sequence[Prompt]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every position of every prompt: ``(x, y)`` ``[L, N, D]`` for :func:`train_clt`."""
    if not prompts:
        raise ValueError("prompts must not be empty")
    xs, ys = [], []
    for group in _groups(prompts):
        tokens, _ = batch(group)
        x, y = collect(adapter, tokens)
        xs.append(x.flatten(1, 2))
        ys.append(y.flatten(1, 2))
    return torch.cat(xs, 1), torch.cat(ys, 1)


@torch.no_grad()
def feature_activations(adapter: ModelAdapter, clt: CrossLayerTranscoder,
                        prompts: Sequence[Prompt]) -> list[torch.Tensor]:
    """The CLT's activations on each prompt, ``[L, T, F]`` each, in the prompts' order."""
    out: list[torch.Tensor | None] = [None] * len(prompts)
    for idx in _group_indices(prompts):
        tokens, _ = batch([prompts[i] for i in idx])
        x, _ = collect(adapter, tokens)
        a = clt.encode(x)  # [L, B, T, F]
        for b, i in enumerate(idx):
            out[i] = a[:, b]
    return out


def selective_features(prompts: Sequence[Prompt], acts: Sequence[torch.Tensor], key: str,
                       value: object, *, min_frac: float = 1.0) -> list[tuple[int, int, int]]:
    """Features ``(layer, pos, index)`` that respond to ``info[key] == value`` and nothing else.

    A feature qualifies when it is active on at least ``min_frac`` of the prompts with that value
    and on none of the prompts (having ``key``) with another value.
    """
    if len(prompts) != len(acts):
        raise ValueError(f"prompts and acts differ in length: {len(prompts)} vs {len(acts)}")
    check_float(min_frac, "min_frac", low=0, low_open=True, high=1)
    with_key = [(p, a) for p, a in zip(prompts, acts) if key in p.info]
    ours = [a > 0 for p, a in with_key if p.info[key] == value]
    others = [a > 0 for p, a in with_key if p.info[key] != value]
    if not ours:
        raise ValueError(f"no prompt has {key}={value!r}")
    shapes = {tuple(a.shape) for a in ours + others}
    count = torch.zeros(max(shapes))
    for on in ours:
        count[tuple(slice(0, s) for s in on.shape)] += on.float()
    banned = torch.zeros(max(shapes), dtype=torch.bool)
    for on in others:
        banned[tuple(slice(0, s) for s in on.shape)] |= on
    good = (count >= min_frac * len(ours)) & ~banned & (count > 0)
    return [tuple(k) for k in good.nonzero().tolist()]


def top_examples(world: World, prompts: Sequence[Prompt], acts: Sequence[torch.Tensor],
                 layer: int, index: int, k: int = 5) -> list[tuple[Prompt, int, float]]:
    """The ``k`` strongest activations of feature ``(layer, index)``: ``(prompt, pos, value)``."""
    check_int(k, "k", minimum=1)
    found = []
    for p, a in zip(prompts, acts):
        col = a[layer, :, index]
        t = int(col.argmax())
        if float(col[t]) > 0:
            found.append((p, t, float(col[t])))
    found.sort(key=lambda e: -e[2])
    return found[:k]


def feature_label(world: World, prompts: Sequence[Prompt], acts: Sequence[torch.Tensor],
                  layer: int, pos: int, index: int, *, min_share: float = 1.0) -> str:
    """A short name for feature ``(layer, index)`` at ``pos``, from what distinguishes the prompts
    it fires on there from those it does not.

    A label names a group of prompts only when the feature fires on (nearly) *all* of the group:
    on at least ``min_share`` of its members among ``prompts``. Every prompt about Texas is also
    about Dallas when the feature fires only on Dallas, so "fires only on Texas prompts" is not
    enough to call it Texas; firing on Dallas, Houston *and* El Paso is. Only prompts long enough
    to have position ``pos`` count. First match wins:

    1. ``"inactive"``: it fires on no prompt.
    2. ``"say Austin"``: it fires only at the last position of prompts answered ``Austin``, and on
       at least ``min_share`` of all the prompts ending at ``pos`` with that answer.
    3. City prompts only: group the cities it fires on (under either question) by state. A state
       is *covered* when it fires on at least ``min_share`` of that state's cities; a covered
       state is named (``"Texas"``), an uncovered one by its cities (``"Dallas"``). Up to two such
       names, sorted: ``"Texas"``, ``"Dallas"``, ``"Dallas/Houston"``, ``"Illinois/Texas"``,
       ``"Chicago/Texas"``.
    4. Addition: ``"sum=7"``, ``"a=3"`` or ``"b=4"`` when every prompt it fires on shares that
       value and it fires on at least ``min_share`` of the prompts with it.
    5. ``"'<bos>' (most prompts)"``: it fires on more than half of the prompts, named by its most
       common token.
    6. Otherwise the subjects (city, ``a+b``, or the token at ``pos``) of its strongest examples:
       one subject alone (``"3+4"``), else ``"mixed: "`` and the two strongest (``"mixed:
       Dallas/Chicago"``; ties in the prompts' order), ``"/…"`` marking more.

    The default ``min_share=1.0`` demands every member. With three cities per state, a value in
    ``(2/3, 1]`` still demands all three, and ``2/3`` lets a state feature miss one city.
    """
    if len(prompts) != len(acts):
        raise ValueError(f"prompts and acts differ in length: {len(prompts)} vs {len(acts)}")
    if not prompts:
        raise ValueError("prompts must not be empty")
    check_float(min_share, "min_share", low=0, low_open=True, high=1)
    n_layers, n_features = acts[0].shape[0], acts[0].shape[-1]
    for name, value, size in (("layer", layer, n_layers), ("pos", pos, None),
                              ("index", index, n_features)):
        check_int(value, name, minimum=0)
        if size is not None and value >= size:
            raise ValueError(f"{name} must be in [0, {size}), got {value}")
    reach = [(p, float(a[layer, pos, index]) > 0) for p, a in zip(prompts, acts) if pos < a.shape[1]]
    on = [p for p, fired in reach if fired]
    if not on:
        return "inactive"

    def covers(members: list[bool]) -> bool:  # fires on at least min_share of a group
        return bool(members) and sum(members) >= min_share * len(members)

    answers = {p.answer for p in on}
    if all(pos == len(p.tokens) - 1 for p in on) and len(answers) == 1:
        answer = answers.pop()
        if covers([fired for p, fired in reach if pos == len(p.tokens) - 1 and p.answer == answer]):
            return "say " + world.vocab[answer]
    if all("city" in p.info and "state" in p.info for p in on):
        hit = {p.info["city"] for p in on}
        names: set[str] = set()
        for state in {p.info["state"] for p in on}:
            cities = {p.info["city"] for p, _ in reach if p.info.get("state") == state}
            if covers([c in hit for c in sorted(cities)]):
                names.add(str(state))
            else:
                names |= {str(c) for c in cities & hit}
        if len(names) <= 2:
            return "/".join(sorted(names))
    if all("a" in p.info and "b" in p.info for p in on):
        for name, fn in (("sum", lambda p: p.info["a"] + p.info["b"]),
                         ("a", lambda p: p.info["a"]), ("b", lambda p: p.info["b"])):
            values = {fn(p) for p in on}
            if len(values) == 1:
                value = values.pop()
                group = [fired for p, fired in reach
                         if "a" in p.info and "b" in p.info and fn(p) == value]
                if covers(group):
                    return f"{name}={value}"
    if len(on) > len(reach) / 2:  # fires on most prompts: name the token, not a subject
        token = Counter(world.vocab[p.tokens[pos]] for p in on).most_common(1)[0][0]
        return f"'{token}' (most prompts)"
    # Otherwise: what its strongest examples are about (their city, their sum, or the token).
    strongest = sorted(((-float(a[layer, pos, index]), k) for k, (p, a) in enumerate(
        zip(prompts, acts)) if pos < a.shape[1] and float(a[layer, pos, index]) > 0))
    subjects: list[str] = []
    for _, k in strongest:  # strongest first; ties in the prompts' order
        info = prompts[k].info
        subject = str(info["city"]) if "city" in info else (
            f"{info['a']}+{info['b']}" if "a" in info and "b" in info
            else world.vocab[prompts[k].tokens[pos]])
        if subject not in subjects:
            subjects.append(subject)
    if len(subjects) == 1:
        return subjects[0]
    return "mixed: " + "/".join(subjects[:2]) + ("/…" if len(subjects) > 2 else "")


@dataclass
class SwapResult:
    """One steering experiment on one prompt (probabilities of the next token)."""

    prompt: str
    source: str  # the prompt's state
    target: str  # the state swapped in
    n_suppressed: int
    n_injected: int
    base_top: str
    suppressed_top: str
    swapped_top: str
    p_source_answer: tuple[float, float, float]  # baseline, suppressed, swapped
    p_target_answer: tuple[float, float, float]
    target_answer: str

    @property
    def swap_worked(self) -> bool:
        """The swapped prompt's top next token is the target state's answer."""
        return self.swapped_top == self.target_answer


def state_features(prompts: Sequence[Prompt], acts: Sequence[torch.Tensor], state: str,
                   layers: Sequence[int] | None = None, *,
                   max_other: float = 0.5) -> dict[tuple[int, int, int], float]:
    """The features that fire on *every* prompt about ``state``, whatever the question, and on at
    most ``max_other`` of the prompts about other states, with their mean activation:
    ``{(layer, pos, index): mean}``.

    ``prompts`` should hold both questions about each city (``state:`` and ``capital:``, same
    length). A feature that fires for all of a state's cities under both questions is a feature
    of the state, the intermediate both answers need: not of one city (it would miss the
    others), and not an output like "say Austin" (it would miss the ``state:`` question). The
    ``max_other`` bound drops features that fire on nearly everything (e.g. at ``<bos>``), while
    keeping features that a few states share.
    """
    check_float(max_other, "max_other", low=0, high=1, high_open=True)
    mine = [a for p, a in zip(prompts, acts) if p.info.get("state") == state]
    others = [a for p, a in zip(prompts, acts)
              if "state" in p.info and p.info["state"] != state]
    if not mine:
        raise ValueError(f"no prompt about state {state!r}")
    if len({tuple(a.shape) for a in mine + others}) != 1:
        raise ValueError("the city prompts must all have one length")
    stack = torch.stack(mine)  # [n, L, T, F]
    on = (stack > 0).all(0)  # [L, T, F]
    if others:
        on &= (torch.stack(others) > 0).float().mean(0) <= max_other
    if layers is not None:
        keep = torch.zeros_like(on)
        keep[list(layers)] = True
        on &= keep
    mean = stack.mean(0)
    return {(l, t, i): float(mean[l, t, i]) for l, t, i in on.nonzero().tolist()}


def state_swap(world: World, adapter: ModelAdapter, clt: CrossLayerTranscoder,
               prompts: Sequence[Prompt], acts: Sequence[torch.Tensor], prompt: Prompt,
               target_state: str, *, layers: Sequence[int] | None = None,
               suppress: float = 0.0, inject: float = 1.0) -> SwapResult:
    """Steer ``prompt`` from its state to ``target_state`` through the state features.

    *Suppress*: every :func:`state_features` of the prompt's state is clamped to 0. *Swap*:
    additionally, every state feature of ``target_state`` is clamped to its
    mean activation over that state's prompts (so features the two states share take the target's
    value). ``layers`` restricts the clamps to some layers (``None``: all). As in the paper's
    interventions, the clamps may overshoot: source features go to ``suppress`` times their mean
    activation (0: off; -1: reversed) and target features to ``inject`` times theirs.
    """
    source = prompt.info.get("state")
    city = prompt.info.get("city")
    if source is None or city is None:
        raise ValueError("prompt has no city and state (only city prompts can be steered)")
    if target_state == source or target_state not in {p.info.get("state") for p in prompts}:
        raise ValueError(f"target_state must be another state of the prompts, got {target_state!r}")
    mine = state_features(prompts, acts, source, layers)
    theirs = state_features(prompts, acts, target_state, layers)
    off = {f: suppress * v for f, v in mine.items()}
    swap = {**off, **{f: inject * v for f, v in theirs.items()}}
    tokens = torch.tensor([prompt.tokens])
    runs = [intervene(adapter, clt, tokens, c)[0, -1].softmax(-1) for c in ({}, off, swap)]
    tgt = next(p for p in prompts if p.info.get("state") == target_state and p.task == prompt.task)
    top = [world.vocab[int(r.argmax())] for r in runs]
    return SwapResult(world.text(prompt.tokens), source, target_state, len(mine), len(theirs),
                      top[0], top[1], top[2], tuple(float(r[prompt.answer]) for r in runs),
                      tuple(float(r[tgt.answer]) for r in runs), world.vocab[tgt.answer])


def swap_all(world: World, adapter: ModelAdapter, clt: CrossLayerTranscoder,
             task: str = "capital", *, layers: Sequence[int] | None = None,
             suppress: float = 0.0, inject: float = 1.0) -> list[SwapResult]:
    """:func:`state_swap` for every city prompt of ``task`` and every other state."""
    prompts = world.select("state") + world.select("capital")
    acts = feature_activations(adapter, clt, prompts)
    states = sorted({p.info["state"] for p in prompts})
    return [state_swap(world, adapter, clt, prompts, acts, p, s, layers=layers, suppress=suppress,
                       inject=inject)
            for p in world.select(task) for s in states if s != p.info["state"]]


@torch.no_grad()
def agreement(adapter: ModelAdapter, clt: CrossLayerTranscoder, prompts: Sequence[Prompt]) -> float:
    """Fraction of prompts on which the replacement model's top next token is the model's."""
    if not prompts:
        raise ValueError("prompts must not be empty")
    same = 0
    for group in _groups(prompts):
        tokens, _ = batch(group)
        real = adapter.logits(tokens)[:, -1].argmax(-1)
        rep = replacement_logits(adapter, clt, tokens)[:, -1].argmax(-1)
        same += int((real == rep).sum())
    return same / len(prompts)


def sweep(adapter: ModelAdapter, prompts: Sequence[Prompt], sizes: Sequence[int],
          sparsities: Sequence[float], *, steps: int = 1000, seed: int = 0,
          base: CLTConfig | None = None, progress: bool = True) -> list[dict]:
    """Train one CLT per (dictionary size, lambda) and measure fidelity and sparsity.

    Returns one dict per run: ``n_features, sparsity, nmse`` (mean over layers), ``l0`` (summed
    over layers), ``dead`` and ``agreement`` (replacement model vs model, top token).
    """
    x, y = activation_dataset(adapter, prompts)
    base = base or CLTConfig(adapter.n_layers, adapter.d_model)
    results = []
    for F in sizes:
        for lam in sparsities:
            cfg = CLTConfig(**{**asdict(base), "n_features": F, "sparsity": lam})
            clt, _ = train_clt(x, y, cfg, steps=steps, seed=seed, progress=progress,
                               desc=f"CLT F={F} lambda={lam:g}")
            m = evaluate_clt(clt, x, y)
            results.append({"n_features": F, "sparsity": lam, "nmse": m.mean_nmse,
                            "l0": m.total_l0, "dead": m.dead,
                            "agreement": agreement(adapter, clt, prompts)})
    return results


def robustness(seed: int, *, recipe: WorldRecipe | None = None, config: CLTConfig | None = None,
               clt_steps: int = 2000, suppress: float = -1.0, inject: float = 2.0,
               progress: bool = False) -> dict:
    """The chapter's pipeline for one seed (model, CLT, steering, the Dallas graph), summarised.

    Trains the world model and its CLT with ``seed``, then records: the accuracies, the CLT's
    worst-layer normalised MSE and total L0, the replacement model's agreement, the swap
    experiment over every (capital prompt, other state) pair with the given clamps, the Dallas
    graph (its feature count before and after pruning, its replacement and completeness scores
    unpruned and pruned, and the :func:`feature_label` of every feature on the pruned graph's
    paths from ``Dallas`` to its answer), and the Pearson correlation over the capital prompts
    between the graph's predicted and the measured change of the answer's logit when the state
    features are switched off (:func:`ablation_predictions`): ``ablation_corr["real"]`` against
    the real model, ``["local"]`` against the local replacement model.
    """
    check_seed(seed)
    world = make_world()
    recipe = WorldRecipe(seed=seed) if recipe is None else replace(recipe, seed=seed)
    model, _ = train_world_model(world, recipe, progress=progress)
    adapter = ModelAdapter(model)
    x, y = activation_dataset(adapter, world.prompts)
    config = config or CLTConfig(adapter.n_layers, adapter.d_model)
    clt, _ = train_clt(x, y, config, steps=clt_steps, seed=seed, progress=progress)
    metrics = evaluate_clt(clt, x, y)
    results = swap_all(world, adapter, clt, "capital", suppress=suppress, inject=inject)
    dallas = world.prompt("capital", city="Dallas")
    graph = attribute(adapter, clt, dallas.tokens)
    pruned = prune(graph)
    acts = feature_activations(adapter, clt, world.prompts)
    source = graph.node_index("embedding", -1, list(dallas.tokens).index(world.index["Dallas"]))
    on_path = [i for i in nodes_on_paths(pruned, source, graph.indices("logit")[0])
               if graph.nodes[i].kind == "feature"]
    changes = ablation_predictions(world, adapter, clt, "capital")
    n = len(results)
    return {
        "seed": seed,
        "accuracy": world_accuracies(model, world),
        "nmse_max": max(metrics.nmse),
        "l0": metrics.total_l0,
        "agreement": agreement(adapter, clt, world.prompts),
        "swap_rate": sum(r.swap_worked for r in results) / n,
        "suppress_changes": sum(r.suppressed_top != r.base_top for r in results) / n,
        "p_answer": [sum(r.p_source_answer[k] for r in results) / n for k in range(3)],
        "dallas_path": sorted({feature_label(world, world.prompts, acts, graph.nodes[i].layer,
                                             graph.nodes[i].pos, graph.nodes[i].index)
                               for i in on_path}),
        "features": len(graph.indices("feature")),
        "kept_features": len(pruned.kept("feature")),
        "scores": graph_scores(graph),
        "pruned_scores": graph_scores(pruned),
        "ablation_corr": {"real": _corr(changes["predicted"], changes["real"]),
                          "local": _corr(changes["predicted"], changes["local"])},
    }


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two 1-d tensors (nan when either is constant or has < 2 entries)."""
    return float(torch.corrcoef(torch.stack([a.double(), b.double()]))[0, 1])


def ablation_predictions(world: World, adapter: ModelAdapter, clt: CrossLayerTranscoder,
                         task: str = "capital") -> dict[str, torch.Tensor]:
    """For every city prompt of ``task``: switch off its state's :func:`state_features` that are
    nodes of its attribution graph, and measure the change of the answer's de-meaned logit three
    ways — as the graph predicts (:func:`~readingroom.clt.predict_ablation`), in the real model
    (:func:`~readingroom.clt.intervene`) and in the local replacement model.

    Returns ``{"predicted", "real", "local"}``, one float64 tensor each, one entry per prompt
    whose graph has at least one such feature.
    """
    city_prompts = world.select("state") + world.select("capital")
    acts = feature_activations(adapter, clt, city_prompts)
    out: dict[str, list[float]] = {"predicted": [], "real": [], "local": []}
    for prompt in world.select(task):
        graph = attribute(adapter, clt, prompt.tokens)
        keys = {n.key: i for i, n in enumerate(graph.nodes) if n.kind == "feature"}
        nodes = {keys[f]: 0.0 for f in state_features(city_prompts, acts, prompt.info["state"])
                 if f in keys}
        if not nodes:
            continue
        k = graph.nodes[graph.indices("logit")[0]].index
        clamps = {graph.nodes[i].key: 0.0 for i in nodes}
        tokens = torch.tensor([prompt.tokens])

        def demeaned(z: torch.Tensor) -> float:
            return float(z[k] - z.mean())

        with torch.no_grad():
            base = demeaned(adapter.logits(tokens)[0, -1].double())
        out["predicted"].append(float(predict_ablation(graph, nodes)[0]))
        out["real"].append(demeaned(intervene(adapter, clt, tokens, clamps)[0, -1].double()) - base)
        out["local"].append(demeaned(local_replacement_logits(graph, clamps)[-1]) - base)
    return {name: torch.tensor(v, dtype=torch.float64) for name, v in out.items()}


def hold_out_cities(prompts: Sequence[Prompt], *, per_state: int = 1, seed: int = 0,
                    cities: Sequence[str] | None = None) -> tuple[list[Prompt], list[Prompt]]:
    """Split ``prompts`` into ``(fit, held)`` for a transcoder that must not see some cities.

    ``held`` is every prompt about a held-out city, under either question (``state:`` and
    ``capital:``); ``fit`` is everything else (the other cities' prompts and every prompt without a
    city, such as addition), both in the prompts' order. A CLT fitted on the activations of
    ``fit`` has never seen a held-out city's token or anything computed from it.

    The held-out cities are ``cities`` when given (all of a state's cities hold out the whole
    state); otherwise ``per_state`` cities of every state, drawn with ``seed``, so that every state
    keeps at least one fitted city.
    """
    check_int(per_state, "per_state", minimum=1)
    check_seed(seed)
    by_state: dict[object, list[object]] = {}
    for p in prompts:
        if "city" in p.info and "state" in p.info:
            found = by_state.setdefault(p.info["state"], [])
            if p.info["city"] not in found:
                found.append(p.info["city"])
    if not by_state:
        raise ValueError("prompts must hold city prompts (info with 'city' and 'state')")
    if cities is not None:
        if isinstance(cities, str):
            raise TypeError(f"cities must be a sequence of city names, not the string {cities!r}")
        known = {c for found in by_state.values() for c in found}
        unknown = sorted(str(c) for c in set(cities) - known)
        if not cities or unknown:
            raise ValueError(f"cities must name cities of the prompts, got {list(cities)!r}"
                             + (f" (unknown: {unknown})" if unknown else ""))
        held_cities = set(cities)
    else:
        fewest = min(len(found) for found in by_state.values())
        if per_state >= fewest:
            raise ValueError(f"per_state must leave every state a fitted city: at most "
                             f"{fewest - 1}, got {per_state}")
        g = torch.Generator().manual_seed(seed)
        held_cities = set()
        for state in sorted(by_state, key=str):
            found = by_state[state]
            held_cities |= {found[k] for k in torch.randperm(len(found), generator=g)[:per_state]}
    fit = [p for p in prompts if p.info.get("city") not in held_cities]
    held = [p for p in prompts if p.info.get("city") in held_cities]
    return fit, held


def sample_measures(world: World, adapter: ModelAdapter, clt: CrossLayerTranscoder,
                    prompts: Sequence[Prompt], reference: Sequence[Prompt], *,
                    suppress: float = -1.0, inject: float = 2.0) -> dict[str, float]:
    """The chapter's quality measures of ``clt`` on the city prompts ``prompts``.

    Meant to be called once on prompts the CLT was fitted on and once on prompts it never saw:

    * ``nmse`` (mean over layers) and ``nmse_max`` (worst layer): the normalised MSE of the
      reconstruction over every position of ``prompts`` (one minus the explained variance);
      ``l0``: active features per token, summed over layers;
    * ``agreement``: the fraction of ``prompts`` on which the replacement model's top next token is
      the model's;
    * ``replacement`` and ``completeness``: the mean :func:`~readingroom.clt.graph_scores` of the
      unpruned attribution graphs of the ``capital:`` prompts among ``prompts``;
    * ``swap_rate``: for every ``capital:`` prompt among ``prompts`` and every other state, whether
      the :func:`state_swap` with these clamps gives the target's capital. The state features
      are chosen on ``reference`` (city prompts of both questions, usually the fitted ones), so a
      held-out city is steered with features found without it. Prompts whose state has no
      prompt in ``reference`` (a held-out state) are not steered; ``nan`` when none is.
    """
    if not prompts:
        raise ValueError("prompts must not be empty")
    if not reference:
        raise ValueError("reference must not be empty")
    if any("city" not in p.info or "state" not in p.info for p in prompts):
        raise ValueError("prompts must all be city prompts (info with 'city' and 'state')")
    capitals = [p for p in prompts if p.task == "capital"]
    if not capitals:
        raise ValueError("prompts must hold at least one 'capital' prompt")
    x, y = activation_dataset(adapter, prompts)
    with torch.no_grad():
        metrics = evaluate_clt(clt, x, y)
    scores = [graph_scores(attribute(adapter, clt, p.tokens)) for p in capitals]
    acts = feature_activations(adapter, clt, reference)
    states = sorted({p.info["state"] for p in reference if "state" in p.info}, key=str)
    swaps = [state_swap(world, adapter, clt, reference, acts, p, s, suppress=suppress,
                        inject=inject).swap_worked
             for p in capitals if p.info["state"] in states for s in states if s != p.info["state"]]
    return {
        "nmse": metrics.mean_nmse,
        "nmse_max": max(metrics.nmse),
        "l0": metrics.total_l0,
        "agreement": agreement(adapter, clt, prompts),
        "replacement": sum(s["replacement"] for s in scores) / len(scores),
        "completeness": sum(s["completeness"] for s in scores) / len(scores),
        "swap_rate": sum(swaps) / len(swaps) if swaps else float("nan"),
    }
