"""The loopback bridge that drives openevolve with this package's proposer and evaluator
(readingroom.evolve.bridge), and the benchmark script's parts that need no openevolve."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from readingroom.evolve.blocks import apply_diff
from readingroom.evolve.bridge import (
    BridgePrompt,
    BridgeServer,
    evaluator_source,
    parse_openevolve_prompt,
)
from readingroom.evolve.proposers import OpenAIProposer, Proposal

ROOT = Path(__file__).resolve().parents[2]

PARENT = """\
import math
# EVOLVE-BLOCK-START
STEP = 1
def main():
    return STEP
# EVOLVE-BLOCK-END
"""
OTHER = PARENT.replace("STEP = 1", "STEP = 7")


def prompt_040(parent=PARENT, *, fitness="2.6117", packing_id="3", shown=(OTHER,)):
    """A prompt in openevolve 0.4.0's diff_user layout."""
    artifacts = (f"## Last Execution Output\n\n### packing_id\n```\n{packing_id}\n```\n"
                 if packing_id is not None else "")
    tops = "".join(f"### Program {k + 1} (Score: 1.0000)\n```python\n{code}```\n"
                   f"Key features: x\n\n" for k, code in enumerate(shown))
    return (f"# Current Program Information\n- Fitness: {fitness}\n"
            f"- Feature coordinates: a=0.1\n- Focus areas: - none\n\n{artifacts}\n"
            f"# Program Evolution History\n## Previous Attempts\n\n### Attempt 1\n"
            f"- Metrics: combined_score: 1.0000\n\n## Top Performing Programs\n\n{tops}"
            f"# Current Program\n```python\n{parent}```\n\n# Task\nSuggest improvements.\n"
            f"<<<<<<< SEARCH\n# Original code\n=======\n# New code\n>>>>>>> REPLACE\n")


def prompt_old(parent=PARENT, packing_id=5):
    """The older DIFF_USER_TEMPLATE layout: the current program's metrics are listed."""
    return ("# Current Program Information\n- Current performance metrics: - combined_score: "
            f"2.0000\n- packing_id: {packing_id}.0000\n- Areas identified for improvement: - x\n\n"
            "# Program Evolution History\nnone\n\n"
            f"# Current Program\n```python\n{parent}```\n\n# Task\n")


def test_parse_the_040_prompt():
    got = parse_openevolve_prompt(prompt_040())
    assert got == BridgePrompt(PARENT, [OTHER], {}, 2.6117, {"packing_id": "3"})


def test_parse_the_older_prompt_reads_the_metrics():
    got = parse_openevolve_prompt(prompt_old())
    assert got.parent == PARENT and got.shown == [] and got.fitness is None
    assert got.metrics == {"combined_score": 2.0, "packing_id": 5.0}
    assert parse_openevolve_prompt(prompt_old()).artifacts == {}


def test_parse_leaves_out_a_shown_copy_of_the_parent():
    assert parse_openevolve_prompt(prompt_040(shown=(PARENT, OTHER))).shown == [OTHER]


class StepProposer:
    """Sets STEP to a number drawn from rng; records what it was given."""

    def __init__(self):
        self.calls = []

    def propose(self, prompt, parent, inspirations, rng):
        self.calls.append((parent.code, [p.code for p in inspirations]))
        line = next(s for s in parent.code.splitlines() if s.startswith("STEP = "))
        new = f"STEP = {rng.randrange(10, 99)}"
        return Proposal(f"<<<<<<< SEARCH\n{line}\n=======\n{new}\n>>>>>>> REPLACE\n")


def fake_evaluate(code, warm_start=None):
    """Scores STEP plus the warm start's "base"; the construction is {"base": score}."""
    step = int(next(s for s in code.splitlines() if s.startswith("STEP = ")).split("=")[1])
    if step == 13:
        return {"ok": False, "score": None, "reason": "sandbox: unlucky", "metrics": {}}
    score = step + (warm_start or {}).get("base", 0)
    return {"ok": True, "score": float(score), "reason": "",
            "metrics": {"cpu_s": 0.5, "spread": 0.1, "packing": {"base": score}}}


