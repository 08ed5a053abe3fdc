"""The chapter's command line: ``python -m readingroom.clt robustness``."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from readingroom.clt import CLTConfig
from readingroom.clt.__main__ import build_parser, main
from readingroom.clt.experiments import WorldRecipe
from readingroom.common import load_book_data

PROVENANCE = {"command", "argv", "date_utc", "threads", "torch", "python", "device",
              "kernels", "code_version", "code_sha256"}
ROW = {"seed", "accuracy", "nmse_max", "l0", "agreement", "swap_rate", "suppress_changes",
       "p_answer", "dallas_path", "features", "kept_features", "scores", "pruned_scores",
       "ablation_corr", "seconds"}


def _chapter_recipe() -> dict:
    """The recipe the chapter's CPU preset uses, as the CLI records it."""
    world = {k: v for k, v in dataclasses.asdict(WorldRecipe()).items() if k != "seed"}
    return {"world": world, "clt": dataclasses.asdict(CLTConfig(3, 64)), "clt_steps": 2000}


def test_robustness_writes_one_row_per_seed(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["robustness", "--seeds", "3", "--clt-steps", "20", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"provenance", "recipe", "runs"}
    prov = data["provenance"]
    assert set(prov) == PROVENANCE
    assert prov["command"] == "python -m readingroom.clt robustness --seeds 3 --clt-steps 20"
    assert prov["threads"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", prov["code_sha256"])
    # run inside the checkout: a commit, and a dirty flag (our output file does not count)
    assert re.fullmatch(r"[0-9a-f]{40}", prov["code_version"]["commit"])
    assert isinstance(prov["code_version"]["dirty"], bool)
    assert data["recipe"] == {**_chapter_recipe(), "clt_steps": 20}
    (row,) = data["runs"]
    assert set(row) == ROW
    assert row["seed"] == 3
    assert set(row["accuracy"]) == {"state", "capital (trained)", "capital (held out)", "add"}
    for key in ("swap_rate", "suppress_changes", "agreement"):
        assert 0.0 <= row[key] <= 1.0
    assert len(row["p_answer"]) == 3 and all(0 <= p <= 1 for p in row["p_answer"])
    assert isinstance(row["dallas_path"], list)
    assert 0 <= row["kept_features"] <= row["features"]
    assert set(row["scores"]) == set(row["pruned_scores"]) == {"replacement", "completeness"}
    assert set(row["ablation_corr"]) == {"real", "local"}
    assert row["seconds"] > 0
    assert "seed 3: swap" in capsys.readouterr().out


def test_code_sha256_changes_with_the_sources(tmp_path):
    from readingroom.clt.__main__ import _code_sha256

    (tmp_path / "a.py").write_text("x = 1\n")
    before = _code_sha256(tmp_path)
    (tmp_path / "notes.txt").write_text("not a source")
    assert _code_sha256(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 2\n")
    assert _code_sha256(tmp_path) != before


@pytest.mark.parametrize("argv", [["robustness", "--seeds", "-1"], ["robustness", "--seeds", "x"],
                                  ["robustness", "--clt-steps", "0"],
                                  ["robustness", "--clt-steps", "x"],
                                  ["robustness", "--progress"],  # progress is on by default now
                                  ["robustness", "--device", "cpu"],  # it has no --device
                                  ["nope"], []])
def test_bad_arguments_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["robustness"])
    assert args.seeds == [0, 1, 2, 3, 4] and args.clt_steps == 2000 and args.out is None
    assert not args.no_progress  # progress bars by default, like every other CLI


def test_no_progress_silences_the_bars(tmp_path, capsys, monkeypatch):
    import readingroom.clt.experiments as experiments

    seen = []

    def fake_robustness(seed, *, recipe, config, clt_steps, progress):
        seen.append(progress)
        return {"swap_rate": 0.5, "agreement": 1.0, "dallas_path": []}

    monkeypatch.setattr(experiments, "robustness", fake_robustness)
    out = tmp_path / "r.json"
    assert main(["robustness", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    assert main(["robustness", "--seeds", "1", "--out", str(out)]) == 0
    assert seen == [False, True]
    assert json.loads(out.read_text())["runs"][0]["swap_rate"] == 0.5
    assert "wrote" in capsys.readouterr().out


def test_committed_robustness_records_the_chapter_recipe():
    data = load_book_data("clt/robustness.json")
    prov = data["provenance"]
    assert set(prov) == PROVENANCE
    assert prov["command"] == "python -m readingroom.clt robustness --seeds 0 1 2 3 4"
    assert prov["threads"] == 1
    assert prov["kernels"] == "x86-64 AVX2"  # the chapter replays seed 0 on the pinned kernels
    assert prov["code_version"]["dirty"] is False
    assert re.fullmatch(r"[0-9a-f]{40}", prov["code_version"]["commit"])
    assert data["recipe"] == _chapter_recipe()
    assert [r["seed"] for r in data["runs"]] == [0, 1, 2, 3, 4]
    for row in data["runs"]:
        assert set(row) == ROW
        assert row["accuracy"]["capital (held out)"] >= 0.9
