"""EVOLVE-BLOCKs and SEARCH/REPLACE diffs: what the model may change, and how its change is applied.

AlphaEvolve (Novikov et al., 2025, §2 and Fig. 3a) marks the parts of a program the language
model may evolve with two comment lines::

    # EVOLVE-BLOCK-START
    ...code the model may rewrite...
    # EVOLVE-BLOCK-END

Everything outside the blocks (imports, the evaluation harness, helper code) stays as the user
wrote it. The model answers with a diff in the paper's format (Fig. 3b), one or more edits::

    <<<<<<< SEARCH
    ...lines copied exactly from the current program...
    =======
    ...the lines that replace them...
    >>>>>>> REPLACE

or, for short programs, with the whole program rewritten (:func:`apply_rewrite`).

A model's answer is data, not code we trust: :func:`apply_diff` and :func:`apply_rewrite` never
raise on a bad answer. They return a :class:`DiffResult` whose ``reason`` says precisely why the
answer does not apply (no edits, a malformed marker, SEARCH text missing or ambiguous, an edit
outside every block, a result that no longer parses), so the failure can be scored and stored in
the program database like any other outcome. They raise only on programmer errors: arguments of
the wrong type, or a *parent* program whose own markers are broken (:class:`BlockError`).

Line numbers in every message are 1-based.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

from readingroom.common.checks import check_int

__all__ = [
    "BLOCK_END", "BLOCK_START", "Block", "BlockError", "DiffError", "DiffResult", "Edit",
    "apply_diff", "apply_rewrite", "parse_blocks", "parse_diff", "render_diff",
]

#: The comment that opens an evolvable block (AlphaEvolve Fig. 3a).
BLOCK_START = "# EVOLVE-BLOCK-START"
#: The comment that closes it.
BLOCK_END = "# EVOLVE-BLOCK-END"

# A marker is a line holding only the comment (indentation and trailing text after a space are
# allowed: "# EVOLVE-BLOCK-START  (the search heuristic)").
_MARKER = re.compile(r"^\s*#\s*EVOLVE-BLOCK-(START|END)\b")
_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")


class BlockError(ValueError):
    """A program's EVOLVE-BLOCK markers are unbalanced or nested; the message names the line."""


class DiffError(ValueError):
    """A diff's SEARCH/REPLACE markers are malformed; the message names the line of the diff."""


