"""A loopback bridge that lets another evolution framework (openevolve) use this package's
proposer and evaluator, offline.

`openevolve <https://pypi.org/project/openevolve/>`_ asks an OpenAI-compatible
``/v1/chat/completions`` endpoint for SEARCH/REPLACE diffs and scores a child by calling
``evaluate(program_path)`` in an evaluator file it is given. :class:`BridgeServer` is both ends on
``127.0.0.1``:

* ``POST /v1/chat/completions``: reads openevolve's prompt (:func:`parse_openevolve_prompt`: the
  current program, the programs it shows, the current program's metrics), hands the current program
  and the shown programs to this package's proposer (the offline
  :class:`~readingroom.evolve.proposers.MutationProposer`, say) and answers with its diff as a chat
  completion. No model is involved: openevolve gets the same kind of diffs the chapter's loop gets.
* ``POST /evaluate`` with ``{"code": ...}``: runs this package's evaluator on the code (for
  circle packing, :func:`readingroom.evolve.problems.evaluate_packing`: the same sandbox, time
  limits and exact checker as the chapter's loop) and answers with numeric metrics
  (``combined_score``, the score openevolve maximises, and ``packing_id``). The evaluator file
  openevolve loads (:func:`evaluator_source`) only forwards the program's text here.

Warm starts (search mode, AlphaEvolve §3.2). openevolve calls ``evaluate(program_path)`` with the
child alone, not its parent, so the bridge carries the parent's construction itself: each
evaluation's construction is kept under a ``packing_id`` returned among the metrics; openevolve
shows the current program's metrics in its prompt, so when the bridge answers a prompt it knows the
parent's ``packing_id``, applies its own diff to the parent
(:func:`~readingroom.evolve.blocks.apply_diff`) and remembers that child's warm start; when that
child's code comes to ``/evaluate``, it is evaluated from its parent's construction -- as a child
is in :func:`~readingroom.evolve.loop.run_evolution`. A code that arrives without a remembered
parent (the initial program; or a child openevolve built differently) is evaluated from scratch and
counted in :attr:`BridgeServer.unmatched` (the initial program is not counted).

Every evaluation is logged (:attr:`BridgeServer.evaluations`: score or ``None``, reason, seconds,
the warm start's id) so the run's curve does not depend on what the other framework records.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from readingroom.common.checks import check_float, check_seed
from readingroom.evolve.blocks import apply_diff

__all__ = ["BridgePrompt", "BridgeServer", "evaluator_source", "parse_openevolve_prompt"]

_CURRENT = re.compile(r"^# Current Program[ \t]*\n```[\w+-]*[ \t]*\n(.*?)\n```[ \t]*$",
                      re.M | re.S)
_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)\n```[ \t]*$", re.M | re.S)
_HISTORY = re.compile(r"^# Program Evolution History[ \t]*$", re.M)
_ARTIFACT = re.compile(r"^### ([^\n]+?)[ \t]*\n```[ \t]*\n(.*?)\n```[ \t]*$", re.M | re.S)
_METRICS = re.compile(r"^- Current performance metrics:[ \t]*(.*?)^- Areas identified",
                      re.M | re.S)
_METRIC = re.compile(r"^\s*-\s*([A-Za-z_][\w.]*):\s*([-+0-9.eE]+|nan|inf|-inf)\s*$", re.M)
_FITNESS = re.compile(r"^- Fitness:\s*([-+0-9.eE]+)\s*$", re.M)


@dataclass(frozen=True)
class BridgePrompt:
    """What :func:`parse_openevolve_prompt` reads from a prompt: ``parent`` (the current program's
    code), ``shown`` (the codes of the other programs it shows: top programs, inspirations),
    ``metrics`` (the current program's numeric metrics, where the template lists them),
    ``fitness`` (its "Fitness" line, where the template has one) and ``artifacts`` (the
    evaluator's artifacts for it: name -> text)."""

    parent: str
    shown: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    fitness: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)


def parse_openevolve_prompt(text: str) -> BridgePrompt:
    """Read openevolve's diff prompt (its ``diff_user`` template, 0.4.0 and the older
    ``DIFF_USER_TEMPLATE``): the code under ``# Current Program``; the fenced programs shown
    between ``# Program Evolution History`` and it; the ``- Fitness:`` line; the ``- name:
    value`` lines of "Current performance metrics"; and the artifacts (``### name`` then a fenced
    text) shown before the history.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    found = list(_CURRENT.finditer(text))
    if not found:
        raise ValueError("the prompt has no '# Current Program' section with a fenced program")
    current = found[-1]
    parent = current.group(1) + "\n"
    history = _HISTORY.search(text, 0, current.start())
    head_end = history.start() if history is not None else 0
    shown = [m.group(1) + "\n" for m in _FENCE.finditer(text, head_end, current.start())]
    artifacts = {m.group(1).strip(): m.group(2) for m in _ARTIFACT.finditer(text, 0, head_end)}
    metrics: dict[str, float] = {}
    block = _METRICS.search(text, 0, current.start())
    if block is not None:
        metrics = {name: float(value) for name, value in _METRIC.findall(block.group(1))}
    fitness = _FITNESS.search(text, 0, current.start())
    return BridgePrompt(parent, [s for s in shown if s != parent], metrics,
                        float(fitness.group(1)) if fitness is not None else None, artifacts)


def evaluator_source(url: str, *, timeout_s: float = 600.0) -> str:
    """The text of an openevolve evaluator file whose ``evaluate(program_path)`` posts the
    program's code to ``url`` (a :class:`BridgeServer`'s ``/evaluate``) and returns the metrics it
    answers. Standard library only, so it runs in any Python openevolve runs in; loopback only
    (no proxy)."""
    if not isinstance(url, str) or not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"url must be a loopback http URL, got {url!r}")
    check_float(timeout_s, "timeout_s", low=0, low_open=True)
    return f'''"""openevolve evaluator: forwards the program to readingroom's evaluator at {url}."""
