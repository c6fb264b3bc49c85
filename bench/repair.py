"""Repairing corrupted test images: the model's repairs against doing nothing and against classical filters.

For each corruption, the first N test images are corrupted (fixed seed) and repaired by every method
that fits (`vae.analysis.repair.repairs`): the model's reconstruction, its inpainting where pixels are lost,
the median filter for noise, nearest fill for holes. Each is scored against the original image: MSE
(mean over images and pixels) and the PSNR of that mean MSE (a per-image mean of PSNR would be
infinite as soon as one image is repaired exactly); then the PSNR gained over the corrupted input and
over the better classical baseline, and on how many images the method's MSE is below the baseline's.

    python bench/repair.py [CHECKPOINT] [--images 1000] [--steps 50] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae.analysis.atlas import load_test_set  # noqa: E402
from vae.analysis.repair import INPAINT_STEPS, MODEL_METHODS, Corruption, mse, reconstruct, repairs  # noqa: E402
from vae.store.checkpoint import load_checkpoint  # noqa: E402

CORRUPTIONS = (
    Corruption("noise", 0.2), Corruption("noise", 0.5),
    Corruption("salt_pepper", 0.1), Corruption("salt_pepper", 0.3),
    Corruption("box", box=(9, 9, 19, 19)), Corruption("top"), Corruption("bottom"),
)
BATCH = 500
INPUT = "corrupted input"


def score(model, x: torch.Tensor, y: torch.Tensor | None, corruption: Corruption, steps: int, seed: int) -> dict:
    """Per-image MSE against the original of every method (the corrupted input included), batch by batch."""
    errors: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(x), BATCH):
        xb = x[start:start + BATCH]
        yb = None if y is None else y[start:start + BATCH]
        broken = corruption.apply(xb, seed + start)
        for name, image in {INPUT: broken.image, **repairs(model, broken, corruption.kind, yb, steps)}.items():
            errors.setdefault(name, []).append(mse(image, xb))
    return {name: torch.cat(parts) for name, parts in errors.items()}


def psnr_of(errors: torch.Tensor) -> float:
    """PSNR of the mean MSE, in dB: finite even when some images are repaired exactly."""
    return 10 * math.log10(1 / errors.mean().item())


def rows_for(corruption: Corruption, errors: dict[str, torch.Tensor]) -> list[dict]:
    classical = [name for name in errors if name not in (INPUT, *MODEL_METHODS)]
    best = min(classical, key=lambda name: errors[name].mean())
    rows = []
    for name, e in errors.items():
        compared = name not in (INPUT, best)
        rows.append({
            "corruption": corruption.describe(), "method": name, "psnr": psnr_of(e), "mse": e.mean().item(),
            "gain_input": psnr_of(e) - psnr_of(errors[INPUT]),
            "gain_baseline": psnr_of(e) - psnr_of(errors[best]) if compared else None,
            "beats_baseline": (e < errors[best]).float().mean().item() if compared else None,
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
    x, y = data.floats(), data.labels
    started = time.perf_counter()
    rows = [row for c in CORRUPTIONS for row in rows_for(c, score(ckpt.model, x, y, c, args.steps, args.seed))]
    print(f"# repairs: {args.checkpoint}, the first {len(data)} test images, inpainting {args.steps} steps, "
          f"seed {args.seed} ({time.perf_counter() - started:.0f} s)")
    print("MSE against the original (mean; lower is better) and the PSNR of that mean (dB; higher is better); "
          "the baseline is the better classical method; 'beats' counts images with a lower MSE than it.\n")
    clean = torch.cat([mse(reconstruct(ckpt.model, x[i:i + BATCH], None if y is None else y[i:i + BATCH]),
                           x[i:i + BATCH]) for i in range(0, len(x), BATCH)])
    print(f"For reference, the reconstruction of the uncorrupted images: PSNR {psnr_of(clean):.2f} dB, "
          f"MSE {clean.mean().item():.4f}.\n")
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