@dataclass(frozen=True)
class Block:
    """One EVOLVE-BLOCK of a program.

    Attributes:
        start: 1-based line of the ``# EVOLVE-BLOCK-START`` marker.
        end: 1-based line of the ``# EVOLVE-BLOCK-END`` marker (``end > start``).
        text: the lines strictly between the markers, each ending in ``"\\n"`` (``""`` for an
            empty block).
    """

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE edit of a diff.

    Attributes:
        search: the lines to find, each ending in ``"\\n"`` (never empty).
        replace: the lines to put in their place, each ending in ``"\\n"`` (``""`` deletes).
        line: 1-based line of the ``<<<<<<< SEARCH`` marker in the diff text.
    """

    search: str
    replace: str
    line: int = 0


@dataclass(frozen=True)
class DiffResult:
    """Outcome of applying a model's answer to a program.

    Attributes:
        ok: whether the answer applied and the result parses as Python.
        code: the new program when ``ok``, else ``None``.
        reason: ``None`` when ``ok``, else one sentence saying why the answer was rejected.
        edits: number of SEARCH/REPLACE edits applied (0 for a rewrite or a failure).
    """

    ok: bool
    code: str | None
    reason: str | None = None
    edits: int = 0

    def __bool__(self) -> bool:
        return self.ok


def _fail(reason: str) -> DiffResult:
    return DiffResult(ok=False, code=None, reason=reason)


def _check_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def _lines(text: str) -> list[str]:
    """``text`` split at ``"\\n"`` without the empty tail after a final newline."""
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _marker(line: str) -> str | None:
    m = _MARKER.match(line)
    return None if m is None else m.group(1)


def parse_blocks(code: str) -> list[Block]:
    """The EVOLVE-BLOCKs of ``code``, in order.

    Args:
        code: a program's source text.

    Returns:
        One :class:`Block` per START/END pair (an empty list for a program without markers).

    Raises:
        BlockError: a START inside an open block (blocks do not nest), an END with no open
            block, or a START never closed; the message gives the line numbers.
    """
    lines = _lines(_check_str(code, "code"))
    blocks: list[Block] = []
    open_at: int | None = None  # 0-based line of the open START marker
    for i, line in enumerate(lines):
        kind = _marker(line)
        if kind == "START":
            if open_at is not None:
                raise BlockError(
                    f"nested {BLOCK_START} at line {i + 1}: the block opened at line "
                    f"{open_at + 1} is not closed (blocks do not nest)"
                )
            open_at = i
        elif kind == "END":
            if open_at is None:
                raise BlockError(f"{BLOCK_END} at line {i + 1} closes no open block")
            blocks.append(Block(open_at + 1, i + 1, _join(lines[open_at + 1:i])))
            open_at = None
    if open_at is not None:
        raise BlockError(f"{BLOCK_START} at line {open_at + 1} is never closed by {BLOCK_END}")
    return blocks


def parse_diff(text: str) -> list[Edit]:
    """The SEARCH/REPLACE edits in a model's answer, in order (AlphaEvolve Fig. 3b).

    Lines outside ``<<<<<<< SEARCH ... >>>>>>> REPLACE`` (prose, Markdown fences) are ignored, and
    so is a stray ``=======`` there (a Markdown underline). Markers may be indented and may have
    more than seven ``<``/``=``/``>``.

    Args:
        text: the model's answer.

    Returns:
        The edits (an empty list when the text holds none).

    Raises:
        DiffError: a malformed edit: a SEARCH inside an open edit, a REPLACE with no SEARCH or
            no ``=======``, a second ``=======``, an empty SEARCH section, or an edit left open
            at the end of the text; the message gives the diff's line number.
    """
    lines = _check_str(text, "text").splitlines()
    edits: list[Edit] = []
    state = "outside"  # -> "search" -> "replace" -> "outside"
    opened = 0
    search: list[str] = []
    replace: list[str] = []
    for i, line in enumerate(lines, start=1):
        if _SEARCH.match(line):
            if state != "outside":
                raise DiffError(
                    f"malformed diff at line {i}: '<<<<<<< SEARCH' inside the edit opened at "
                    f"line {opened} (missing '>>>>>>> REPLACE')"
                )
            state, opened, search, replace = "search", i, [], []
        elif _DIVIDER.match(line) and state != "outside":
            if state == "replace":
                raise DiffError(
                    f"malformed diff at line {i}: a second '=======' in the edit opened at "
                    f"line {opened}"
                )
            if not search:
                raise DiffError(
                    f"malformed diff at line {i}: empty SEARCH section in the edit opened at "
                    f"line {opened}"
                )
            state = "replace"
        elif _REPLACE.match(line):
            if state == "outside":
                raise DiffError(f"malformed diff at line {i}: '>>>>>>> REPLACE' with no SEARCH")
            if state == "search":
                raise DiffError(
                    f"malformed diff at line {i}: '>>>>>>> REPLACE' before '=======' in the "
                    f"edit opened at line {opened}"
                )
            edits.append(Edit(_join(search), _join(replace), opened))
            state = "outside"
        elif state == "search":
            search.append(line)
        elif state == "replace":
            replace.append(line)
    if state != "outside":
        raise DiffError(
            f"malformed diff at line {len(lines)}: the edit opened at line {opened} is never "
            "closed by '>>>>>>> REPLACE'"
        )
    return edits


def _find(lines: list[str], search: list[str]) -> list[int]:
    """0-based starts of every occurrence of ``search`` in ``lines`` (trailing blanks ignored)."""
    want = [s.rstrip() for s in search]
    have = [s.rstrip() for s in lines]
    n = len(want)
    return [i for i in range(len(have) - n + 1) if have[i:i + n] == want]


def _closest(lines: list[str], probe: str) -> tuple[int, str, float]:
    """0-based index, text and :class:`difflib.SequenceMatcher` ratio of the program line most
    like ``probe`` (leading and trailing blanks ignored)."""
    probe = probe.strip()
    best = (0, lines[0] if lines else "", -1.0)
    for i, line in enumerate(lines):
        ratio = difflib.SequenceMatcher(None, probe, line.strip()).ratio()
        if ratio > best[2]:
            best = (i, line, ratio)
    return best


def _syntax(code: str) -> str | None:
    """``None`` if ``code`` parses as Python, else the reason it does not."""
    try:
        ast.parse(code)
    except SyntaxError as err:  # IndentationError and TabError are SyntaxErrors
        return (
            f"the result no longer parses as Python: {type(err).__name__} at line {err.lineno}: "
            f"{err.msg}"
        )
    except ValueError as err:  # e.g. a null byte in the source
        return f"the result no longer parses as Python: {err}"
    return None


def apply_diff(code: str, diff_text: str) -> DiffResult:
    """Apply a model's SEARCH/REPLACE diff to a program (AlphaEvolve §2, Fig. 3b).

    Edits apply one after another, each to the program the previous ones produced. The SEARCH
    lines of an edit must occur exactly once in the program (compared line by line with trailing
    whitespace ignored; indentation counts) and lie wholly inside one EVOLVE-BLOCK, between its
    markers: only block content may change. A replacement may not add marker lines. The final
    program must parse as Python.

    Args:
        code: the parent program, with well-formed EVOLVE-BLOCK markers.
        diff_text: the model's answer; prose around the edits is ignored.

    Returns:
        A :class:`DiffResult`: ``ok`` with the new program, or not ``ok`` with ``reason`` one of
        "no SEARCH/REPLACE edits found", "malformed diff at line k: ...", "edit i (diff line k):
        SEARCH text not found ..." (with the SEARCH's first line and the program's closest line),
        "... found n times ...", "... touches code outside every EVOLVE-BLOCK ...", "... adds an
        EVOLVE-BLOCK marker ..." or "the result no longer parses as Python: SyntaxError at line
        k: ...". A bad diff never raises.

    Raises:
        TypeError: ``code`` or ``diff_text`` is not a str.
        BlockError: the parent ``code`` itself has unbalanced or nested markers.
    """
    _check_str(code, "code")
    _check_str(diff_text, "diff_text")
    parse_blocks(code)  # the parent's markers must be sound: a programmer error otherwise
    try:
        edits = parse_diff(diff_text)
    except DiffError as err:
        return _fail(str(err))
    if not edits:
        return _fail("no SEARCH/REPLACE edits found in the diff")

    trailing_newline = code.endswith("\n") or code == ""
    lines = _lines(code)
    for k, edit in enumerate(edits, start=1):
        where = f"edit {k} (diff line {edit.line})"
        search, replace = _lines(edit.search), _lines(edit.replace)
        hits = _find(lines, search)
        if not hits:
            first = next((s for s in search if s.strip()), search[0])
            if lines:
                j, near, ratio = _closest(lines, first)
                hint = f"; the closest program line is line {j + 1} {near.strip()!r} " \
                       f"(similarity {ratio:.2f})"
            else:
                hint = "; the program is empty"
            return _fail(f"{where}: SEARCH text not found in the program: its first line is "
                         f"{first.strip()!r}{hint}")
        if len(hits) > 1:
            at = ", ".join(str(h + 1) for h in hits[:5]) + (", ..." if len(hits) > 5 else "")
            return _fail(f"{where}: SEARCH text found {len(hits)} times in the program (at lines "
                         f"{at}); it must match exactly once")
        i = hits[0]
        first_line, last_line = i + 1, i + len(search)  # 1-based, inclusive
        blocks = parse_blocks(_join(lines))
        if not any(b.start < first_line and last_line < b.end for b in blocks):
            return _fail(f"{where}: the edit touches code outside every EVOLVE-BLOCK (program "
                         f"lines {first_line}-{last_line}); only the content between "
                         f"{BLOCK_START} and {BLOCK_END} may change")
        added = next((r for r in replace if _marker(r) is not None), None)
        if added is not None:
            return _fail(f"{where}: the replacement adds an EVOLVE-BLOCK marker "
                         f"({added.strip()!r}); markers may not be added or removed")
        lines = lines[:i] + replace + lines[i + len(search):]

    new_code = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    bad = _syntax(new_code)
    if bad is not None:
        return _fail(bad)
    return DiffResult(ok=True, code=new_code, reason=None, edits=len(edits))


def _outside(lines: list[str], blocks: list[Block]) -> list[list[str]]:
    """The program's lines outside its blocks: ``len(blocks) + 1`` segments, markers included."""
    segments, prev = [], 0
    for b in blocks:
        segments.append(lines[prev:b.start])  # up to and including the START marker
        prev = b.end - 1  # from the END marker on
    segments.append(lines[prev:])
    return segments


