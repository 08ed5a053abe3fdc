"""Benchmark: one NSA decoding step vs one full-attention decoding step, at long contexts.

Both run side by side in one process, on the same cache, in plain PyTorch: full attention is
``torch.nn.functional.scaled_dot_product_attention`` of one query over all ``s`` cached keys;
NSA is :func:`readingroom.nsa.attention.nsa_decode`, which reads the compressed tokens, the
``n`` selected blocks and the window (the paper's ``s/d + n l' + w`` tokens, Table 4). The ratio
of the two times is the measured counterpart of the paper's "expected speedup". Each context is
checked for correctness (NSA's decode step equals its dense masked formulation on a short
prefix) before it is timed.

Writes JSON (default book/data/bench_nsa_decode.json; --out overrides) with the device, the UTC
date, the exact command, and per-context times, tokens read and ratios. On a CPU only the ratios
are meaningful; the book quotes absolute times only from a GPU run.

    python benchmarks/bench_nsa_decode.py            # contexts 8k, 16k, 32k, 64k
    python benchmarks/bench_nsa_decode.py --quick --out /tmp/bench_nsa_decode.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from benchlib import cpu_name, median_ms_wall
from readingroom.nsa import NSAConfig, compression_blocks, nsa_attention
from readingroom.nsa.attention import nsa_decode
from readingroom.nsa.cost import PAPER_TABLE4, decode_cost

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "bench_nsa_decode.json"

CONTEXTS = (8192, 16384, 32768, 65536)
CONTEXTS_QUICK = (2048, 4096)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"{cpu_name()} ({n} thread{'s' if n > 1 else ''})"


def run(quick: bool, device: torch.device) -> dict:
    cfg = NSAConfig()  # the paper's sizes
    B, H, H_kv, D = 1, 16, 1, 64  # one sequence, 16 query heads sharing one KV head (GQA)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    gen = torch.Generator().manual_seed(0)
    results = []
    for s in CONTEXTS_QUICK if quick else CONTEXTS:
        k = torch.randn(B, s, H_kv, D, generator=gen).to(device, dtype)
        v = torch.randn(B, s, H_kv, D, generator=gen).to(device, dtype)
        q = torch.randn(B, H, D, generator=gen).to(device, dtype)
        gates = torch.rand(B, H, 3, generator=gen).to(device, dtype)
        # Compressed tokens: mean pooling stands in for φ (its cost is paid once per block,
        # when the block ends, not at every step).
        k_cmp = compression_blocks(k, cfg.block_len, cfg.stride).mean(-2)  # [B, N_c, H_kv, D]
        v_cmp = compression_blocks(v, cfg.block_len, cfg.stride).mean(-2)

        # Correctness first: the gathered step equals the dense masked formulation.
        o, _ = nsa_decode(q, k, v, k_cmp, v_cmp, gates, cfg)
        if s <= 8192:
            dense = nsa_attention(q[:, None], k, v, k_cmp, v_cmp, gates[:, None], cfg, q_start=s - 1)
            torch.testing.assert_close(o, dense[:, 0], atol=2e-2 if dtype == torch.float16 else 1e-5,
                                       rtol=1e-2 if dtype == torch.float16 else 1e-5)

        qf, kf, vf = q[:, :, None], k.transpose(1, 2), v.transpose(1, 2)  # [B, H, 1, D], [B, H_kv, s, D]

        def full():
            return F.scaled_dot_product_attention(qf, kf, vf, enable_gqa=True)

        def nsa():
            return nsa_decode(q, k, v, k_cmp, v_cmp, gates, cfg)

        reps = 10 if quick else 50
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        t_full = median_ms_wall(full, warmup=3, reps=reps, sync=sync)
        t_nsa = median_ms_wall(nsa, warmup=3, reps=reps, sync=sync)
        cost = decode_cost(s, cfg)
        paper = PAPER_TABLE4.get(s)
        results.append({
            "context": s,
            "full_ms": round(t_full, 4),
            "nsa_ms": round(t_nsa, 4),
            "measured_speedup": round(t_full / t_nsa, 3),
            "tokens_full": cost.full,
            "tokens_nsa": cost.nsa_exact,
            "expected_speedup": round(cost.speedup, 2),
            "paper_expected_speedup": paper[2] if paper else None,
        })
        print(f"s={s:6d}  full {t_full:8.3f} ms   nsa {t_nsa:8.3f} ms   measured x{t_full / t_nsa:5.2f}"
              f"   expected x{cost.speedup:5.2f}", flush=True)
    return {
        "device": _device_name(device),
        "torch": torch.__version__,
        "dtype": str(dtype).replace("torch.", ""),
        "shape": {"B": B, "H": H, "H_kv": H_kv, "D": D},
        "config": {"l": cfg.block_len, "d": cfg.stride, "l_prime": cfg.select_block,
                   "n": cfg.top_n, "w": cfg.window},
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "quick": quick,
        "note": ("Both attentions in plain PyTorch, one query per step. On a CPU only the ratio "
                 "is meaningful; absolute times are quoted only from GPU runs."),
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short contexts, few repetitions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON path (default {DEFAULT_OUT})")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is available")
    record = run(args.quick, torch.device(args.device))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
