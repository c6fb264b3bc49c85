"""Every codec on the same images: lossless bits per pixel and speed, and lossy PSNR against bits per image.

Lossless: the test images binarized once with seed 0 (`vae.compression.compress.binarized`). Raw 1-bit packing,
gzip, bz2 and lzma over the whole set; PNG (1-bit), WebP lossless and JPEG XL lossless per image (the
first --per-image images) and on the whole set tiled as one picture; ours (BB-ANS) chained over the
whole set and per image alone (the first --alone images, each file paying its own initial bits), and
its importance-weighted form at each --k. Each model's -ELBO (mean over --elbo-samples seeded samples)
and -L_k (seeded) on the same binarized images, in bits per pixel beside its code. Every code is decoded
and checked equal. Then, with --family, BB-ANS for every shipped model with a posterior on its own test set.

Lossy: the first --lossy-images test images of MNIST and Fashion-MNIST (at their shipped models):
ours at each precision, JPEG and WebP with their quality swept, per image and tiled.

    python bench/compress.py [--images 10000] [--per-image 2000] [--alone 500] [--k 8] [--family]
                             [--lossy-images 1000] [--skip-lossless] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae.analysis.atlas import load_test_set  # noqa: E402
from vae.compression.codec_compare import Row, baseline_lossless, lossy_curve, ours_lossless  # noqa: E402
from vae.compression.compress import binarized, classes, has_posterior  # noqa: E402
from vae.networks.objectives import iwae_bound, kl_per_dim, reconstruction_nll  # noqa: E402
from vae.store.checkpoint import find_checkpoints, load_checkpoint, weights_sha256  # noqa: E402

LN2 = math.log(2)


@torch.no_grad()
def bounds(model, x: torch.Tensor, y, ks: list[int], samples: int) -> dict[str, float]:
    """-ELBO (mean over `samples` seeded samples) and -L_k for each k, in nats per image (means)."""
    y = y if model.cfg.conditional else None
    out, torch_state = {}, torch.random.get_rng_state()
    torch.manual_seed(0)
    elbo = 0.0
    for start in range(0, len(x), 500):
        xb, yb = x[start:start + 500], None if y is None else y[start:start + 500]
        mu, logvar = model.encode(xb, yb)
        for _ in range(samples):
            z = model.reparameterize(mu, logvar)
            elbo += (reconstruction_nll(model.decode(z, yb), xb) + kl_per_dim(mu, logvar).sum(1)).sum().item()
    out["-ELBO"] = elbo / samples / len(x)
    for k in ks:
        total = 0.0
        for start in range(0, len(x), 200):
            yb = None if y is None else y[start:start + 200]
            total -= iwae_bound(model, x[start:start + 200], k, yb).sum().item()
        out[f"-L_{k}"] = total / len(x)
    torch.random.set_rng_state(torch_state)
    return out


def print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n| codec | layout | images | bits/pixel | encode ms/image | decode ms/image | note |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r.codec} | {r.layout} | {r.images} | {r.bits_per_pixel:.4f} | {1000 * r.encode_s:.3f} "
              f"| {1000 * r.decode_s:.3f} | {r.note} |")


def lossless(ckpt, images: int, per_image: int, alone: int, ks: list[int], k_chains: int, samples: int,
             baselines: bool = True) -> dict:
    """The classical codecs and BB-ANS (unless not baselines) and the weighted form at each k, with the bounds."""
    data = load_test_set(ckpt.meta, None, ckpt.folder).subset(images)
    model, weights = ckpt.model, weights_sha256(ckpt.folder)
    x = binarized(data.floats())
    y = data.labels if classes(model) else None
    pixels = x[0].numel()
    ours_lossless(model, weights, x[:64], None if y is None else y[:64])  # warm up torch before timing
    x8 = (x.numpy() * 255).astype(np.uint8)
    rows = []
    if baselines:
        rows += baseline_lossless(x8, ("whole set", "tiled"))
        rows += baseline_lossless(x8[:per_image], ("per image",))
        rows.append(ours_lossless(model, weights, x, y))
        rows.append(ours_lossless(model, weights, x[:alone], None if y is None else y[:alone], per_image=True))
    for k in ks:
        rows.append(ours_lossless(model, weights, x, y, k=k, chains=k_chains))
    bound = {name: nats / pixels / LN2 for name, nats in bounds(model, x, y, ks, samples).items()}
    print_rows(f"{ckpt.name}: {len(x)} binarized test images ({data.name})", rows)
    print("bounds in bits/pixel: " + ", ".join(f"{k} {v:.4f}" for k, v in bound.items()))
    return {"model": ckpt.name, "images": len(x), "rows": [asdict(r) | {"bits_per_pixel": r.bits_per_pixel}
                                                           for r in rows], "bounds_bits_per_pixel": bound}


def family(images: int, samples: int) -> list[dict]:
    out = []
    rows = []
    for folder in find_checkpoints(ROOT / "checkpoints"):
        ckpt = load_checkpoint(folder)
        if not has_posterior(ckpt.model) or "dataset" not in ckpt.meta:
            continue
        data = load_test_set(ckpt.meta, None, ckpt.folder).subset(images)
        x = binarized(data.floats())
        y = data.labels if classes(ckpt.model) else None
        row = ours_lossless(ckpt.model, weights_sha256(folder), x, y)
        row.codec = f"{ckpt.name} BB-ANS"
        bound = bounds(ckpt.model, x, y, [], samples)["-ELBO"] / x[0].numel() / LN2
        row.note += f"; -ELBO {bound:.4f} bits/pixel" + ("; labels coded (log2 10 bits each)" if y is not None else "")
        rows.append(row)
        out.append(asdict(row) | {"bits_per_pixel": row.bits_per_pixel, "elbo_bits_per_pixel": bound,
                                  "dataset": data.name})
    print_rows(f"the family, BB-ANS chained over each model's first {images} binarized test images", rows)
    return out


def lossy(n: int) -> list[dict]:
    out = []
    for name in ("mnist", "fashion-mnist"):
        ckpt = load_checkpoint(ROOT / "checkpoints" / name)
        data = load_test_set(ckpt.meta, None, ckpt.folder).subset(n)
        weights = weights_sha256(ckpt.folder)
        print(f"\n{name}: lossy, first {n} test images\n| codec | setting | layout | bits/image | PSNR dB |")
        print("|---|---|---|---:|---:|")
        for tiled in (False, True):
            layout = "tiled" if tiled else "per image"
            points = lossy_curve(ckpt.model, weights, data.floats(), tiled=tiled)
            for p in points:
                if tiled and p.codec == "ours":
                    continue  # ours is the same code either way
                shown = "one file" if p.codec == "ours" else layout
                print(f"| {p.codec} | {p.setting} | {shown} | {p.bits_per_image:.1f} | {p.psnr:.2f} |")
                out.append({"dataset": name, "layout": shown} | asdict(p))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "mnist"))
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--per-image", type=int, default=2000, help="images the image codecs code one by one")
    p.add_argument("--alone", type=int, default=500, help="images ours codes one file each")
    p.add_argument("--k", type=int, nargs="*", default=[8], help="importance samples of the weighted form")
    p.add_argument("--k-chains", type=int, default=8, help="chains of the weighted form (fewer: fewer initial bits)")
    p.add_argument("--elbo-samples", type=int, default=10)
    p.add_argument("--family", action="store_true", help="BB-ANS for every shipped model with a posterior")
    p.add_argument("--lossy-images", type=int, default=1000, help="0: no lossy part")
    p.add_argument("--skip-lossless", action="store_true", help="only the family and lossy parts")
    p.add_argument("--only-weighted", action="store_true", help="lossless: the weighted form only (no baselines)")
    p.add_argument("--threads", type=int, default=1, help="torch threads outside the coding (coding uses one)")
    p.add_argument("--json", help="write every figure here too")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{started} · {platform.node()} · {platform.processor() or platform.machine()} · "
          f"torch {torch.__version__} · {torch.get_num_threads()} thread(s)")
    result = {"date": started, "command": "python " + " ".join(sys.argv)}
    if not args.skip_lossless:
        result["lossless"] = lossless(load_checkpoint(args.checkpoint), args.images, args.per_image, args.alone, args.k,
                                      args.k_chains, args.elbo_samples, not args.only_weighted)
    if args.family:
        result["family"] = family(args.images, args.elbo_samples)
    if args.lossy_images:
        result["lossy"] = lossy(args.lossy_images)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