def warm_of(program):
    return (program.metrics or {}).get("packing") if program is not None else None


def post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as response:
        return json.loads(response.read())


def load_evaluator(tmp_path, bridge):
    path = tmp_path / "evaluator.py"
    path.write_text(evaluator_source(bridge.evaluate_url))
    spec = importlib.util.spec_from_file_location("bridge_evaluator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.enable_socket
def test_bridge_proposes_evaluates_and_carries_the_warm_start(tmp_path):
    proposer = StepProposer()
    with BridgeServer(proposer, fake_evaluate, warm_start=warm_of, seed=0) as bridge:
        evaluator = load_evaluator(tmp_path, bridge)
        (tmp_path / "p0.py").write_text(PARENT)
        first = evaluator.evaluate(str(tmp_path / "p0.py"))   # the initial program
        assert first == {"combined_score": 1.0, "ok": 1.0, "packing_id": 0.0, "cpu_s": 0.5,
                         "spread": 0.1}
        # our own OpenAI client asks the bridge as openevolve would
        client = OpenAIProposer(bridge.url, "readingroom-mutation")
        answer = client.propose(prompt_040(packing_id="0"), rng=random.Random(1))
        assert answer.error is None
        child = apply_diff(PARENT, answer.text)
        assert child.ok
        assert proposer.calls == [(PARENT, [OTHER])]
        (tmp_path / "c1.py").write_text(child.code)
        got = evaluator.evaluate(str(tmp_path / "c1.py"))
        step = int(child.code.split("STEP = ")[1].split("\n")[0])
        assert got["combined_score"] == step + 1.0            # from the parent's construction
        assert got["packing_id"] == 1.0
        assert bridge.evaluations[1]["warm_id"] == 0
        assert bridge.parents_by["artifact"] == 1 and bridge.unmatched == 0
        assert bridge.packing(1) == {"base": step + 1}
        assert [(p["applies"], p["changes"]) for p in bridge.proposals] == [(True, True)]


@pytest.mark.enable_socket
def test_bridge_finds_the_parent_by_code_and_counts_strangers(tmp_path):
    with BridgeServer(StepProposer(), fake_evaluate, warm_start=warm_of, seed=3) as bridge:
        assert bridge.score(PARENT)["packing_id"] == 0.0
        # no artifact, no metric: found by its code (and its fitness)
        reply = post(bridge.url + "/chat/completions",
                     {"model": "m", "messages": [
                         {"role": "system", "content": "sys"},
                         {"role": "user", "content": prompt_040(packing_id=None,
                                                                fitness="1.0000")}]})
        diff = reply["choices"][0]["message"]["content"]
        assert bridge.parents_by["code"] == 1 and bridge.proposals[0]["parent_packing_id"] == 0
        child = apply_diff(PARENT, diff).code
        assert bridge.score(child)["ok"] == 1.0 and bridge.evaluations[1]["warm_id"] == 0
        # a program the bridge never proposed is evaluated from scratch and counted
        out = bridge.score(OTHER)
        assert out["combined_score"] == 7.0 and bridge.unmatched == 1
        # a failing program: score 0 for openevolve, None in the log
        failed = bridge.score(PARENT.replace("STEP = 1", "STEP = 13"))
        assert failed["combined_score"] == 0.0 and failed["ok"] == 0.0
        assert bridge.evaluations[-1]["score"] is None
        assert "unlucky" in bridge.evaluations[-1]["reason"]
        assert bridge.packing(3) is None
        # a parent never seen: no warm start
        stranger = PARENT.replace("STEP = 1", "STEP = 2")
        post(bridge.url + "/chat/completions", {"messages": [{"role": "user", "content":
                                                             prompt_040(parent=stranger,
                                                                        packing_id=None)}]})
        assert bridge.parents_by["none"] == 1
        assert bridge.proposals[-1]["parent_packing_id"] is None


@pytest.mark.enable_socket
def test_bridge_http_errors():
    with BridgeServer(StepProposer(), fake_evaluate) as bridge:
        base = bridge.url[:-len("/v1")]
        for path, payload, status, text in (
                ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]},
                 400, "Current Program"),
                ("/v1/chat/completions", {"messages": []}, 400, "no user message"),
                ("/evaluate", {"code": 3}, 400, "code must be a str"),
                ("/nowhere", {}, 404, "no endpoint")):
            with pytest.raises(urllib.error.HTTPError) as err:
                post(base + path, payload)
            assert err.value.code == status
            assert text in err.value.read().decode()


