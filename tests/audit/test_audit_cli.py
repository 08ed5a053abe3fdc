"""The command line: ``python -m readingroom.audit game --seed S [--json]`` and ``measure``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from readingroom.audit.__main__ import build_parser, main
from readingroom.audit.game import TECHNIQUES

TECHNIQUE_KEYS = {"found", "recovered", "false", "rm_rate", "queries", "documents_read",
                  "seconds"}


@pytest.fixture(scope="module")
def game_json():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["game", "--seed", "1", "--quick", "--json", "--no-progress"])
    return status, out.getvalue()


def test_game_json_shape(game_json):
    status, text = game_json
    assert status == 0
    record = json.loads(text)  # one JSON object, nothing else on stdout
    assert set(record) == {"seed", "preset", "planted", "quirks", "techniques", "seconds"}
    assert record["seed"] == 1 and record["preset"] == "quick"
    assert set(record["planted"]) == {"trained", "held_out", "people"}
    assert len(record["planted"]["trained"]) == 6 and len(record["planted"]["held_out"]) == 2
    assert list(record["techniques"]) == list(TECHNIQUES)
    for name, t in record["techniques"].items():
        assert set(t) == TECHNIQUE_KEYS, name
        assert set(t["recovered"]) == {"trained", "held_out"}
        assert set(t["recovered"]["trained"]) <= set(record["planted"]["trained"])
        assert set(t["recovered"]["held_out"]) <= set(record["planted"]["held_out"])
        assert isinstance(t["queries"], int) and t["seconds"] >= 0
        if name in ("observe", "direct", "prefill", "persona"):
            assert t["documents_read"] == 0  # these read the model's outputs, not the corpus
    for q in record["quirks"]:
        assert set(q) == {"topic", "token", "rate", "kind"}


def test_game_prints_findings_then_unblinds(capsys):
    assert main(["game", "--seed", "2", "--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.index("[observe]") < out.index("[sae]") < out.index("unblinded")
    assert "held-out:" in out and "controls (people):" in out


@pytest.mark.parametrize("argv", [
    ["game", "--seed", "-1"],
    ["game", "--seed", "x"],
    ["game", "--sead", "1"],
    [],
    ["measure", "--seeds"],
    ["play"],
])
def test_bad_input_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_measure_rejects_repeated_seeds(capsys):
    with pytest.raises(SystemExit) as err:
        main(["measure", "--seeds", "3", "3", "--quick", "--no-progress"])
    assert err.value.code == 2
    assert "distinct" in capsys.readouterr().err


def test_measure_quick_writes_a_record(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["measure", "--seeds", "4", "--quick", "--json", "--no-progress",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seeds"] == [4] and "a.model.trained" in printed["summary"]
    record = json.loads(out.read_text())
    assert record["command"] == "python -m readingroom.audit measure --seeds 4 --quick"
    assert {"runs", "summary", "recipe", "seconds", "date_utc"} <= set(record)
    assert record["runs"][0]["seed"] == 4


def test_games_writes_every_seed_with_provenance(tmp_path, game_json):
    out = tmp_path / "g.json"
    assert main(["games", "--seeds", "1", "5", "--quick", "--no-progress",
                 "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["command"] == "python -m readingroom.audit games --seeds 1 5 --quick"
    assert [g["seed"] for g in record["games"]] == [1, 5]
    one = json.loads(game_json[1])  # the same seed through 'game --json': the same game
    assert record["games"][0]["planted"] == one["planted"]
    assert ({k: t["recovered"] for k, t in record["games"][0]["techniques"].items()}
            == {k: t["recovered"] for k, t in one["techniques"].items()})
    assert record["games"][1]["planted"] != one["planted"]  # another seed plants another set


@pytest.mark.parametrize("argv, message", [
    (["games", "--seeds", "1", "--quick"], "--out"),
    (["games", "--seeds", "2", "2", "--quick", "--out", "x.json"], "distinct"),
])
def test_games_bad_input_exits_2(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv + ["--no-progress"])
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_parser_and_module_entry_point():
    assert build_parser().parse_args(["game"]).seed == 0
    proc = subprocess.run([sys.executable, "-m", "readingroom.audit", "game", "--seed", "bad"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--seed" in proc.stderr
