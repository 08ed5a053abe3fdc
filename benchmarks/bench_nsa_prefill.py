"""Benchmark: a full NSA prefill forward vs dense causal attention, on one CPU thread.

Both run side by side in one process, on the same queries, keys and values, in plain PyTorch:
dense attention is ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)`` over the
whole sequence (PyTorch's fused flash-attention kernel on a CPU, which skips the blocks above the
diagonal); NSA is :func:`readingroom.nsa.prefill.nsa_prefill`, which walks the queries in chunks,
attends to the compressed tokens, chooses the selection blocks with the paper's Eq. (9)-(11),
gathers the ``n`` selected blocks per query and key/value head, and attends to the window, with no
``T x T`` tensor. The paper's sizes (``NSAConfig()``: l=32, d=16, l'=64, n=16, w=512), one
sequence, 16 query heads sharing one key/value head, D=64, float32, as in bench_nsa_decode.py.
The compressed tokens (mean pooling standing in for φ) and the gates are inputs, computed before
the clock starts; both sides time attention only.

Correctness first: at a short length (where the dense masked reference fits) ``nsa_prefill``
must equal ``nsa_attention(..., backend="torch")`` to 1e-10 in float64, at this benchmark's
shape; in float32 the lengths up to 2048 are compared too (max difference recorded).

Each length is timed as the median of a few repeats, the two sides interleaved (dense, NSA,
dense, NSA, ...) so that a change of load on a shared machine hits both. Also recorded per length:
one call of each branch alone (where the time goes) and the tokens each side reads (the ratio a
perfectly efficient implementation would reach).

Writes JSON (default book/data/bench_nsa_prefill.json; --out overrides) with the device, threads,
versions, UTC date, exact command, shapes and config, rewritten after every length so that an
interrupted run keeps its rows ("complete": false until the last one).

    python benchmarks/bench_nsa_prefill.py            # T = 8k, 16k, 32k, 64k (about 15 minutes)
    python benchmarks/bench_nsa_prefill.py --quick --out /tmp/bench_nsa_prefill.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchlib import cpu_name
from readingroom.common import use_threads
from readingroom.nsa import NSAConfig, compression_blocks, nsa_attention
from readingroom.nsa.prefill import CMP_BUDGET, DEFAULT_CHUNK, SLC_SUB, nsa_prefill

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "book" / "data" / "bench_nsa_prefill.json"

LENGTHS = (8192, 16384, 32768, 65536)
LENGTHS_QUICK = (1024, 2048)
CHECK_T = 1500  # float64 check: 24 selection blocks, so the top-16 choice is a real one
CHECK_F32_MAX = 2048  # float32 comparison with the dense reference up to this length
SHAPE = {"B": 1, "H": 16, "H_kv": 1, "D": 64}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"{cpu_name()} ({n} thread{'s' if n > 1 else ''})"


def _inputs(T: int, cfg: NSAConfig, dtype, device, seed: int = 0) -> dict:
    B, H, H_kv, D = SHAPE["B"], SHAPE["H"], SHAPE["H_kv"], SHAPE["D"]
    gen = torch.Generator().manual_seed(seed)
    k = torch.randn(B, T, H_kv, D, generator=gen, dtype=dtype)
    v = torch.randn(B, T, H_kv, D, generator=gen, dtype=dtype)
    kw = dict(
        q=torch.randn(B, T, H, D, generator=gen, dtype=dtype), k=k, v=v,
        # mean pooling stands in for φ (Eq. 7), computed before timing
        k_cmp=compression_blocks(k, cfg.block_len, cfg.stride).mean(-2),
        v_cmp=compression_blocks(v, cfg.block_len, cfg.stride).mean(-2),
        gates=torch.rand(B, T, H, 3, generator=gen, dtype=dtype),
    )
    return {name: x.to(device) for name, x in kw.items()}


def _interleaved_ms(fns: dict, reps: int, warmup: int, sync) -> dict:
    """Median (and every) wall time in ms of each function, the functions taking turns."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: (statistics.median(t), t) for name, t in times.items()}


def _once_ms(fn, sync) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return (time.perf_counter() - start) * 1e3


def _tokens(T: int, cfg: NSAConfig) -> tuple[int, int]:
    """Keys read: dense causal attention (T (T + 1) / 2) and NSA (the paper's per-query count,
    summed over the queries, :meth:`NSAConfig.tokens_per_query`)."""
    return T * (T + 1) // 2, sum(cfg.tokens_per_query(t) for t in range(T))


