"""Every error path of readingroom.harness's entry points that is about an argument, in one
table: a bad argument is refused with a TypeError or ValueError whose message names it, before
any file is read or written.

Kept in tests/test_harness.py, as behaviour of the files the harness reads: a missing or
malformed table of contents, a missing chapter, a Markdown page that is not a notebook.
"""

from __future__ import annotations

from pathlib import Path


from readingroom.harness import Chapter, cache_executed_notebook, run_chapter
from refusals import refusal_test

# never read: run_chapter checks its arguments first
CHAPTER = Chapter(name="x", docname="book/x", path=Path("book/x.md"))
WORKDIR = Path("no/such/workdir")

CASES = [
    # (id, call, exception, match)
    ("run_chapter: a path, not a Chapter", lambda: run_chapter("book/x.md", workdir=WORKDIR),
     TypeError, "chapter must be a Chapter"),
    ("run_chapter: cell_timeout_s 0", lambda: run_chapter(CHAPTER, workdir=WORKDIR,
                                                          cell_timeout_s=0),
     ValueError, "cell_timeout_s must be a positive int"),
    ("run_chapter: timeout_s True", lambda: run_chapter(CHAPTER, workdir=WORKDIR,
                                                        timeout_s=True),
     TypeError, "timeout_s must be an int"),
    ("run_chapter: timeout_s 1.5", lambda: run_chapter(CHAPTER, workdir=WORKDIR, timeout_s=1.5),
     TypeError, "timeout_s must be an int"),
    ("cache_executed_notebook: seconds -1",
     lambda: cache_executed_notebook(None, "book/x.md", WORKDIR, -1.0), ValueError,
     "seconds must be a non-negative finite float"),
    ("cache_executed_notebook: seconds a str",
     lambda: cache_executed_notebook(None, "book/x.md", WORKDIR, "3"), TypeError,
     "seconds must be a float"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
