"""The chapter's command line: ``python -m readingroom.clt robustness``."""

from __future__ import annotations

import json

import pytest

from readingroom.clt.__main__ import build_parser, main
from readingroom.common import load_book_data


def test_robustness_writes_one_row_per_seed(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["robustness", "--seeds", "3", "--clt-steps", "20", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["command"] == "python -m readingroom.clt robustness --seeds 3 --clt-steps 20"
    (row,) = data["runs"]
    assert row["seed"] == 3
    assert set(row["accuracy"]) == {"state", "capital (trained)", "capital (held out)", "add"}
    for key in ("swap_rate", "suppress_changes", "agreement"):
        assert 0.0 <= row[key] <= 1.0
    assert len(row["p_answer"]) == 3 and all(0 <= p <= 1 for p in row["p_answer"])
    assert isinstance(row["dallas_path"], list)
    assert "seed 3: swap" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["robustness", "--seeds", "-1"], ["robustness", "--seeds", "x"],
                                  ["robustness", "--clt-steps", "0"], ["nope"], []])
def test_bad_arguments_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["robustness"])
    assert args.seeds == [0, 1, 2, 3, 4] and args.clt_steps == 2000 and args.out is None


def test_committed_robustness_records_the_chapter_recipe():
    data = load_book_data("clt/robustness.json")
    assert data["command"] == "python -m readingroom.clt robustness --seeds 0 1 2 3 4"
    assert [r["seed"] for r in data["runs"]] == [0, 1, 2, 3, 4]
    for row in data["runs"]:
        assert row["accuracy"]["capital (held out)"] >= 0.9
