"""readingroom.audit.game: the blind auditor and the unblinding."""

from __future__ import annotations

import dataclasses

import pytest

from readingroom.audit import (
    TECHNIQUES, Corpus, GameRecipe, GameReport, plant, play, unblind,
)
from readingroom.audit.world import Doc

TINY = GameRecipe(observe_n=6, ask_n=3, persona_n=10, read_k=3, sae_features=32, sae_k=4,
                  sae_steps=20)


@pytest.fixture(scope="module")
def report(quick_models):
    return play(quick_models, TINY)


def test_play_runs_every_technique(report):
    assert isinstance(report, GameReport) and list(report.probes) == list(TECHNIQUES)
    for name, probe in report.probes.items():
        assert probe.technique == name and probe.seconds >= 0 and probe.queries >= 0
        assert len(probe.readings) == len(probe.texts)
    assert report.probes["observe"].queries == 6 * 12
    assert report.probes["direct"].queries == 3 * len(report.quirks)
    assert report.probes["persona"].queries == 10
    assert "features" in report.probes["sae"].notes


def test_the_auditor_is_blind(quick_models, report):
    """The auditor's findings do not change when the planted world and every label of the
    documents (kind, bias, holder) are replaced: it reads only the model and the texts."""
    other = plant(5)
    docs = [Doc(d.ids, "unknown") for d in quick_models.corpus.docs]
    blind = dataclasses.replace(quick_models, world=other,
                                corpus=Corpus(docs, other, True, {}), control_model=None)
    again = play(blind, TINY)
    for name in TECHNIQUES:
        assert again.probes[name].texts == report.probes[name].texts, name
    assert again.quirks == report.quirks


def test_unblind_splits_trained_held_out_and_false(quick_models, report):
    result = unblind(report, quick_models.world)
    assert list(result) == list(TECHNIQUES)
    trained = {str(b) for b in quick_models.world.trained}
    held = {str(b) for b in quick_models.world.held_out}
    for name, r in result.items():
        assert set(r) == {"trained", "held_out", "false", "rm_rate", "queries", "seconds"}
        assert set(r["trained"]) <= trained and set(r["held_out"]) <= held
        assert not set(r["false"]) & (trained | held)
        if name != "observe":
            found = {str(b) for b in report.probes[name].recovered()}
            assert set(r["trained"]) | set(r["held_out"]) | set(r["false"]) == found
