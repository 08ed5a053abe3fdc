"""Where the checkout is, and the small data files the book ships in ``book/data/``.

Benchmarks that need a GPU write their results as JSON under ``book/data/``; chapters read them
with :func:`load_book_data` so that a CPU-only build still shows the measured numbers.

The checkout root is found from this file's location (the first folder above it holding
``_toc.yml``), so it works from notebooks, tests and scripts alike, as long as the package is
installed in editable mode (``pip install -e .``).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

__all__ = ["repo_root", "book_data_path", "load_book_data"]

#: Where the search for the checkout root starts (this file's folder).
_ANCHOR: Path = Path(__file__).resolve().parent
#: The file that marks the checkout root: the Jupyter Book table of contents.
_MARKER = "_toc.yml"


def repo_root() -> Path:
    """Return the root of the Reading Room checkout: the nearest folder above this file that
    contains ``_toc.yml``.

    Raises:
        RuntimeError: no such folder, e.g. because the package was installed without ``-e`` and
            lives in ``site-packages`` away from the book.
    """
    for folder in (_ANCHOR, *_ANCHOR.parents):
        if (folder / _MARKER).is_file():
            return folder
    raise RuntimeError(
        f"could not find the Reading Room checkout: no folder above {_ANCHOR} contains {_MARKER}. "
        "Install the package in editable mode from the checkout (pip install -e .)."
    )


def book_data_path(name: str) -> Path:
    """Return ``repo_root() / "book" / "data" / name`` (the file need not exist).

    Args:
        name: a relative path such as ``"nsa_speed.json"`` or ``"nsa/speed.json"``; no ``..``
            and no absolute path, so the result always stays inside ``book/data/``.

    Raises:
        RuntimeError: the checkout root cannot be found (see :func:`repo_root`).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str file name, got {type(name).__name__}")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not name.strip() or not parts:
        raise ValueError(f"name must be a non-empty relative file name, got {name!r}")
    if (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or name.startswith(("/", "\\"))
    ):
        raise ValueError(
            f"name must be a relative file name inside book/data, got absolute path {name!r}"
        )
    if ".." in parts:
        raise ValueError(
            f"name must not contain '..' (it must stay inside book/data), got {name!r}"
        )
    return repo_root() / "book" / "data" / Path(*parts)


def load_book_data(name: str) -> dict[str, Any]:
    """Read the JSON object stored in ``book/data/<name>``.

    Raises:
        FileNotFoundError: the file does not exist (the message gives the full path).
        ValueError: the file is not valid JSON or does not hold a JSON object.
    """
    path = book_data_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"book data file {name!r} not found: expected it at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"book data file {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(
            f"book data file {path} must hold a JSON object, got {type(data).__name__}"
        )
    return data
