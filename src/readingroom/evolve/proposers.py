"""Proposers: who writes the next diff. An offline mutation operator, or a language model.

In AlphaEvolve (Novikov et al., 2025, §2.3) an ensemble of language models reads the prompt
(:mod:`readingroom.evolve.prompt`) and answers with SEARCH/REPLACE diffs against the parent
program; the loop applies the diff (:func:`~readingroom.evolve.blocks.apply_diff`), evaluates the
child and stores it. A :class:`Proposer` is that step behind one interface::

    proposal = proposer.propose(prompt, parent, inspirations, rng)
    result = apply_diff(parent.code, proposal.text)   # a bad answer: result.ok is False

Two proposers:

* :class:`MutationProposer` needs no model. It writes real SEARCH/REPLACE diffs against the
  parent's EVOLVE-BLOCKs with three classic operators: perturb numeric constants, swap a named
  region for an alternative snippet, and cross over code from an inspiration. It reproduces
  AlphaEvolve's *machinery* (prompt, diff, apply, evaluate, database) so the loop can run
  offline, on a laptop, in tests; it does **not** reproduce a language model's creativity. It can
  only recombine and tune what the seed program and its fragments already contain.
* :class:`OpenAIProposer` sends the prompt to any OpenAI-compatible ``/v1/chat/completions``
  endpoint (vLLM, llama.cpp's server, Ollama, a hosted API) with the standard library only.

Failure policy: a proposer never raises because the model failed. An unreachable server, an HTTP
error, a timeout or a malformed response gives a :class:`Proposal` with empty ``text`` and
``error`` set to the reason (the note repeats it); :func:`apply_diff` then rejects the empty text
("no SEARCH/REPLACE edits found"), so the loop can record a failed child, or skip it by testing
``proposal.error``. Only programmer errors raise: a bad argument type or value, a parent whose
EVOLVE-BLOCK markers are broken (:class:`~readingroom.evolve.blocks.BlockError`).
"""

from __future__ import annotations

import http.client
import io
import json
import math
import random
import re
import textwrap
import time
import tokenize
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from readingroom.common.checks import check_choice, check_float, check_int
from readingroom.evolve.blocks import parse_blocks

__all__ = ["MutationProposer", "OpenAIProposer", "Proposal", "Proposer", "extract_program",
           "make_proposer"]

_KINDS = ("diff", "rewrite")


@dataclass(frozen=True)
class Proposal:
    """What a proposer answers.

    Attributes:
        text: the answer as a model would give it: SEARCH/REPLACE blocks (``kind="diff"``, apply
            with :func:`~readingroom.evolve.blocks.apply_diff`) or a whole program
            (``kind="rewrite"``, apply with :func:`~readingroom.evolve.blocks.apply_rewrite`).
            ``""`` when the proposer failed.
        kind: ``"diff"`` or ``"rewrite"``.
        note: one line for the log: what the mutation did, or the model's finish reason and
            token count, or why it failed.
        error: ``None`` on success, else why no answer came (model unreachable, HTTP error,
            timeout, malformed response, no mutation possible).
    """

    text: str
    kind: str = "diff"
    note: str = ""
    error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be 'diff' or 'rewrite', got {self.kind!r}")


@runtime_checkable
class Proposer(Protocol):
    """Anything that turns a prompt into a :class:`Proposal`.

    ``parent`` and ``inspirations`` are the programs the prompt shows (objects with ``.code``,
    ``.score``, ``.metrics``); ``rng`` is the caller's :class:`random.Random`, the only source of
    randomness, so a run is reproducible from its seed.
    """

    def propose(self, prompt: str, parent: Any, inspirations: Sequence[Any],
                rng: random.Random) -> Proposal: ...


# -- MutationProposer ---------------------------------------------------------------------------

