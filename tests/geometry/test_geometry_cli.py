"""The geometry command line: ``python -m readingroom.geometry solve`` and ``solve-file``."""

from __future__ import annotations

import pytest

from readingroom.geometry.__main__ import build_parser, main

T = "a b c = triangle a b c; "
ORTHO = T + "h = on_tline h b a c, on_tline h c a b ? perp a h b c"
MIDLINE = T + "m = midpoint m a b; n = midpoint n a c ? para m n b c"
# Pappus: neither DDAR nor a short search proves it
HOPELESS = ("a b = segment a b; c = on_line c a b; d e = segment d e; f = on_line f d e; "
            "x = intersection_ll x a e b d; y = intersection_ll y a f c d; "
            "z = intersection_ll z b f c e ? coll x y z")


def _one_line_error(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, err)


def test_solve_with_search_prints_aux_points_and_proof(capsys):
    assert main(["solve", ORTHO]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar+aux")
    assert "auxiliary points:\n  x0 = " in out
    assert "proof:\n  1. " in out
    *_, last, verdict = out.rstrip().splitlines()
    assert last.split("  [")[0].split(". ", 1)[1] == "perp a h b c"
    assert "x0" in out.split("proof:")[1]  # the proof uses the auxiliary point
    assert verdict.startswith("checker: checked: all ") and "follow from their cited" in verdict


def test_no_check_skips_the_checker(capsys):
    assert main(["solve", MIDLINE, "--no-check"]) == 0
    assert "checker" not in capsys.readouterr().out


def test_a_proof_the_checker_rejects_exits_1(monkeypatch, capsys):
    from readingroom.geometry import ddar

    real = ddar.solve

    def tampered(*a, **k):  # the engine "proves" the midline with a wrong rule
        r = real(*a, **k)
        r.proof = [ln.replace("[midline:", "[perpendicular bisector:") for ln in r.proof]
        return r

    monkeypatch.setattr(ddar, "solve", tampered)
    assert main(["solve", MIDLINE, "--no-search"]) == 1
    out = capsys.readouterr().out
    assert "checker: rejected: step 3" in out and "'perpendicular bisector'" in out


def test_solve_by_ddar_alone(capsys):
    assert main(["solve", MIDLINE, "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar in") and "auxiliary" not in out
    assert "3. para b c m n  [midline" in out
    assert out.rstrip().endswith("checker: checked: all 3 steps follow from their cited premises "
                                 "(0 read the diagram)")


def test_no_search_leaves_the_orthocentre_unsolved(capsys):
    assert main(["solve", ORTHO, "--no-search"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("not solved (") and "facts derived" in out


def test_unsolved_within_the_timeout(capsys):
    assert main(["solve", HOPELESS, "--timeout", "1"]) == 1
    assert "not solved" in capsys.readouterr().out


@pytest.mark.parametrize("text,words", [
    (T + "d = triangel d a b ? perp a b b c", ["unknown construction", "'triangel'"]),
    ("a b c = triangle a b c ? perp a h b c", ["'h'", "not defined"]),
    (T.rstrip("; "), ["no goal"]),
    ("a b c = triangle a b c ? tangent a b", ["'tangent'"]),
    (T + "d = midpoint d a b ? perp d a d b", ["failed numerically"]),
])
def test_bad_problems_exit_2_with_one_line(text, words, capsys):
    assert main(["solve", text]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_line_error(captured.err, *words)


def _write(tmp_path, *pairs):
    f = tmp_path / "problems.txt"
    f.write_text("".join(f"{n}\n{t}\n" for n, t in pairs))
    return f


def test_solve_file_table_and_total(tmp_path, capsys):
    f = _write(tmp_path, ("midline", MIDLINE), ("orthocentre", ORTHO))
    assert main(["solve-file", str(f)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(" | ")[:4] == ["name       ", "solved by ", "checked ", "seconds"]
    rows = {ln.split(" | ")[0].strip(): [c.strip() for c in ln.split(" | ")] for ln in out[2:-1]}
    assert rows["midline"][1:3] == ["ddar", "yes"] and rows["midline"][4] == ""
    assert rows["orthocentre"][1:3] == ["ddar+aux", "yes"]
    assert rows["orthocentre"][4].startswith("x0 = ")
    assert out[-1].startswith("total: 2/2 solved (1 by ddar, 1 by ddar+aux); 2/2 proofs checked")


def test_solve_file_some_unsolved_exit_1(tmp_path, capsys):
    f = _write(tmp_path, ("midline", MIDLINE), ("orthocentre", ORTHO))
    assert main(["solve-file", str(f), "--no-search"]) == 1
    out = capsys.readouterr().out
    assert "| not solved |" in out and out.splitlines()[-1].startswith("total: 1/2 solved")


def test_solve_file_bad_problem_is_reported_and_exits_2(tmp_path, capsys):
    f = _write(tmp_path, ("midline", MIDLINE), ("false", T + "d = midpoint d a b ? perp d a d b"))
    assert main(["solve-file", str(f)]) == 2
    captured = capsys.readouterr()
    _one_line_error(captured.err, "'false'", "failed numerically")
    assert "| error" in captured.out and "1 with errors" in captured.out


@pytest.mark.parametrize("content,words", [
    (None, ["no such file"]),
    ("only a name\n", ["odd number"]),
    ("p1\na b c = triangel a b c ? perp a b b c\n", ["unknown construction", "triangel"]),
    ("", ["no problems"]),
])
def test_solve_file_bad_files_exit_2(tmp_path, content, words, capsys):
    f = tmp_path / "p.txt"
    if content is not None:
        f.write_text(content)
    assert main(["solve-file", str(f)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_line_error(captured.err, str(f), *words)


@pytest.mark.parametrize("argv", [
    [], ["nope"], ["solve"], ["solve", ORTHO, "--timeout", "0"],
    ["solve", ORTHO, "--timeout", "x"], ["solve", ORTHO, "--seed", "-1"],
    ["solve-file"], ["solve", ORTHO, "--bogus"],
])
def test_bad_arguments_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["solve", "x"])
    assert args.timeout == 60.0 and not args.no_search and args.seed == 0
    args = build_parser().parse_args(["solve-file", "f.txt", "--no-search", "--timeout", "5"])
    assert args.timeout == 5.0 and args.no_search and str(args.file) == "f.txt"


def test_solve_a_non_constructive_statement(capsys):
    # the constructive builder cannot place m; the optimiser's diagram serves instead
    text = "a b c = triangle a b c; m = midpoint m b c, on_bline m a b ? perp a b a c"
    assert main(["solve", text, "--no-search"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar") and "thales" in out


def test_jobs_run_the_search_in_worker_processes(capsys):
    assert main(["solve", ORTHO, "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solved by ddar+aux") and "checker: checked: all" in out


def test_bad_jobs_and_cluster(capsys):
    with pytest.raises(SystemExit) as e:
        main(["solve", ORTHO, "--jobs", "0"])
    assert e.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # a malformed address is a usage error
        main(["solve", ORTHO, "--cluster", "localhost:8786"])
    assert e.value.code == 2
    assert "tcp://host:8786" in capsys.readouterr().err
