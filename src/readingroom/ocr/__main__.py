"""Command line: ``python -m readingroom.ocr train --seed 0`` trains the book's reader.

``train`` builds :data:`~readingroom.ocr.reader.READER_CONFIG`, trains it through
:data:`~readingroom.ocr.train.READER_CURRICULUM` (38 minutes on one CPU thread for the committed
reader), scores it on the held-out pages (:func:`~readingroom.ocr.reader.reader_metrics`) and
writes ``book/data/ocr/reader_seed{seed}.safetensors`` with its provenance record (command, seed,
data recipe, code version, hash, metrics). Options: ``--seed S``; ``--out FILE.safetensors``;
``--device {auto,cpu,cuda,cuda:N}`` (default cpu); ``--quick`` runs a few steps of the same
shape into ``--out`` (required then), for smoke tests; ``--no-progress``: no progress bars on
stderr; ``--curriculum all-modes`` trains the second committed reader instead
(:data:`~readingroom.ocr.reader.ALL_MODES_CONFIG`,
:data:`~readingroom.ocr.train.ALL_MODES_CURRICULUM`: the same stages plus one in all four
modes; 70 minutes on one thread) and writes ``reader_all_modes_seed{seed}.safetensors``;
``--curriculum native`` starts from the committed book reader
(:func:`~readingroom.ocr.reader.start_reader`) and trains
:data:`~readingroom.ocr.train.NATIVE_CURRICULUM` (all four modes on documents rendered at each
mode's native resolution, 3:4 and square pages; about 34 minutes on one thread), writes
``reader_native_seed{seed}.safetensors`` and records the start weights' hash in the record's
``extra["start"]``; ``--curriculum paper-geometry`` trains a reader with the paper's patch size,
16, from scratch (:data:`~readingroom.ocr.reader.PAPER_GEOMETRY_CONFIG`,
:data:`~readingroom.ocr.train.PAPER_GEOMETRY_CURRICULUM`: 4 vision tokens of 64 x 64 pixels per
128-pixel page, up to 14x compression) and writes
``reader_paper_geometry_seed{seed}.safetensors``.

``corpus`` rebuilds the text corpus from the running interpreter's docstrings
(:func:`~readingroom.ocr.text.write_corpus`) into ``--out DIR`` (default: the package's own folder,
replacing the shipped ``corpus.txt`` and its record ``corpus.json``, which were made with
CPython 3.11.7; another version gives another corpus).

Exit status 0 on success, 2 on bad arguments (:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from readingroom.common.cli import (
    add_device, add_no_progress, add_out, add_quick, add_seed, quick_needs_out, resolve_device,
    run,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.ocr",
                                     description="The DeepSeek-OCR chapter's reader.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the book's reader and write its weights",
                       description="Pretrain the encoder, train the reader through the "
                       "curriculum, score it on held-out pages, write weights + record.")
    add_seed(p, help="seed of the model and the data")
    add_out(p, help="weights file (default book/data/ocr/reader_seed{seed}.safetensors)")
    add_device(p)
    add_quick(p, help="a few steps, for smoke tests (needs --out)")
    p.add_argument("--curriculum", choices=("book", "all-modes", "native", "paper-geometry"),
                   default="book",
                   help="book (default: the chapter's reader, tiny and small modes), "
                   "all-modes (the same plus a last stage in all four modes) or native (the "
                   "book's reader, then all four modes on natively rendered, non-square pages) "
                   "or paper-geometry (patch 16, the paper's pixels per vision token: 4 tokens "
                   "per page)")
    add_no_progress(p)
    p.set_defaults(func=_train)
    c = sub.add_parser("corpus", help="rebuild the text corpus from this Python's docstrings",
                       description="Build the corpus from the running interpreter's docstrings "
                       "and write corpus.txt and its record corpus.json.")
    add_out(c, help="folder to write to (default: the readingroom.ocr package folder, "
            "replacing the shipped corpus)")
    c.set_defaults(func=_corpus)
    return parser


def _corpus(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.ocr import text

    out = Path(text.__file__).parent if args.out is None else args.out
    if not out.is_dir():
        parser.error(f"--out must be an existing folder, got {out}")
    record = text.write_corpus(out)
    print(json.dumps({"folder": str(out), **record}, indent=1))
    return 0


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common import save_weights, seed_everything
    from readingroom.ocr.model import MiniDeepSeekOCR
    from readingroom.ocr.reader import READERS, reader_metrics, reader_path, start_reader
    from readingroom.ocr.text import corpus_sha256
    from readingroom.ocr.train import (
        ALL_MODES_CURRICULUM,
        NATIVE_CURRICULUM,
        PAPER_GEOMETRY_CURRICULUM,
        QUICK_CURRICULUM,
        QUICK_NATIVE_CURRICULUM,
        QUICK_PAPER_GEOMETRY_CURRICULUM,
        READER_CURRICULUM,
        train_curriculum,
    )

    quick_needs_out(args, parser)
    out = reader_path(args.seed, args.curriculum) if args.out is None else args.out
    config = READERS[args.curriculum][0]
    if out.suffix != ".safetensors":
        parser.error(f"--out must end in .safetensors, got {out}")
    device = resolve_device(args.device)  # ValueError (status 2) when CUDA is missing
    curriculum = {"book": READER_CURRICULUM, "all-modes": ALL_MODES_CURRICULUM,
                  "native": NATIVE_CURRICULUM,
                  "paper-geometry": PAPER_GEOMETRY_CURRICULUM}[args.curriculum]
    if args.quick:
        curriculum = {"native": QUICK_NATIVE_CURRICULUM,
                      "paper-geometry": QUICK_PAPER_GEOMETRY_CURRICULUM}.get(args.curriculum,
                                                                             QUICK_CURRICULUM)
    seed_everything(args.seed)
    extra = {}
    if curriculum.start is None:
        model = MiniDeepSeekOCR(config)
    else:
        model, record = start_reader(args.seed, curriculum.start, config)
        extra["start"] = {"kind": curriculum.start, "file": record["file"],
                          "sha256": record["sha256"]}
    model = model.to(device)
    start = time.perf_counter()
    histories = train_curriculum(model, curriculum, seed=args.seed,
                                 progress=not args.no_progress)
    seconds = time.perf_counter() - start
    if args.quick:
        metrics = {"final_loss": histories[curriculum.stages[-1].name].final_loss()}
    else:
        metrics, _ = reader_metrics(model, args.curriculum)
    metrics["train_seconds"] = round(seconds, 1)
    command = "python -m readingroom.ocr train --seed " + str(args.seed) + (
        "" if args.curriculum == "book" else f" --curriculum {args.curriculum}") + (
        " --quick" if args.quick else "")
    save_weights(model, out, command=command, seed=args.seed,
                 data=repr(curriculum), metrics=metrics,
                 extra={"config": repr(config),
                        "final_losses": {k: h.final_loss() for k, h in histories.items()},
                        "corpus_sha256": corpus_sha256(), **extra})
    print(json.dumps({"weights": str(out), **metrics}, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)  # the book's thread policy (readingroom.common.threads)


if __name__ == "__main__":
    sys.exit(main())