# A knob: an upper-case name assigned a plain number (``MAXITER = 300``, ``STEP = 0.03``).
_KNOB = re.compile(r"^\s*[A-Z][A-Z0-9_]*\s*=\s*[-+]?[0-9.]")
_REGION_OPEN = re.compile(r"^(\s*)#\s*region:\s*(\S+)\s*$")
_REGION_CLOSE = re.compile(r"^\s*#\s*endregion\b")
# Lines that parse_diff would read as markers: an edit holding one cannot be written safely.
_DIFF_MARKER = re.compile(r"^\s*(<{5,}\s*SEARCH|={5,}|>{5,}\s*REPLACE)\s*$")

OPERATORS = ("constant", "region", "crossover")


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _count(lines: list[str], segment: list[str]) -> int:
    """How often ``segment`` occurs in ``lines``, trailing blanks ignored (as apply_diff does)."""
    want = [s.rstrip() for s in segment]
    have = [s.rstrip() for s in lines]
    n = len(want)
    return sum(have[i:i + n] == want for i in range(len(have) - n + 1))


def _writable(segment: list[str]) -> bool:
    """Whether the lines survive a trip through a diff unchanged."""
    return (not any(_DIFF_MARKER.match(s) for s in segment)
            and "\n".join(segment).splitlines() == segment)


def _interiors(lines: list[str]) -> list[tuple[int, int]]:
    """0-based inclusive row ranges strictly inside each EVOLVE-BLOCK (empty blocks left out)."""
    return [(b.start, b.end - 2) for b in parse_blocks(_join(lines)) if b.end - b.start > 1]


def _unique_span(lines: list[str], a: int, b: int, lo: int, hi: int) -> tuple[int, int] | None:
    """Grow rows ``a..b`` inside ``lo..hi`` until they occur once in ``lines`` (or ``None``)."""
    while _count(lines, lines[a:b + 1]) != 1:
        if b < hi:
            b += 1
        elif a > lo:
            a -= 1
        else:
            return None
        if a > lo and _count(lines, lines[a:b + 1]) != 1:
            a -= 1
    return a, b


@dataclass(frozen=True)
class _Region:
    name: str
    open_row: int   # 0-based row of "# region: name"
    close_row: int  # 0-based row of "# endregion"
    indent: str     # indentation of the body (of the region line when the body is blank)


def _regions(lines: list[str]) -> list[_Region]:
    """Named regions inside the EVOLVE-BLOCKs; nesting is allowed, unclosed ones are ignored."""
    out: list[_Region] = []
    for lo, hi in _interiors(lines):
        stack: list[tuple[str, int, str]] = []
        for r in range(lo, hi + 1):
            m = _REGION_OPEN.match(lines[r])
            if m:
                stack.append((m.group(2), r, m.group(1)))
            elif _REGION_CLOSE.match(lines[r]) and stack:
                name, start, indent = stack.pop()
                body = [s for s in lines[start + 1:r] if s.strip()]
                if body:
                    indent = body[0][:len(body[0]) - len(body[0].lstrip())]
                out.append(_Region(name, start, r, indent))
    return sorted(out, key=lambda g: g.open_row)


def _normal(lines: Sequence[str]) -> str:
    """Text compared to tell two snippets apart: dedented, no trailing or edge blank lines."""
    return textwrap.dedent("\n".join(s.rstrip() for s in lines)).strip("\n")


def _reindent(snippet: str | Sequence[str], indent: str) -> list[str]:
    text = snippet if isinstance(snippet, str) else "\n".join(snippet)
    body = textwrap.dedent(text).strip("\n")
    return [indent + s if s.strip() else "" for s in body.split("\n")] if body else []


