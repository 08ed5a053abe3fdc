"""Tests for the SKEST-style fact sharing of readingroom.geometry.search: lemmas that one branch
proves about the problem's own points, used by later branches and by the merged run, each shown
with the branch (auxiliary points) that proved it; and ddar.solve's ``known`` premises and
``Result.proof_of`` that it rests on."""

from __future__ import annotations


from readingroom.geometry import parse_problem, search, search_proof_holds, solve
from readingroom.geometry.ddar import Result
from readingroom.geometry.facts import fact
from readingroom.geometry.search import _LEMMA, Lemma, SearchResult, _used_lemmas

T = "a b c = triangle a b c; "
ORTHO = T + "h = on_tline h b a c, on_tline h c a b ? perp a h b c"
HOPELESS = ("a b = segment a b; c = on_line c a b; d e = segment d e; f = on_line f d e; "
            "x = intersection_ll x a e b d; y = intersection_ll y a f c d; "
            "z = intersection_ll z b f c e ? coll x y z")
# the reflection of the orthocentre in a side lies on the circumcircle, so the circumcentre is
# as far from it as from a; DDAR needs the orthocentre's second altitude foot to see it
MIDPOINT = T + "m = midpoint m b c; n = midpoint n a c ? para m n a b"


# --- solve(known=) and Result.proof_of ------------------------------------------------------

def test_known_facts_are_premises_with_their_reason():
    text = T + "d = midpoint d b c ? cong d b d c"
    lemma = fact("cong", "a", "b", "a", "c")  # false in general: checked and dropped
    r = solve(text, seed=0, known=[(lemma, "lemma from elsewhere")])
    assert r.solved
    assert lemma not in r.why and r.discarded == 1


def test_a_known_fact_that_holds_is_used_in_the_proof():
    # m n parallel to a b is the midline theorem; give the engine the parallel as a lemma
    p = parse_problem(MIDPOINT)
    lemma = fact("para", "m", "n", "a", "b")
    r = solve(p, seed=0, known=[(lemma, _LEMMA + "x0 = midpoint x0 a b")])
    assert r.solved and r.discarded == 0
    assert r.why[lemma][0] == _LEMMA + "x0 = midpoint x0 a b"


def test_proof_of_any_fact_of_the_run():
    r = solve(T + "m = midpoint m a b; n = midpoint n a c; k = midpoint k b c ? para m n b c",
              seed=0)
    assert r.solved
    for f in list(r.why)[:5]:
        lines = r.proof_of(f)
        assert lines[-1].split("  [")[0].endswith(str(f))
        assert all(line.split(". ", 1)[0].isdigit() for line in lines)
    assert r.proof_of(r.goal) == r.proof


# --- sharing in the search --------------------------------------------------------------------

def test_without_sharing_nothing_is_shared():
    res = search(parse_problem(ORTHO), timeout=30, share=False)
    assert res.solved and res.lemmas == [] and res.shared == 0


def test_max_lemmas_caps_the_pool():
    p = parse_problem(HOPELESS)
    res = search(p, depth=1, width=4, timeout=20, max_lemmas=3, widen=False)
    assert res.shared <= 3
    res0 = search(p, depth=1, width=4, timeout=20, max_lemmas=0, widen=False)
    assert res0.shared == 0


# two lemmas, each needing its own auxiliary point: a h is an altitude (the orthocentre needs
# a foot) and m n is a trapezoid's midline (it needs the midpoint of a diagonal)
TWO = (T + "h = on_tline h b a c, on_tline h c a b; e = free e; f = on_pline f e b c; "
       "g = free g; k = on_pline k g e f; m = midpoint m e g; n = midpoint n f k ? perp a h m n")


def test_a_lemma_from_one_branch_completes_another():
    p = parse_problem(TWO, "two_lemmas")
    alone = search(p, depth=1, width=60, timeout=60, share=False, widen=False)
    assert not alone.solved and alone.stop == "exhausted"
    res = search(p, depth=1, width=60, timeout=60, widen=False)
    assert res.solved and len(res.aux) == 1 and res.lemmas
    assert res.shared >= len(res.lemmas)
    own = set(p.points)
    for lemma in res.lemmas:
        assert set(lemma.fact.args) <= own  # lemmas speak of the problem's own points
        assert lemma.aux and lemma.aux != res.aux  # ... and come from another branch
        assert lemma.proof[-1].split("  [")[0].endswith(str(lemma.fact))
        assert "x0" in " ".join(lemma.proof)  # proved with that branch's point
    uses = [line for line in res.result.proof if "[lemma from the branch with " in line]
    assert uses
    assert search_proof_holds(res)


