"""The learned proposer (readingroom.geometry.proposer)."""

from __future__ import annotations

import numpy as np
import pytest

from readingroom.geometry import parse_problem
from readingroom.geometry.checker import check_search
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.proposer import (
    FEATURES, RankingData, candidate_features, learned_proposer, load_proposer,
    ranking_metrics, save_proposer, train_proposer, training_data,
)
from readingroom.geometry.search import _scored, search
from readingroom.geometry.synth import SynthExample

STATEMENT = "a b c = triangle a b c; d = midpoint d a b; e = midpoint e a c ? para d e b c"


def _example(aux: str, points=("f",), solved=False) -> SynthExample:
    head, goal = STATEMENT.split(" ? ")
    return SynthExample(problem=STATEMENT, goal=goal, aux=[aux],
                        problem_with_aux=f"{head}; {aux} ? {goal}", proof=[],
                        solved_without_aux=solved, premises="", seed=0, sample=0,
                        aux_points=list(points))


@pytest.fixture(scope="module")
def state():
    p = parse_problem(STATEMENT)
    d = make_diagram(p, seed=0)
    return p, d, _scored(p, d)


def _toy(groups=12, n=8, seed=0) -> RankingData:
    """Groups whose positive candidate has a large first family column."""
    rng = np.random.default_rng(seed)
    feats, pos = [], []
    for _ in range(groups):
        x = rng.normal(size=(n, len(FEATURES)))
        p = int(rng.integers(n))
        x[:, 0] = 0.0
        x[p, 0] = 3.0
        feats.append(x)
        pos.append(p)
    return RankingData(feats, pos, [f"s{g}" for g in range(groups)], {})


def test_candidate_features_shape_and_columns(state):
    p, d, cands = state
    x = candidate_features(p, d, cands)
    assert x.shape == (len(cands), len(FEATURES))
    fam = [c for c in FEATURES if c.startswith("family=")]
    assert np.allclose(x[:, :len(fam)].sum(axis=1), 1.0)
    col = FEATURES.index("heuristic_score")
    assert np.allclose(x[:, col], [c.score for c in cands])
    assert candidate_features(p, d, []).shape == (0, len(FEATURES))


def test_training_data_marks_the_aux_candidate(state):
    p, d, cands = state
    data = training_data([_example("f = foot f a b c")])
    assert len(data) == 1 and data.skipped == {}
    hit = cands[data.positive[0]]
    assert hit.clause.constructions[0].name == "foot"
    assert sorted(hit.clause.constructions[0].args[1:]) == ["a", "b", "c"]
    assert data.groups == [STATEMENT.split(" ? ")[0]]


def test_training_data_skips_what_it_cannot_label():
    data = training_data([
        _example("f = on_line f b c"),  # a random point: no candidate lands on it
        _example("f = foot f a b c", solved=True),
        _example("f g = trisegment f g b c", points=("f", "g")),
    ])
    assert len(data) == 0
    assert data.skipped == {"aux_not_a_candidate": 1, "solved_without_aux": 1,
                            "several_aux_points": 1}


def test_ranking_metrics_heuristic_and_scores():
    data = _toy()
    perfect = [f[:, 0] for f in data.features]
    m = ranking_metrics(data, perfect)
    assert m["top1"] == 1.0 and m["mean_rank"] == 1.0 and m["n"] == len(data)
    h = ranking_metrics(data)
    assert h["mean_rank"] == pytest.approx(np.mean([p + 1 for p in data.positive]))
    assert ranking_metrics(RankingData([], [], [], {}))["top1"] is None


def test_train_proposer_learns_a_separable_toy():
    model = train_proposer(_toy(groups=20), epochs=150, seed=0, holdout=0.25)
    assert model["metrics"]["train"]["top1"] >= 0.9
    assert model["metrics"]["test"]["top1"] >= 0.6
    assert model["split"]["test_groups"] == 5
    assert model["metrics"]["final_loss"] < model["metrics"]["first_loss"]


def test_save_load_and_search_with_learned_proposer(tmp_path):
    model = train_proposer(_toy(), epochs=5)
    path = save_proposer(model, tmp_path / "m.json", {"command": "test"})
    back = load_proposer(path)
    assert back["provenance"] == {"command": "test"} and back["w2"] == model["w2"]
    prop = learned_proposer(path)
    problem = parse_problem("a b c = triangle a b c; h = on_tline h b a c, on_tline h c a b "
                            "? perp a h b c")
    d = make_diagram(problem, seed=0)
    cands = _scored(problem, d)
    scores = prop(problem, d, cands)
    assert len(scores) == len(cands) and all(isinstance(s, float) for s in scores)
    found = search(problem, timeout=30, proposer=learned_proposer(model))
    assert found.solved
    assert check_search(found).ok