def apply_rewrite(code: str, new_code: str) -> DiffResult:
    """Accept a model's whole-program rewrite if it changes only EVOLVE-BLOCK content.

    The rewrite must keep every marker and every line outside the blocks (compared with trailing
    whitespace and blank lines at the end of the text ignored); its blocks then replace the parent's blocks, one for one, and the result
    is the parent's outside code around the rewrite's block content. So a rewrite that
    reformats or "improves" the evaluation harness is rejected, not silently merged.

    Args:
        code: the parent program, with well-formed EVOLVE-BLOCK markers.
        new_code: the model's full program.

    Returns:
        A :class:`DiffResult` (``edits=0``). Not ``ok`` when the rewrite's markers are broken or
        missing, its block count differs, a line outside the blocks differs (the message names
        both line numbers and texts) or the result does not parse.

    Raises:
        TypeError: ``code`` or ``new_code`` is not a str.
        BlockError: the parent ``code`` itself has unbalanced or nested markers.
    """
    _check_str(code, "code")
    _check_str(new_code, "new_code")
    old_blocks = parse_blocks(code)
    try:
        new_blocks = parse_blocks(new_code)
    except BlockError as err:
        return _fail(f"the rewrite's EVOLVE-BLOCK markers are broken: {err}")
    if not new_blocks:
        return _fail("the rewrite has no EVOLVE-BLOCK markers; a whole-program rewrite must "
                     "keep them")
    if len(new_blocks) != len(old_blocks):
        return _fail(f"the rewrite has {len(new_blocks)} EVOLVE-BLOCK(s), the program "
                     f"{len(old_blocks)}")
    old_lines, new_lines = _lines(code), _lines(new_code)
    while new_lines and not new_lines[-1].strip():  # blank lines a model appends at the end
        new_lines.pop()
    old_seg, new_seg = _outside(old_lines, old_blocks), _outside(new_lines, new_blocks)
    while old_seg[-1] and not old_seg[-1][-1].strip():  # compared without the parent's either
        old_seg[-1] = old_seg[-1][:-1]
    old_off = [0] + [b.end - 1 for b in old_blocks]  # 0-based first line of each segment
    new_off = [0] + [b.end - 1 for b in new_blocks]
    for s, (a, b) in enumerate(zip(old_seg, new_seg)):
        for j in range(max(len(a), len(b))):
            x = a[j] if j < len(a) else None
            y = b[j] if j < len(b) else None
            if x is not None and y is not None and x.rstrip() == y.rstrip():
                continue
            old_at, new_at = f"line {old_off[s] + j + 1} {x!r}", f"line {new_off[s] + j + 1} {y!r}"
            if x is None:
                change = f"adds {new_at}"
            elif y is None:
                change = f"drops the program's {old_at}"
            else:
                change = f"turns the program's {old_at} into {new_at}"
            return _fail(f"the rewrite changes code outside every EVOLVE-BLOCK: it {change}")
    # Rebuild from the parent's outside lines and the rewrite's block content.
    out: list[str] = []
    for s, seg in enumerate(_outside(old_lines, old_blocks)):
        out.extend(seg)
        if s < len(new_blocks):
            out.extend(_lines(new_blocks[s].text))
    result = "\n".join(out) + ("\n" if code.endswith("\n") and out else "")
    bad = _syntax(result)
    if bad is not None:
        return _fail(bad)
    return DiffResult(ok=True, code=result, reason=None, edits=0)


def render_diff(old: str, new: str, *, context: int = 3, old_name: str = "parent",
                new_name: str = "child") -> str:
    """A unified diff from ``old`` to ``new`` for display (``""`` when they are equal).

    Args:
        old, new: program texts.
        context: lines of context around each change (an int >= 0).
        old_name, new_name: the file names shown in the ``---``/``+++`` header.
    """
    _check_str(old, "old")
    _check_str(new, "new")
    check_int(context, "context", minimum=0)
    diff = difflib.unified_diff(_lines(old), _lines(new), fromfile=old_name, tofile=new_name,
                                n=context, lineterm="")
    text = "\n".join(diff)
    return text + "\n" if text else ""
