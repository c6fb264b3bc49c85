"""Time decoding one image (batch of 1, no grad, sigmoid included) with a checkpoint on the CPU.

This is what the app does for every slider move. After a warm-up, each call is timed on its own; the table
gives the median and the 95th percentile, with torch's default thread count, with 1 and 2 threads, and
with the app's setting (1 thread, oneDNN off: see ui/__init__.py), each for calls made in one thread and
for calls made each in a new thread, as Streamlit runs every script run.

    python bench/decode_speed.py [CHECKPOINT] [--calls 1000] [--warmup 50]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import calls_args, percentile  # noqa: E402
from vae.networks.latent import decode  # noqa: E402
from vae.networks.model import VAE, count_parameters  # noqa: E402
from vae.store.checkpoint import load_checkpoint  # noqa: E402


def time_decode(model: VAE, calls: int, warmup: int, fresh_threads: bool = False) -> list[float]:
    """Milliseconds taken by each of `calls` single-image decodes, after `warmup` untimed ones.

    With fresh_threads, each call runs in a thread of its own (the thread's start is not timed).
    """
    z = torch.randn(1, model.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(1, dtype=torch.long) if model.cfg.conditional else None
    for _ in range(warmup):
        decode(model, z, y)
    times = []

    def timed() -> None:
        started = time.perf_counter_ns()
        decode(model, z, y)
        times.append((time.perf_counter_ns() - started) / 1e6)

    for _ in range(calls):
        if fresh_threads:
            thread = threading.Thread(target=timed)
            thread.start()
            thread.join()
        else:
            timed()
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    args = calls_args(__doc__, argv)
    model = load_checkpoint(args.checkpoint).model
    default_threads, default_onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    rows = []
    try:
        for label, threads, onednn in ((f"default ({default_threads})", default_threads, True), ("1", 1, True),
                                       ("2", 2, True), ("1, oneDNN off (the app)", 1, False)):
            torch.set_num_threads(threads)
            torch.backends.mkldnn.enabled = onednn
            same = time_decode(model, args.calls, args.warmup)
            fresh = time_decode(model, args.calls, args.warmup, fresh_threads=True)
            rows.append({"threads": label, "median_ms": statistics.median(same), "p95_ms": percentile(same, 95),
                         "fresh_median_ms": statistics.median(fresh), "fresh_p95_ms": percentile(fresh, 95)})
    finally:
        torch.set_num_threads(default_threads)
        torch.backends.mkldnn.enabled = default_onednn
    cfg = model.cfg
    print(f"# decoding 1 image: {args.checkpoint} ({cfg.arch}, latent {cfg.latent_dim}, "
          f"{count_parameters(model.decoder):,} decoder parameters); {args.calls} calls after {args.warmup} warm-up")
    print("| threads | median ms | p95 ms | new thread per call: median ms | p95 ms |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['threads']} | {row['median_ms']:.3f} | {row['p95_ms']:.3f} "
              f"| {row['fresh_median_ms']:.3f} | {row['fresh_p95_ms']:.3f} |")
    return rows


if __name__ == "__main__":
    main()