def _numbers(lines: list[str]) -> list[tuple[int, int, int, str]]:
    """The tunable constants inside the blocks: ``(row, col, end_col, text)`` of every non-zero
    decimal float literal, and of every non-zero int literal on a knob line (see ``_KNOB``).

    An int anywhere else is an index, a count, a shape or an axis (``x[1]``, ``range(3)``,
    ``(n, 2)``, ``axis=1``): structure, which a move crashes or silently changes, so it is
    left alone. Found with :mod:`tokenize`, so digits in names, strings and comments are never
    touched; a literal is unsigned (a minus sign is a separate token), so changing its magnitude
    keeps the sign of the expression. Zeros are left alone (indices and origins, and
    multiplicative noise cannot move them); so are complex, hex, octal and binary literals.
    """
    rows = {r for lo, hi in _interiors(lines) for r in range(lo, hi + 1)}
    if not rows:
        return []
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(_join(lines)).readline):
            row = tok.start[0] - 1
            if tok.type != tokenize.NUMBER or row not in rows or tok.end[0] != tok.start[0]:
                continue
            text = tok.string.lower()
            if text.endswith("j") or text[:2] in ("0x", "0o", "0b"):
                continue
            if float(text.replace("_", "")) != 0.0 and (_is_float(text)
                                                       or _KNOB.match(lines[row])):
                out.append((row, tok.start[1], tok.end[1], tok.string))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return []
    return out


def _is_float(text: str) -> bool:
    return any(c in text.lower() for c in ".e")


def _float_literal(value: float) -> str:
    text = f"{value:.4g}"
    return text if any(c in text for c in ".e") else text + ".0"


