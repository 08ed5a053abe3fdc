"""One shape for every ``python -m readingroom.<package>`` command line.

Every package's ``__main__`` builds its subcommands with the options below, so the same option is
spelt, typed and explained the same way everywhere, and runs through :func:`run`, which gives one
exit-code convention:

* ``0`` (:data:`EXIT_OK`): the command ran and its result is what was asked for;
* ``1`` (:data:`EXIT_NEGATIVE`): the command ran, and its answer is negative (a proof not found,
  a check that failed);
* ``2`` (:data:`EXIT_BAD_INPUT`): bad input, reported as a usage error that names the option,
  before any work starts where possible (argparse's own status for usage errors).

A subcommand is ``p.set_defaults(func=handler)`` with ``handler(args, parser) -> int``. The
library's own ``TypeError``/``ValueError`` for bad arguments become usage errors (status 2) in
:func:`run`, so a handler need not catch them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readingroom.common.checks import positive_int_arg, seed_arg

if TYPE_CHECKING:
    import torch

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NEGATIVE",
    "EXIT_OK",
    "add_device",
    "add_json",
    "add_no_progress",
    "add_out",
    "add_quick",
    "add_seed",
    "add_seeds",
    "device_arg",
    "positive_int_arg",
    "quick_needs_out",
    "resolve_device",
    "run",
    "seed_arg",
    "write_json",
]

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT = 0, 1, 2

#: What ``--device`` accepts: :func:`readingroom.common.pick_device`'s choices plus ``cuda:N``.
DEVICES = ("auto", "cpu", "cuda")


def device_arg(text: str) -> str:
    """``argparse`` type of ``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, lower-cased;
    anything else is a usage error (exit status 2). Whether CUDA exists is checked where the
    device is used, not here."""
    value = text.strip().lower()
    head, _, index = value.partition(":")
    if head in DEVICES and (not index or (head == "cuda" and index.isdigit())):
        return value
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")


def resolve_device(value: str) -> torch.device:
    """The torch device a parsed ``--device`` names. ``auto`` is
    :func:`~readingroom.common.pick_device`'s choice (``READINGROOM_DEVICE`` if set, else CUDA when
    available, else the CPU). Raises ``ValueError`` (a usage error under :func:`run`) when CUDA,
    or device ``N`` of ``cuda:N``, is asked for and is not here."""
    import torch

    from readingroom.common.device import pick_device

    try:
        value = device_arg(value)
    except argparse.ArgumentTypeError as err:
        raise ValueError(f"--device {err}") from None
    if value == "auto":
        return pick_device(None)
    head, _, index = value.partition(":")
    if head == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {value}: no CUDA device is available here")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"--device {value}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return torch.device(value)


def add_seed(p: argparse.ArgumentParser, *, default: int = 0, help: str = "seed") -> None:
    """``--seed S``: one seed in ``[0, 2**32 - 1]``."""
    p.add_argument("--seed", type=seed_arg, default=default, help=f"{help} (default {default})")


def add_seeds(p: argparse.ArgumentParser, *, default: Sequence[int] | None = (0, 1, 2, 3, 4),
              help: str = "seeds") -> None:
    """``--seeds S [S ...]``: one or more seeds (required when ``default`` is None)."""
    if default is None:
        p.add_argument("--seeds", type=seed_arg, nargs="+", required=True, help=help)
    else:
        shown = " ".join(map(str, default))
        p.add_argument("--seeds", type=seed_arg, nargs="+", default=list(default),
                       help=f"{help} (default {shown})")


def add_out(p: argparse.ArgumentParser, *, default: Path | None = None,
            help: str = "output file") -> None:
    """``--out PATH``: where the command writes (a file, or a folder where ``help`` says so)."""
    p.add_argument("--out", type=Path, default=default, help=help)


def add_device(p: argparse.ArgumentParser, *, default: str = "cpu") -> None:
    """``--device {auto,cpu,cuda,cuda:N}``."""
    p.add_argument("--device", type=device_arg, default=default,
                   help=f"auto, cpu, cuda or cuda:N (default {default})")


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json``: print one JSON object on stdout instead of readable lines."""
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_no_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``: no progress bars (they go to stderr otherwise)."""
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def add_quick(p: argparse.ArgumentParser, *, help: str = "tiny settings for a smoke test") -> None:
    """``--quick``: tiny settings, for tests."""
    p.add_argument("--quick", action="store_true", help=help)


def quick_needs_out(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A usage error (status 2) when ``--quick`` would overwrite the book's record."""
    if getattr(args, "quick", False) and getattr(args, "out", None) is None:
        parser.error("--quick needs --out (quick results must not replace the book's)")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (one space, a final newline), creating the folder; the
    book's records all look the same. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    return path


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
        threads: int | None = None) -> int:
    """Parse ``argv``, apply the book's thread policy (:func:`~readingroom.common.use_threads`;
    ``threads`` fixes the count, e.g. 1 for records whose numbers depend on it), and call the
    chosen subcommand's ``func(args, parser)``. A ``TypeError`` or ``ValueError`` it raises is
    bad input: a usage error with exit status 2. Returns the handler's exit status."""
    from readingroom.common.threads import use_threads

    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace, argparse.ArgumentParser], int] | None = getattr(
        args, "func", None)
    if func is None:
        parser.error("a command is required")
    use_threads(threads)
    try:
        status = func(args, parser)
    except (TypeError, ValueError) as err:
        parser.error(str(err))  # exits with status 2
    return EXIT_OK if status is None else int(status)
