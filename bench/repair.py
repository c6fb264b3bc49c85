"""Repairing corrupted test images: the model's repairs against doing nothing and against classical filters.

For each corruption, the first N test images are corrupted (fixed seed) and repaired by every method
that fits (`vae.repair.repairs`): the model's reconstruction, its inpainting where pixels are lost,
the median filter for noise, nearest fill for holes. Each is scored against the original image:
PSNR (mean over images, dB) and MSE (mean over images and pixels); then the gain over the corrupted
input, the gain over the best classical baseline, and how often the method beats that baseline on an
image.

    python bench/repair.py [CHECKPOINT] [--images 1000] [--steps 50] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae.atlas import load_test_set  # noqa: E402
from vae.checkpoint import load_checkpoint  # noqa: E402
from vae.repair import INPAINT_STEPS, MODEL_METHODS, Corruption, mse, psnr, repairs  # noqa: E402

CORRUPTIONS = (
    Corruption("noise", 0.2), Corruption("noise", 0.5),
    Corruption("salt_pepper", 0.1), Corruption("salt_pepper", 0.3),
    Corruption("box", box=(9, 9, 19, 19)), Corruption("top"), Corruption("bottom"),
)
BATCH = 500
INPUT = "corrupted input"


def score(model, x: torch.Tensor, y: torch.Tensor | None, corruption: Corruption, steps: int, seed: int) -> dict:
    """Per-image PSNR and MSE of every method (the corrupted input included), batch by batch."""
    psnrs: dict[str, list[torch.Tensor]] = {}
    mses: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(x), BATCH):
        xb = x[start:start + BATCH]
        yb = None if y is None else y[start:start + BATCH]
        broken = corruption.apply(xb, seed + start)
        for name, image in {INPUT: broken.image, **repairs(model, broken, corruption.kind, yb, steps)}.items():
            psnrs.setdefault(name, []).append(psnr(image, xb))
            mses.setdefault(name, []).append(mse(image, xb))
    return {name: (torch.cat(psnrs[name]), torch.cat(mses[name])) for name in psnrs}


def rows_for(corruption: Corruption, scores: dict) -> list[dict]:
    classical = [name for name in scores if name not in (INPUT, *MODEL_METHODS)]
    best = max(classical, key=lambda name: scores[name][0].mean())
    rows = []
    for name, (p, m) in scores.items():
        rows.append({
            "corruption": corruption.describe(), "method": name, "psnr": p.mean().item(), "mse": m.mean().item(),
            "gain_input": (p - scores[INPUT][0]).mean().item(),
            "gain_baseline": None if name in (INPUT, best) else (p - scores[best][0]).mean().item(),
            "beats_baseline": None if name in (INPUT, best) else (p > scores[best][0]).float().mean().item(),
            "baseline": best,
        })
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default=str(ROOT / "checkpoints" / "mnist"), help="checkpoint folder")
    parser.add_argument("--images", type=int, default=1000, help="test images per corruption (default %(default)s)")
    parser.add_argument("--steps", type=int, default=INPAINT_STEPS, help="inpainting steps (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corruptions (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default %(default)s, as the app)")
    parser.add_argument("--data-root", help="where datasets live")
    args = parser.parse_args(argv)
    if args.images < 1 or args.steps < 0 or args.threads < 1:
        parser.error("--images and --threads must be >= 1, --steps >= 0")
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    data = load_test_set(ckpt.meta, args.data_root).subset(args.images)
    x, y = data.floats(), data.labels if ckpt.model.cfg.conditional else None
    started = time.perf_counter()
    rows = [row for c in CORRUPTIONS for row in rows_for(c, score(ckpt.model, x, y, c, args.steps, args.seed))]
    print(f"# repairs: {args.checkpoint}, the first {len(data)} test images, inpainting {args.steps} steps, "
          f"seed {args.seed} ({time.perf_counter() - started:.0f} s)")
    print("PSNR against the original (mean over images, dB; higher is better), MSE (mean; lower is better); "
          "gains are mean per-image PSNR differences; the baseline is the better classical method.\n")
    print("| corruption | method | PSNR dB | MSE | vs corrupted input dB | vs baseline dB | beats baseline on |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        vs = "(baseline)" if r["method"] == r["baseline"] else "" if r["gain_baseline"] is None else \
            f"{r['gain_baseline']:+.2f}"
        beats = "" if r["beats_baseline"] is None else f"{r['beats_baseline']:.0%}"
        gain = "" if r["method"] == INPUT else f"{r['gain_input']:+.2f}"
        print(f"| {r['corruption']} | {r['method']} | {r['psnr']:.2f} | {r['mse']:.4f} | {gain} | {vs} | {beats} |")
    return rows


if __name__ == "__main__":
    main()
