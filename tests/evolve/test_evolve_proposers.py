from __future__ import annotations

import collections
import io
import json
import random
import socket
import threading
import time
import tokenize
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from readingroom.evolve.blocks import apply_diff, parse_blocks, parse_diff
from readingroom.evolve.prompt import build_prompt
from readingroom.evolve.proposers import (
    MutationProposer, OpenAIProposer, Proposal, Proposer, extract_program, make_proposer,
)

PROGRAM = '''\
"""Spiral points: a fixture for the mutation proposer (digits 123 in a docstring)."""
import math

LIMIT = 1000  # outside every block: never touched


# EVOLVE-BLOCK-START
def place(n, seed=7):
    """Place n points; 0.25 here is text."""
    points = []
    # region: init
    radius = 0.5
    angle = 0.0
    # endregion
    for i in range(n):
        # region: step
        angle += 2.399963 * (i % 3 + 1)
        radius *= 1.01
        # endregion
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    scale = 0.5
    scale = 0.5
    return points, -3, scale, 1e-3, "label 42"
# EVOLVE-BLOCK-END


def evaluate(n=LIMIT // 100):
    points, *_ = place(n)
    return -max(math.hypot(x, y) for x, y in points)


# EVOLVE-BLOCK-START
STEPS = 12
TOLERANCE = 2.5e-4
# EVOLVE-BLOCK-END
'''

FRAGMENTS = {
    "init": ["radius = 0.5\nangle = 0.0", "radius = 0.1\nangle = 1.0\n",
             "    radius = 1.0\n    angle = math.pi / 4"],
    "step": ["angle += 2.399963\nradius *= 1.01",
             "angle += math.pi * (3 - math.sqrt(5))\nradius += 0.01"],
    "unused": ["x = 1"],
}


def prog(code: str, score: float = 0.0, **kw) -> SimpleNamespace:
    return SimpleNamespace(code=code, score=score, metrics={}, **kw)


def outside(code: str) -> list[str]:
    lines, blocks = code.splitlines(), parse_blocks(code)
    inside = {r for b in blocks for r in range(b.start, b.end - 1)}  # 0-based interior rows
    return [line for r, line in enumerate(lines) if r not in inside]


def region_body(code: str, name: str) -> str:
    body = code.split(f"# region: {name}\n")[1].split("# endregion")[0]
    return "\n".join(s.strip() for s in body.splitlines() if s.strip())


