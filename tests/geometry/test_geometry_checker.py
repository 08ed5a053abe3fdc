"""Tests for readingroom.geometry.checker, the proof checker independent of the prover: every
proof the engine prints passes it; proofs with a wrong premise, a wrong rule, a skipped step or
a wrong conclusion are each rejected at the step that breaks, with the reason."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest

from readingroom.geometry import (
    Lemma,
    check_proof,
    check_search,
    checker,
    load_problems,
    parse_problem,
    search,
    solve,
)

MIDLINE = "a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? para m n b c"
CENTRAL = ("a b c = triangle a b c; o = circle o a b c; h = orthocenter h a b c ? "
           "eqangle b a b o a c a h")


@pytest.fixture(scope="module")
def central():
    r = solve(CENTRAL)
    assert r.solved
    return r.proof


def test_every_ddar_proof_of_the_books_problems_passes():
    n = 0
    for p in load_problems():
        r = solve(p, timeout=10)
        if r.solved:
            n += 1
            v = check_proof(p, r.proof)
            assert v.ok, (p.name, v.error)
            assert len(v.steps) == len(r.proof)
    assert n >= 25


def test_a_search_proof_with_an_auxiliary_point_passes():
    p = next(q for q in load_problems() if q.name == "trapezoid_midline")
    assert not solve(p, timeout=5).solved
    found = search(p, timeout=30)
    assert found.solved and found.aux
    v = check_search(found)
    assert v.ok, v.error
    assert "checked: all" in str(v)


def test_a_skipped_step_is_rejected():
    proof = solve(MIDLINE).proof
    assert check_proof(MIDLINE, proof).ok
    v = check_proof(MIDLINE, proof[1:])
    assert not v.ok and "midp m a b, not established by an earlier step" in v.error
    assert [s.ok for s in v.steps] == [True, False]


def test_a_wrong_rule_is_rejected():
    proof = solve(MIDLINE).proof
    bad = proof[:2] + [proof[2].replace("[midline:", "[perpendicular bisector:")]
    v = check_proof(MIDLINE, bad)
    assert not v.ok and "rule 'perpendicular bisector' does not give" in v.error


def test_a_wrong_premise_is_rejected(central):
    last = central[-1]
    assert "perp a h b c" in last
    # cite an established fact of the wrong kind in place of the perpendicular
    v = check_proof(CENTRAL, central[:-1] + [last.replace("perp a h b c", "cong b o c o")])
    assert not v.ok and "rule 'central angle' does not give" in v.error


def test_an_algebra_step_missing_an_equation_is_rejected(central):
    i = next(k for k, line in enumerate(central) if "AR ratio chase" in line)
    line = central[i]
    head, prem = line.split(": ", 1)
    cut = prem.rstrip("]").split(", ")
    assert len(cut) >= 2
    bad = central[:i] + [f"{head}: {', '.join(cut[:-1])}]"] + central[i + 1:]
    v = check_proof(CENTRAL, bad)
    assert not v.ok and v.error.startswith(f"step {i + 1} ") and "AR ratio chase" in v.error


def test_a_wrong_conclusion_and_a_missing_goal_are_rejected():
    proof = solve(MIDLINE).proof
    v = check_proof(MIDLINE, proof[:2] + [proof[2].replace("para b c m n", "para b m c n")])
    assert not v.ok and "does not give para b m c n" in v.error
    v = check_proof(MIDLINE, proof[:2])
    assert not v.ok and "not the goal" in v.error


def test_construction_steps_must_be_properties_of_that_construction():
    assert check_proof(MIDLINE, ["1. midp m a b  [construction midpoint m a b]",
                                 "2. midp n a c  [construction midpoint n a c]",
                                 "3. para b c m n  [midline: midp m a b, midp n a c]"]).ok
    v = check_proof(MIDLINE, ["1. midp m a c  [construction midpoint m a b]"])
    assert not v.ok and "not a property" in v.error
    v = check_proof(MIDLINE, ["1. midp m a b  [construction midpoint m b c]"])
    assert not v.ok and "no construction" in v.error


def test_the_angle_chase_reads_the_figure_only_to_pick_among_g_solutions():
    p = "a b c = r_triangle a b c ? perp a b a c"
    head = ["1. perp a b a c  [construction r_triangle a b c]",
            "2. eqangle a b a c a c a b  [AR angle chase: perp a b a c]"]
    # 2x = 0 (mod pi) has two solutions, x = 0 and x = pi/2: the figure shows the right angle
    v = check_proof(p, head + ["3. perp a b a c  [AR angle chase: eqangle a b a c a c a b]"])
    assert v.ok and v.readings == 1 and [s.reads for s in v.steps] == [False, False, True]
    v = check_proof(p, head + ["3. para a b a c  [AR angle chase: eqangle a b a c a c a b]"])
    assert not v.ok and "step 3" in v.error


def test_lemmas_are_accepted_only_when_proved():
    step = ["1. para b c m n  [lemma from the branch with x0 = midpoint x0 b c]"]
    assert check_proof(MIDLINE, step, lemmas=["para m n b c"]).ok
    v = check_proof(MIDLINE, step)
    assert not v.ok and "not among the lemmas" in v.error


def test_check_search_checks_each_lemma_in_its_own_branch():
    found = search(parse_problem(MIDLINE), timeout=10)
    assert found.solved
    proof = solve(MIDLINE).proof
    lemma = Lemma(found.result.goal, ["x0 = midpoint x0 b c"], proof, found.problem,
                  found.result.steps)
    main = ["1. para b c m n  [lemma from the branch with x0 = midpoint x0 b c]"]
    with_lemma = dataclasses.replace(
        found, lemmas=[lemma], result=dataclasses.replace(found.result, proof=main))
    assert check_search(with_lemma).ok
    broken = dataclasses.replace(lemma, proof=proof[1:])
    v = check_search(dataclasses.replace(with_lemma, lemmas=[broken]))
    assert not v.ok and v.error.startswith("lemma 1 (para b c m n): step 2")


@pytest.mark.parametrize("proof, message", [
    ([], "no steps"),
    (["para b c m n"], "not a proof line"),
    (["1. para b c m n  [a rule nobody wrote: midp m a b]"], "cites midp m a b"),
    (["1. para b c m n  [a rule nobody wrote]"], "unknown rule"),
    (["1. para b c m  [lines]"], "para takes 4 points"),
    (["1. cong a a b c  [lines]"], "zero length"),
    (["1. para b c m n  [trivial: holds by its spelling]"], "does not hold by its spelling"),
])
def test_malformed_or_unfounded_steps_are_rejected(proof, message):
    v = check_proof(MIDLINE, proof)
    assert not v.ok and message in v.error


def test_the_checker_imports_nothing_of_the_prover():
    tree = ast.parse(inspect.getsource(checker))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    prover = {f"readingroom.geometry.{m}" for m in ("ddar", "rules", "ar", "facts")}
    assert not imported & prover


@pytest.mark.parametrize("text", [
    "a b c = triangle a b c; d = reflect d a b c ? contri a b c d b c",
    "a b c = iso_triangle a b c; m = midpoint m b c ? contri a b m a c m",
])
def test_congruent_triangles_are_a_goal_the_engine_proves_and_the_checker_accepts(text):
    r = solve(text, timeout=20)
    assert r.solved and r.goal.name == "contri", r.stop
    assert check_proof(text, r.proof).ok
    # similar is not congruent: without the equal side the last step does not follow
    head, prem = r.proof[-1].rstrip("]").split(": ", 1)
    kept = [p for p in prem.split(", ") if not p.startswith("cong")]
    v = check_proof(text, r.proof[:-1] + [f"{head}: {', '.join(kept)}]"])
    assert not v.ok and "congruent triangles" in v.error


@pytest.mark.parametrize("text, answer", [
    ("a b c = ieq_triangle a b c ? acompute a b a c", {"1pi/3", "2pi/3"}),
    ("a b = segment a b; c d = square a b c d ? acompute a c a b", {"1pi/4", "3pi/4"}),
    ("a b c = r_triangle a b c; m = midpoint m b c ? rcompute a m b c", {"1/2"}),
    ("a b = segment a b; m = midpoint m a b ? rcompute a m a b", {"1/2"}),
    ("a b c = risos a b c ? aconst b c b a 3pi/4", {"3pi/4"}),
])
def test_find_goals_are_answered_and_the_answers_checked(text, answer):
    from readingroom.geometry import build_diagram, check_goal

    r = solve(text, timeout=20)
    assert r.solved and r.answer in answer, (r.stop, r.answer)
    v = check_proof(text, r.proof)
    assert v.ok, v.error
    # the answer is true on fresh figures: state it as a goal and check it numerically
    p = parse_problem(text)
    name = "aconst" if p.goal.name in ("acompute", "aconst") else "rconst"
    stated = f"{name} {' '.join(p.goal.args[:4])} {r.answer}"
    assert any(check_goal(build_diagram(p, seed=s), stated) for s in range(3))
    # a wrong value is not an answer the checker accepts
    wrong = "1pi/5" if name == "aconst" else "3/7"
    head, tail = r.proof[-1].split("  [", 1)
    bad = r.proof[:-1] + [f"{head.rsplit(' ', 1)[0]} {wrong}  [{tail}"]
    assert not check_proof(text, bad).ok


def test_a_ratio_with_a_constant_is_found_and_checked():
    # mn / bc = am / ab in the log-ratio chase, and the midpoint's row log|am| - log|ab| = -log 2
    # pins it: the answer 1/2, checked from the cited premises; a wrong answer is rejected
    text = "a b c = triangle a b c; m = midpoint m a b; n = midpoint n a c ? rcompute m n b c"
    r = solve(text, timeout=10)
    assert r.solved and r.answer == "1/2"
    assert r.proof[-1].split("  [")[0].endswith("rconst m n b c 1/2")
    assert check_proof(text, r.proof).ok
    assert not check_proof(text, r.proof[:-1] + [r.proof[-1].replace(" 1/2  [", " 1/3  [")]).ok


@pytest.mark.parametrize("text,rule,cited,forged", [
    ("a b c = triangle a b c; d = on_circum d a b c; o = on_bline o a b, on_bline o c d ? "
     "cong o a o c", "centre of a circle (two chords)", "cong c o d o", "cong a o b o"),
    ("a b = segment a b; m = midpoint m a b; x = on_tline x m m a ? cong x a x b",
     "perpendicular bisector (converse)", "perp a b m x", "coll a b m"),
], ids=["centre_chords", "perp_bisector_converse"])
def test_the_newer_rules_are_checked_from_their_premises(text, rule, cited, forged):
    proof = solve(text).proof
    assert f"[{rule}:" in proof[-1] and cited in proof[-1]
    assert check_proof(text, proof).ok
    v = check_proof(text, proof[:-1] + [proof[-1].replace(cited, forged)])
    assert not v.ok and f"rule '{rule}' does not give" in v.error
