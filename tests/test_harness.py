"""The chapter harness: table-of-contents discovery, conversion, nbval execution, caching (the
refusals of bad arguments are rows of tests/harness/test_harness_bad_input.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from readingroom.harness import Chapter, read_chapter, run_chapter, toc_chapters

FRONT = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)


def _chapter(tmp_path: Path, name: str, *cells: str) -> Chapter:
    body = "".join(f"\n```{{code-cell}} ipython3\n{c}\n```\n" for c in cells)
    path = tmp_path / "book" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FRONT + f"# {name}\n" + body)
    return Chapter(name=name, docname=f"book/{name}", path=path)


def _toc(tmp_path: Path, text: str) -> None:
    (tmp_path / "_toc.yml").write_text(textwrap.dedent(text))


def test_toc_chapters_lists_executable_pages_in_order(tmp_path):
    _chapter(tmp_path, "b", "x = 1")
    _chapter(tmp_path, "a", "y = 2")
    (tmp_path / "book" / "intro.md").write_text("# Intro\nno code here\n")
    _toc(tmp_path, """\
        format: jb-book
        root: book/intro
        parts:
          - caption: One
            chapters:
              - file: book/b
              - file: book/a.md
        """)
    chapters = toc_chapters(tmp_path)
    assert [c.name for c in chapters] == ["b", "a"]
    assert chapters[1].docname == "book/a"
    assert chapters[0].path == (tmp_path / "book" / "b.md").resolve()


def test_toc_chapters_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="toc: no table of contents"):
        toc_chapters(tmp_path)
    _toc(tmp_path, "format: jb-book\n")
    with pytest.raises(ValueError, match="no 'root' entry"):
        toc_chapters(tmp_path)
    _toc(tmp_path, "format: jb-book\nroot: book/missing\n")
    with pytest.raises(FileNotFoundError, match="lists 'book/missing'"):
        toc_chapters(tmp_path)


def test_read_chapter_matches_cells_and_rejects_plain_markdown(tmp_path):
    ch = _chapter(tmp_path, "c", "a = 1", "print(a + 1)")
    nb = read_chapter(ch.path)
    assert [c.source for c in nb.cells if c.cell_type == "code"] == ["a = 1", "print(a + 1)"]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    plain = tmp_path / "plain.md"
    plain.write_text("# just markdown\n")
    with pytest.raises(ValueError, match="not a MyST Markdown notebook"):
        read_chapter(plain)
    with pytest.raises(FileNotFoundError, match="no chapter at"):
        read_chapter(tmp_path / "nope.md")


def test_a_chapter_that_hangs_is_stopped(tmp_path):
    ch = _chapter(tmp_path, "slow", "import time\ntime.sleep(60)")
    run = run_chapter(ch, workdir=tmp_path / "work", timeout_s=8)
    assert not run.passed
    assert "still running after 8 s" in run.report
    assert run.seconds < 30


def test_passing_chapter_is_cached_for_the_book_build(tmp_path):
    from jupyter_cache import get_cache

    ch = _chapter(tmp_path, "ok", "x = 21", "import time\ntime.sleep(0.3)\nprint(x * 2)\n"
                  "assert x * 2 == 42")
    run = run_chapter(ch, workdir=tmp_path / "work", cache_dir=tmp_path / "cache")
    assert run.passed, run.report
    assert run.cells_run == 2 and run.cached
    assert set(run.cell_seconds) == {0, 1}  # each cell's wall time, for finding slow cells
    assert run.cell_seconds[1] >= 0.3 > run.cell_seconds[0]
    # The book build looks the chapter up by hashing the notebook it reads itself.
    cache = get_cache(str(tmp_path / "cache"))
    _, merged = cache.merge_match_into_notebook(read_chapter(ch.path))
    code = [c for c in merged.cells if c.cell_type == "code"]
    assert code[1].outputs[0]["text"] == "42\n"


def test_failing_assert_fails_with_cell_and_traceback(tmp_path):
    ch = _chapter(tmp_path, "bad", "x = 1", "assert x == 2, 'the claim does not hold'", "print('unreached')")
    run = run_chapter(ch, workdir=tmp_path / "work", cache_dir=tmp_path / "cache")
    assert not run.passed and not run.cached
    assert "assert x == 2" in run.report            # the failing cell's input
    assert "AssertionError" in run.report           # and its traceback
    assert "the claim does not hold" in run.report
    assert run.cells_run == 2                        # -x: nothing after the failing cell ran
    assert "\x1b[" not in run.report                 # no terminal colour codes in CI logs


def test_chapter_cannot_reach_the_network(tmp_path):
    ch = _chapter(tmp_path, "net", "import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=5)")
    run = run_chapter(ch, workdir=tmp_path / "work")
    assert not run.passed
    assert "NetworkBlockedError" in run.report
    ch = _chapter(tmp_path, "env", "import os\nassert os.environ['HF_HUB_OFFLINE'] == '1'")
    assert run_chapter(ch, workdir=tmp_path / "work2").passed


def test_glue_that_the_book_cannot_format_fails_the_chapter(tmp_path):
    # np.float64 prints as 'np.float64(0.5)': nbval is happy, the book build warns (fatal in CI).
    ch = _chapter(tmp_path, "glued", "import numpy as np\nfrom myst_nb import glue\n"
                  "glue('good', 0.25, display=False)\nglue('bad', np.float64(0.5), display=False)")
    ch.path.write_text(ch.path.read_text() + "\nGood {glue:text}`good:.2f`, bad {glue:text}`bad:.2f`,"
                       " missing {glue:text}`nowhere`.\n")
    run = run_chapter(ch, workdir=tmp_path / "work", cache_dir=tmp_path / "cache")
    assert not run.passed and not run.cached
    assert "{glue:text}`bad:.2f` cannot format 'np.float64(0.5)'" in run.report
    assert "'nowhere', which no cell glued" in run.report
    assert "good" not in run.report.split("\n", 1)[1]


def test_check_glue_accepts_resolving_references():
    import nbformat

    from readingroom.harness import check_glue

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": "0.125"},
        metadata={"scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}})]
    nb.cells.append(cell)
    assert check_glue("x is {glue:text}`x:.1%` or {glue}`x`", nb) == []
    assert check_glue("no references here", nb) == []
    problems = check_glue("line one\n{glue:text}`x:s` and {glue:md}`y`", nb)
    assert problems == ["line 2: {glue:md}`y` names 'y', which no cell glued"]


def test_chapter_kernel_computes_with_the_thread_policy(tmp_path, monkeypatch):
    monkeypatch.setenv("READINGROOM_THREADS", "1")
    ch = _chapter(tmp_path, "threads",
                  "import os, torch\nassert torch.get_num_threads() == 1, torch.get_num_threads()\n"
                  "assert os.environ['OMP_NUM_THREADS'] == '1'")
    run = run_chapter(ch, workdir=tmp_path / "work")
    assert run.passed, run.report
    assert run.threads == "1"


def test_two_chapters_cache_at_once(tmp_path):
    """Parallel test workers write one Jupyter cache: neither write may be lost or fail."""
    from concurrent.futures import ThreadPoolExecutor

    from jupyter_cache import get_cache

    chapters = [_chapter(tmp_path, f"c{i}", f"print({i})") for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda c: run_chapter(c, workdir=tmp_path / "w" / c.name,
                                                   cache_dir=tmp_path / "cache"), chapters))
    assert all(r.passed and r.cached for r in runs), [r.report for r in runs]
    cache = get_cache(str(tmp_path / "cache"))
    for i, ch in enumerate(chapters):
        _, merged = cache.merge_match_into_notebook(read_chapter(ch.path))
        code = [c for c in merged.cells if c.cell_type == "code"]
        assert code[0].outputs[0]["text"] == f"{i}\n"