def tokens(code: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


# -- MutationProposer ---------------------------------------------------------------------------

def test_mutation_proposals_apply_at_least_99_percent():
    """Chained evolution: each proposal is applied to its parent with apply_diff."""
    rng = random.Random(0)
    proposer = MutationProposer(FRAGMENTS)
    assert isinstance(proposer, Proposer)
    population = [prog(PROGRAM, id=0)]
    applied, n, ops, multi = 0, 500, collections.Counter(), 0
    for _ in range(n):
        parent = rng.choice(population)
        inspirations = rng.sample(population, min(2, len(population)))
        proposal = proposer.propose("", parent, inspirations, rng)
        assert proposal.kind == "diff" and proposal.error is None
        ops.update(note.split(" ")[0] for note in proposal.note.split("; "))
        multi += len(parse_diff(proposal.text)) > 1
        result = apply_diff(parent.code, proposal.text)
        if result.ok:
            applied += 1
            assert outside(result.code) == outside(PROGRAM)
            population = (population + [prog(result.code, id=len(population))])[-30:]
    assert applied / n >= 0.99, applied / n
    assert min(ops[op] for op in ("constant", "region", "crossover")) >= 50, ops
    assert multi >= 50  # "one or more" edits per answer


def test_constants_keep_type_and_sign_and_touch_only_block_numbers():
    proposer = MutationProposer(weights={"constant": 1.0}, max_ops=1, max_constants=3)
    before = tokens(PROGRAM)
    changed = collections.Counter()
    for seed in range(100):
        proposal = proposer.propose("", prog(PROGRAM), [], random.Random(seed))
        child = apply_diff(PROGRAM, proposal.text).code
        after = tokens(child)
        assert [t.type for t in after] == [t.type for t in before]
        for old, new in zip(before, after):
            if old.string == new.string:
                continue
            assert old.type == tokenize.NUMBER, (old, new)
            assert ("." in old.string or "e" in old.string) == ("." in new.string
                                                                 or "e" in new.string)
            value = float(new.string)
            assert value > 0
            changed[old.string] += 1
        assert "return points, -" in child  # the unary minus stays, the literal > 0
    # zeros, numbers outside the blocks, in strings, comments and docstrings never move; nor do
    # ints off the knob lines (seed=7, i % 3 + 1: structure, not tunable constants)
    assert set(changed) <= {"0.5", "2.399963", "1.01", "1e-3", "12", "2.5e-4"}
    assert {"0.5", "2.399963", "1.01", "1e-3", "12", "2.5e-4"} <= set(changed)


def test_ints_move_by_at_most_int_step_and_floats_multiplicatively():
    proposer = MutationProposer(weights={"constant": 1.0}, max_ops=1, max_constants=1,
                                int_step=2, sigma=0.1)
    code = block("N = 10\nX = 2.0")
    ints, floats = set(), []
    for seed in range(200):
        child = apply_diff(code, proposer.propose("", code, [], random.Random(seed)).text).code
        ns = {}
        exec(child, ns)
        if ns["N"] != 10:
            ints.add(ns["N"])
            assert isinstance(ns["N"], int)
        else:
            floats.append(ns["X"])
            assert isinstance(ns["X"], float)
    assert ints == {8, 9, 11, 12}
    assert 0.5 < min(floats) and max(floats) < 2.0 / 0.5 and len(set(floats)) > 20


def block(body: str) -> str:
    return f"# EVOLVE-BLOCK-START\n{body}\n# EVOLVE-BLOCK-END\n"


def test_duplicate_lines_get_context_until_the_search_is_unique():
    code = "def f():\n    # EVOLVE-BLOCK-START\n    x = 0.5\n    y = 1\n    x = 0.5\n" \
           "    # EVOLVE-BLOCK-END\n    return x\n"
    proposer = MutationProposer(weights={"constant": 1.0}, max_ops=1, max_constants=1)
    for seed in range(30):
        proposal = proposer.propose("", code, [], random.Random(seed))
        assert apply_diff(code, proposal.text).ok, proposal.text
    # the same lines duplicated outside the block cannot be made unique inside it: no edit
    dup = "x = 0.5\n" + block("x = 0.5")
    proposal = proposer.propose("", dup, [], random.Random(0))
    assert proposal.text == "" and "no mutation applies" in proposal.error
    assert not apply_diff(dup, proposal.text).ok


def test_region_swap_uses_fragments_reindented():
    proposer = MutationProposer(FRAGMENTS, weights={"region": 1.0}, max_ops=1)
    seen = set()
    for seed in range(40):
        proposal = proposer.propose("", prog(PROGRAM), [], random.Random(seed))
        result = apply_diff(PROGRAM, proposal.text)
        assert result.ok and proposal.note.startswith("region ")
        name = proposal.note.split("'")[1]
        body = region_body(result.code, name)
        assert body != region_body(PROGRAM, name)
        assert body in {"\n".join(s.strip() for s in f.strip().splitlines())
                        for f in FRAGMENTS[name]}
        seen.add((name, body))
        indent = " " * (4 if name == "init" else 8)
        assert all(line.startswith(indent) for line in result.code.split(
            f"# region: {name}\n")[1].split("# endregion")[0].splitlines())
    assert len(seen) == 4  # init: 2 alternatives to its body, step: 2


def test_crossover_copies_a_region_or_a_whole_block_from_an_inspiration():
    proposer = MutationProposer(weights={"crossover": 1.0}, max_ops=1)
    donor = PROGRAM.replace("    radius *= 1.01\n", "    radius += 0.02\n")
    proposal = proposer.propose("", prog(PROGRAM), [prog(PROGRAM), prog(donor, id=7)],
                                random.Random(0))
    assert proposal.note == "crossover region 'step' from inspiration 7"
    assert apply_diff(PROGRAM, proposal.text).code == donor
    # no shared region differs: the whole block body
    donor = PROGRAM.replace("STEPS = 12", "STEPS = 40")
    proposal = proposer.propose("", prog(PROGRAM), [prog(donor)], random.Random(0))
    assert proposal.note == "crossover block 2 from inspiration 1"
    assert apply_diff(PROGRAM, proposal.text).code == donor
    # nothing to take from identical or broken inspirations
    broken = "# EVOLVE-BLOCK-START\nx = 1\n"
    proposal = proposer.propose("", prog(PROGRAM), [prog(PROGRAM), prog(broken)],
                                random.Random(0))
    assert proposal.error is not None and proposal.text == ""


def test_same_seed_same_proposal():
    proposer = MutationProposer(FRAGMENTS)
    insp = [prog(PROGRAM.replace("STEPS = 12", "STEPS = 3"))]
    a = [proposer.propose("", prog(PROGRAM), insp, random.Random(s)) for s in range(20)]
    b = [proposer.propose("", prog(PROGRAM), insp, random.Random(s)) for s in range(20)]
    assert a == b and len({p.text for p in a}) > 10


def test_prompt_to_proposal_to_child():
    parent = prog(PROGRAM, 1.0, id=1)
    prompt = build_prompt("Spread the points.", parent, [])
    proposal = make_proposer("mutation", fragments=FRAGMENTS).propose(
        prompt, parent, [], random.Random(3))
    assert apply_diff(parent.code, proposal.text).ok


# -- OpenAIProposer against a fake server on loopback -------------------------------------------

def reply(content: str) -> dict:
    return {"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


class FakeServer:
    """A chat-completions server in a thread: answers ``(status, body bytes)`` from
    ``self.answer``, or hangs until closed when ``self.hang`` is set."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answer = (200, json.dumps(reply("hello")).encode())
        self.hang = False
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": json.loads(body)})
                if outer.hang:
                    outer.release.wait(10)
                    return
                status, data = outer.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.mark.enable_socket
def test_openai_request_and_answer(server):
    diff = "<<<<<<< SEARCH\nSTEPS = 12\n=======\nSTEPS = 13\n>>>>>>> REPLACE\n"
    server.answer = (200, json.dumps(reply(diff)).encode())
    proposer = OpenAIProposer(server.url + "/v1/", "qwen-coder", api_key="sk-test",
                              temperature=0.2, max_tokens=256, system="Be brief.")
    assert isinstance(proposer, Proposer) and "sk-test" not in repr(proposer)
    proposal = proposer.propose("PROMPT TEXT", prog(PROGRAM), [], random.Random(0))
    assert proposal == Proposal(diff, "diff", proposal.note)
    assert proposal.error is None and "finish_reason=stop, 5 tokens" in proposal.note
    assert apply_diff(PROGRAM, proposal.text).ok
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "qwen-coder" and body["temperature"] == 0.2
    assert body["max_tokens"] == 256 and isinstance(body["seed"], int)
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "PROMPT TEXT"}]


@pytest.mark.enable_socket
def test_openai_without_key_and_rewrite_kind(server):
    server.answer = (200, json.dumps(reply("Here:\n```python\nx = 1\n```\nDone.")).encode())
    proposer = make_proposer(f"openai:{server.url}#org/model:7b", kind="rewrite")
    proposal = proposer.propose("P", None, [], random.Random(0))
    assert proposal.kind == "rewrite" and proposal.text == "x = 1\n"
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions" and "Authorization" not in req["headers"]
    assert req["body"]["model"] == "org/model:7b"
    assert req["body"]["messages"] == [{"role": "user", "content": "P"}]


@pytest.mark.enable_socket
@pytest.mark.parametrize("answer, why", [
    ((500, b'{"error": "CUDA out of memory"}'), "HTTP 500 Internal Server Error from http"),
    ((200, b"<html>not json</html>"), "malformed JSON"),
    ((200, b'{"choices": []}'), "no choices[0].message.content"),
    ((200, json.dumps(reply(None)).encode()), "message content is NoneType"),
])
def test_openai_errors_become_empty_proposals(server, answer, why):
    server.answer = answer
    proposal = OpenAIProposer(server.url, "m").propose("P", None, [], random.Random(0))
    assert proposal.text == "" and why in proposal.error and why in proposal.note
    assert not apply_diff(PROGRAM, proposal.text).ok
    if answer[0] == 500:
        assert "CUDA out of memory" in proposal.error


@pytest.mark.enable_socket
def test_openai_hanging_server_times_out(server):
    server.hang = True
    start = time.monotonic()
    proposal = OpenAIProposer(server.url, "m", timeout_s=0.3).propose("P", None, [],
                                                                       random.Random(0))
    assert time.monotonic() - start < 5
    assert proposal.text == "" and "within 0.3 s" in proposal.error


@pytest.mark.enable_socket
def test_openai_refused_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proposal = OpenAIProposer(f"http://127.0.0.1:{port}", "m", timeout_s=2).propose("P")
    assert proposal.text == "" and "cannot reach" in proposal.error


def test_openai_urls_and_specs():
    assert OpenAIProposer("http://h:1/v1/chat/completions", "m").url == \
        "http://h:1/v1/chat/completions"
    assert make_proposer("openai:https://api.example/v1#gpt").url == \
        "https://api.example/v1/chat/completions"
    assert isinstance(make_proposer("mutation"), MutationProposer)


def test_extract_program():
    assert extract_program("```\na\n```\n```python\nb\n```") == "b\n"
    assert extract_program("```\na\n```") == "a\n"
    assert extract_program("x = 1\n") == "x = 1\n"


def test_knobs_are_preferred_when_the_block_declares_them():
    import random as _random

    from readingroom.evolve.blocks import apply_diff

    code = ("def main():\n    # EVOLVE-BLOCK-START\n    STEP = 0.5\n    ROUNDS = 7\n"
            "    x = sum(range(1, 3))\n    y = [1.5, 2.5][1]\n    # EVOLVE-BLOCK-END\n"
            "    return STEP * ROUNDS + x + y\n")
    only_knobs = MutationProposer(weights={"constant": 1.0}, knob_bias=1.0, max_ops=1)
    rng = _random.Random(0)
    for _ in range(50):
        child = apply_diff(code, only_knobs.propose("", code, [], rng).text)
        assert child.ok
        changed = [a for a, b in zip(code.splitlines(), child.code.splitlines()) if a != b]
        assert changed and all(line.strip()[0].isupper() for line in changed)


INDEXED = block('''\
def spread(n, rng):
    pts = np.zeros((n, 2))
    for k in range(3):
        pts[:, 1] += 0.25 * rng.normal(0.0, 1.5, n)
    first = pts[1]
    return pts.reshape(-1, 2)[:, 0] * 1.5 + first[1]''')


def _changed_numbers(before: str, after: str) -> list[tuple[str, str]]:
    old, new = tokens(before), tokens(after)
    assert [t.type for t in old] == [t.type for t in new]
    return [(a.string, b.string) for a, b in zip(old, new) if a.string != b.string]


def test_constant_mutation_leaves_indices_counts_and_shapes_alone():
    """Ints that index, count or shape (range(3), pts[1], (n, 2), [:, 0]) are structure, not
    tunable constants: only floats (and knobs) move, so the child runs with the same shape."""
    import numpy as np

    proposer = MutationProposer(weights={"constant": 1.0}, max_ops=1, max_constants=3)
    for seed in range(60):
        proposal = proposer.propose("", INDEXED, [], random.Random(seed))
        child = apply_diff(INDEXED, proposal.text).code
        changed = _changed_numbers(INDEXED, child)
        assert changed and all("." in old for old, _ in changed), changed
        ns = {"np": np}
        exec(child, ns)
        assert ns["spread"](5, np.random.default_rng(0)).shape == (5,)
    # an int outside a knob line is never a candidate: a block of indices only has nothing
    only_ints = block("x = y[1]\nz = list(range(2, 5))")
    proposal = proposer.propose("", only_ints, [], random.Random(0))
    assert proposal.error and "no mutation applies" in proposal.error


@pytest.mark.parametrize("module", ["circles", "matmul"])
def test_constant_mutation_of_the_seed_programs_touches_floats_and_knobs_only(module):
    import importlib
    import re

    seed_program = importlib.import_module(f"readingroom.evolve.{module}").SEED_PROGRAM
    knob = re.compile(r"^\s*[A-Z][A-Z0-9_]*\s*=")
    rows = seed_program.splitlines()
    proposer = MutationProposer(weights={"constant": 1.0}, max_ops=1, max_constants=2)
    before = tokens(seed_program)
    for seed in range(150):
        child = apply_diff(seed_program,
                           proposer.propose("", seed_program, [], random.Random(seed)).text).code
        after = tokens(child)
        assert [t.type for t in after] == [t.type for t in before]
        for a, b in zip(before, after):
            if a.string != b.string:
                assert "." in a.string or "e" in a.string.lower() or \
                    knob.match(rows[a.start[0] - 1]), (a.string, rows[a.start[0] - 1])
