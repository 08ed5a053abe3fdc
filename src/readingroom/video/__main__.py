"""Command line of the video chapter: train the committed models, score them, sample videos.

    python -m readingroom.video vae --seed 0                 # the causal VAE
    python -m readingroom.video classifier --seed 0          # the motion classifier (the judge)
    python -m readingroom.video train --size small --seed 0  # a DiT (needs the VAE)
    python -m readingroom.video report --seed 0              # score every committed DiT
    python -m readingroom.video sample --motion horizontal --gif out.gif

Every command takes ``--seed`` (default 0), ``--out`` (the folder of the committed models,
default ``book/data/video``), ``--device`` (``auto`` (default), ``cpu``, ``cuda`` or ``cuda:N``)
and ``--no-progress``. ``train`` checkpoints under ``<out>/checkpoints`` and resumes from there
when it is run again. Exit status 0 on success, 2 on bad input: a bad option or value, or a
committed model that is missing (:mod:`readingroom.common.cli`).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from readingroom.common import run_provenance, save_weights
from readingroom.common.cli import (
    add_device, add_no_progress, add_out, add_seed, positive_int_arg, resolve_device, run,
    seed_arg, write_json,
)
from readingroom.video.data import MOTIONS
from readingroom.video.dit import ATTENTION_MODES, DIT_SIZES

DEFAULT_OUT = Path("book/data/video")


def _common(p: argparse.ArgumentParser, command: Callable[[argparse.Namespace, torch.device], int]
            ) -> None:
    """The options every command shares, and ``command(args, device)`` as its handler."""
    add_seed(p)
    add_out(p, default=DEFAULT_OUT, help=f"folder of the committed models (default {DEFAULT_OUT})")
    add_device(p, default="auto")
    add_no_progress(p)
    p.set_defaults(func=lambda args, parser: _handle(command, args, parser))


def _handle(command: Callable[[argparse.Namespace, torch.device], int],
            args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Resolve ``--device`` (no CUDA: status 2), make ``--out`` and run ``command``; a committed
    model that is missing is bad input too (a usage error that names the command making it)."""
    device = resolve_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        return command(args, device)
    except FileNotFoundError as err:
        parser.error(str(err))  # exits with status 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m readingroom.video", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("vae", help="train the causal video autoencoder")
    _common(p, _cmd_vae)
    p.add_argument("--steps", type=positive_int_arg, default=4000)
    p.add_argument("--batch", type=positive_int_arg, default=32)
    p = sub.add_parser("classifier", help="train the motion classifier on real videos")
    _common(p, _cmd_classifier)
    p.add_argument("--steps", type=positive_int_arg, default=300)
    p = sub.add_parser("train", help="train a diffusion transformer on the VAE's latents")
    _common(p, _cmd_train)
    p.add_argument("--size", default="medium", choices=tuple(DIT_SIZES))
    p.add_argument("--attention", default="full", choices=ATTENTION_MODES)
    p.add_argument("--steps", type=positive_int_arg, default=6000)
    p.add_argument("--batch", type=positive_int_arg, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--vae-seed", type=seed_arg, default=0)
    p.add_argument("--snapshots", type=positive_int_arg, nargs="*", default=[],
                   help="also save the weights at these steps (fractions of the compute)")
    p.add_argument("--probe", type=positive_int_arg, default=None,
                   help="only time this many steps, print seconds per step, save nothing")
    p = sub.add_parser("report", help="score every DiT in --out and write samples.json")
    _common(p, _cmd_report)
    p.add_argument("--per-class", type=positive_int_arg, default=64)
    p.add_argument("--vae-seed", type=seed_arg, default=0)
    p = sub.add_parser("sample", help="generate videos from a committed DiT")
    _common(p, _cmd_sample)
    p.add_argument("--size", default="medium", choices=tuple(DIT_SIZES))
    p.add_argument("--attention", default="full", choices=ATTENTION_MODES)
    p.add_argument("--motion", default="horizontal", choices=MOTIONS)
    p.add_argument("--n", type=positive_int_arg, default=4)
    p.add_argument("--frames", type=positive_int_arg, default=9)
    p.add_argument("--height", type=positive_int_arg, default=32)
    p.add_argument("--width", type=positive_int_arg, default=32)
    p.add_argument("--gif", type=Path, default=None, help="write the videos side by side as a GIF")
    return parser


def _cmd_vae(args, device) -> int:
    from readingroom.video.data import make_videos
    from readingroom.video.metrics import psnr
    from readingroom.video.train import BASE_SPEC, TRAIN_SPECS, fit_vae
    from readingroom.common import eval_mode

    vae, stats, history = fit_vae(seed=args.seed, steps=args.steps, batch=args.batch,
                                  device=str(device), progress=not args.no_progress)
    metrics = {}
    with eval_mode(vae), torch.no_grad():
        for spec, _ in TRAIN_SPECS:
            x = make_videos(128, spec, seed=10_000 + args.seed).videos.to(device)
            x_hat = vae.decode(vae.encode(x)[0]).clamp(0, 1)
            metrics[f"psnr_{spec.frames}x{spec.height}x{spec.width}"] = float(
                psnr(x_hat, x).mean())
    path = args.out / f"vae_seed{args.seed}.safetensors"
    command = f"python -m readingroom.video vae --seed {args.seed} --steps {args.steps}"
    save_weights(vae, path, command=command, seed=args.seed,
                 data=f"fresh bouncing-shape videos each step, shapes {[s for s, _ in TRAIN_SPECS]}",
                 metrics=metrics,
                 extra={"config": asdict(vae.config), "latent_mean": stats[0].flatten().tolist(),
                        "latent_std": stats[1].flatten().tolist(),
                        "final_loss": history.losses[-1],
                        "provenance": run_provenance(command, device)})
    print(json.dumps({"weights": str(path), **metrics, "base": str(BASE_SPEC)}, indent=1))
    return 0


def _cmd_classifier(args, device) -> int:
    from readingroom.video.classifier import accuracy, train_classifier
    from readingroom.video.data import make_videos
    from readingroom.video.train import TRAIN_SPECS

    model, history = train_classifier(steps=args.steps, seed=args.seed, device=str(device),
                                      progress=not args.no_progress)
    metrics = {}
    for spec, _ in TRAIN_SPECS:
        if spec.frames > 1:
            batch = make_videos(256, spec, seed=20_000 + args.seed)
            metrics[f"accuracy_{spec.frames}x{spec.height}x{spec.width}"] = accuracy(model, batch)
    path = args.out / f"classifier_seed{args.seed}.safetensors"
    command = f"python -m readingroom.video classifier --seed {args.seed} --steps {args.steps}"
    save_weights(model, path, command=command, seed=args.seed,
                 data="fresh bouncing-shape videos each step (see train_classifier)",
                 metrics=metrics, extra={"provenance": run_provenance(command, device)})
    print(json.dumps({"weights": str(path), **metrics}, indent=1))
    return 0


def _cmd_train(args, device) -> int:
    from readingroom.video.committed import load_vae
    from readingroom.video.train import DitRecipe, fit_dit

    vae, stats, _ = load_vae(args.vae_seed, args.out, device)
    recipe = DitRecipe(size=args.size, attention=args.attention, steps=args.steps,
                       batch=args.batch, lr=args.lr)
    name = f"dit_{args.size}_{args.attention}_seed{args.seed}"
    if args.probe:
        _, history = fit_dit(vae, stats, recipe, seed=args.seed, device=str(device),
                             progress=False, stop_after=args.probe)
        seconds = sorted(history["step_seconds"][2:] or history["step_seconds"])
        print(json.dumps({"probe": name, "sec_per_step": seconds[len(seconds) // 2]}))
        return 0
    ckpt_dir = args.out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    model, history = fit_dit(vae, stats, recipe, seed=args.seed, device=str(device),
                             checkpoint=ckpt_dir / f"{name}.pt",
                             progress=not args.no_progress, snapshots=args.snapshots)
    losses = history["losses"]
    every = max(1, len(losses) // 200)
    curve = [sum(losses[i:i + every]) / len(losses[i:i + every])
             for i in range(0, len(losses), every)]
    command = (f"python -m readingroom.video train --size {args.size} --attention "
               f"{args.attention} --seed {args.seed} --steps {args.steps} --batch {args.batch}"
               + (f" --snapshots {' '.join(map(str, args.snapshots))}" if args.snapshots else ""))
    data = ("latents of fresh bouncing-shape videos (TRAIN_SPECS), VAE seed "
            f"{args.vae_seed}")
    extra = {"config": asdict(model.config), "recipe": asdict(recipe), "evals": history["evals"],
             "loss_curve": curve, "loss_every": every, "storage": "float16",
             "provenance": run_provenance(command, device)}
    path = args.out / f"{name}.safetensors"
    # stored in float16 (half the bytes); the loaders cast back to the model's float32
    save_weights(copy.deepcopy(model).half(), path, command=command, seed=args.seed, data=data,
                 metrics={"val_loss": history["evals"][-1]["val_loss"],
                          "params": history["params"], "flops": history["evals"][-1]["flops"]},
                 extra=extra)
    for step, state in sorted(history["snapshots"].items()):
        snap = copy.deepcopy(model)
        snap.load_state_dict(state)
        at = next(e for e in history["evals"] if e["step"] == step) if any(
            e["step"] == step for e in history["evals"]) else None
        save_weights(snap.half(), args.out / f"snap_{name}_step{step}.safetensors",
                     command=command, seed=args.seed, data=data,
                     metrics={"step": step, "params": history["params"],
                              **({"val_loss": at["val_loss"], "flops": at["flops"]} if at else {})},
                     extra={**extra, "snapshot_of": path.name, "step": step})
    print(json.dumps({"weights": str(path), "val_loss": history["evals"][-1]["val_loss"]}))
    return 0


def _cmd_report(args, device) -> int:
    from readingroom.video.committed import load_classifier, load_vae
    from readingroom.video.report import score_committed

    vae, stats, _ = load_vae(args.vae_seed, args.out, device)
    classifier, _ = load_classifier(args.vae_seed, args.out, device)
    command = (f"python -m readingroom.video report --seed {args.seed} "
               f"--per-class {args.per_class}")
    out = args.out / "samples.json"
    result = score_committed(vae, stats, classifier, args.out, seed=args.seed,
                             per_class=args.per_class, progress=not args.no_progress)
    result["provenance"] = run_provenance(command, device, outputs=[out])
    write_json(out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=1)[:4000])
    return 0


def _cmd_sample(args, device) -> int:
    from readingroom.video.committed import load_dit, load_vae
    from readingroom.video.data import VideoSpec
    from readingroom.video.train import generate

    spec = VideoSpec(args.frames, args.height, args.width)  # bad sizes: ValueError, status 2
    vae, stats, _ = load_vae(0, args.out, device)
    model, _ = load_dit(args.size, args.attention, 0, args.out, device)
    labels = torch.full((args.n,), MOTIONS.index(args.motion))
    videos = generate(model, vae, stats, spec, labels, seed=args.seed)
    print(f"generated {args.n} videos of {spec}: mean pixel {float(videos.mean()):.3f}")
    if args.gif is not None:
        from readingroom.video.plots import save_gif
        save_gif(videos, args.gif)
        print(f"wrote {args.gif}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # the book's thread policy; the library's ValueErrors (a bad --lr, a bad size) are status 2
    return run(_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
