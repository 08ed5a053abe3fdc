"""Command line: ``python -m readingroom.ocr train --seed 0`` trains the book's reader.

``train`` builds :data:`~readingroom.ocr.reader.READER_CONFIG`, trains it through
:data:`~readingroom.ocr.train.READER_CURRICULUM` (progress bars on stderr; 38 minutes on one CPU
thread for the committed reader), scores it on the held-out pages
(:func:`~readingroom.ocr.reader.reader_metrics`) and writes
``book/data/ocr/reader_seed{seed}.safetensors`` with its provenance record (command, seed, data
recipe, code version, hash, metrics). ``--device cuda`` trains on a GPU. ``--quick`` runs a few
steps of the same shape and writes to ``--out`` (required then), for smoke tests.
``--curriculum all-modes`` trains the second committed reader instead
(:data:`~readingroom.ocr.reader.ALL_MODES_CONFIG`,
:data:`~readingroom.ocr.train.ALL_MODES_CURRICULUM`: the same stages plus one in all four
modes; 70 minutes on one thread) and writes ``reader_all_modes_seed{seed}.safetensors``.

``corpus`` rebuilds the text corpus from the running interpreter's docstrings
(:func:`~readingroom.ocr.text.write_corpus`) into ``--out`` (default: the package's own folder,
replacing the shipped ``corpus.txt`` and its record ``corpus.json``, which were made with
CPython 3.11.7; another version gives another corpus). Errors in the arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from readingroom.common.checks import seed_arg

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.ocr",
                                     description="The DeepSeek-OCR chapter's reader.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the book's reader and write its weights",
                       description="Pretrain the encoder, train the reader through the "
                       "curriculum, score it on held-out pages, write weights + record.")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the model and the data")
    p.add_argument("--out", type=Path, default=None,
                   help="weights file (default book/data/ocr/reader_seed{seed}.safetensors)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--quick", action="store_true", help="a few steps, for smoke tests")
    p.add_argument("--curriculum", choices=("book", "all-modes"), default="book",
                   help="book (default: the chapter's reader, tiny and small modes) or "
                   "all-modes (the same plus a last stage in all four modes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    c = sub.add_parser("corpus", help="rebuild the text corpus from this Python's docstrings",
                       description="Build the corpus from the running interpreter's docstrings "
                       "and write corpus.txt and its record corpus.json.")
    c.add_argument("--out", type=Path, default=None,
                   help="folder to write to (default: the readingroom.ocr package folder, "
                   "replacing the shipped corpus)")
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
    import torch

    from readingroom.common import save_weights, seed_everything, use_threads
    from readingroom.ocr.model import MiniDeepSeekOCR
    from readingroom.ocr.reader import READERS, reader_metrics, reader_path
    from readingroom.ocr.text import corpus_sha256
    from readingroom.ocr.train import (
        ALL_MODES_CURRICULUM,
        QUICK_CURRICULUM,
        READER_CURRICULUM,
        train_curriculum,
    )

    if args.quick and args.out is None:
        parser.error("--quick needs --out (the quick reader must not replace the book's)")
    out = reader_path(args.seed, args.curriculum) if args.out is None else args.out
    config = READERS[args.curriculum][0]
    if out.suffix != ".safetensors":
        parser.error(f"--out must end in .safetensors, got {out}")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    curriculum = QUICK_CURRICULUM if args.quick else (
        READER_CURRICULUM if args.curriculum == "book" else ALL_MODES_CURRICULUM)
    use_threads()  # the book's thread policy (readingroom.common.threads)
    seed_everything(args.seed)
    model = MiniDeepSeekOCR(config).to(device)
    start = time.perf_counter()
    histories = train_curriculum(model, curriculum, seed=args.seed,
                                 progress=not args.no_progress)
    seconds = time.perf_counter() - start
    if args.quick:
        metrics = {"final_loss": histories[curriculum.stages[-1].name].final_loss()}
    else:
        metrics, _ = reader_metrics(model)
    metrics["train_seconds"] = round(seconds, 1)
    command = "python -m readingroom.ocr train --seed " + str(args.seed) + (
        "" if args.curriculum == "book" else f" --curriculum {args.curriculum}") + (
        " --quick" if args.quick else "")
    save_weights(model, out, command=command, seed=args.seed,
                 data=repr(curriculum), metrics=metrics,
                 extra={"config": repr(config),
                        "final_losses": {k: h.final_loss() for k, h in histories.items()},
                        "corpus_sha256": corpus_sha256()})
    print(json.dumps({"weights": str(out), **metrics}, indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "corpus":
        return _corpus(args, parser)
    return _train(args, parser)


if __name__ == "__main__":
    sys.exit(main())
