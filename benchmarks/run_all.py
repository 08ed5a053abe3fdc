"""Run every benchmarks/bench_*.py in turn with this Python interpreter; fail if any fails.

    python benchmarks/run_all.py                     # each script writes its default JSON
    python benchmarks/run_all.py --quick             # pass --quick to every script
    python benchmarks/run_all.py --out-dir /tmp/b    # write <out-dir>/<script>.json instead

Every script runs to the end even when an earlier one fails; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "--out-dir", type=Path, default=None,
        help="write each benchmark's JSON to OUT_DIR/<name>.json (default: each script's own)",
    )
    args = parser.parse_args(argv)

    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print(f"no bench_*.py found in {HERE}", file=sys.stderr)
        return 1

    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script)]
        if args.quick:
            cmd.append("--quick")
        if args.out_dir is not None:
            cmd += ["--out", str(args.out_dir / f"{script.stem}.json")]
        print(f"=== {script.name}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=HERE.parent).returncode
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"=== {script.name}: {status} in {time.perf_counter() - start:.1f} s", flush=True)
        if rc != 0:
            failed.append(script.name)

    if failed:
        names = ", ".join(failed)
        print(f"{len(failed)} of {len(scripts)} benchmarks failed: {names}", file=sys.stderr)
        return 1
    print(f"all {len(scripts)} benchmarks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