class MutationProposer:
    """Offline mutations written as real SEARCH/REPLACE diffs; no language model involved.

    Each call applies 1 to ``max_ops`` operators, each chosen at random with probability
    proportional to ``weights`` among those that can act on the current text, and answers with
    the SEARCH/REPLACE edits that carry them out. Every edit is built against the program as the
    edits before it leave it (the order :func:`~readingroom.evolve.blocks.apply_diff` applies
    them), lies strictly inside one EVOLVE-BLOCK, and its SEARCH lines are copied from the
    parent, with context lines added until they occur exactly once, so the diff applies.
    The operators:

    * ``"constant"``: perturb 1 to ``max_constants`` tunable constants inside the blocks (see
      :func:`_numbers`): float literals, and int literals on *knob* lines (``NAME = <number>``
      with an upper-case name, the usual way a program exposes its settings). Other ints are
      indices, counts, shapes and axes (an ``axis=1``, a ``range(1, n)``, an ``x[0]``): moving
      them crashes the program or silently changes its structure, so they are never touched.
      A float is multiplied by log-normal noise ``exp(N(0, sigma**2))`` and written with 4
      significant digits; an int moves by ``±k``, ``k`` uniform in ``1..int_step``, and stays
      >= 1. Types and signs are kept. Where the block declares knobs, the constants are drawn
      from those with probability ``knob_bias`` (else from every tunable constant).
    * ``"region"``: replace the body of a named region (``# region: <name>`` ... ``# endregion``
      inside a block) by another snippet of ``fragments[name]``, re-indented to the region.
    * ``"crossover"``: from a random inspiration whose code differs, copy the body of a region
      present in both programs with a different body; without one, copy a whole block body
      (when both programs have the same number of blocks).

    This reproduces AlphaEvolve's machinery (prompt -> diff -> apply -> evaluate -> database),
    not a language model's creativity: it only tunes constants and recombines code that the seed
    program, the fragments and earlier programs already hold. The prompt is ignored.

    Args:
        fragments: region name -> alternative snippets (any indentation; dedented and
            re-indented). ``None``: no region swaps.
        weights: operator name -> non-negative weight (missing operators get 0).
        max_ops: most operators per call (an int >= 1).
        max_constants: most constants one ``"constant"`` operator changes (an int >= 1).
        sigma: standard deviation of the log of the float noise (> 0).
        int_step: largest change of an int (an int >= 1).
        knob_bias: probability of perturbing only knobs when the block has some, in ``[0, 1]``.
    """

    def __init__(self, fragments: Mapping[str, Sequence[str]] | None = None, *,
                 weights: Mapping[str, float] | None = None, max_ops: int = 2,
                 max_constants: int = 2, sigma: float = 0.3, int_step: int = 2,
                 knob_bias: float = 0.8) -> None:
        if fragments is None:
            fragments = {}
        if not isinstance(fragments, Mapping):
            raise TypeError(f"fragments must be a dict name -> list of str, got "
                            f"{type(fragments).__name__}")
        self.fragments: dict[str, list[str]] = {}
        for name, snippets in fragments.items():
            if (not isinstance(name, str) or isinstance(snippets, str)
                    or not isinstance(snippets, Sequence)
                    or not all(isinstance(s, str) for s in snippets)):
                raise TypeError(f"fragments[{name!r}] must be a list of str, got {snippets!r:.80}")
            self.fragments[name] = list(snippets)
        if weights is None:
            weights = {"constant": 0.5, "region": 0.3, "crossover": 0.2}
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a dict operator -> weight, got "
                            f"{type(weights).__name__}")
        unknown = sorted(set(weights) - set(OPERATORS))
        if unknown:
            raise ValueError(f"weights has unknown operators {unknown}; known: {list(OPERATORS)}")
        self.weights = {op: float(weights.get(op, 0.0)) for op in OPERATORS}
        if any(not math.isfinite(w) or w < 0 for w in self.weights.values()) or \
                sum(self.weights.values()) <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0, got {dict(weights)}")
        for name, value in (("max_ops", max_ops), ("max_constants", max_constants),
                            ("int_step", int_step)):
            check_int(value, name)
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
        if not (isinstance(knob_bias, (int, float)) and not isinstance(knob_bias, bool)
                and 0.0 <= knob_bias <= 1.0):
            raise ValueError(f"knob_bias must be a number in [0, 1], got {knob_bias!r}")
        self.max_ops, self.max_constants = max_ops, max_constants
        self.sigma, self.int_step = float(sigma), int_step
        self.knob_bias = float(knob_bias)

    def __repr__(self) -> str:
        return (f"MutationProposer(fragments={sorted(self.fragments)}, weights={self.weights}, "
                f"max_ops={self.max_ops})")

    # Each operator edits ``lines`` in place and returns [(search, replace)] and a note, or None
    # when it cannot act on this program.

    def _constant(self, lines, parent, inspirations, rng):
        numbers = _numbers(lines)
        if not numbers:
            return None
        knobs = [n for n in numbers if _KNOB.match(lines[n[0]])]
        if knobs and rng.random() < self.knob_bias:
            numbers = knobs
        chosen = rng.sample(numbers, min(len(numbers), rng.randint(1, self.max_constants)))
        new_rows: dict[int, str] = {}
        notes = []
        for row, col, end, text in sorted(chosen, key=lambda n: (n[0], -n[1])):
            if _is_float(text):
                value = float(text.replace("_", ""))
                new = _float_literal(value * math.exp(rng.gauss(0.0, self.sigma)))
                if new == text or not math.isfinite(float(new)):
                    new = _float_literal(value * (1.1 if rng.random() < 0.5 else 1 / 1.1))
            else:
                value = int(text.replace("_", ""))
                step = rng.randint(1, self.int_step) * rng.choice((-1, 1))
                new = str(value + step if value + step >= 1 else value + abs(step))
            line = new_rows.get(row, lines[row])
            new_rows[row] = line[:col] + new + line[end:]
            notes.append(f"{text}->{new} (line {row + 1})")
        edits = []
        for lo, hi in _interiors(lines):
            rows = sorted(r for r in new_rows if lo <= r <= hi)
            if not rows:
                continue
            span = _unique_span(lines, rows[0], rows[-1], lo, hi)
            if span is None:
                continue
            a, b = span
            search = lines[a:b + 1]
            replace = [new_rows.get(r, lines[r]) for r in range(a, b + 1)]
            if _writable(search) and _writable(replace):
                edits.append((search, replace))
                lines[a:b + 1] = replace
        return (edits, "constant " + ", ".join(notes)) if edits else None

    def _replace_body(self, lines, region: _Region, body: list[str]):
        """The edit replacing ``region``'s body (markers kept), applied to ``lines``."""
        lo, hi = next((lo, hi) for lo, hi in _interiors(lines) if lo <= region.open_row <= hi)
        span = _unique_span(lines, region.open_row, region.close_row, lo, hi)
        if span is None:
            return None
        a, b = span
        search = lines[a:b + 1]
        replace = (lines[a:region.open_row + 1] + body + lines[region.close_row:b + 1])
        if not (_writable(search) and _writable(replace)):
            return None
        lines[a:b + 1] = replace
        return search, replace

    def _region(self, lines, parent, inspirations, rng):
        options = []
        for region in _regions(lines):
            current = _normal(lines[region.open_row + 1:region.close_row])
            others = [k for k, s in enumerate(self.fragments.get(region.name, ()))
                      if _normal(s.split("\n")) != current]
            if others:
                options.append((region, others))
        if not options:
            return None
        region, others = options[rng.randrange(len(options))]
        k = others[rng.randrange(len(others))]
        edit = self._replace_body(lines, region, _reindent(self.fragments[region.name][k],
                                                           region.indent))
        if edit is None:
            return None
        return [edit], (f"region {region.name!r} <- fragment {k + 1} of "
                        f"{len(self.fragments[region.name])}")

    def _crossover(self, lines, parent, inspirations, rng):
        mine = _join(lines)
        donors = [(k, p) for k, p in enumerate(inspirations)
                  if isinstance(getattr(p, "code", None), str) and p.code != mine]
        rng.shuffle(donors)
        for k, donor in donors:
            theirs = _lines(donor.code)
            try:
                their_regions = {g.name: g for g in _regions(theirs)}
            except ValueError:  # the donor's markers are broken: not a usable donor
                continue
            who = f"inspiration {getattr(donor, 'id', None) or k + 1}"
            pairs = []
            for region in _regions(lines):
                other = their_regions.get(region.name)
                if other is None:
                    continue
                body = theirs[other.open_row + 1:other.close_row]
                if _normal(body) != _normal(lines[region.open_row + 1:region.close_row]):
                    pairs.append((region, body))
            if pairs:
                region, body = pairs[rng.randrange(len(pairs))]
                edit = self._replace_body(lines, region, _reindent(body, region.indent))
                if edit is not None:
                    return [edit], f"crossover region {region.name!r} from {who}"
            blocks = [b.text for b in parse_blocks(donor.code)]
            mine_blocks = parse_blocks(mine)
            if len(blocks) != len(mine_blocks):
                continue
            differ = [i for i, (x, y) in enumerate(zip(mine_blocks, blocks)) if x.text != y]
            interiors = {b.start: (b.start, b.end - 2) for b in mine_blocks
                         if b.end - b.start > 1}
            differ = [i for i in differ if mine_blocks[i].start in interiors]
            if not differ:
                continue
            i = differ[rng.randrange(len(differ))]
            lo, hi = interiors[mine_blocks[i].start]
            search, replace = lines[lo:hi + 1], _lines(blocks[i])
            if _count(lines, search) == 1 and _writable(search) and _writable(replace):
                lines[lo:hi + 1] = replace
                return [(search, replace)], f"crossover block {i + 1} from {who}"
        return None

    def propose(self, prompt: str, parent: Any, inspirations: Sequence[Any] = (),
                rng: random.Random | None = None) -> Proposal:
        """SEARCH/REPLACE edits for a mutation of ``parent`` (see the class doc).

        Args:
            prompt: ignored (kept for the :class:`Proposer` interface).
            parent: a program object with ``.code``, or the code itself as a str.
            inspirations: donors for crossover (objects with ``.code``; optional ``.id``).
            rng: the :class:`random.Random` that draws every choice.

        Returns:
            A ``"diff"`` :class:`Proposal`; ``error`` is set (and ``text`` empty) only when no
            operator can act: no tunable constant, no region with an alternative snippet and
            no differing inspiration inside the blocks.

        Raises:
            BlockError: the parent's EVOLVE-BLOCK markers are broken.
        """
        code = parent if isinstance(parent, str) else getattr(parent, "code", None)
        if not isinstance(code, str):
            raise TypeError(f"parent must be a str or have a str .code, got "
                            f"{type(parent).__name__}")
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        lines = _lines(code)
        parse_blocks(code)
        inspirations = list(inspirations)
        edits, notes = [], []
        for _ in range(rng.randint(1, self.max_ops)):
            ops = [op for op in OPERATORS if self.weights[op] > 0]
            while ops:
                op = rng.choices(ops, weights=[self.weights[o] for o in ops])[0]
                done = getattr(self, "_" + op)(lines, parent, inspirations, rng)
                if done is not None:
                    edits += done[0]
                    notes.append(done[1])
                    break
                ops.remove(op)
            if not ops:
                break
        if not edits:
            why = ("no mutation applies: no tunable constant, no region with an alternative "
                   "fragment and no differing inspiration inside the EVOLVE-BLOCKs")
            return Proposal("", "diff", why, error=why)
        text = "".join(f"<<<<<<< SEARCH\n{_join(s)}=======\n{_join(r)}>>>>>>> REPLACE\n"
                       for s, r in edits)
        return Proposal(text, "diff", "; ".join(notes))


