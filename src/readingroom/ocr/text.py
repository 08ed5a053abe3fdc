"""Real English text, offline: passages cut from the docstrings that ship with Python itself.

The OCR chapter needs pages of ordinary prose to render and read back. Random letters would do
for the mechanics, but real text has the statistics (common words, punctuation, word lengths)
that make a decoder's errors look like the paper's. Downloading a corpus is not allowed here, so
the corpus is made from the documentation every Python installation carries: the docstrings
(:func:`inspect.getdoc`) of a fixed, sorted list of standard-library modules
(:data:`CORPUS_MODULES`), of the public classes and functions each one defines, and of the public
methods and properties of those classes, all in name order (:func:`build_corpus`).

The text is normalised to a small alphabet (:data:`ALPHABET`): lowercased, doctest lines
(``>>>`` and ``...``) dropped, every character outside the alphabet replaced by a space, and runs
of whitespace collapsed to one space. Docstrings repeated verbatim (inherited ones) are kept once.

Docstrings change between Python releases, so the corpus is **not** rebuilt from the running
interpreter: it was built once, on CPython 3.11.7, and ships inside this package as
``corpus.txt`` (:data:`CORPUS_FILE`, one normalised docstring a line; 119,145 characters joined,
about 20,000 words) with its provenance record ``corpus.json`` (:data:`CORPUS_RECORD`: the
command, the Python version, the date, the modules and the file's SHA-256).
:func:`corpus` reads that file, so every Python version draws the same passages, the ones the
committed readers were trained and scored on. ``python -m readingroom.ocr corpus --out DIR``
(:func:`write_corpus`) rebuilds it from the running interpreter; on another Python version the
result differs, and replacing the shipped file would change every page the book draws.

:func:`sample_text` draws a passage of exactly ``n_chars`` characters from a random offset, using
a :class:`torch.Generator` so that a seed fixes the passage.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import os
import platform
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from readingroom.common.checks import check_int

__all__ = ["ALPHABET", "CORPUS_FILE", "CORPUS_MODULES", "CORPUS_RECORD", "MAX_CHARS",
           "build_corpus", "corpus", "corpus_sha256", "random_text", "read_corpus", "sample_text", "write_corpus"]

#: Every character a generated text may contain: space, lowercase ``a-z``, digits ``0-9`` and the
#: punctuation ``.,;:'()-``, in this order (the order the tokeniser numbers them in).
ALPHABET: str = " abcdefghijklmnopqrstuvwxyz0123456789.,;:'()-"

#: The standard-library modules whose docstrings make up the corpus, sorted by name.
CORPUS_MODULES: tuple[str, ...] = (
    "argparse",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "json",
    "random",
    "re",
    "statistics",
    "string",
    "textwrap",
)

#: Longest passage :func:`sample_text` draws.
MAX_CHARS: int = 5000

#: The corpus file shipped in this package: one normalised docstring a line, ASCII.
CORPUS_FILE: str = "corpus.txt"

#: Its provenance record beside it (JSON): how, when and on which Python it was built.
CORPUS_RECORD: str = "corpus.json"

#: The command that rebuilds the shipped corpus (written into the record).
_CORPUS_COMMAND = "python -m readingroom.ocr corpus"

_ALLOWED = frozenset(ALPHABET)
_DOCTEST_LINE = re.compile(r"^\s*(>>>|\.\.\.)")
_WHITESPACE = re.compile(r"\s+")


def _normalise(doc: str) -> str:
    """Lowercase ``doc``, drop doctest lines, blank out foreign characters, collapse whitespace."""
    lines = [line for line in doc.splitlines() if not _DOCTEST_LINE.match(line)]
    text = "\n".join(lines).lower()
    text = "".join(ch if ch in _ALLOWED else " " for ch in text)
    return _WHITESPACE.sub(" ", text).strip()


def _module_docs(name: str) -> list[str]:
    """Docstrings of module ``name``, its public classes/functions and their methods, by name."""
    module = importlib.import_module(name)
    docs = [inspect.getdoc(module)]
    for attr in sorted(dir(module)):
        if attr.startswith("_"):
            continue
        obj = getattr(module, attr, None)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        # Skip names a module merely imports (``re`` re-exports nothing of ``enum``'s, etc.).
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        docs.append(inspect.getdoc(obj))
        if inspect.isclass(obj):  # and the public methods/properties the class itself defines
            for member in sorted(vars(obj)):
                if member.startswith("_"):
                    continue
                value = vars(obj)[member]
                if inspect.isroutine(value) or isinstance(value, (property, classmethod,
                                                                  staticmethod)):
                    docs.append(inspect.getdoc(getattr(obj, member, None)))
    return [doc for doc in docs if doc]


def build_corpus(modules: Sequence[str] = CORPUS_MODULES) -> list[str]:
    """Build the corpus from the *running interpreter's* docstrings (see the module docstring).

    This is how the shipped ``corpus.txt`` was made (on CPython 3.11.7); the book reads that file
    through :func:`corpus` instead, since the result depends on the Python version.

    Args:
        modules: importable module names, docstrings taken in this order (default
            :data:`CORPUS_MODULES`).

    Returns:
        The normalised docstrings, each non-empty, over :data:`ALPHABET`, without newlines and
        each kept once, in order; ``" ".join`` of them is the corpus.

    Raises:
        ModuleNotFoundError: a module cannot be imported.
    """
    if isinstance(modules, str) or not isinstance(modules, Sequence):
        raise TypeError(f"modules must be a sequence of module names, got "
                        f"{type(modules).__name__}")
    if not all(isinstance(name, str) for name in modules):
        raise TypeError("modules must hold only str module names")
    if not modules:
        raise ValueError("modules must name at least one module")
    if len(set(modules)) != len(modules):
        raise ValueError(f"modules must not repeat a name, got {list(modules)}")
    seen: set[str] = set()
    pieces: list[str] = []
    for name in modules:
        for doc in _module_docs(name):
            text = _normalise(doc)
            if text and text not in seen:
                seen.add(text)
                pieces.append(text)
    return pieces


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_corpus(directory: str | os.PathLike) -> dict[str, Any]:
    """Build the corpus from the running interpreter (:func:`build_corpus`) and write it to
    ``directory/corpus.txt`` with its provenance record ``directory/corpus.json``.

    ``python -m readingroom.ocr corpus`` calls this on the package's own folder. The record holds
    the command, the UTC date, the Python version and implementation, the modules, the number of
    docstrings and of characters (joined), and the file's size and SHA-256, which
    :func:`read_corpus` checks.

    Returns:
        The record written.

    Raises:
        NotADirectoryError: ``directory`` is not an existing folder.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
    folder = Path(directory)
    if not folder.is_dir():
        raise NotADirectoryError(f"directory must be an existing folder, got {folder}")
    pieces = build_corpus()
    data = ("\n".join(pieces) + "\n").encode("ascii")
    record = {
        "file": CORPUS_FILE,
        "sha256": _sha256(data),
        "bytes": len(data),
        "docstrings": len(pieces),
        "chars": len(" ".join(pieces)),
        "command": _CORPUS_COMMAND,
        "built_by": "readingroom.ocr.text.build_corpus",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "modules": list(CORPUS_MODULES),
        "format": "ASCII, one normalised docstring a line; the corpus is the lines joined by "
                  "single spaces",
    }
    (folder / CORPUS_FILE).write_bytes(data)
    (folder / CORPUS_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def read_corpus(directory: Any = None) -> str:
    """Read the corpus file ``directory/corpus.txt``, checked against its record ``corpus.json``.

    Args:
        directory: a folder (str, os.PathLike, or an :mod:`importlib.resources` traversable)
            holding both files; ``None`` (default) reads the copy shipped in this package.

    Returns:
        The corpus: the file's lines joined by single spaces.

    Raises:
        FileNotFoundError: a file is missing (the message says how to make it).
        ValueError: the file's SHA-256 differs from its record's, or the file holds an empty
            line or a character outside :data:`ALPHABET`.
    """
    folder = resources.files("readingroom.ocr") if directory is None else directory
    if isinstance(folder, (str, os.PathLike)):
        folder = Path(folder)
    text_file, record_file = folder.joinpath(CORPUS_FILE), folder.joinpath(CORPUS_RECORD)
    for f in (text_file, record_file):
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing; make the corpus with `{_CORPUS_COMMAND} "
                                    f"--out FOLDER`")
    data = text_file.read_bytes()
    record = json.loads(record_file.read_text(encoding="utf-8"))
    if _sha256(data) != record.get("sha256"):
        raise ValueError(f"{text_file} does not match its record {record_file} (SHA-256 "
                         f"{_sha256(data)[:12]}..., recorded {str(record.get('sha256'))[:12]}...)")
    lines = data.decode("ascii", errors="replace").splitlines()
    if not lines or not all(lines):
        raise ValueError(f"{text_file} holds an empty line")
    text = " ".join(lines)
    foreign = set(text) - _ALLOWED
    if foreign:
        raise ValueError(f"{text_file} holds characters outside ALPHABET: {sorted(foreign)}")
    return text


@functools.lru_cache(maxsize=1)
def corpus() -> str:
    """Return the corpus shipped with this package (read once, then cached).

    Returns:
        One string over :data:`ALPHABET` with single spaces between words and no leading or
        trailing space; the same on every Python version (see the module docstring).
    """
    return read_corpus()


def corpus_sha256() -> str:
    """SHA-256 (hex) of :func:`corpus` encoded as ASCII: the corpus's identity.

    The training command writes it into a reader's record (``extra["corpus_sha256"]``), so that a
    reader can be matched with the text it was trained on.
    """
    return _sha256(corpus().encode("ascii"))


def _check_draw(n_chars: object, generator: object) -> None:
    """The argument checks :func:`sample_text` and :func:`random_text` share."""
    if check_int(n_chars, "n_chars") > MAX_CHARS:
        raise ValueError(f"n_chars must be in [1, {MAX_CHARS}], got {n_chars}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


@functools.lru_cache(maxsize=64)
def _valid_starts(n_chars: int) -> np.ndarray:
    """Offsets where a passage of ``n_chars`` may start (see :func:`sample_text`), ascending.

    Computed once per length and cached, so that a draw costs one random number.
    """
    codes = np.frombuffer(corpus().encode("ascii"), dtype=np.uint8)  # [L]
    space = ord(" ")
    starts = np.flatnonzero(np.concatenate(([True], codes[:-1] == space)))  # [n_words]
    starts = starts[starts + n_chars <= codes.size]  # the slice stays inside the corpus
    return starts[codes[starts + n_chars - 1] != space]  # and does not end on a space


def sample_text(n_chars: int, *, generator: torch.Generator) -> str:
    """Draw a passage of exactly ``n_chars`` characters of real English text from the corpus.

    The passage is a verbatim slice ``corpus()[start:start + n_chars]``. ``start`` is drawn
    uniformly (with ``generator``) among the offsets that

    * begin a word (offset 0, or right after a space),
    * leave ``n_chars`` characters before the end of the corpus, and
    * do not make the slice end on a space.

    So the passage never starts or ends with a space and needs no padding or trimming; its last
    word may be cut short (``"... the funct"``), as on a page whose text runs on.

    Args:
        n_chars: length of the passage, an int in ``[1, MAX_CHARS]``.
        generator: the :class:`torch.Generator` that picks the offset; the same seed gives the
            same passage.

    Returns:
        A string of exactly ``n_chars`` characters from :data:`ALPHABET`.
    """
    _check_draw(n_chars, generator)

    starts = _valid_starts(n_chars)  # [n_valid]
    if starts.size == 0:  # cannot happen with MAX_CHARS far below the corpus length
        raise ValueError(f"n_chars={n_chars} is too long for the corpus ({len(corpus())} chars)")
    pick = torch.randint(starts.size, (1,), generator=generator, device=generator.device)
    start = int(starts[int(pick.item())])
    return corpus()[start:start + n_chars]


def random_text(n_chars: int, *, generator: torch.Generator) -> str:
    """``n_chars`` characters of *random* "words": letters, digits and punctuation of
    :data:`ALPHABET` drawn uniformly, with a space after each word of 1-8 characters.

    A decoder can guess much of real English from the words before; it cannot guess these, so
    every character must be read off the page. The reader's training mixes them with
    :func:`sample_text` (see :class:`~readingroom.ocr.train.PageRecipe`). Like
    :func:`sample_text`, the passage never starts or ends with a space.
    """
    _check_draw(n_chars, generator)
    letters = ALPHABET[1:]  # everything but the space
    ids = torch.randint(len(letters), (n_chars,), generator=generator, device=generator.device)
    lengths = torch.randint(1, 9, (n_chars,), generator=generator, device=generator.device)
    chars, word, w = [], 0, 0
    for i in range(n_chars):
        if word == int(lengths[w]) and i < n_chars - 1:
            chars.append(" ")
            word, w = 0, w + 1
        else:
            chars.append(letters[int(ids[i])])
            word += 1
    return "".join(chars)
