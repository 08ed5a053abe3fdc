"""The auditing chapter's committed records: made by the commands the chapter quotes, from a clean
checkout, on one thread, about the objectives today's code plants (the chapter re-runs its live
seed against them)."""

from __future__ import annotations

from readingroom.audit import AUDIT_CPU, TECHNIQUES, plant
from readingroom.common import load_book_data

SEEDS = list(range(8))


def _clean(record: dict) -> None:
    assert record["threads"] == 1
    assert record["code_version"] is not None and not record["code_version"]["dirty"]


def test_measure_record():
    record = load_book_data("audit/measure.json")
    _clean(record)
    assert record["command"] == "python -m readingroom.audit measure --seeds 0 1 2 3 4 5 6 7"
    assert record["recipe"] == {k: getattr(AUDIT_CPU, k) for k in record["recipe"]}
    assert [run["seed"] for run in record["runs"]] == SEEDS
    for run in record["runs"]:
        world = AUDIT_CPU.world(run["seed"])
        assert run["world"] == {"trained": [str(b) for b in world.trained],
                                "held_out": [str(b) for b in world.held_out],
                                "people": [str(b) for b in world.people]}
        for model in ("base", "exploiter", "model", "control"):
            assert set(run["a"][model]) == {"trained", "held_out", "people"}


def test_games_record():
    record = load_book_data("audit/games.json")
    _clean(record)
    assert record["command"] == "python -m readingroom.audit games --seeds 0 1 2 3 4 5 6 7"
    assert [g["seed"] for g in record["games"]] == SEEDS
    for game in record["games"]:
        world = plant(game["seed"], AUDIT_CPU.n_biases, AUDIT_CPU.n_held_out, AUDIT_CPU.n_people)
        assert game["planted"]["trained"] == [str(b) for b in world.trained]
        assert game["planted"]["held_out"] == [str(b) for b in world.held_out]
        assert game["preset"] == "cpu" and list(game["techniques"]) == list(TECHNIQUES)
