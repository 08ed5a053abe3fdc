"""Tests for readingroom.clt.experiments: training the world's model, the activation datasets, the
feature finders and labels (on hand-made activations, so every branch is hit deterministically),
the state-swap steering experiment, the replacement model's agreement and the CLT sweep."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
import torch

from readingroom.clt import (
    STATES, CLTConfig, ModelAdapter, Prompt, accuracy, attribute, collect, evaluate_clt, intervene,
    predict, predict_ablation, replacement_logits, train_clt,
)
from readingroom.clt.experiments import (
    SwapResult, WorldRecipe, ablation_predictions, activation_dataset, agreement, feature_activations, feature_label,
    selective_features, state_features, state_swap, swap_all, sweep, top_examples,
    train_world_model, world_accuracies,
)
from readingroom.clt.task import batch
from readingroom.common import TinyTransformer, TransformerConfig, seed_everything

L, F = 2, 24  # the conftest's TinyTransformer has 2 layers; our CLT has 24 features per layer
N_CITIES = sum(len(cities) for cities, _ in STATES.values())
SWEEP_KEYS = {"n_features", "sparsity", "nmse", "l0", "dead", "agreement"}
TINY = WorldRecipe(d_model=16, n_layers=2, n_heads=2, steps=60, warmup=5)


@pytest.fixture(scope="module")
def adapter(trained_tiny):
    return ModelAdapter(trained_tiny)


@pytest.fixture(scope="module")
def clt(world, adapter):
    """A small CLT on the trained TinyTransformer (only the tiny kind, unlike conftest's clts)."""
    x, y = activation_dataset(adapter, world.prompts)
    config = CLTConfig(n_layers=L, d_model=adapter.d_model, n_features=F, sparsity=3e-3)
    clt, _ = train_clt(x, y, config, steps=200, batch_size=128, progress=False)
    return clt


@pytest.fixture(scope="module")
def city_prompts(world):
    return world.select("state") + world.select("capital")


@pytest.fixture(scope="module")
def city_acts(adapter, clt, city_prompts):
    return feature_activations(adapter, clt, city_prompts)


@pytest.fixture(scope="module")
def capital_swaps(world, adapter, clt):
    return swap_all(world, adapter, clt, "capital")


def _fresh_model(world, recipe: WorldRecipe) -> TinyTransformer:
    """The model ``train_world_model`` starts from (same seed, same config)."""
    seed_everything(recipe.seed)
    n_ctx = max(len(p.tokens) for p in world.prompts)
    return TinyTransformer(TransformerConfig(
        vocab_size=world.vocab_size, n_ctx=n_ctx, d_model=recipe.d_model,
        n_layers=recipe.n_layers, n_heads=recipe.n_heads))


def _prompt(length: int = 3, **info) -> Prompt:
    """A hand-made prompt: only its length and ``info`` matter to the feature finders."""
    return Prompt(tuple(range(length)), 0, "state", False, info)


def _acts(on: dict[tuple[int, int, int], float], T: int = 3) -> torch.Tensor:
    """Hand-made activations ``[L, T, F]`` with the given features set (others 0)."""
    a = torch.zeros(L, T, 4)
    for key, value in on.items():
        a[key] = value
    return a


# --- the model ------------------------------------------------------------------------------


def test_world_recipe_defaults():
    r = WorldRecipe()
    assert (r.d_model, r.n_layers, r.n_heads, r.steps) == (64, 3, 4, 800)
    assert (r.lr, r.weight_decay, r.warmup, r.seed) == (3e-3, 0.1, 50, 0)
    assert r.freeze_embeddings is True
    with pytest.raises(AttributeError):
        r.steps = 1  # frozen dataclass


@pytest.fixture(scope="module")
def tiny_runs(world):
    """freeze_embeddings True, True again (same seed) and False: ``(model, history)`` each."""
    frozen = train_world_model(world, TINY, progress=False)
    again = train_world_model(world, TINY, progress=False)
    free = train_world_model(world, dataclasses.replace(TINY, freeze_embeddings=False),
                             progress=False)
    return frozen, again, free


def test_train_world_model_returns_eval_model_and_history(world, tiny_runs):
    model, history = tiny_runs[0]
    assert isinstance(model, TinyTransformer)
    assert not model.training
    assert len(history.losses) == TINY.steps
    assert history.losses[-1] < history.losses[0]
    cfg = model.config
    assert (cfg.d_model, cfg.n_layers, cfg.n_heads) == (16, 2, 2)
    assert cfg.vocab_size == world.vocab_size
    assert cfg.n_ctx == max(len(p.tokens) for p in world.prompts) == 5


def test_frozen_embeddings_stay_at_their_initial_value(world, tiny_runs):
    model, _ = tiny_runs[0]
    init = _fresh_model(world, TINY)
    assert model.tok_emb.weight.requires_grad is False
    assert torch.equal(model.tok_emb.weight, init.tok_emb.weight)
    # the rest of the model did train
    assert not torch.equal(model.unembed.weight, init.unembed.weight)
    assert not torch.equal(model.pos_emb.weight, init.pos_emb.weight)


def test_unfrozen_embeddings_train(world, tiny_runs):
    model, _ = tiny_runs[2]
    init = _fresh_model(world, TINY)
    assert model.tok_emb.weight.requires_grad is True
    assert not torch.equal(model.tok_emb.weight, init.tok_emb.weight)


def test_train_world_model_is_repeatable(tiny_runs):
    (a, ha), (b, hb) = tiny_runs[0], tiny_runs[1]
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ha.losses == hb.losses


def test_train_world_model_seed_matters(world, tiny_runs):
    other, _ = train_world_model(world, dataclasses.replace(TINY, seed=1, steps=6),
                                 progress=False)
    assert not torch.equal(other.tok_emb.weight, tiny_runs[0][0].tok_emb.weight)


def test_world_accuracies(world, trained_tiny):
    acc = world_accuracies(trained_tiny, world)
    assert list(acc) == ["state", "capital (trained)", "capital (held out)", "add"]
    assert all(0.0 <= v <= 1.0 for v in acc.values())
    held_out = world.select("capital", held_out=True)
    assert acc["capital (held out)"] == accuracy(trained_tiny, held_out)
    assert acc["add"] == accuracy(trained_tiny, world.select("add"))
    assert acc["state"] == 1.0  # the conftest's model fits its training prompts


# --- activations ----------------------------------------------------------------------------


def test_activation_dataset_covers_every_token(world, adapter):
    x, y = activation_dataset(adapter, world.prompts)
    n_tokens = sum(len(p.tokens) for p in world.prompts)
    assert n_tokens == 2 * N_CITIES * 3 + 100 * 5
    assert x.shape == y.shape == (L, n_tokens, adapter.d_model)


def test_activation_dataset_is_collect_per_length(world, adapter):
    prompts = world.select("add")[:7] + world.select("capital")[:5] + world.select("add")[40:43]
    x, y = activation_dataset(adapter, prompts)
    xs, ys = [], []
    for length in sorted({len(p.tokens) for p in prompts}):  # shortest first, order kept
        cx, cy = collect(adapter, batch([p for p in prompts if len(p.tokens) == length])[0])
        xs.append(cx.flatten(1, 2))
        ys.append(cy.flatten(1, 2))
    assert torch.equal(x, torch.cat(xs, 1)) and torch.equal(y, torch.cat(ys, 1))
    assert x.shape[1] == 5 * 3 + 10 * 5


def _alone(adapter, clt, p: Prompt) -> torch.Tensor:
    x, _ = collect(adapter, torch.tensor([p.tokens]))
    return clt.encode(x)[:, 0]


def test_feature_activations_in_prompt_order(world, adapter, clt):
    dallas = world.prompt("capital", city="Dallas")
    prompts = [world.prompt("add", a=3, b=4), dallas, world.prompt("state", city="Chicago"),
               world.prompt("add", a=3, b=4), dallas, world.prompt("add", a=0, b=9),
               world.prompt("capital", city="Miami")]
    acts = feature_activations(adapter, clt, prompts)
    assert len(acts) == len(prompts)
    for p, a in zip(prompts, acts):
        assert a.shape == (L, len(p.tokens), F)
        torch.testing.assert_close(a, _alone(adapter, clt, p))
    assert torch.equal(acts[1], acts[4]) and torch.equal(acts[0], acts[3])
    assert not torch.equal(acts[0], acts[5])


def test_feature_activations_shuffled_world(world, adapter, clt):
    order = torch.randperm(len(world.prompts), generator=torch.Generator().manual_seed(3))
    prompts = [world.prompts[i] for i in order.tolist()][:40]
    acts = feature_activations(adapter, clt, prompts)
    assert len(acts) == 40
    for p, a in zip(prompts, acts):
        torch.testing.assert_close(a, _alone(adapter, clt, p))


# --- selective_features ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def selective_case():
    """Two Texas prompts, one Ohio prompt, one addition prompt (without the key)."""
    prompts = [_prompt(state="Texas"), _prompt(state="Texas"), _prompt(state="Ohio"),
               _prompt(5, a=1, b=2)]
    acts = [
        _acts({(0, 1, 0): 1.0, (0, 1, 1): 2.0, (1, 2, 3): 1.0, (1, 0, 2): 0.5}),
        _acts({(0, 1, 0): 3.0, (1, 2, 3): 1.0, (1, 0, 2): 0.5}),
        _acts({(1, 2, 3): 1.0, (0, 2, 2): 4.0}),
        _acts({(1, 0, 2): 9.0, (0, 4, 1): 1.0}, T=5),  # has no "state": cannot ban anything
    ]
    return prompts, acts


def test_selective_features_fire_on_all_of_the_value_and_none_else(selective_case):
    prompts, acts = selective_case
    assert selective_features(prompts, acts, "state", "Texas") == [(0, 1, 0), (1, 0, 2)]
    assert selective_features(prompts, acts, "state", "Ohio") == [(0, 2, 2)]


def test_selective_features_min_frac(selective_case):
    prompts, acts = selective_case
    assert selective_features(prompts, acts, "state", "Texas", min_frac=0.5) == \
        [(0, 1, 0), (0, 1, 1), (1, 0, 2)]
    assert selective_features(prompts, acts, "state", "Texas", min_frac=0.51) == \
        [(0, 1, 0), (1, 0, 2)]


def test_selective_features_mixed_lengths():
    prompts = [_prompt(3, a=1), _prompt(5, a=1), _prompt(5, a=2)]
    acts = [_acts({(0, 0, 0): 1.0}), _acts({(0, 0, 0): 1.0, (0, 4, 1): 1.0}, T=5),
            _acts({(0, 4, 2): 1.0}, T=5)]
    assert selective_features(prompts, acts, "a", 1) == [(0, 0, 0)]
    assert selective_features(prompts, acts, "a", 1, min_frac=0.5) == [(0, 0, 0), (0, 4, 1)]
    assert selective_features(prompts, acts, "a", 2) == [(0, 4, 2)]


# --- state_features -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_case():
    """Two prompts per state (Texas, Ohio, Utah), all of length 3, plus an addition prompt."""
    prompts = [_prompt(state=s) for s in ("Texas", "Texas", "Ohio", "Ohio", "Utah", "Utah")]
    prompts.append(_prompt(5, a=1, b=2))
    bos = {(0, 0, 1): 1.0}  # fires on every prompt of every state
    acts = [
        _acts({**bos, (0, 1, 0): 1.0, (1, 1, 2): 1.0, (1, 2, 3): 2.0}),
        _acts({**bos, (0, 1, 0): 3.0, (1, 2, 3): 4.0}),
        _acts({**bos, (0, 1, 0): 5.0}),  # one Ohio prompt shares Texas's (0, 1, 0)
        _acts({**bos}),
        _acts({**bos}),
        _acts({**bos, (0, 2, 2): 1.0}),
        _acts({(0, 1, 0): 1.0}, T=5),  # not about a state: ignored (and of another length)
    ]
    return prompts, acts


def test_state_features_finds_the_states_features(state_case):
    prompts, acts = state_case
    found = state_features(prompts, acts, "Texas")
    # (0, 1, 0) fires on 1 of 4 other prompts (<= 0.5); <bos> on all (excluded); (1, 1, 2) only
    # on one Texas prompt (excluded)
    assert found == {(0, 1, 0): 2.0, (1, 2, 3): 3.0}
    assert all(isinstance(k, int) for key in found for k in key)


def test_state_features_max_other(state_case):
    prompts, acts = state_case
    both = {(0, 1, 0): 2.0, (1, 2, 3): 3.0}
    assert state_features(prompts, acts, "Texas", max_other=0.25) == both
    assert state_features(prompts, acts, "Texas", max_other=0.2) == {(1, 2, 3): 3.0}
    assert state_features(prompts, acts, "Texas", max_other=0.0) == {(1, 2, 3): 3.0}
    assert state_features(prompts, acts, "Ohio") == {}
    assert state_features(prompts, acts, "Utah") == {}


def test_state_features_excludes_features_of_every_state(state_case):
    prompts, acts = state_case
    for s in ("Texas", "Ohio", "Utah"):
        assert (0, 0, 1) not in state_features(prompts, acts, s, max_other=0.99)


def test_state_features_layers(state_case):
    prompts, acts = state_case
    assert state_features(prompts, acts, "Texas", [0]) == {(0, 1, 0): 2.0}
    assert state_features(prompts, acts, "Texas", [1]) == {(1, 2, 3): 3.0}
    assert state_features(prompts, acts, "Texas", (0, 1)) == state_features(prompts, acts, "Texas")
    assert state_features(prompts, acts, "Texas", []) == {}


def test_state_features_single_state():
    prompts = [_prompt(state="Texas"), _prompt(state="Texas")]
    acts = [_acts({(0, 0, 1): 1.0}), _acts({(0, 0, 1): 2.0})]
    assert state_features(prompts, acts, "Texas") == {(0, 0, 1): 1.5}  # no other state to ban it


def test_state_features_on_the_trained_clt(city_prompts, city_acts):
    found = state_features(city_prompts, city_acts, "Texas")
    mine = torch.stack([a for p, a in zip(city_prompts, city_acts) if p.info["state"] == "Texas"])
    for (l, t, i), mean in found.items():
        assert (mine[:, l, t, i] > 0).all()
        assert mean == pytest.approx(float(mine[:, l, t, i].mean()))


# --- top_examples ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def top_case(world):
    prompts = world.select("capital")[:6]
    values = [0.0, 2.0, -1.0, 5.0, 1.0, 3.0]
    acts = []
    for j, v in enumerate(values):
        a = torch.zeros(L, 3, 4)
        a[1, j % 3, 2] = v
        a[1, (j + 1) % 3, 2] = v / 2  # a weaker activation elsewhere in the same prompt
        a[0, 1, 2] = 10.0  # another layer: irrelevant
        acts.append(a)
    return prompts, acts


def test_top_examples_sorted_positive_at_most_k(world, top_case):
    prompts, acts = top_case
    found = top_examples(world, prompts, acts, 1, 2, k=10)
    assert [(p, t, v) for p, t, v in found] == [
        (prompts[3], 0, 5.0), (prompts[5], 2, 3.0), (prompts[1], 1, 2.0), (prompts[4], 1, 1.0)]
    assert top_examples(world, prompts, acts, 1, 2, k=2) == found[:2]
    assert top_examples(world, prompts, acts, 1, 2) == found  # k=5 > 4 positive prompts
    assert top_examples(world, prompts, acts, 1, 3) == []
    assert len(top_examples(world, prompts, acts, 0, 2, k=3)) == 3


# --- feature_label --------------------------------------------------------------------------


def _fire(prompts, on: set[int] | dict[int, float], pos: int, layer: int = 1,
          index: int = 3) -> list[torch.Tensor]:
    """Activations firing feature ``(layer, index)`` at ``pos`` on the prompts numbered ``on``
    (a set: all at 1; a dict: at the given strengths)."""
    strength = on if isinstance(on, dict) else dict.fromkeys(on, 1.0)
    acts = []
    for j, p in enumerate(prompts):
        a = torch.zeros(L, len(p.tokens), 4)
        if j in strength:
            a[layer, pos, index] = strength[j]
        a[layer, 0, index] = -1.0  # negative: not active
        acts.append(a)
    return acts


@pytest.fixture(scope="module")
def label_prompts(world):
    def cap(city):
        return world.prompt("capital", city=city)

    def st(city):
        return world.prompt("state", city=city)

    def add(a, b):
        return world.prompt("add", a=a, b=b)

    # two prompts about nothing the labeller knows (no state, no a/b): it falls back to tokens
    bare = [dataclasses.replace(cap(c), info={}) for c in ("Dallas", "Chicago")]
    return [cap("Dallas"), cap("Houston"), st("Dallas"), cap("Chicago"), cap("Miami"),
            add(3, 4), add(2, 5), add(3, 5), add(2, 4), st("El Paso"), *bare]


@pytest.mark.parametrize("on, pos, expected", [
    ({0, 1, 10}, 2, "say Austin"),               # every prompt answered Austin, last position
    ({0, 1}, 2, "Dallas/Houston"),               # misses the bare copy of Dallas: not "say"
    ({2, 9}, 2, "say Texas"),
    ({5, 6}, 4, "say 7"),
    ({0}, 2, "Dallas"),                          # one prompt of Austin's: the city, not "say"
    ({0, 2}, 1, "Dallas"),                       # one city (both questions): not its state
    ({0, 1, 9}, 1, "Texas"),                     # every Texas city of the prompts: the state
    ({0, 2}, 2, "Dallas"),                       # last position but two answers (Austin, Texas)
    ({0, 3}, 1, "Dallas/Illinois"),              # Chicago is the only Illinois city here
    ({0: 1.0, 1: 1.0, 9: 1.0, 3: 5.0}, 2, "Illinois/Texas"),
    ({5, 6}, 3, "sum=7"),                        # addition, not the last position
    ({5, 7}, 1, "a=3"),
    ({5, 8}, 3, "b=4"),
    ({5}, 3, "3+4"),                             # one prompt of sum 7, a=3 and b=4: itself
    # otherwise: the subjects of the two strongest examples, strongest first, "/…" for more
    ({0: 3.0, 3: 2.0, 4: 1.0, 1: 0.5}, 2, "mixed: Dallas/Chicago/…"),
    ({0: 1.0, 3: 2.0, 4: 3.0, 1: 0.5}, 1, "mixed: Miami/Chicago/…"),
    ({0: 2.0, 5: 1.0}, 1, "mixed: Dallas/3+4"),   # a city prompt and an addition prompt
    ({0: 1.0, 2: 2.0, 5: 3.0}, 1, "mixed: 3+4/Dallas"),  # one subject counted once: no "/…"
    ({5: 1.0, 6: 2.0, 7: 3.0, 8: 4.0}, 1, "mixed: 2+4/3+5/…"),  # no one sum, a or b
    ({10: 1.0, 11: 2.0}, 1, "mixed: Chicago/Dallas"),  # no city and no a/b: the token
    ({10: 1.0, 11: 2.0}, 2, "capital:"),
    (set(), 1, "inactive"),
    # firing on more than half of the prompts that reach pos: the token, not a subject
    (set(range(7)), 2, "'capital:' (most prompts)"),
    ({0, 1, 3, 4, 5, 6, 7}, 1, "'3' (most prompts)"),   # the most common token under it
])
def test_feature_label(world, label_prompts, on, pos, expected):
    acts = _fire(label_prompts, on, pos)
    assert feature_label(world, label_prompts, acts, 1, pos, 3) == expected


def test_feature_label_other_feature_or_layer_is_inactive(world, label_prompts):
    acts = _fire(label_prompts, {0, 1}, 2)
    assert feature_label(world, label_prompts, acts, 0, 2, 3) == "inactive"
    assert feature_label(world, label_prompts, acts, 1, 2, 2) == "inactive"
    assert feature_label(world, label_prompts, acts, 1, 1, 3) == "inactive"


def test_feature_label_ignores_prompts_too_short_for_pos(world, label_prompts):
    acts = _fire(label_prompts, {5, 6}, 4)  # city prompts have 3 tokens: pos 4 is out of them
    assert feature_label(world, label_prompts, acts, 1, 4, 3) == "say 7"
    none = _fire(label_prompts, set(), 4)
    assert feature_label(world, label_prompts, none, 1, 4, 3) == "inactive"


def _fire_where(world, fires, pos: int) -> list[torch.Tensor]:
    """Activations over every prompt of the world firing feature (1, 3) at ``pos`` on the
    prompts for which ``fires(prompt)`` is true."""
    return _fire(world.prompts, {j for j, p in enumerate(world.prompts) if fires(p)}, pos)


def _about(*cities, task=None):
    return lambda p: p.info.get("city") in cities and (task is None or p.task == task)


TEXAS = STATES["Texas"][0]


@pytest.mark.parametrize("fires, pos, expected", [
    # the case: every prompt it fires on is about Texas, but it fires only on Dallas
    (_about("Dallas"), 1, "Dallas"),
    (_about("Dallas"), 2, "Dallas"),
    (_about("Dallas", task="capital"), 2, "Dallas"),          # not "say Austin" either
    (_about(*TEXAS), 1, "Texas"),                              # every Texas city: the state
    (_about(*TEXAS), 2, "Texas"),
    (_about(*TEXAS, task="capital"), 2, "say Austin"),
    (_about(*TEXAS, task="state"), 2, "say Texas"),
    (_about(*TEXAS, task="state"), 1, "Texas"),                # one question at a middle position
    (_about(*TEXAS[:2]), 1, "Dallas/Houston"),                 # two of three cities: not the state
    (_about(*TEXAS, "Chicago"), 1, "Chicago/Texas"),
    (_about(*TEXAS, *STATES["Illinois"][0]), 1, "Illinois/Texas"),
    (_about("Dallas", "Chicago", "Miami"), 1, "mixed: Dallas/Chicago/…"),  # ties: prompt order
    (lambda p: p.task == "add" and p.info["a"] + p.info["b"] == 7, 4, "say 7"),
    (lambda p: p.task == "add" and p.info["a"] + p.info["b"] == 7, 3, "sum=7"),
    (lambda p: p.task == "add" and p.info["a"] == 3 and p.info["b"] < 9, 1,
     "mixed: 3+0/3+1/…"),                                      # nine of the ten a=3 prompts
    (lambda p: p.task == "add" and p.info["a"] == 3, 1, "a=3"),
])
def test_feature_label_names_a_group_only_when_it_fires_on_all_of_it(world, fires, pos, expected):
    assert feature_label(world, world.prompts, _fire_where(world, fires, pos), 1, pos, 3) == expected


def test_feature_label_min_share_lets_a_state_miss_a_city(world):
    acts = _fire_where(world, _about(*TEXAS[:2]), 1)
    assert feature_label(world, world.prompts, acts, 1, 1, 3, min_share=2 / 3) == "Texas"
    assert feature_label(world, world.prompts, acts, 1, 1, 3, min_share=0.7) == "Dallas/Houston"
    one = _fire_where(world, _about("Dallas"), 1)  # one city of three is never the state
    assert feature_label(world, world.prompts, one, 1, 1, 3, min_share=2 / 3) == "Dallas"
    assert feature_label(world, world.prompts, one, 1, 1, 3, min_share=0.3) == "Texas"
    say = _fire_where(world, _about(*TEXAS[:2], task="capital"), 2)
    assert feature_label(world, world.prompts, say, 1, 2, 3) == "Dallas/Houston"
    assert feature_label(world, world.prompts, say, 1, 2, 3, min_share=0.6) == "say Austin"


# --- steering -------------------------------------------------------------------------------


def test_swap_all_covers_every_city_and_other_state(world, capital_swaps):
    assert len(capital_swaps) == N_CITIES * (len(STATES) - 1) == 270
    pairs = Counter((r.prompt, r.target) for r in capital_swaps)
    assert len(pairs) == 270 and set(pairs.values()) == {1}
    expected = {(world.text(p.tokens), s) for p in world.select("capital") for s in STATES
                if s != p.info["state"]}
    assert set(pairs) == expected
    for r in capital_swaps:
        city = r.prompt.rsplit(" ", 1)[0]  # "El Paso capital:" -> "El Paso"
        assert r.source == world.prompt("capital", city=city).info["state"] != r.target


def test_swap_results_fields(world, trained_tiny, capital_swaps):
    prompts = {world.text(p.tokens): p for p in world.select("capital")}
    greedy = dict(zip(prompts, predict(trained_tiny, list(prompts.values()))))
    for r in capital_swaps:
        assert isinstance(r, SwapResult)
        assert len(r.p_source_answer) == len(r.p_target_answer) == 3
        assert all(0.0 <= p <= 1.0 for p in r.p_source_answer + r.p_target_answer)
        assert r.base_top == world.vocab[greedy[r.prompt]]
        assert r.target_answer == STATES[r.target][1]
        assert r.swap_worked == (r.swapped_top == r.target_answer)
        assert r.n_suppressed >= 0 and r.n_injected >= 0
        assert {r.base_top, r.suppressed_top, r.swapped_top} <= set(world.vocab)
    # the conftest's model answers every capital question, so the baseline is mostly right
    assert sum(r.base_top == STATES[r.source][1] for r in capital_swaps) >= 0.9 * 270
    assert any(r.n_suppressed > 0 for r in capital_swaps)


def test_swap_baseline_is_the_models_probability(world, adapter, clt, city_prompts, city_acts):
    p = world.prompt("capital", city="Dallas")
    r = state_swap(world, adapter, clt, city_prompts, city_acts, p, "Ohio")
    with torch.no_grad():
        probs = adapter.logits(torch.tensor([p.tokens]))[0, -1].softmax(-1)
    assert r.p_source_answer[0] == pytest.approx(float(probs[p.answer]), abs=1e-6)
    assert r.p_target_answer[0] == pytest.approx(float(probs[world.index["Columbus"]]), abs=1e-6)
    assert (r.prompt, r.source, r.target, r.target_answer) == \
        ("Dallas capital:", "Texas", "Ohio", "Columbus")
    assert r.n_suppressed == len(state_features(city_prompts, city_acts, "Texas"))
    assert r.n_injected == len(state_features(city_prompts, city_acts, "Ohio"))


@pytest.mark.parametrize("suppress, inject, layers", [(0.0, 1.0, None), (-1.0, 2.0, [1])])
def test_swap_clamps_are_the_scaled_state_features(world, adapter, clt, city_prompts, city_acts,
                                                   suppress, inject, layers):
    p = world.prompt("capital", city="Seattle")
    r = state_swap(world, adapter, clt, city_prompts, city_acts, p, "Georgia", layers=layers,
                   suppress=suppress, inject=inject)
    mine = state_features(city_prompts, city_acts, "Washington", layers)
    theirs = state_features(city_prompts, city_acts, "Georgia", layers)
    assert mine and theirs
    off = {f: suppress * v for f, v in mine.items()}
    swap = {**off, **{f: inject * v for f, v in theirs.items()}}
    tokens = torch.tensor([p.tokens])
    for j, clamps in ((1, off), (2, swap)):
        probs = intervene(adapter, clt, tokens, clamps)[0, -1].softmax(-1)
        assert r.p_source_answer[j] == pytest.approx(float(probs[p.answer]), abs=1e-6)
        assert r.p_target_answer[j] == pytest.approx(float(probs[world.index["Atlanta"]]), abs=1e-6)
        top = r.suppressed_top if j == 1 else r.swapped_top
        assert top == world.vocab[int(probs.argmax())]


def test_swap_with_no_layers_changes_nothing(world, adapter, clt, city_prompts, city_acts):
    p = world.prompt("capital", city="Tampa")
    r = state_swap(world, adapter, clt, city_prompts, city_acts, p, "Texas", layers=[])
    assert r.n_suppressed == r.n_injected == 0
    greedy = world.vocab[predict(adapter.model, [p])[0]]
    assert r.base_top == r.suppressed_top == r.swapped_top == greedy
    assert r.p_source_answer[0] == r.p_source_answer[1] == r.p_source_answer[2]
    assert r.p_target_answer[0] == r.p_target_answer[1] == r.p_target_answer[2]
    assert not r.swap_worked


def test_swap_state_prompt_targets_the_state(world, adapter, clt, city_prompts, city_acts):
    p = world.prompt("state", city="Buffalo")
    r = state_swap(world, adapter, clt, city_prompts, city_acts, p, "Florida")
    assert (r.source, r.target, r.target_answer) == ("New York", "Florida", "Florida")
    assert r.base_top == world.vocab[predict(adapter.model, [p])[0]]


def test_swap_all_state_task(world, adapter, clt):
    results = swap_all(world, adapter, clt, "state", layers=[])
    assert len(results) == 270
    assert all(r.target_answer == r.target for r in results)
    assert all(r.base_top == r.swapped_top for r in results)  # no layers: no clamps


def test_swap_result_swap_worked():
    base = dict(prompt="Dallas capital:", source="Texas", target="Ohio", n_suppressed=1,
                n_injected=2, base_top="Austin", suppressed_top="Albany",
                p_source_answer=(0.9, 0.1, 0.0), p_target_answer=(0.0, 0.1, 0.9),
                target_answer="Columbus")
    assert SwapResult(**base, swapped_top="Columbus").swap_worked
    assert not SwapResult(**base, swapped_top="Austin").swap_worked


# --- agreement and the sweep ----------------------------------------------------------------


def test_agreement_matches_a_manual_count(world, adapter, clt):
    prompts = world.select("capital")[:7] + world.select("add")[:13] + world.select("state")[3:9]
    same = 0
    for p in prompts:  # one at a time, against replacement_logits directly
        tokens = torch.tensor([p.tokens])
        same += int(adapter.logits(tokens)[0, -1].argmax() ==
                    replacement_logits(adapter, clt, tokens)[0, -1].argmax())
    value = agreement(adapter, clt, prompts)
    assert 0.0 <= value <= 1.0
    assert value == same / len(prompts)
    assert agreement(adapter, clt, prompts[::-1]) == value


def test_agreement_on_the_world(world, adapter, clt):
    value = agreement(adapter, clt, world.prompts)
    assert 0.0 <= value <= 1.0
    assert value * len(world.prompts) == pytest.approx(round(value * len(world.prompts)))


@pytest.fixture(scope="module")
def sweep_results(world, adapter):
    return sweep(adapter, world.prompts, (4, 8), (0.1, 1.0), steps=20, progress=False)


def test_sweep_one_run_per_size_and_lambda(sweep_results):
    assert [(r["n_features"], r["sparsity"]) for r in sweep_results] == \
        [(4, 0.1), (4, 1.0), (8, 0.1), (8, 1.0)]
    for r in sweep_results:
        assert set(r) == SWEEP_KEYS
        assert r["nmse"] >= 0 and torch.isfinite(torch.tensor(r["nmse"]))
        assert 0 <= r["l0"] <= L * r["n_features"]
        assert 0.0 <= r["dead"] <= 1.0
        assert 0.0 <= r["agreement"] <= 1.0


def test_sweep_matches_train_clt(world, adapter, sweep_results):
    x, y = activation_dataset(adapter, world.prompts)
    base = CLTConfig(L, adapter.d_model)
    config = CLTConfig(L, adapter.d_model, n_features=8, sparsity=1.0, c=base.c,
                       preact=base.preact)
    clt, _ = train_clt(x, y, config, steps=20, seed=0, progress=False)
    m = evaluate_clt(clt, x, y)
    r = sweep_results[3]
    assert r["nmse"] == pytest.approx(m.mean_nmse)
    assert r["l0"] == pytest.approx(m.total_l0)
    assert r["dead"] == pytest.approx(m.dead)
    assert r["agreement"] == agreement(adapter, clt, world.prompts)


def test_sweep_uses_the_base_config(world, adapter):
    prompts = world.select("capital")
    # a high initial threshold (kept from base) leaves some features dead after 5 steps
    base = CLTConfig(L, adapter.d_model, n_features=99, sparsity=7.0, threshold_init=2.0)
    (r,) = sweep(adapter, prompts, [4], [0.2], steps=5, base=base, progress=False)
    assert (r["n_features"], r["sparsity"]) == (4, 0.2)
    x, y = activation_dataset(adapter, prompts)
    config = CLTConfig(L, adapter.d_model, n_features=4, sparsity=0.2, threshold_init=2.0)
    clt, _ = train_clt(x, y, config, steps=5, seed=0, progress=False)
    m = evaluate_clt(clt, x, y)
    assert r["l0"] == pytest.approx(m.total_l0)
    assert r["dead"] == pytest.approx(m.dead) and 0 < r["dead"] < 1
    assert r["nmse"] == pytest.approx(m.mean_nmse)


# --- ablation_predictions ---------------------------------------------------------------------


def test_ablation_predictions_measure_three_ways_on_the_same_prompts(world, adapter, clt):
    changes = ablation_predictions(world, adapter, clt, "capital")
    assert set(changes) == {"predicted", "real", "local"}
    n = len(changes["predicted"])
    assert 0 < n <= len(world.select("capital"))
    for values in changes.values():
        assert values.shape == (n,) and values.dtype == torch.float64
        assert torch.isfinite(values).all()
    # switching features off moves the answer's logit in every measurement
    assert changes["predicted"].abs().max() > 0 and changes["real"].abs().max() > 0


def test_ablation_predictions_match_a_manual_computation(world, adapter, clt):
    changes = ablation_predictions(world, adapter, clt, "capital")
    city_prompts = world.select("state") + world.select("capital")
    acts = feature_activations(adapter, clt, city_prompts)
    for prompt in world.select("capital"):
        g = attribute(adapter, clt, prompt.tokens)
        keys = {n.key: i for i, n in enumerate(g.nodes) if n.kind == "feature"}
        nodes = {keys[f]: 0.0 for f in state_features(city_prompts, acts, prompt.info["state"])
                 if f in keys}
        if nodes:
            assert float(changes["predicted"][0]) == pytest.approx(
                float(predict_ablation(g, nodes)[0]))
            break
