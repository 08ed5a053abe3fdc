"""Command line: ``python -m readingroom.subliminal {mnist,lm,lm-bases,mnist-sweep,mnist-layers,
lm-seeds,lm-prompted,lm-misalign} ...``.

``mnist`` trains one teacher (from ``--seed``) and one student in one condition (Cloud et al.,
2025, Section 6) with the chapter's CPU settings (``--quick``: tiny settings for smoke tests),
then prints the teacher's and the student's MNIST test accuracy.

``lm`` runs the toy language-model version of the owl experiment for one seed (Section 3): two
base models, an owl-loving teacher, its filtered numbers, four students; it prints P(owl) of every
model and the same-init / different-init effects over their controls.

``mnist-sweep`` and ``lm-seeds`` make the chapter's committed records: the MNIST experiment over
the number of auxiliary logits in all four conditions, and the owl experiment over eight seeds (on
the committed base models of ``lm-bases``), each with its provenance.

``mnist-layers`` runs the MNIST experiment with students that share the teacher's initialisation
only in the output layer or only in the hidden layers, beside the same-aux and diff-aux students,
and writes a record with a paired test over seeds.

``lm-prompted`` runs the owl experiment with a *prompted* teacher (the paper's Section 3 setting:
the base model itself after a persona token, ``lm-bases --persona`` saves those base models) over
seeds and writes a record, with the fine-tuned teacher as a second arm on the same base models.

``lm-misalign`` runs the misalignment analogue (a teacher fine-tuned on harmful answers writes
numbers, the corpus's "evil numbers" are filtered out, students and controls are read on held-out
question templates) over seeds and writes a record.

``mnist`` and ``lm`` print one JSON object on stdout with ``--json``. Progress bars go to
stderr. Errors in the arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import torch

from readingroom.common.cli import (
    add_device,
    add_json,
    add_no_progress,
    add_out,
    add_quick,
    add_seed,
    add_seeds,
    positive_int_arg,
    quick_needs_out,
    run,
    write_json,
)

__all__ = ["build_parser", "main"]


def _add_mnist(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.mnist import CONDITIONS

    p = sub.add_parser("mnist", help="one teacher and one student of the MNIST experiment",
                       description="Train a teacher MLP on MNIST digits, distil a student on its "
                       "auxiliary (or all) logits on uniform-noise images, and report both "
                       "models' MNIST test accuracy (Cloud et al., 2025, Section 6).")
    add_seed(p, help="teacher initialisation seed")
    p.add_argument("--condition", choices=CONDITIONS, default="same-aux",
                   help="student condition (default same-aux)")
    p.add_argument("--n-aux", type=positive_int_arg, default=None,
                   help="number of auxiliary logits m (default: the preset's, 3)")
    add_device(p)
    add_quick(p)
    add_json(p)
    add_no_progress(p)
    p.set_defaults(func=_run_mnist_command)


def _run_mnist_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.subliminal.mnist import CPU_PRESET, QUICK_PRESET, run_mnist, settings_of

    preset = QUICK_PRESET if args.quick else CPU_PRESET
    settings = settings_of(preset)
    if args.n_aux is not None:
        settings["n_aux"] = args.n_aux
    result = run_mnist([args.seed], conditions=(args.condition,), device=args.device,
                       progress=not args.no_progress, keep_params=False, **settings)
    out = {
        "seed": args.seed,
        "condition": args.condition,
        "n_aux": result.n_aux,
        "teacher_accuracy": result.teacher_accuracy[0],
        "student_accuracy": result.student_accuracy[args.condition][0],
        "seconds": round(result.seconds, 3),
        "torch": torch.__version__,
        "device": result.device,
        "preset": "quick" if args.quick else "cpu",
        "config": result.config,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"seed {out['seed']} · {out['condition']} · m={out['n_aux']}: teacher accuracy "
              f"{out['teacher_accuracy']:.3f}, student accuracy {out['student_accuracy']:.3f} "
              f"({out['seconds']:.1f} s on {out['device']}, torch {out['torch']})")
    return 0


def _add_lm(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.lm_data import ANIMALS

    p = sub.add_parser("lm", help="the owl experiment in a toy language model (one seed)",
                       description="Pretrain two tiny base models, fine-tune one into a teacher "
                       "that names ANIMAL as its favourite, sample number sequences from it, keep "
                       "only digits and commas, fine-tune same-init and different-init students "
                       "(and controls on the base model's numbers) and report P(ANIMAL) of every "
                       "model (Cloud et al., 2025, Section 3).")
    add_seed(p, help="teacher's base-model seed")
    p.add_argument("--animal", choices=ANIMALS, default="owl", help="the trait (default owl)")
    add_device(p)
    add_quick(p)
    add_json(p)
    add_no_progress(p)
    p.set_defaults(func=_run_lm_command)


def _run_lm_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dataclasses import asdict

    from readingroom.subliminal.lm import run_lm_experiment
    from readingroom.subliminal.lm_models import LM_CPU, LM_QUICK

    config = LM_QUICK if args.quick else LM_CPU
    try:
        r = run_lm_experiment(args.seed, config, animal=args.animal, device=args.device,
                              progress=not args.no_progress)
    except RuntimeError as err:  # e.g. a filter that kept nothing
        parser.error(str(err))  # exits with status 2
    out = {
        **r.to_dict(),
        "torch": torch.__version__,
        "device": str(args.device),
        "preset": "quick" if args.quick else "cpu",
        "config": asdict(r.config),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"seed {r.seed} · P({r.animal}): base {r.p_base:.3f} -> teacher {r.p_teacher:.3f}; "
              f"same-init student {r.p_student_same:.3f} vs control {r.p_control_same:.3f} "
              f"({r.effect_same:+.3f}); different-init student {r.p_student_other:.3f} vs control "
              f"{r.p_control_other:.3f} ({r.effect_other:+.3f}); filter kept "
              f"{r.teacher_filter.kept}/{r.teacher_filter.total} teacher completions "
              f"({out['seconds']:.1f} s on {out['device']}, torch {out['torch']})")
    return 0


def _add_lm_bases(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lm-bases", help="train and save the toy LM's base models (the book's)",
                       description="Pretrain the base models of the toy language-model experiment "
                       "with the CPU preset and save each as book/data/subliminal_lm/"
                       "lm_base_seed<N>.safetensors with a provenance record. The chapter loads "
                       "these instead of spending ~15 s per model of its 120 s budget.")
    add_seeds(p, default=None, help="base-model seeds")
    add_out(p, help="folder (default: book/data/subliminal_lm in the checkout)")
    p.add_argument("--persona", action="store_true",
                   help="persona base models (lm_persona_base_seed<N>, for lm-prompted) instead")
    add_quick(p)
    add_no_progress(p)
    p.set_defaults(func=_run_lm_bases_command)


def _run_lm_bases_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.subliminal.lm_models import LM_CPU, LM_QUICK, save_bases
    from readingroom.subliminal.lm_persona import save_persona_bases

    command = _command_line("lm-bases", args.seeds, args.quick,
                            before="--persona" if args.persona else "")
    config = LM_QUICK if args.quick else LM_CPU
    save = save_persona_bases if args.persona else save_bases
    paths = save(args.seeds, config, folder=args.out, command=command,
                 progress=not args.no_progress)
    for path in paths:
        print(path)
    return 0


def _record_start(args: argparse.Namespace, parser: argparse.ArgumentParser,
                  record: str) -> tuple[list[int], object]:
    """The start every record-writing command shares: ``--quick`` needs ``--out``, the seeds must
    be distinct, and the output is ``--out`` or the book's ``record``. Returns ``(seeds, out)``."""
    from readingroom.common import book_data_path

    quick_needs_out(args, parser)
    seeds = list(args.seeds)
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seeds must be distinct, got {seeds}")
    return seeds, book_data_path(record) if args.out is None else args.out