def run(quick: bool, device: torch.device, out: Path, chunk: int, reps: int | None) -> dict:
    cfg = NSAConfig()  # the paper's sizes
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    record = {
        "device": _device_name(device),
        "device_type": device.type,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "dtype": "float32",
        "shape": dict(SHAPE),
        "config": {"l": cfg.block_len, "d": cfg.stride, "l_prime": cfg.select_block,
                   "n": cfg.top_n, "n_initial": cfg.n_initial, "n_local": cfg.n_local,
                   "w": cfg.window, "phi": "mean pooling (inputs, not timed)"},
        "nsa": {"function": "readingroom.nsa.prefill.nsa_prefill", "chunk": chunk,
                "cmp_budget": CMP_BUDGET, "slc_sub": SLC_SUB},
        "dense": ("torch.nn.functional.scaled_dot_product_attention"
                  "(is_causal=True, enable_gqa=True)"),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "timing": "time.perf_counter, dense and NSA interleaved, median of the repeats, ms",
        "quick": quick,
        "note": ("Both attentions in plain PyTorch on the same inputs, forward only, no autograd. "
                 "On a CPU only the ratios are meaningful; a shared machine adds noise to both "
                 "sides alike (the repeats are interleaved)."),
        "complete": False,
        "results": [],
    }

    def write() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2) + "\n")

    # Correctness first, in float64 where the choice of blocks cannot flip on a rounding error.
    kw = _inputs(CHECK_T, cfg, torch.float64, device, seed=1)
    with torch.inference_mode():
        ref = nsa_attention(**kw, cfg=cfg, backend="torch")
        got = nsa_prefill(**kw, cfg=cfg, chunk=chunk)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)
    record["check"] = {"T": CHECK_T, "dtype": "float64", "atol": 1e-10,
                       "max_abs_diff": float((got - ref).abs().max())}
    print(f"check: nsa_prefill == nsa_attention at T={CHECK_T} (float64), "
          f"max |diff| {record['check']['max_abs_diff']:.1e}", flush=True)
    del kw, ref, got
    write()

    for T in LENGTHS_QUICK if quick else LENGTHS:
        kw = _inputs(T, cfg, torch.float32, device)
        qd, kd, vd = (kw[n].transpose(1, 2).contiguous() for n in ("q", "k", "v"))  # [B, H, T, D]

        def dense():
            return F.scaled_dot_product_attention(qd, kd, vd, is_causal=True, enable_gqa=True)

        def nsa(c=cfg):
            return nsa_prefill(**kw, cfg=c, chunk=chunk)

        row = {"T": T}
        with torch.inference_mode():
            if T <= CHECK_F32_MAX:
                ref = nsa_attention(**kw, cfg=cfg, backend="torch")
                diff = float((nsa() - ref).abs().max())
                assert diff < 1e-4, f"T={T}: nsa_prefill differs from nsa_attention by {diff}"
                row["max_abs_diff_float32_vs_dense_reference"] = diff
                del ref
            n_reps = reps if reps is not None else (5 if quick else 3)
            timed = _interleaved_ms({"dense": dense, "nsa": nsa}, n_reps,
                                    warmup=1 if T <= 16384 else 0, sync=sync)
            # Where NSA's time goes: one call with only some branches on (slc needs cmp).
            parts = {br: _once_ms(lambda br=br: nsa(cfg.replace(branches=br)), sync)
                     for br in (("cmp",), ("cmp", "slc"), ("win",))}
        t_dense, t_nsa = timed["dense"][0], timed["nsa"][0]
        tok_dense, tok_nsa = _tokens(T, cfg)
        row.update({
            "dense_ms": round(t_dense, 2),
            "nsa_ms": round(t_nsa, 2),
            "speedup": round(t_dense / t_nsa, 3),
            "reps": n_reps,
            "dense_ms_all": [round(t, 2) for t in timed["dense"][1]],
            "nsa_ms_all": [round(t, 2) for t in timed["nsa"][1]],
            "branch_ms": {
                "cmp": round(parts[("cmp",)], 2),
                "slc (cmp+slc minus cmp)": round(parts[("cmp", "slc")] - parts[("cmp",)], 2),
                "win": round(parts[("win",)], 2),
            },
            "tokens_dense": tok_dense,
            "tokens_nsa": tok_nsa,
            "token_ratio": round(tok_dense / tok_nsa, 2),
        })
        record["results"].append(row)
        write()
        cmp, slc, win = row["branch_ms"].values()
        print(f"T={T:6d}  dense {t_dense:10.1f} ms   nsa {t_nsa:9.1f} ms   x{t_dense / t_nsa:5.2f}"
              f"   (cmp {cmp:.0f}, slc {slc:.0f}, win {win:.0f} ms;"
              f" token ratio x{row['token_ratio']:.2f})", flush=True)
    record["complete"] = True
    write()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 1k and 2k, five repetitions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"JSON path (default {DEFAULT_OUT.relative_to(REPO)})")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK,
                        help=f"nsa_prefill's queries per chunk (default {DEFAULT_CHUNK})")
    parser.add_argument("--reps", type=int, default=None,
                        help="timed repeats per length (default 3, 5 with --quick)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is available")
    if args.threads < 1 or args.chunk < 1 or (args.reps is not None and args.reps < 1):
        parser.error("--threads, --chunk and --reps must be positive")
    use_threads(args.threads)
    run(args.quick, torch.device(args.device), args.out, args.chunk, args.reps)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
