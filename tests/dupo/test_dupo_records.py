"""The DuPO chapter's committed records: made by today's recipes, from a clean checkout, on the
pinned CPU kernels the chapter replays seed 0 on (readingroom.isa)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from readingroom.common import load_book_data
from readingroom.dupo import DupoRecipe, TranslationRecipe


@pytest.mark.parametrize("name, recipe, seeds", [
    ("dupo/arms.json", DupoRecipe(), list(range(8))),
    ("dupo/translation.json", TranslationRecipe(), list(range(5))),
])
def test_record_is_clean_pinned_and_today_s_recipe(name, recipe, seeds):
    record = load_book_data(name)
    assert record["threads"] == 1
    assert record["kernels"] == "x86-64 AVX2"
    assert record["code_version"] is not None and record["code_version"]["dirty"] is False
    assert record["recipe"] == asdict(recipe), "the record is stale: re-run its command"
    assert [r["seed"] for r in record["runs"]] == seeds