def test_bridge_reads_the_parent_from_the_listed_metrics():
    bridge = BridgeServer(StepProposer(), fake_evaluate, warm_start=warm_of)  # not started
    bridge.score(PARENT)
    bridge.score(OTHER)
    bridge.complete({"messages": [{"role": "user", "content": prompt_old(packing_id=0)}]})
    # packing_id 9 was never given out: found by its code instead
    bridge.complete({"messages": [{"role": "user", "content": prompt_old(packing_id=9)}]})
    assert bridge.parents_by == {"artifact": 0, "metrics": 1, "code": 1, "none": 0}
    assert [p["parent_packing_id"] for p in bridge.proposals] == [0, 0]


class NoopProposer:
    def propose(self, prompt, parent, inspirations, rng):
        return Proposal("<<<<<<< SEARCH\nSTEP = 1\n=======\nSTEP = 1\n>>>>>>> REPLACE\n")


def test_bridge_counts_a_diff_that_changes_nothing():
    bridge = BridgeServer(NoopProposer(), fake_evaluate)  # not started
    reply = bridge.complete({"messages": [{"role": "user", "content": prompt_040()}]})
    assert "STEP = 1" in reply["choices"][0]["message"]["content"]
    assert bridge.proposals[0]["applies"] and not bridge.proposals[0]["changes"]
    assert bridge.parents_by["none"] == 1  # nothing evaluated yet: no parent known


def test_bridge_state_errors():
    bridge = BridgeServer(StepProposer(), fake_evaluate)
    with pytest.raises(RuntimeError, match="not started"):
        bridge.url
    with pytest.raises(KeyError):
        bridge.packing(0)


# -- benchmarks/evolve_openevolve.py, the parts that need no openevolve ---------------------------

def load_script():
    spec = importlib.util.spec_from_file_location(
        "evolve_openevolve", ROOT / "benchmarks" / "evolve_openevolve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_says_how_to_install_openevolve(tmp_path):
    script = load_script()
    missing = tmp_path / "python"
    missing.write_text("#!/bin/sh\necho 'ModuleNotFoundError: openevolve' >&2\nexit 1\n")
    missing.chmod(0o755)
    with pytest.raises(script.OpenEvolveMissing, match="pip install openevolve==0.4.0"):
        script.openevolve_version(str(missing))
    with pytest.raises(script.OpenEvolveMissing, match="cannot run"):
        script.openevolve_version(str(tmp_path / "no-such-python"))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "evolve_openevolve.py"),
                           "--openevolve-python", str(missing), "--budget", "1"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "install it apart" in proc.stderr


def test_script_config_and_curve():
    script = load_script()
    cfg = json.loads(script.openevolve_config(url="http://127.0.0.1:9/v1", budget=5, seed=2,
                                              islands=4, timeout_s=60))
    assert cfg["max_iterations"] == 5 and cfg["random_seed"] == 2
    assert cfg["llm"]["api_base"] == "http://127.0.0.1:9/v1"
    assert cfg["evaluator"]["parallel_evaluations"] == 1
    assert not cfg["evaluator"]["cascade_evaluation"]
    assert cfg["database"]["num_islands"] == 4
    log = [{"score": 1.0, "cpu_s": 1, "elapsed_s": 0},
           {"score": None, "cpu_s": 2, "elapsed_s": 1},
           {"score": 3.0, "cpu_s": 2, "elapsed_s": 2},
           {"score": 2.0, "cpu_s": 2, "elapsed_s": 3}]
    got = script._children(log, budget=2)
    assert got["curve"] == [float("-inf"), 3.0] and got["scores"] == [None, 3.0]
