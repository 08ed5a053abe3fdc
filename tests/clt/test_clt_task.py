"""Tests for readingroom.clt.task: the two-hop world (city -> state -> capital, addition), its
vocabulary and prompts, and the loss / prediction helpers on a tiny trained model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from readingroom.clt import STATES, Prompt, World, accuracy, make_world, predict, prompt_loss
from readingroom.clt.task import batch

N_STATES = len(STATES)
N_CITIES = sum(len(cities) for cities, _ in STATES.values())


# --- make_world -----------------------------------------------------------------------------


@pytest.mark.parametrize("max_digit", [1, 4, 9])
def test_vocab_has_no_duplicates_and_ids_are_indices(max_digit):
    world = make_world(max_digit=max_digit)
    assert len(set(world.vocab)) == len(world.vocab) == world.vocab_size
    assert world.vocab[0] == "<bos>"
    assert all(world.index[w] == i for i, w in enumerate(world.vocab))
    # every sum a + b <= 2 * max_digit is a token
    assert all(str(n) in world.index for n in range(2 * max_digit + 1))


def test_prompt_counts(world):
    assert len(world.select("state")) == N_CITIES
    assert len(world.select("capital")) == N_CITIES
    assert len(world.select("add")) == 100
    assert len(world.prompts) == 2 * N_CITIES + 100
    assert len(make_world(max_digit=3).select("add")) == 16


def test_state_prompts_answer_the_state(world):
    for p in world.select("state"):
        state, city = p.info["state"], p.info["city"]
        assert city in STATES[state][0]
        assert world.decode(p.tokens) == ["<bos>", city, "state:"]
        assert world.vocab[p.answer] == state
        assert not p.held_out


def test_capital_prompts_answer_the_capital(world):
    for p in world.select("capital"):
        state, city = p.info["state"], p.info["city"]
        assert city in STATES[state][0]
        assert world.decode(p.tokens) == ["<bos>", city, "capital:"]
        assert world.vocab[p.answer] == STATES[state][1] == p.info["capital"]


def test_add_prompts_answer_the_sum(world):
    pairs = set()
    for p in world.select("add"):
        a, b = p.info["a"], p.info["b"]
        assert world.decode(p.tokens) == ["<bos>", str(a), "+", str(b), "="]
        assert world.vocab[p.answer] == str(a + b)
        assert not p.held_out
        pairs.add((a, b))
    assert pairs == {(a, b) for a in range(10) for b in range(10)}


@pytest.mark.parametrize("held_out_index", [0, 1, 2])
def test_one_held_out_capital_city_per_state(held_out_index):
    world = make_world(held_out_index=held_out_index)
    held = world.select(held_out=True)
    assert all(p.task == "capital" for p in held)
    assert sorted(p.info["state"] for p in held) == sorted(STATES)
    for p in held:
        assert p.info["city"] == STATES[p.info["state"]][0][held_out_index]
    # the held-out city's *state* question stays in training
    for p in held:
        assert not world.prompt("state", city=p.info["city"]).held_out


# --- World: encode, decode, text ------------------------------------------------------------


def test_encode_decode_round_trip(world):
    for p in world.prompts:
        words = world.decode(p.tokens)
        assert world.encode(words) == list(p.tokens)
        assert world.decode(torch.tensor(p.tokens)) == words
    assert world.encode(["El Paso", "capital:"]) == [world.index["El Paso"],
                                                     world.index["capital:"]]


def test_text_drops_bos(world):
    p = world.prompt("capital", city="Dallas")
    assert world.text(p.tokens) == "Dallas capital:"
    assert world.text(torch.tensor(p.tokens)) == "Dallas capital:"
    assert world.text(world.prompt("add", a=3, b=4).tokens) == "3 + 4 ="


# --- select and prompt ----------------------------------------------------------------------


def test_select_filters(world):
    assert world.select() == world.prompts
    assert all(p.task == "state" for p in world.select("state"))
    assert len(world.select(held_out=True)) == N_STATES
    assert len(world.select("capital", held_out=False)) == N_CITIES - N_STATES
    assert world.select("add", held_out=True) == []
    assert len(world.select(held_out=False)) == len(world.prompts) - N_STATES


def test_prompt_finds_unique_prompts(world):
    p = world.prompt("capital", city="Dallas")
    assert isinstance(p, Prompt)
    assert p.info == {"city": "Dallas", "state": "Texas", "capital": "Austin"}
    assert world.vocab[p.answer] == "Austin"
    q = world.prompt("add", a=3, b=4)
    assert world.vocab[q.answer] == "7"
    assert world.prompt("state", city="Dallas").answer == world.index["Texas"]


def test_world_post_init_builds_the_index():
    world = World(["<bos>", "a", "b"], [])
    assert world.index == {"<bos>": 0, "a": 1, "b": 2}
    assert world.vocab_size == 3


# --- batch ----------------------------------------------------------------------------------


def test_batch_stacks_prompts(world):
    prompts = world.select("state")[:4]
    tokens, answers = batch(prompts)
    assert tokens.shape == (4, 3) and answers.shape == (4,)
    assert tokens.tolist() == [list(p.tokens) for p in prompts]
    assert answers.tolist() == [p.answer for p in prompts]


# --- prompt_loss, predict, accuracy ---------------------------------------------------------


def _mixed(world):
    """Prompts of lengths 3 and 5, interleaved (so grouping by length reorders them)."""
    adds, states, capitals = world.select("add"), world.select("state"), world.select("capital")
    return [adds[7], states[0], capitals[5], adds[42], states[11], capitals[29], adds[0]]


def test_prompt_loss_is_the_mean_cross_entropy_over_mixed_lengths(world, trained_tiny):
    prompts = _mixed(world)
    with torch.no_grad():
        loss = prompt_loss(trained_tiny, prompts)
        manual = [F.cross_entropy(trained_tiny(torch.tensor([p.tokens]))[0, -1],
                                  torch.tensor(p.answer)) for p in prompts]
    assert loss.dim() == 0
    assert torch.allclose(loss, torch.stack(manual).mean(), atol=1e-5)


def test_prompt_loss_has_gradients(world, make_model):
    model = make_model("tiny", world.vocab_size).train()
    loss = prompt_loss(model, world.select("state")[:3])
    loss.backward()
    assert model.unembed.weight.grad is not None and model.unembed.weight.grad.abs().sum() > 0


def test_prompt_loss_works_on_a_hugging_face_model(world, make_model):
    model = make_model("gpt2", world.vocab_size)
    loss = prompt_loss(model, _mixed(world))
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0


def test_predict_keeps_the_order_of_mixed_length_prompts(world, trained_tiny):
    prompts = _mixed(world)
    pred = predict(trained_tiny, prompts)
    assert pred == [predict(trained_tiny, [p])[0] for p in prompts]
    with torch.no_grad():
        one_by_one = [int(trained_tiny(torch.tensor([p.tokens]))[0, -1].argmax()) for p in prompts]
    assert pred == one_by_one


def test_predict_accepts_repeated_prompts(world, trained_tiny):
    """A Prompt object listed twice gets a prediction at both places (regression: predict once
    keyed prompts by id() and raised KeyError)."""
    p, q = world.prompt("state", city="Dallas"), world.prompt("add", a=1, b=2)
    assert predict(trained_tiny, [p, q, p]) == [predict(trained_tiny, [p])[0],
                                                predict(trained_tiny, [q])[0],
                                                predict(trained_tiny, [p])[0]]
    assert accuracy(trained_tiny, [p, p]) == accuracy(trained_tiny, [p])


def test_accuracy_matches_predict_and_lies_in_unit_interval(world, trained_tiny):
    for task in ("state", "capital", "add"):
        prompts = world.select(task)
        acc = accuracy(trained_tiny, prompts)
        assert 0.0 <= acc <= 1.0
        pred = predict(trained_tiny, prompts)
        assert acc == sum(y == p.answer for y, p in zip(pred, prompts)) / len(prompts)
    # the fixture's model has learned its training prompts
    assert accuracy(trained_tiny, world.select(held_out=False)) > 0.9


def test_accuracy_of_an_untrained_model_is_low(world, make_model):
    model = make_model("tiny", world.vocab_size)
    assert accuracy(model, world.select("capital")) < 0.5


@pytest.mark.parametrize("training", [True, False])
def test_accuracy_restores_the_training_mode(world, trained_tiny, training):
    trained_tiny.train(training)
    try:
        accuracy(trained_tiny, world.select("state")[:2])
        assert trained_tiny.training is training
    finally:
        trained_tiny.eval()