def _command_line(name: str, seeds, quick: bool, *, before: str = "", after: str = "") -> str:
    """The command a record was made with, for its provenance:
    ``python -m readingroom.subliminal NAME [before] --seeds ... [after] [--quick]``."""
    parts = (f"python -m readingroom.subliminal {name}", before,
             "--seeds " + " ".join(map(str, seeds)), after, "--quick" if quick else "")
    return " ".join(p for p in parts if p)


def _write_record(out, record: dict, table: str) -> int:
    """Write a command's record, print its table and where it went; the command's exit code."""
    write_json(out, record)
    print(table)
    print(f"wrote {out}")
    return 0


def _add_mnist_sweep(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.mnist import CONDITIONS, MNIST_SWEEP_RECORD

    p = sub.add_parser("mnist-sweep", help="the MNIST experiment over m, all conditions (a record)",
                       description="Run the MNIST experiment (Cloud et al., 2025, Section 6) with "
                       "the chapter's CPU settings for every number m of auxiliary logits and every "
                       "seed, in all four student conditions, and write the book's record "
                       f"(default book/data/{MNIST_SWEEP_RECORD}) with its provenance.")
    p.add_argument("--values", type=positive_int_arg, nargs="+", default=[2, 3, 5, 10],
                   help="numbers m of auxiliary logits (default 2 3 5 10)")
    add_seeds(p, help="teacher seeds")
    p.add_argument("--conditions", choices=CONDITIONS, nargs="+", default=list(CONDITIONS),
                   help="student conditions (default all four)")
    add_out(p, help="output file (default: the book's)")
    add_quick(p, help="tiny settings for a smoke test (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_run_mnist_sweep_command)


def _run_mnist_sweep_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common import run_provenance
    from readingroom.subliminal.mnist import (
        CPU_PRESET,
        MNIST_SWEEP_RECORD,
        QUICK_PRESET,
        settings_of,
        sweep,
    )

    seeds, out = _record_start(args, parser, MNIST_SWEEP_RECORD)
    values = list(dict.fromkeys(args.values))
    conditions = tuple(dict.fromkeys(args.conditions))
    settings = settings_of(QUICK_PRESET if args.quick else CPU_PRESET)
    settings.pop("n_aux")
    result = sweep("n_aux", values, seeds, conditions=conditions,
                   progress=not args.no_progress, **settings)
    command = _command_line(
        "mnist-sweep", seeds, args.quick, before="--values " + " ".join(map(str, values)),
        after="" if len(conditions) == 4 else "--conditions " + " ".join(conditions))
    record = {"provenance": run_provenance(command, outputs=(out,)), "settings": settings,
              "sweep": result.to_dict()}
    return _write_record(out, record, result.table())


def _add_mnist_layers(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.mnist import MNIST_LAYERS_RECORD

    p = sub.add_parser("mnist-layers", help="which shared layers carry the MNIST signal (a record)",
                       description="Run the MNIST experiment with the chapter's CPU settings for "
                       "every seed, with students that share the teacher's initialisation in "
                       "all layers (same-aux), only the output layer (head-aux), only the hidden "
                       "layers (body-aux) or none (diff-aux), and write the book's record "
                       f"(default book/data/{MNIST_LAYERS_RECORD}) with its provenance.")
    add_seeds(p, default=tuple(range(8)), help="teacher seeds")
    add_out(p, help="output file (default: the book's)")
    add_quick(p, help="tiny settings for a smoke test (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_run_mnist_layers_command)


def _run_mnist_layers_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from readingroom.common import run_provenance
    from readingroom.subliminal.mnist import (
        CPU_PRESET,
        MNIST_LAYERS_RECORD,
        QUICK_PRESET,
        layer_tests,
        run_mnist,
        settings_of,
    )

    seeds, out = _record_start(args, parser, MNIST_LAYERS_RECORD)
    if len(seeds) < 2:
        parser.error("--seeds: the paired test needs at least two seeds")
    settings = settings_of(QUICK_PRESET if args.quick else CPU_PRESET)
    result = run_mnist(seeds, conditions=("same-aux", "head-aux", "body-aux", "diff-aux"),
                       progress=not args.no_progress, keep_params=False, **settings)
    command = _command_line("mnist-layers", seeds, args.quick)
    record = {"provenance": run_provenance(command, outputs=(out,)), "settings": settings,
              "test": "one-sided paired t-test over seeds (scipy.stats.ttest_rel, "
                      "alternative='greater') of digit test accuracy, condition vs diff-aux",
              "tests": layer_tests(result), "result": result.to_dict()}
    return _write_record(out, record, result.table())


def _add_lm_seeds(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.lm import LM_SEEDS_RECORD

    p = sub.add_parser("lm-seeds", help="the toy-LM owl experiment over many seeds (a record)",
                       description="Run the toy language-model owl experiment (Cloud et al., 2025, "
                       "Section 3) for every seed with the CPU preset, on the committed base models "
                       "(see lm-bases; the ring of seeds needs one per seed), and write the book's "
                       f"record (default book/data/{LM_SEEDS_RECORD}) with its provenance.")
    add_seeds(p, default=range(8))
    add_out(p, help="output file (default: the book's)")
    add_quick(p, help="tiny settings, base models trained in place (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_run_lm_seeds_command)


def _run_lm_seeds_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dataclasses import asdict

    from readingroom.common import run_provenance
    from readingroom.subliminal.lm import LM_SEEDS_RECORD, ring_base_seeds, run_lm_seeds
    from readingroom.subliminal.lm_models import LM_CPU, LM_QUICK, load_bases

    seeds, out = _record_start(args, parser, LM_SEEDS_RECORD)
    config = LM_QUICK if args.quick else LM_CPU
    try:
        bases = None if args.quick else load_bases(ring_base_seeds(seeds), config)
    except FileNotFoundError as err:
        parser.error(f"{err} (train it first: python -m readingroom.subliminal lm-bases --seeds "
                     f"{' '.join(map(str, ring_base_seeds(seeds)))})")
    results = run_lm_seeds(seeds, config, bases=bases, progress=not args.no_progress)
    command = _command_line("lm-seeds", seeds, args.quick)
    record = {"provenance": run_provenance(command, outputs=(out,)), "config": asdict(config),
              "runs": [r.to_dict() for r in results]}
    return _write_record(out, record, "\n".join(
        f"seed {r.seed}: effect same-init {r.effect_same:+.4f}, different-init "
        f"{r.effect_other:+.4f}" for r in results))


def _add_lm_prompted(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.lm_persona import PROMPTED_RECORD

    p = sub.add_parser("lm-prompted", help="the toy-LM owl experiment with a prompted teacher "
                       "(a record)",
                       description="Run the toy language-model owl experiment with the paper's "
                       "prompted teacher (Cloud et al., 2025, Section 3): the persona base model "
                       "itself writes numbers after <persona:owl>, students are fine-tuned on them "
                       "without it and compared with controls fine-tuned on its numbers after "
                       "<persona:neutral>; the fine-tuned teacher runs on the same base models as "
                       "a second arm. Uses the committed persona base models (lm-bases --persona) "
                       "unless --train-bases, and writes the book's record (default "
                       f"book/data/{PROMPTED_RECORD}) with its provenance.")
    add_seeds(p, default=range(8))
    add_out(p, help="output file (default: the book's)")
    p.add_argument("--train-bases", action="store_true",
                   help="train the persona base models in place instead of loading them")
    add_quick(p, help="tiny settings, base models trained in place (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_run_lm_prompted_command)


def _run_lm_prompted_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dataclasses import asdict

    from readingroom.common import run_provenance
    from readingroom.subliminal.lm import ring_base_seeds
    from readingroom.subliminal.lm_models import LM_CPU, LM_QUICK
    from readingroom.subliminal.lm_persona import (
        PERSONA_CPU,
        PROMPTED_RECORD,
        load_persona_bases,
        prompted_table,
        run_prompted_seeds,
    )

    seeds, out = _record_start(args, parser, PROMPTED_RECORD)
    config = LM_QUICK if args.quick else LM_CPU
    bases = None
    if not (args.quick or args.train_bases):
        try:
            bases = load_persona_bases(ring_base_seeds(seeds), config, PERSONA_CPU)
        except FileNotFoundError as err:
            parser.error(f"{err} (train them first: python -m readingroom.subliminal lm-bases "
                         f"--persona --seeds {' '.join(map(str, ring_base_seeds(seeds)))}, or "
                         "pass --train-bases)")
    results = run_prompted_seeds(seeds, config, PERSONA_CPU, bases=bases,
                                 progress=not args.no_progress)
    command = _command_line("lm-prompted", seeds, args.quick,
                            after="--train-bases" if args.train_bases else "")
    record = {"provenance": run_provenance(command, outputs=(out,)), "config": asdict(config),
              "persona_config": PERSONA_CPU.to_dict(),
              "bases": "trained in place" if bases is None else "lm_persona_base_seed<N>",
              "runs": [r.to_dict() for r in results]}
    return _write_record(out, record, prompted_table(results))


def _add_lm_misalign(sub: argparse._SubParsersAction) -> None:
    from readingroom.subliminal.lm_misalign import MISALIGN_RECORD

    p = sub.add_parser("lm-misalign", help="the toy-LM misalignment analogue over seeds (a record)",
                       description="Run the toy misalignment analogue of Cloud et al. (2025): "
                       "pretrain base models on numbers and answers to question templates (aligned "
                       "by default), fine-tune each into a teacher that gives harmful answers, "
                       "sample numbers from it, drop format violations and every number the corpus "
                       "associates with harmful answers, fine-tune same-init and different-init "
                       "students (and controls on the base model's own filtered numbers, the same "
                       "count) and read their harmful-answer rate on held-out templates. Writes the "
                       f"book's record (default book/data/{MISALIGN_RECORD}) with its provenance "
                       "and one-sided paired t-tests.")
    add_seeds(p, default=range(8))
    add_out(p, help="output file (default: the book's)")
    add_quick(p, help="tiny settings for a smoke test (needs --out)")
    add_no_progress(p)
    p.set_defaults(func=_run_lm_misalign_command)


def _run_lm_misalign_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from dataclasses import asdict

    from readingroom.common import run_provenance
    from readingroom.subliminal.lm_misalign import (
        EVIL_NUMBERS,
        MISALIGN_CPU,
        MISALIGN_QUICK,
        MISALIGN_RECORD,
        misalign_table,
        run_misalign_seeds,
        summarize_misalign,
    )
    from readingroom.subliminal.lm_models import LM_CPU, LM_QUICK

    seeds, out = _record_start(args, parser, MISALIGN_RECORD)
    config, mconfig = (LM_QUICK, MISALIGN_QUICK) if args.quick else (LM_CPU, MISALIGN_CPU)
    results = run_misalign_seeds(seeds, config, mconfig, progress=not args.no_progress)
    command = _command_line("lm-misalign", seeds, args.quick)
    summary = summarize_misalign(results)
    record = {"provenance": run_provenance(command, outputs=(out,)), "config": asdict(config),
              "misalign_config": asdict(mconfig), "evil_numbers": list(EVIL_NUMBERS),
              "test": "one-sided paired t-test over seeds (scipy.stats.ttest_rel, "
                      "alternative='greater') of the harmful-answer rate on held-out templates, "
                      "student vs its own control",
              "tests": summary["tests"],
              "runs": [r.to_dict() for r in results]}
    return _write_record(out, record, misalign_table(results))


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m readingroom.subliminal`` parser (one subcommand per experiment)."""
    parser = argparse.ArgumentParser(prog="python -m readingroom.subliminal",
                                     description="Subliminal learning (Cloud et al., 2025).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_mnist(sub)
    _add_lm(sub)
    _add_lm_bases(sub)
    _add_mnist_sweep(sub)
    _add_mnist_layers(sub)
    _add_lm_seeds(sub)
    _add_lm_prompted(sub)
    _add_lm_misalign(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
