"""Where a reading goes wrong: an edit-distance alignment and an HTML view of the errors.

:func:`~readingroom.ocr.model.precision` says *how much* of a page was misread; :func:`align`
says *where*: it lines the reading up with the page's text by a minimum edit script (Levenshtein,
1965) and labels each step ``"="`` (read correctly), ``"sub"`` (a wrong character), ``"del"`` (a
character of the page that the reader skipped) or ``"ins"`` (a character the reader made up).
:func:`highlight_errors` renders the alignment as HTML for the book's sample pages.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

__all__ = ["Step", "align", "highlight_errors", "STYLES"]

#: CSS of each kind of step in :func:`highlight_errors` (colour-blind safe: blue and orange,
#: with strike-through and underline so the kinds stay apart in greyscale too).
STYLES: dict[str, str] = {
    "sub": "background:#fdd0a2;color:#7f2704",
    "del": "background:#c6dbef;color:#08306b;text-decoration:line-through",
    "ins": "background:#fdd0a2;color:#7f2704;text-decoration:underline",
}


@dataclass(frozen=True)
class Step:
    """One step of an alignment: ``op`` is ``"="``, ``"sub"``, ``"del"`` or ``"ins"``.

    ``target`` is the page's character (``""`` for an insertion), ``read`` the reader's (``""``
    for a deletion).
    """

    op: str
    target: str
    read: str


def _check(prediction: object, target: object) -> None:
    for value, name in ((prediction, "prediction"), (target, "target")):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def align(prediction: str, target: str) -> list[Step]:
    """A minimum edit script turning ``target`` (the page) into ``prediction`` (the reading).

    Dynamic programming over the ``(len(target) + 1) x (len(prediction) + 1)`` table of edit
    distances, then a walk back from the corner preferring matches, then insertions and
    deletions, then substitutions. The number of non-``"="`` steps equals
    :func:`~readingroom.ocr.model.edit_distance`.
    """
    _check(prediction, target)
    n, m = len(target), len(prediction)
    D = np.zeros((n + 1, m + 1), dtype=np.int64)  # D[i, j]: target[:i] -> prediction[:j]
    D[:, 0] = np.arange(n + 1)
    D[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if target[i - 1] == prediction[j - 1] else 1
            D[i, j] = min(D[i - 1, j - 1] + cost, D[i - 1, j] + 1, D[i, j - 1] + 1)
    steps: list[Step] = []
    i, j = n, m
    while i or j:
        # Walk back preferring a match, then an insertion or a deletion, then a substitution:
        # with ties, "compressiom!" for "compression" reads as m-for-n plus an inserted "!".
        if i and j and target[i - 1] == prediction[j - 1] and D[i, j] == D[i - 1, j - 1]:
            steps.append(Step("=", target[i - 1], prediction[j - 1]))
            i, j = i - 1, j - 1
        elif j and D[i, j] == D[i, j - 1] + 1:
            steps.append(Step("ins", "", prediction[j - 1]))
            j -= 1
        elif i and D[i, j] == D[i - 1, j] + 1:
            steps.append(Step("del", target[i - 1], ""))
            i -= 1
        else:
            steps.append(Step("sub", target[i - 1], prediction[j - 1]))
            i, j = i - 1, j - 1
    return steps[::-1]


def highlight_errors(prediction: str, target: str) -> str:
    """The reading as HTML, errors marked: substitutions and insertions in orange (insertions
    underlined), skipped characters of the page in blue and struck through.

    A substitution shows the reader's character with the page's in its tooltip. Spaces inside a
    marked step are shown as ``␣`` so that they can be seen.
    """
    out = []
    for step in align(prediction, target):
        if step.op == "=":
            out.append(html.escape(step.read))
            continue
        shown = (step.read if step.op != "del" else step.target).replace(" ", "\u2423")
        title = {"sub": f"page: {step.target!r}", "del": "skipped by the reader",
                 "ins": "not on the page"}[step.op]
        out.append(f'<span style="{STYLES[step.op]}" title="{html.escape(title)}">'
                   f"{html.escape(shown)}</span>")
    return ('<span style="font-family:monospace;white-space:pre-wrap">' + "".join(out)
            + "</span>")