import json
import urllib.request

URL = {url!r}


def evaluate(program_path):
    with open(program_path, encoding="utf-8") as f:
        code = f.read()
    request = urllib.request.Request(URL, data=json.dumps({{"code": code}}).encode(),
                                     headers={{"Content-Type": "application/json"}})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
    with opener.open(request, timeout={float(timeout_s)!r}) as response:
        metrics = json.loads(response.read().decode("utf-8"))
    try:  # openevolve shows a program's artifacts in its children's prompts
        from openevolve.evaluation_result import EvaluationResult
    except ImportError:
        return metrics
    return EvaluationResult(metrics=metrics,
                            artifacts={{"packing_id": str(int(metrics["packing_id"]))}})
'''


@dataclass(frozen=True)
class _Program:
    code: str
    id: Any = None


def _key(code: str) -> str:
    """Code compared up to trailing blanks (two diff appliers may differ there)."""
    return "\n".join(line.rstrip() for line in code.strip("\n").split("\n"))


class BridgeServer:
    """A loopback HTTP server: a chat-completions endpoint backed by ``proposer`` and an
    ``/evaluate`` endpoint backed by ``evaluate`` (see the module docstring).

    Args:
        proposer: anything with ``propose(prompt, parent, inspirations, rng) -> Proposal``.
        evaluate: ``evaluate(code, warm_start=...) -> {"ok", "score", "reason", "metrics",
            ...}`` (a :class:`~readingroom.evolve.loop.Problem`'s ``evaluate``); ``metrics`` may
            hold ``"packing"``, the construction a child is warm-started from.
        warm_start: ``problem.warm_start`` (a function of a program object with ``.metrics``),
            or ``None`` (constructor mode: every code is evaluated from scratch).
        seed: seeds the proposer's :class:`random.Random`.

    Use as a context manager (``with BridgeServer(...) as bridge: bridge.url``), or call
    :meth:`start` and :meth:`close`. Requests are served one at a time.
    """

    def __init__(self, proposer: Any, evaluate: Callable[..., Mapping[str, Any]], *,
                 warm_start: Callable[[Any], Any] | None = None, seed: int = 0) -> None:
        if not callable(getattr(proposer, "propose", None)):
            raise TypeError("proposer must have a propose(prompt, parent, inspirations, rng)")
        if not callable(evaluate):
            raise TypeError("evaluate must be callable")
        if warm_start is not None and not callable(warm_start):
            raise TypeError("warm_start must be callable or None")
        check_seed(seed)
        self.proposer, self.evaluate, self.warm_start = proposer, evaluate, warm_start
        self.rng = random.Random(f"{seed}:0")
        self.evaluations: list[dict[str, Any]] = []  # one record per /evaluate, in order
        self.proposals: list[dict[str, Any]] = []    # one record per completion
        self.unmatched = 0      # children evaluated without their parent's warm start
        self._results: dict[int, Any] = {}           # packing_id -> a program-like object
        self._pending: dict[str, int | None] = {}    # child code key -> parent packing_id
        self._by_code: dict[str, list[int]] = {}     # code key -> its packing_ids
        #: how each prompt's parent was identified: "artifact", "metrics", "code", "none"
        self.parents_by = {"artifact": 0, "metrics": 0, "code": 0, "none": 0}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()

    # -- the two endpoints ----------------------------------------------------------------------

    def complete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The chat completion for an OpenAI request ``body`` (its last user message is the
        prompt). Raises ``ValueError`` for a body without a user message or a prompt that
        :func:`parse_openevolve_prompt` cannot read."""
        messages = body.get("messages") if isinstance(body, Mapping) else None
        users = [m.get("content") for m in messages or [] if isinstance(m, Mapping)
                 and m.get("role") == "user" and isinstance(m.get("content"), str)]
        if not users:
            raise ValueError("the request has no user message")
        prompt = parse_openevolve_prompt(users[-1])
        shown = [_Program(code, f"shown-{k + 1}") for k, code in enumerate(prompt.shown)]
        with self._lock:
            proposal = self.proposer.propose(users[-1], _Program(prompt.parent), shown, self.rng)
            text = proposal.text or ""
            parent_id, how = self._parent_id(prompt)
            self.parents_by[how] += 1
            applied = apply_diff(prompt.parent, text) if text else None
            if applied is not None and applied.ok:
                self._pending[_key(applied.code)] = parent_id
            ok = bool(applied is not None and applied.ok)
            self.proposals.append({"parent_packing_id": parent_id, "parent_by": how,
                                   "note": proposal.note, "applies": ok,
                                   "changes": ok and _key(applied.code) != _key(prompt.parent)})
        return {"id": f"bridge-{len(self.proposals)}", "object": "chat.completion",
                "created": int(time.time()), "model": str(body.get("model") or "bridge"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}

    def _parent_id(self, prompt: BridgePrompt) -> tuple[int | None, str]:
        """Which evaluation the prompt's current program is: its ``packing_id`` artifact, else
        its ``packing_id`` metric, else the evaluations of the same code (the latest whose
        score matches the prompt's fitness to 4 decimals, else the latest)."""
        raw = prompt.artifacts.get("packing_id")
        if raw is not None and raw.strip().isdigit() and int(raw) in self._results:
            return int(raw), "artifact"
        pid = prompt.metrics.get("packing_id")
        if pid is not None and pid == pid and int(round(pid)) in self._results:
            return int(round(pid)), "metrics"
        same = self._by_code.get(_key(prompt.parent), [])
        if prompt.fitness is not None:
            fit = [i for i in same if self.evaluations[i]["score"] is not None
                   and round(self.evaluations[i]["score"], 4) == round(prompt.fitness, 4)]
            same = fit or same
        if same:
            return same[-1], "code"
        return None, "none"

    def score(self, code: str) -> dict[str, float]:
        """Evaluate ``code`` (from its parent's construction when the bridge proposed it) and
        return openevolve's metrics: ``combined_score`` (the score, 0.0 for a failure), ``ok``
        (1.0 or 0.0), ``packing_id`` and the evaluator's other numeric metrics. Raises
        ``TypeError`` if ``code`` is not a str."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        with self._lock:
            key = _key(code)
            known = key in self._pending
            parent_id = self._pending.pop(key, None)
            if not known and self.evaluations:
                self.unmatched += 1
            warm = None
            if self.warm_start is not None and parent_id is not None:
                warm = self.warm_start(self._results.get(parent_id))
            start = time.monotonic()
            res = (self.evaluate(code, warm_start=warm) if warm is not None
                   else self.evaluate(code))
            ok = bool(res.get("ok"))
            metrics = dict(res.get("metrics") or {})
            packing_id = len(self.evaluations)
            self._results[packing_id] = _Result(metrics)
            self._by_code.setdefault(key, []).append(packing_id)
            self.evaluations.append({
                "index": packing_id, "score": res.get("score") if ok else None,
                "reason": "" if ok else str(res.get("reason")), "warm_id": parent_id,
                "cpu_s": metrics.get("cpu_s", metrics.get("wall_s")),
                "seconds": round(time.monotonic() - start, 3),
                "elapsed_s": round(time.monotonic() - self._start, 2)})
        out = {"combined_score": float(res["score"]) if ok else 0.0, "ok": float(ok),
               "packing_id": float(packing_id)}
        out.update({k: float(v) for k, v in metrics.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in out})
        return out

    def packing(self, packing_id: int) -> Any:
        """The construction evaluation ``packing_id`` stored (its metrics' ``"packing"``), or
        ``None`` (a failed evaluation). Raises ``KeyError`` for an id never given out."""
        with self._lock:
            if packing_id not in self._results:
                raise KeyError(f"no evaluation {packing_id!r}")
            return self._results[packing_id].metrics.get("packing")

    # -- the server -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, the base URL to give an OpenAI client."""
        if self._server is None:
            raise RuntimeError("the bridge is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def evaluate_url(self) -> str:
        """``http://127.0.0.1:<port>/evaluate``, for :func:`evaluator_source`."""
        return self.url[:-len("/v1")] + "/evaluate"

    def start(self) -> BridgeServer:
        if self._server is not None:
            return self
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802 (the http.server name)
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length).decode("utf-8"))
                    if self.path.rstrip("/").endswith("/chat/completions"):
                        reply = bridge.complete(body)
                    elif self.path.rstrip("/") == "/evaluate":
                        reply = bridge.score(body.get("code") if isinstance(body, dict)
                                             else None)
                    else:
                        self._send(404, {"error": {"message": f"no endpoint {self.path}"}})
                        return
                except (ValueError, TypeError) as err:
                    self._send(400, {"error": {"message": f"{type(err).__name__}: {err}"}})
                    return
                self._send(200, reply)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        self._start = time.monotonic()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class _Result:
    """What :attr:`Problem.warm_start` reads: an object with ``.metrics``."""

    metrics: dict[str, Any]
