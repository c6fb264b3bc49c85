"""Time each anomaly score (vae.analysis.scores) per image on the CPU, alone: what it costs to score an image with it.

Each score is timed on its own call of `score_images`, so its row includes the encoder and decoder pass it
needs (and, for a conditional model, the search for the best-fitting class). Batched: the test images in
batches of --batch, the time per image. One at a time: single-image calls, as the app scores an upload,
median and 95th percentile. Torch runs with its default thread count (2 on the project's machine) unless
--threads says otherwise. The score fit for knn and stats is the stored one, else fitted first (not timed).

    python bench/score_cost.py [CHECKPOINT] [--images 1000] [--batch 100] [--singles 200] [--k 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from vae.analysis.atlas import load_test_set  # noqa: E402
from vae.analysis.scores import NLL_K, available, fit_reference, load_reference, score_images  # noqa: E402
from vae.store.checkpoint import load_checkpoint  # noqa: E402


def time_batched(model, x: torch.Tensor, reference, score: str, batch: int, k: int) -> float:
    """Milliseconds per image to score x in batches (one untimed batch first)."""
    score_images(model, x[:batch], reference, [score], k)
    started = time.perf_counter()
    for start in range(0, len(x), batch):
        score_images(model, x[start:start + batch], reference, [score], k)
    return (time.perf_counter() - started) * 1000 / len(x)


def time_singles(model, x: torch.Tensor, reference, score: str, k: int) -> list[float]:
    """Milliseconds of each single-image call (after two untimed ones)."""
    for image in x[:2]:
        score_images(model, image[None], reference, [score], k)
    times = []
    for image in x:
        started = time.perf_counter_ns()
        score_images(model, image[None], reference, [score], k)
        times.append((time.perf_counter_ns() - started) / 1e6)
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default=str(ROOT / "checkpoints" / "fashion-mnist"))
    parser.add_argument("--images", type=int, default=1000, help="test images scored in batches (%(default)s)")
    parser.add_argument("--batch", type=int, default=100, help="batch size (%(default)s)")
    parser.add_argument("--singles", type=int, default=200, help="single-image calls timed (%(default)s)")
    parser.add_argument("--k", type=int, default=NLL_K, help="importance samples of nll and complexity")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--data-root", help="where datasets live")
    args = parser.parse_args(argv)
    if min(args.images, args.batch, args.singles, args.k) < 1:
        parser.error("--images, --batch, --singles and --k must be >= 1")
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = ckpt.model
        reference = load_reference(ckpt.folder, model.cfg)
        if reference is None or reference.stale:
            train = load_test_set(ckpt.meta, args.data_root, ckpt.folder, split="train")
            reference = fit_reference(model, train, n=2000)
        x = load_test_set(ckpt.meta, args.data_root, ckpt.folder).floats(slice(0, max(args.images, args.singles)))
        rows = []
        for score in available(model.cfg):
            singles = time_singles(model, x[:args.singles], reference, score, args.k)
            rows.append({"score": score, "batched_ms": time_batched(model, x[:args.images], reference, score,
                                                                    args.batch, args.k),
                         "single_median_ms": statistics.median(singles), "single_p95_ms": percentile(singles, 95)})
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    cfg = model.cfg
    print(f"# scoring cost per image: {args.checkpoint} ({cfg.arch}, {cfg.hidden} channels or units, latent "
          f"{cfg.latent_dim}); {args.images} images in batches of {args.batch}, {args.singles} single calls; "
          f"nll k = {args.k}; {used} torch threads")
    print("| score | batched ms per image | one image: median ms | p95 ms |\n|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['score']} | {row['batched_ms']:.2f} | {row['single_median_ms']:.2f} "
              f"| {row['single_p95_ms']:.2f} |")
    return rows


if __name__ == "__main__":
    main()
