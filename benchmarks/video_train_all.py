"""Train and score every committed model of the video chapter in one go (made for one GPU).

    READINGROOM_CODE_COMMIT=$(git rev-parse HEAD) python benchmarks/video_train_all.py --device cuda
    python benchmarks/video_train_all.py --quick --out /tmp/v     # a CPU smoke test, minutes

Stage 1 trains the VAE and the motion classifier side by side; stage 2 the five DiTs side by side
(three sizes with full attention, and the medium size with factorised and per-frame attention),
each a separate ``python -m readingroom.video train`` process sharing the GPU; stage 3 scores them
all (``report``). Each process's output goes to ``<out>/logs/``; the wall time of each stage goes
to ``<out>/timings.json``. A stage that fails stops the script with that process's log tail.
Every command resumes from its checkpoint when run again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DITS = [("small", "full"), ("medium", "full"), ("large", "full"),
        ("medium", "factorised"), ("medium", "frame")]


def run_parallel(commands: dict[str, list[str]], logs: Path) -> dict[str, float]:
    """Start every command, wait for all; return each one's wall time; raise if any failed."""
    logs.mkdir(parents=True, exist_ok=True)
    started, procs, times = {}, {}, {}
    for name, cmd in commands.items():
        log = open(logs / f"{name}.log", "w")
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
        started[name] = time.time()
        print(f"started {name}: {' '.join(cmd)}", flush=True)
    failed = []
    for name, (proc, log) in procs.items():
        rc = proc.wait()
        log.close()
        times[name] = round(time.time() - started[name], 1)
        print(f"{name}: exit {rc} after {times[name]} s", flush=True)
        if rc:
            failed.append(name)
    for name in failed:
        tail = (logs / f"{name}.log").read_text()[-3000:]
        print(f"--- {name} failed; log tail:\n{tail}", file=sys.stderr)
    if failed:
        raise SystemExit(1)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("book/data/video"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="tiny step counts (a smoke test)")
    ap.add_argument("--vae-steps", type=int, default=3000)
    ap.add_argument("--classifier-steps", type=int, default=600)
    ap.add_argument("--dit-steps", type=int, default=4800,
                    help="the most DiT steps; fewer when the probe says they do not fit")
    ap.add_argument("--dit-budget-s", type=float, default=240.0,
                    help="wall seconds stage 2 may take (the five DiTs train side by side)")
    ap.add_argument("--dit-batch", type=int, default=128)
    ap.add_argument("--per-class", type=int, default=64)
    ap.add_argument("--commit", default=None,
                    help="the git commit of the code (for a copy of the tree without .git)")
    args = ap.parse_args()
    if args.quick:
        args.vae_steps, args.classifier_steps, args.dit_steps, args.per_class = 4, 4, 32, 2
        args.dit_batch = 8
    py = [sys.executable, "-m", "readingroom.video"]
    common = ["--seed", str(args.seed), "--out", str(args.out), "--device", args.device,
              "--no-progress"]
    timings: dict[str, object] = {"argv": sys.argv, "commit": args.commit,
                                  "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        import torch

        timings["device"] = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
                             else "cpu")
        timings["torch"] = torch.__version__
    except Exception as err:  # the record says why instead of failing the run
        timings["device"] = f"unknown ({err})"
    t0 = time.time()
    timings["stage1"] = run_parallel({
        "vae": py + ["vae", "--steps", str(args.vae_steps)] + common,
        "classifier": py + ["classifier", "--steps", str(args.classifier_steps)] + common,
    }, args.out / "logs")
    # stage 2a: time each DiT for a few steps, all five at once as in the real run, and pick the
    # largest step count (a multiple of 32, so that 1/32 and 1/8 of it are whole) that fits
    probe = 6 if args.quick else 30
    train = {f"dit_{size}_{attention}": py + ["train", "--size", size, "--attention", attention,
                                               "--steps", str(args.dit_steps),
                                               "--batch", str(args.dit_batch)] + common
             for size, attention in DITS}
    timings["probe"] = run_parallel({f"probe_{k}": v + ["--probe", str(probe)]
                                     for k, v in train.items()}, args.out / "logs")
    per_step = max(json.loads((args.out / "logs" / f"probe_{k}.log").read_text()
                              .strip().splitlines()[-1])["sec_per_step"] for k in train)
    steps = int(min(args.dit_steps, args.dit_budget_s / per_step)) // 32 * 32
    if steps < 32:
        raise SystemExit(f"a DiT step takes {per_step:.3f} s: not even 32 steps fit the budget")
    timings["dit_steps"], timings["sec_per_step"] = steps, per_step
    print(f"slowest DiT: {per_step:.4f} s/step -> {steps} steps", flush=True)
    for k in train:
        train[k][train[k].index("--steps") + 1] = str(steps)
    train["dit_medium_full"] += ["--snapshots", str(steps // 32), str(steps // 8)]
    timings["stage2"] = run_parallel(train, args.out / "logs")
    timings["stage3"] = run_parallel({
        "report": py + ["report", "--per-class", str(args.per_class)] + common,
    }, args.out / "logs")
    timings["total_s"] = round(time.time() - t0, 1)
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(json.dumps(timings, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
