"""The machinery that runs the book's chapters as tests.

Chapters are MyST Markdown notebooks. nbval only collects ``.ipynb`` files, so
:func:`run_chapter` converts a chapter with myst-nb's own reader (the exact notebook the book
build executes), runs it under nbval in a child ``pytest`` with the network blocked, and, when every
cell passed, stores the executed notebook in the Jupyter cache the book build reads: a chapter that
``make test`` executed is not executed a second time by ``make book``.
"""

from readingroom.harness.chapters import (
    Chapter,
    ChapterRun,
    cache_executed_notebook,
    check_glue,
    read_chapter,
    run_chapter,
    toc_chapters,
    toc_entries,
)

__all__ = [
    "Chapter",
    "ChapterRun",
    "cache_executed_notebook",
    "check_glue",
    "read_chapter",
    "run_chapter",
    "toc_chapters",
    "toc_entries",
]
