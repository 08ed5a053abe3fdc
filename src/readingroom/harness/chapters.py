"""Find the book's chapters, execute each one under nbval, and share the result with the book build.

The flow for one chapter (``tests/test_chapters.py`` calls :func:`run_chapter`):

1. :func:`read_chapter` turns the MyST Markdown file into a notebook with myst-nb's own reader, the
   same reader ``jupyter-book build`` uses, so the test runs exactly the cells the book runs.
2. The notebook is written to ``<workdir>/<name>.ipynb`` and executed by nbval in a child
   ``pytest`` (``--nbval-lax --nbval-current-env -x``): every cell must run without an exception;
   the chapter's claims are ``assert`` statements in its cells. An IPython startup file in the
   child's ``IPYTHONDIR`` blocks every non-loopback connection, so a chapter that reaches for the
   network fails here exactly as it would on a reader's plane.
3. When every cell passed, :func:`cache_executed_notebook` stores the executed notebook in the
   Jupyter cache (``_build/.jupyter_cache``). The book build (``execute_notebooks: cache``) finds it
   by the hash of the chapter's code and does not execute the chapter again.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

#: Variables that make Hugging Face and friends refuse to download anything.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}

_STARTUP = """\
# Written by readingroom.harness: chapters run under test with the network blocked.
from readingroom.common.offline import block_network as _rr_block_network
_rr_block_network()
del _rr_block_network
"""


@dataclass(frozen=True)
class Chapter:
    """One executable page of the book.

    ``name`` is the pytest id (``pytest -k <name>``), ``docname`` the entry in ``_toc.yml``
    (e.g. ``book/template``) and ``path`` the absolute path of the MyST Markdown file.
    """

    name: str
    docname: str
    path: Path


@dataclass
class ChapterRun:
    """What executing one chapter under nbval produced (``threads``: the CPU threads its kernel
    computed with, as :func:`~readingroom.common.thread_env` passed them: a count or ``auto``;
    ``cell_seconds``: code-cell index -> wall time of that cell, for finding a chapter's slow
    cells)."""

    chapter: Chapter
    passed: bool
    seconds: float
    report: str
    notebook_path: Path
    cached: bool = False
    cells_run: int = 0
    threads: str = "1"
    stdout: str = field(default="", repr=False)
    cell_seconds: dict[int, float] = field(default_factory=dict, repr=False)


def toc_entries(node: Any) -> list[str]:
    """Every page (``root`` and ``file:`` entries) of a parsed Jupyter Book ``_toc.yml``, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(str(node["file"]))
        for key in ("root",):
            if key in node:
                found.append(str(node[key]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                found.extend(toc_entries(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(toc_entries(child))
    return found


def _is_executable(path: Path) -> bool:
    return "```{code-cell}" in path.read_text(encoding="utf-8")


def toc_chapters(root: str | os.PathLike, toc: str = "_toc.yml") -> list[Chapter]:
    """The pages listed in ``root/_toc.yml`` that contain code cells, in the order of the book.

    Pages without a ``{code-cell}`` (the intro, the reading-group guide) have nothing to execute
    and are left out. Raises ``FileNotFoundError`` if the table of contents or a page it lists is
    missing, ``ValueError`` if it is not a Jupyter Book table of contents.
    """
    import yaml

    root = Path(root)
    toc_path = root / toc
    if not toc_path.is_file():
        raise FileNotFoundError(f"toc: no table of contents at {toc_path}")
    data = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"toc: {toc_path} is not a Jupyter Book _toc.yml (no 'root' entry)")
    chapters: list[Chapter] = []
    seen: set[str] = set()
    for docname in toc_entries(data):
        docname = re.sub(r"\.(md|ipynb)$", "", docname)
        path = root / f"{docname}.md"
        if not path.is_file():
            raise FileNotFoundError(
                f"toc: {toc_path} lists {docname!r} but {path} does not exist "
                "(chapters are MyST Markdown notebooks, book/<name>.md)"
            )
        if docname in seen or not _is_executable(path):
            continue
        seen.add(docname)
        name = Path(docname).name
        if any(c.name == name for c in chapters):
            name = docname.replace("/", "-")
        chapters.append(Chapter(name=name, docname=docname, path=path.resolve()))
    return chapters


def read_chapter(path: str | os.PathLike):
    """Read a MyST Markdown chapter into a notebook, exactly as the book build reads it.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a Markdown file that
    is not a MyST notebook (its front matter must declare a ``kernelspec``).
    """
    from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no chapter at {path}")
    text = path.read_text(encoding="utf-8")
    if not is_myst_markdown_notebook(text):
        raise ValueError(
            f"path: {path} is not a MyST Markdown notebook; its front matter needs "
            "'jupytext: text_representation: format_name: myst' and a 'kernelspec'"
        )
    return read_myst_markdown_notebook(text, MdParserConfig(), add_source_map=True, path=path)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _failure_report(stdout: str) -> str:
    """The FAILURES section of nbval's output: the failing cell, its input and its traceback.

    IPython colours its tracebacks; the escape codes are removed so CI logs stay readable.
    """
    stdout = _ANSI.sub("", stdout)
    start = stdout.find("= FAILURES =")
    if start < 0:
        start = stdout.find("= ERRORS =")
    if start < 0:
        return stdout[-8000:]
    start = stdout.rfind("\n", 0, start) + 1
    end = stdout.find("short test summary info", start)
    end = stdout.rfind("\n", 0, end) if end > 0 else len(stdout)
    return stdout[start:end].strip()


def cache_executed_notebook(notebook, source: str | os.PathLike, cache_dir: str | os.PathLike,
                            seconds: float) -> int:
    """Store an executed notebook in the Jupyter cache at ``cache_dir``; return its record id.

    ``notebook`` must be the notebook :func:`read_chapter` returned, with outputs filled in: the
    cache matches on the hash of its code cells and kernelspec, which is how the book build
    (``execute_notebooks: cache``) recognises the chapter and skips executing it.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    from readingroom.common.checks import check_float

    check_float(seconds, "seconds", low=0)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Chapters run in parallel test workers: one writer at a time, or two first writers race to
    # create the cache's SQLite database and a later one meets "database is locked".
    with _file_lock(cache_dir.with_name(cache_dir.name + ".lock")):
        cache = get_cache(str(cache_dir))
        record = cache.cache_notebook_bundle(
            CacheBundleIn(notebook, str(source), data={"execution_seconds": float(seconds)}),
            check_validity=False,
            overwrite=True,
        )
    return record.pk


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive advisory lock on ``path`` (created if missing), held for the ``with`` block."""
    import fcntl

    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _with_outputs(notebook, cells: dict[str, dict]):
    """A copy of ``notebook`` whose code cells carry the outputs nbval recorded."""
    import nbformat

    executed = copy.deepcopy(notebook)
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells):
        recorded = cells.get(str(i), {}).get("outputs", [])
        outputs = []
        for out in recorded:
            kind = out.get("output_type")
            if kind == "stream":
                outputs.append(nbformat.v4.new_output("stream", name=out["name"], text=out["text"]))
            elif kind == "display_data":
                outputs.append(nbformat.v4.new_output(
                    "display_data", data=out.get("data", {}), metadata=out.get("metadata", {})))
            elif kind == "execute_result":
                outputs.append(nbformat.v4.new_output(
                    "execute_result", data=out.get("data", {}), metadata=out.get("metadata", {}),
                    execution_count=i + 1))
        cell.outputs = outputs
        cell.execution_count = i + 1
    return executed


_GLUE_ROLE = re.compile(r"\{glue(?::(?P<kind>[a-z]+))?\}`(?P<key>[^`:]+)(?::(?P<fmt>[^`]*))?`")


def check_glue(markdown: str, notebook) -> list[str]:
    """Problems with the ``{glue}`` references of a chapter, as the book build would see them.

    Every ``{glue}`` / ``{glue:text}`` / ``{glue:md}`` reference in ``markdown`` must name a value
    some cell of the executed ``notebook`` glued, and a ``{glue:text}`` reference with a format
    spec (``{glue:text}`x:.2f```) must format with myst-nb's own formatter. Without this check a
    chapter that glues a numpy scalar (``text/plain`` is ``np.float64(0.5)``) passes under nbval
    and fails only later, as a warning of the book build.

    Returns:
        One message per problem (empty when every reference resolves).
    """
    from myst_nb.core.variables import format_plain_text

    glued: dict[str, dict] = {}
    for cell in notebook.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            glued[meta["name"]] = {k[len(prefix):]: v for k, v in out.get("data", {}).items()}
    problems = []
    for match in _GLUE_ROLE.finditer(markdown):
        key, kind, fmt = match["key"], match["kind"] or "any", match["fmt"] or ""
        line = markdown.count("\n", 0, match.start()) + 1
        if key not in glued:
            problems.append(f"line {line}: {match[0]} names {key!r}, which no cell glued")
        elif kind == "text":
            text = glued[key].get("text/plain")
            if text is None:
                problems.append(f"line {line}: {match[0]}: {key!r} has no text/plain")
                continue
            try:
                format_plain_text(text, fmt)
            except Exception as exc:  # noqa: BLE001 - report whatever the formatter raises
                problems.append(f"line {line}: {match[0]} cannot format {text!r}: {exc} "
                                "(glue a plain Python float/int, e.g. float(x))")
    return problems


def run_chapter(chapter: Chapter, *, workdir: str | os.PathLike,
                cache_dir: str | os.PathLike | None = None, cell_timeout_s: int = 600,
                timeout_s: int = 1800, python: str | None = None) -> ChapterRun:
    """Execute ``chapter`` under nbval in a child pytest and report what happened.

    The child runs with the network blocked and the Hugging Face offline variables set. If every
    cell passed and ``cache_dir`` is given, the executed notebook goes into that Jupyter cache.
    Never raises for a failing chapter: the returned :class:`ChapterRun` says ``passed=False`` and
    ``report`` holds nbval's account of the failing cell (its input and traceback). A chapter still
    running after ``timeout_s`` seconds is stopped and reported as failed.
    """
    import nbformat

    from readingroom.common.checks import check_int

    if not isinstance(chapter, Chapter):
        raise TypeError(f"chapter must be a Chapter, got {type(chapter).__name__}")
    check_int(cell_timeout_s, "cell_timeout_s")
    check_int(timeout_s, "timeout_s")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    notebook = read_chapter(chapter.path)
    ipynb = workdir / f"{chapter.name}.ipynb"
    nbformat.write(notebook, ipynb)

    ipython_dir = workdir / ".ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-readingroom-offline.py").write_text(_STARTUP, encoding="utf-8")
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")  # keep the repo's own pytest options out
    outputs_json = workdir / f"{chapter.name}.outputs.json"
    outputs_json.unlink(missing_ok=True)

    from readingroom.isa import kernel_env
    from readingroom.common.threads import THREADS_ENV, thread_env

    env = dict(os.environ)
    env.update(OFFLINE_ENV)
    env.update(thread_env())  # the kernel's pools start at the policy's size (one thread)
    env.update(kernel_env())  # and its libraries with the AVX2 kernels the records were made with
    env["IPYTHONDIR"] = str(ipython_dir)
    env["READINGROOM_OUTPUTS"] = str(outputs_json)
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("MPLBACKEND", None)  # let the kernel use the inline backend, so figures are outputs

    cmd = [
        python or sys.executable, "-m", "pytest", str(ipynb),
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={cell_timeout_s}",
        "-x", "-q", "--color=no", "--tb=short",
        "-p", "readingroom.harness.nbval_recorder", "-p", "no:cacheprovider",
        "-c", str(ini), "--rootdir", str(workdir),
    ]
    start = time.perf_counter()
    # A session of its own, so that a chapter that hangs is stopped with its kernel.
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        return ChapterRun(chapter=chapter, passed=False, seconds=time.perf_counter() - start,
                          report=f"{chapter.docname} still running after {timeout_s} s; "
                                 f"stopped.\n{_ANSI.sub('', stdout)[-4000:]}",
                          notebook_path=ipynb, stdout=stdout, threads=env[THREADS_ENV])
    seconds = time.perf_counter() - start

    record = {}
    if outputs_json.is_file():
        record = json.loads(outputs_json.read_text(encoding="utf-8"))
    cells = record.get("cells", {})
    passed = proc.returncode == 0 and bool(cells) and all(c["passed"] for c in cells.values())
    report = "" if passed else _failure_report(stdout)
    if proc.returncode == 0 and not cells:
        report = f"nbval ran no cell of {chapter.path}:\n{stdout[-4000:]}"

    executed = _with_outputs(notebook, cells)
    if passed:
        problems = check_glue(Path(chapter.path).read_text(encoding="utf-8"), executed)
        if problems:
            passed = False
            report = (f"every cell of {chapter.docname} ran, but its glued values would break the "
                      "book build:\n" + "\n".join(problems))
    cached = False
    if passed and cache_dir is not None:
        cache_executed_notebook(executed, chapter.path, cache_dir, seconds)
        cached = True
    cell_seconds = {int(k): float(c["seconds"]) for k, c in cells.items()
                    if c.get("seconds") is not None}
    return ChapterRun(chapter=chapter, passed=passed, seconds=seconds, report=report,
                      notebook_path=ipynb, cached=cached, cells_run=len(cells), stdout=stdout,
                      threads=env[THREADS_ENV], cell_seconds=cell_seconds)
