"""Every chapter follows the template, and the front matter lists every chapter.

Section titles may be adapted to the paper, so the checks look for the parts a reader relies on:
a paper-vs-book table, a critical take, a reading-group kit, references, asserted claims, and the
chapter's own wall time printed at its end.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from readingroom.harness import toc_chapters

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = toc_chapters(ROOT)

REQUIRED = {
    "a 'paper vs. this book' section": r"^#+ .*(paper vs|vs\.? this book)",
    "a critical take": r"^#+ .*critical",
    "a reading-group kit": r"^#+ .*(reading.group|exercises|discussion)",
    "a references section": r"^#+ .*references",
    "a bibliography": r"```\{bibliography\}",
    "an exercise": r"```\{exercise\}",
    "an asserted claim": r"^\s*(assert |torch\.testing\.assert_close)",
    "the chapter timer": r"start_chapter\(",
    "its wall time at the end": r"\.report\(",
}


def test_every_notebook_in_book_is_in_the_toc():
    """A chapter missing from _toc.yml would be neither built (only_build_toc_files) nor tested."""
    listed = {c.path.resolve() for c in CHAPTERS}
    notebooks = {p.resolve() for p in (ROOT / "book").glob("*.md")
                 if "kernelspec:" in p.read_text(encoding="utf-8")[:400]}
    assert notebooks - listed == set(), "book/ notebooks missing from _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_chapter_has_the_template_parts(chapter):
    text = chapter.path.read_text(encoding="utf-8")
    missing = [what for what, rx in REQUIRED.items()
               if not re.search(rx, text, flags=re.IGNORECASE | re.MULTILINE)]
    assert not missing, f"{chapter.docname} lacks {', '.join(missing)}"
    # The last code cell reports the wall time, so the number is the whole chapter's.
    last_cell = text.rsplit("```{code-cell}", 1)[-1]
    assert ".report(" in last_cell, f"{chapter.docname}: the timer report must be the last cell"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_front_matter_lists_the_chapter(chapter):
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    name = Path(chapter.docname).name
    assert f"{{doc}}`{name}`" in intro, f"book/intro.md's chapter map does not list {name}"
    assert f"({chapter.docname}.md)" in readme, f"README.md's chapter table does not list {name}"


def test_no_notebook_files_committed_beside_chapters():
    tracked = subprocess.run(["git", "ls-files", "book"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert not [f for f in tracked if f.endswith(".ipynb")], "chapters are MyST .md only"
