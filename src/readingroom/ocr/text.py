"""Real English text, offline: passages cut from the docstrings that ship with Python itself.

The OCR chapter needs pages of ordinary prose to render and read back. Random letters would do
for the mechanics, but real text has the statistics (common words, punctuation, word lengths)
that make a decoder's errors look like the paper's. Downloading a corpus is not allowed here, so
:func:`corpus` builds one from the documentation every Python installation carries: the
docstrings (:func:`inspect.getdoc`) of a fixed, sorted list of standard-library modules
(:data:`CORPUS_MODULES`), of the public classes and functions each one defines, and of the public
methods and properties of those classes, all in name order.

The text is normalised to a small alphabet (:data:`ALPHABET`): lowercased, doctest lines
(``>>>`` and ``...``) dropped, every character outside the alphabet replaced by a space, and runs
of whitespace collapsed to one space. Docstrings repeated verbatim (inherited ones) are kept once.

The corpus depends on the Python version, since docstrings change between releases: the same
seed gives the same passage only on the same Python. The tests were written and run on
CPython 3.11.7, where the corpus is 119,145 characters (about 20,000 words); they check
properties of the passages, never their exact content, so they pass on any version.

:func:`sample_text` draws a passage of exactly ``n_chars`` characters from a random offset, using
a :class:`torch.Generator` so that a seed fixes the passage.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re

import numpy as np
import torch

__all__ = ["ALPHABET", "CORPUS_MODULES", "MAX_CHARS", "corpus", "random_text", "sample_text"]

#: Every character a generated text may contain: space, lowercase ``a-z``, digits ``0-9`` and the
#: punctuation ``.,;:'()-``, in this order (the order the tokenizer numbers them in).
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


@functools.lru_cache(maxsize=1)
def corpus() -> str:
    """Return the normalised docstring corpus (built once, then cached).

    Returns:
        One string over :data:`ALPHABET` with single spaces between words and no leading or
        trailing space. Its content depends on the Python version (see the module docstring).
    """
    seen: set[str] = set()
    pieces: list[str] = []
    for name in CORPUS_MODULES:
        for doc in _module_docs(name):
            text = _normalise(doc)
            if text and text not in seen:
                seen.add(text)
                pieces.append(text)
    return " ".join(pieces)


def _check_draw(n_chars: object, generator: object) -> None:
    """The argument checks :func:`sample_text` and :func:`random_text` share."""
    if isinstance(n_chars, bool) or not isinstance(n_chars, int):
        raise TypeError(f"n_chars must be an int, got {type(n_chars).__name__} {n_chars!r}")
    if not 1 <= n_chars <= MAX_CHARS:
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
            same passage (on the same Python version).

    Returns:
        A string of exactly ``n_chars`` characters from :data:`ALPHABET`.

    Raises:
        TypeError: ``n_chars`` is not an int (``bool`` is rejected), or ``generator`` is not a
            torch.Generator.
        ValueError: ``n_chars`` is not in ``[1, MAX_CHARS]``.
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

    Raises:
        TypeError, ValueError: as :func:`sample_text`.
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
