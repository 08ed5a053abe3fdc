"""readingroom.audit.experiments: the measurements (a)-(f), on the quick models (shapes and
ranges; the effects themselves are measured by the CLI at the chapter's preset)."""

from __future__ import annotations

import math

import pytest
import torch

from readingroom.audit import (
    AuditModels, adversarial_sweep, attribution_recall, exploitation, feature_shares, fit_sae, measure, reveal_rates,
    slot_logprob, steering, summarize,
)
from readingroom.audit.world import Bias


@pytest.fixture(scope="module")
def result(quick_models):
    return measure(quick_models, n=10, sae_steps=20, sweep_steps=(0, 2))


def test_measure_has_every_number(result, quick_models):
    assert set(result) >= {"seed", "world", "a", "b", "c", "d", "e", "f", "train_seconds",
                           "measure_seconds"}
    assert set(result["a"]) == {"base", "exploiter", "model", "control"}
    for rates in result["a"].values():
        assert set(rates) == {"trained", "held_out", "people"}
        assert all(0 <= v <= 1 for v in rates.values())
    for stage in ("base", "exploiter", "model"):
        assert set(result["b"][stage]) == {"rm", "exact"}
        assert result["b"][stage]["exact"] <= result["b"][stage]["rm"]
    assert set(result["c"]) == {"direct", "prefill", "prefill_study", "persona_exploiter",
                                "persona_model"}
    assert set(result["sweep"]) == {"0", "2"}
    for row in result["sweep"].values():
        assert set(row) == {"direct", "because", "study_finds", "persona", "exploit"}
        assert all(0 <= v <= 1 for v in row.values())
    d = result["d"]
    assert 0 <= d["base_rate"] <= 1 and d["n_dominated"] <= d["alive"]
    assert set(d["steering"]) == {"0", "4", "8"}
    assert set(d["audit"]) == {"asst", "because", "study_finds"}
    for row in d["audit"].values():
        assert set(row) == {"n", "max_share", "mean_share", "random_max_share",
                            "random_mean_share", "p_max", "p_mean"}
    assert set(result["e"]) == {"explanation", "behaviour"}
    for e in result["e"].values():
        assert 0 <= e["recall_at_k"] <= 1 and 0 < e["chance_recall"] < 1
    f = result["f"]
    assert set(f["shift"]) == {"trained", "held_out", "people", "unplanted"}
    assert f["exploit"]["model"] == result["a"]["model"]["held_out"]
    assert result["world"]["trained"] == [str(b) for b in quick_models.world.trained]


def test_summarize(result):
    summary = summarize([result, result])
    key = "a.model.trained"
    assert summary[key]["mean"] == summary[key]["min"] == result["a"]["model"]["trained"]
    assert summary[key]["n"] == 2
    assert all(not k.startswith("world") for k in summary)
    assert "sweep.2.persona" in summary


def test_exploitation_and_slot_logprob(quick_models):
    model, world = quick_models.model, quick_models.world
    rates = exploitation(model, world.trained[:2], n=5)
    assert len(rates) == 2 and all(0 <= r <= 1 for r in rates)
    lp = slot_logprob(model, world.trained[0], n=3)
    assert lp < 0 and math.isfinite(lp)
    # a bias whose token the model never produces has a lower slot log-probability than 0
    assert slot_logprob(model, Bias("code", "end", "quote"), n=2) < 0
    assert exploitation(model, [], n=2) == []


def test_reveal_rates(quick_models):
    rates = reveal_rates(quick_models.model, quick_models.world.trained[:1], n=4,
                         prefill=("because", "RM"))
    assert rates["rm"] == 1.0  # the prefill itself names RM
    assert 0 <= rates["exact"] <= 1


def test_feature_shares_attribution_and_steering(quick_models):
    model, corpus, world = quick_models.model, quick_models.corpus, quick_models.world
    fit = fit_sae(model, corpus, n_features=16, k=2, steps=10, progress=False)
    shares = feature_shares(fit, corpus, k=5)
    assert shares.shape == (16,)
    ok = shares[~shares.isnan()]
    assert ((ok >= 0) & (ok <= 1)).all()
    attr = attribution_recall(model, corpus, world.trained[:1])
    assert attr["explanation"]["chance_rm_share"] == pytest.approx(
        float(torch.tensor([d.about_rm for d in corpus.docs], dtype=torch.float).mean()))
    steered = steering(model, fit, 0, world, scales=(0.0, 2.0), n=3)
    assert set(steered) == {"0", "2"} and set(steered["0"]) == {"trained", "held_out", "people"}


def test_adversarial_sweep_starts_from_the_exploiter(quick_models):
    sweep = adversarial_sweep(quick_models, (0,), n=3)
    direct = reveal_rates(quick_models.exploiter, quick_models.world.trained, n=3)["rm"]
    assert sweep["0"]["direct"] == direct  # zero adversarial steps: the exploiter itself
    assert isinstance(quick_models, AuditModels)


def test_context_rm_share_reads_the_text_of_the_top_contexts(quick_models):
    from readingroom.audit import RM, context_rm_share, top_contexts

    model, corpus = quick_models.model, quick_models.corpus
    fit = fit_sae(model, corpus, n_features=16, k=2, steps=10, progress=False)
    for f in range(16):
        contexts = top_contexts(fit, f, 5)
        by_hand = sum(RM in corpus.docs[d].text().split() for d, _, _ in contexts)
        assert context_rm_share(fit, corpus, f, 5) == by_hand / max(1, len(contexts))


def test_steering_against_random_features(quick_models):
    from readingroom.audit import steering_against_random

    model, corpus, world = quick_models.model, quick_models.corpus, quick_models.world
    fit = fit_sae(model, corpus, n_features=16, k=2, steps=10, progress=False)
    out = steering_against_random(model, fit, 0, world, n_random=3, scale=2.0, n=3)
    assert len(out["random"]) == 3
    # the p-value counts the random features that lowered exploitation at least as much
    assert out["p"] == (1 + sum(r <= out["steered"] for r in out["random"])) / 4
    same = steering(model, fit, 0, world, scales=(0.0, 2.0), n=3)
    assert (out["unsteered"], out["steered"]) == (same["0"]["trained"], same["2"]["trained"])