def test_harvest_records_what_the_algebra_implies():
    p = parse_problem(TWO)
    plain = solve(p, seed=0)
    full = solve(p, seed=0, harvest=set(p.points))
    assert not plain.solved and not full.solved
    assert set(plain.why) <= set(full.why)
    extra = [f for f in full.why if f not in plain.why]
    assert extra and all(f.name in ("para", "perp", "cong") for f in extra)
    assert all(full.why[f][0].startswith("AR ") for f in extra)
    assert fact("para", "b", "c", "g", "k") in extra  # e f is parallel to both


def test_used_lemmas_follow_the_proof_and_nest():
    # a hand-made pool: branch A proves L1, branch B proves L2 from L1, the final run uses L2
    p = parse_problem(MIDPOINT)
    l1 = fact("cong", "m", "b", "m", "c")
    l2 = fact("para", "m", "n", "a", "b")
    goal = fact("para", "m", "n", "a", "b")
    other = fact("coll", "b", "c", "m")
    ra = Result(True, 2, 1, 0.0, [], why={other: ("construction", ()), l1: ("rule A", (other,))})
    rb = Result(True, 2, 1, 0.0, [], why={l1: (_LEMMA + "x0 = midpoint x0 a b", ()),
                                          l2: ("rule B", (l1,))})
    g2 = fact("perp", "a", "b", "a", "c")
    final = Result(True, 2, 1, 0.0, [], steps=[l2, g2],
                   why={l2: (_LEMMA + "x0 = foot x0 a b c", ()), g2: ("rule C", (l2,))})
    pool = {l1: (("x0 = midpoint x0 a b",), ra, p), l2: (("x0 = foot x0 a b c",), rb, p)}
    used = _used_lemmas(final, pool)
    assert [lm.fact for lm in used] == [l1, l2]  # dependencies first
    assert all(isinstance(lm, Lemma) for lm in used)
    assert used[0].aux == ["x0 = midpoint x0 a b"] and used[1].aux == ["x0 = foot x0 a b c"]
    assert used[0].steps == [other, l1]
    assert used[0].proof == ["1. coll b c m  [construction]",
                             "2. cong b m c m  [rule A: coll b c m]"]
    assert used[1].proof[-1] == "2. para a b m n  [rule B: cong b m c m]"
    assert goal == l2


def test_search_proof_holds_on_a_solved_search():
    res = search(parse_problem(ORTHO), timeout=30)
    assert isinstance(res, SearchResult) and res.solved
    assert search_proof_holds(res)


def test_cli_prints_lemmas_before_the_main_proof(monkeypatch, capsys):
    import sys

    from readingroom.geometry import __main__ as cli

    search_mod = sys.modules["readingroom.geometry.search"]  # the package exports search()

    p = parse_problem(MIDPOINT)
    lemma_fact = fact("para", "m", "n", "a", "b")
    main = solve(p, seed=0, known=[(lemma_fact, _LEMMA + "x0 = midpoint x0 a b")])
    lemma = Lemma(lemma_fact, ["x0 = midpoint x0 a b"], ["1. para a b m n  [rule]"], p,
                  [lemma_fact])
    fake = SearchResult(True, ["x0 = foot x0 a b c"], main, 0.5, 3, p, "solved", main.facts,
                        [lemma], 1)
    monkeypatch.setattr(search_mod, "search", lambda *a, **k: fake)
    assert cli.main(["solve", MIDPOINT, "--no-check"]) == 0
    out = capsys.readouterr().out
    assert "x0 = foot x0 a b c" in out and "x0 = midpoint x0 a b" in out
    assert out.index("lemma 1: para a b m n, proved with x0 = midpoint x0 a b:") < \
        out.index("main proof:")
    assert "    1. para a b m n  [rule]" in out
    # the fake lemma's one-line "proof" is no proof: the checker (on by default) says so
    assert cli.main(["solve", MIDPOINT]) == 1
    assert "checker: rejected: lemma 1 (para a b m n): step 1" in capsys.readouterr().out