# -- OpenAIProposer -----------------------------------------------------------------------------

_FENCE = re.compile(r"^(`{3,})[ \t]*([\w+-]*)[ \t]*\n(.*?)^\1[ \t]*$", re.M | re.S)


def extract_program(text: str) -> str:
    """The program in a model's whole-program answer: the first fenced code block tagged
    ``python`` (else the first fenced block, else the text itself)."""
    blocks = [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]
    for lang, body in blocks:
        if lang in ("python", "py", "python3"):
            return body
    return blocks[0][1] if blocks else text


def _endpoint(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', "
                         f"got {base_url!r}")
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


class OpenAIProposer:
    """A language model behind an OpenAI-compatible chat-completions endpoint.

    Sends ``POST <base_url>/v1/chat/completions`` with ``{"model", "messages": [system?,
    {"role": "user", "content": prompt}], "temperature", "seed", "max_tokens"?}`` (``seed`` is
    drawn from ``rng``, so servers that honour it, such as vLLM, replay a run) and answers with
    the first choice's message content. Works with vLLM (``vllm serve``), llama.cpp's
    ``llama-server``, Ollama (``http://127.0.0.1:11434``) and hosted APIs. Standard library
    only (:mod:`urllib.request`); loopback hosts bypass any proxy set in the environment.

    Never raises on a model failure: an HTTP error status, a refused connection, no answer
    within ``timeout_s`` (per socket operation), malformed JSON or a response without
    ``choices[0].message.content`` give a :class:`Proposal` with ``text=""`` and ``error`` (and
    ``note``) saying why.

    Args:
        base_url: the server, with or without ``/v1`` (``http://127.0.0.1:8000``,
            ``http://127.0.0.1:8000/v1`` and the full ``.../v1/chat/completions`` all work).
        model: the model name the server expects.
        api_key: sent as ``Authorization: Bearer <api_key>`` when given.
        timeout_s: socket timeout in seconds (> 0).
        temperature: sampling temperature (>= 0).
        max_tokens: cap on the answer's length, or ``None`` for the server's default.
        system: an optional system message put before the prompt.
        kind: ``"diff"`` (the answer is passed on as it is) or ``"rewrite"`` (the program is
            taken out of its code fence with :func:`extract_program`).
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 timeout_s: float = 60.0, temperature: float = 0.7, max_tokens: int | None = None,
                 system: str | None = None, kind: str = "diff") -> None:
        self.url = _endpoint(base_url)
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty str, got {model!r}")
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str or None, got {type(api_key).__name__}")
        timeout_s = check_float(timeout_s, "timeout_s", low=0, low_open=True)
        temperature = check_float(temperature, "temperature", low=0)
        if max_tokens is not None:
            check_int(max_tokens, "max_tokens")
        check_choice(kind, "kind", _KINDS)
        self.model, self.api_key, self.timeout_s = model, api_key, timeout_s
        self.temperature, self.max_tokens, self.system, self.kind = (
            temperature, max_tokens, system, kind)
        host = urllib.parse.urlsplit(self.url).hostname or ""
        handlers = [urllib.request.ProxyHandler({})] if host in (
            "localhost", "127.0.0.1", "::1") else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:  # no api_key in logs
        return f"OpenAIProposer({self.url!r}, {self.model!r}, kind={self.kind!r})"

    def request_body(self, prompt: str, rng: random.Random | None = None) -> dict[str, Any]:
        """The JSON body sent for ``prompt``."""
        messages = ([{"role": "system", "content": self.system}] if self.system else [])
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature}
        if rng is not None:
            body["seed"] = rng.getrandbits(31)
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return body

    def _fail(self, why: str) -> Proposal:
        return Proposal("", self.kind, f"{self.model}: {why}", error=why)

    def propose(self, prompt: str, parent: Any = None, inspirations: Sequence[Any] = (),
                rng: random.Random | None = None) -> Proposal:
        """Ask the model; see the class doc. ``parent`` and ``inspirations`` are unused (the
        prompt already shows them)."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        data = json.dumps(self.request_body(prompt, rng)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        start = time.monotonic()
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            try:
                detail = " ".join(err.read(300).decode("utf-8", "replace").split())
            except (OSError, http.client.HTTPException):
                detail = ""
            return self._fail(f"HTTP {err.code} {err.reason} from {self.url}"
                              + (f": {detail}" if detail else ""))
        except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            if isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
                return self._fail(f"no answer from {self.url} within {self.timeout_s:g} s")
            return self._fail(f"cannot reach {self.url}: {type(reason).__name__}: {reason}")
        wall = time.monotonic() - start
        try:
            reply = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            return self._fail(f"malformed JSON in the response ({err}): {raw[:120]!r}")
        try:
            choice = reply["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return self._fail(f"the response has no choices[0].message.content: "
                              f"{json.dumps(reply)[:160]}")
        if not isinstance(content, str):
            return self._fail(f"the message content is {type(content).__name__}, not text")
        usage = reply.get("usage") if isinstance(reply, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        note = (f"{self.model}: finish_reason={choice.get('finish_reason')}, "
                f"{tokens if tokens is not None else '?'} tokens, {wall:.1f} s")
        text = extract_program(content) if self.kind == "rewrite" else content
        return Proposal(text, self.kind, note)


def make_proposer(spec: str, *, fragments: Mapping[str, Sequence[str]] | None = None,
                  **kwargs: Any) -> Proposer:
    """A proposer from a short spec string (for command lines and notebook parameters).

    * ``"mutation"``: :class:`MutationProposer` (``fragments`` and ``kwargs`` passed on).
    * ``"openai:<base_url>#<model>"``: :class:`OpenAIProposer` (``kwargs`` passed on), e.g.
      ``"openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-Coder-7B-Instruct"`` or
      ``"openai:http://127.0.0.1:11434#qwen2.5-coder:7b"`` (the model name may hold ``:`` and
      ``/``; it follows the last ``#``).
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str, got {type(spec).__name__}")
    if spec.strip() == "mutation":
        return MutationProposer(fragments, **kwargs)
    if spec.startswith("openai:"):
        base_url, sep, model = spec[len("openai:"):].rpartition("#")
        if not sep or not base_url or not model:
            raise ValueError(f"an openai spec is 'openai:<base_url>#<model>', got {spec!r}")
        return OpenAIProposer(base_url, model, **kwargs)
    raise ValueError(f"unknown proposer spec {spec!r}; expected 'mutation' or "
                     "'openai:<base_url>#<model>'")
