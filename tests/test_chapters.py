"""Every chapter in _toc.yml, executed under nbval: one test per chapter (`pytest -k <name>`).

A chapter passes when every cell runs without an exception; its claims are `assert`s in its cells.
A failure shows the failing cell's input and traceback, as nbval reports it. A chapter that passes
is stored in the Jupyter cache, so `make book` does not execute it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from readingroom.harness import run_chapter, toc_chapters

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CHAPTERS = toc_chapters(ROOT)
CHAPTER_TIMEOUT_S = 1800  # a chapter's budget is 120 s on the CPU; this only stops a hang


@pytest.mark.chapter
@pytest.mark.timeout(CHAPTER_TIMEOUT_S + 60)
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.name for c in CHAPTERS])
def test_chapter(chapter, record_property):
    run = run_chapter(chapter, workdir=BUILD / "nbval" / chapter.name,
                      cache_dir=BUILD / ".jupyter_cache", timeout_s=CHAPTER_TIMEOUT_S)
    # tests/conftest.py turns these into the runtime table (they reach the xdist controller too)
    record_property("chapter", chapter.name)
    record_property("chapter_seconds", run.seconds)
    record_property("threads", run.threads)
    slowest = sorted(run.cell_seconds.items(), key=lambda kv: -kv[1])[:3]
    record_property("slowest_cells", [[cell, seconds] for cell, seconds in slowest])
    if not run.passed:
        pytest.fail(f"chapter {chapter.docname} failed under nbval "
                    f"(notebook: {run.notebook_path})\n\n{run.report}", pytrace=False)
    assert run.cells_run > 0
