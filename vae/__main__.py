"""Command line: `python -m vae {train,evaluate,atlas,classifier} ...`; `python -m vae CMD --help` for options."""

from __future__ import annotations

import argparse
import json
import sys

from vae.allocator import keep_freed_memory
from vae.checkpoint import CONFIG, Checkpoint, CheckpointError
from vae.config import ACTIVATIONS, OBJECTIVES, PRESETS
from vae.data import BINARIZATIONS, DataError, ImageSet
from vae.train import TrainingDiverged


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE and save best and last checkpoints")
    p.add_argument("--dataset", default="mnist", help=(
        "mnist, fashion-mnist or folder:PATH (images in one subfolder per class, or none; stored as an absolute "
        "path). A folder's test split is about 10%% of each class, decided per file: a file is a test image when "
        "the sha256 of its path relative to the folder, read as a fraction, is below 0.1 (a class left without "
        "one gives its file of lowest hash), so adding files never moves another between train and test"))
    p.add_argument("--data-root", help="where datasets live (default: $LATENT_EXPLORER_DATA or ./data)")
    p.add_argument("--size", type=int, help="image size for folder: datasets, 1..1024 (default 28; conv: a multiple "
                   "of 4)")
    p.add_argument("--channels", type=int, choices=(1, 3), help="1 (greyscale) or 3 (RGB) for folder: datasets")
    p.add_argument("--arch", default="conv", choices=sorted(PRESETS), help="architecture preset")
    p.add_argument("--latent-dim", type=int, help="latent size (default: the preset's)")
    p.add_argument("--hidden", type=int, help="MLP width, or the conv's base channel count")
    p.add_argument("--hidden-layers", type=int, help="hidden layers on each side (mlp)")
    p.add_argument("--activation", choices=ACTIVATIONS, help="activation (default: the preset's)")
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="vae (the ELBO, default), ae (a plain autoencoder: no noise, no KL) or wae (WAE-MMD)")
    p.add_argument("--beta", type=float, help="KL weight of a vae (default 1; beta > 1 is a beta-VAE)")
    p.add_argument("--mmd-weight", type=float, help="lambda of the wae's MMD term (default 10)")
    p.add_argument("--conditional", action="store_true", help="condition encoder and decoder on the class label")
    p.add_argument("--binarize", default="none", choices=BINARIZATIONS, help="training-time binarization")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, help="final learning rate of a cosine decay (default: --lr, constant)")
    p.add_argument("--warmup-epochs", type=int, default=0, help="epochs of linear KL warm-up from 0 to beta")
    p.add_argument("--free-bits", type=float, default=0.0, help="minimum KL per latent dimension, in nats")
    p.add_argument("--iwae-k", type=int, default=1, help="train on the IWAE bound with K samples (default 1: the ELBO)")
    p.add_argument("--init", help="start from this checkpoint's weights (architecture included), fresh optimizer")
    p.add_argument("--subset", type=int, help="train on the first N images only (quick runs and tests)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--out", required=True, help="checkpoint folder; the last state goes to OUT/last. A folder that "
                   "holds a trained model needs --resume (to continue it) or --overwrite (to replace it)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last if it exists")
    p.add_argument("--overwrite", action="store_true",
                   help="train a new model into an OUT that holds one; its files are replaced from the first save on")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.train import train

    train(args, argv)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure a checkpoint on its test set and store the metrics")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--k", type=int, default=1000, help="importance samples for the NLL estimate")
    p.add_argument("--no-nll", action="store_true",
                   help="skip the NLL (the slow part) and keep the one stored for the same test images")
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--subset", type=int, help="evaluate on the first N test images only")
    p.add_argument("--no-save", action="store_true", help="print only; leave config.json alone")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.add_argument("--classifier", help="classifier folder measuring the samples (default: checkpoints/classifiers/"
                   "DATASET when there is one; see `python -m vae classifier`)")
    p.set_defaults(func=run_evaluate)


def checkpoint_and_test_set(args: argparse.Namespace) -> tuple[Checkpoint, ImageSet]:
    """The checkpoint named on the command line and its test images (the first --subset ones)."""
    from vae.atlas import load_test_set
    from vae.checkpoint import load_checkpoint

    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset must be >= 1, got {args.subset}")
    ckpt = load_checkpoint(args.checkpoint)
    if "dataset" not in ckpt.meta:
        raise CheckpointError(f"{ckpt.folder / CONFIG}: names no dataset, so its test images are unknown")
    data = load_test_set(ckpt.meta, args.data_root, near=ckpt.folder)
    return ckpt, data.subset(args.subset) if args.subset else data


def run_evaluate(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.classifier import instrument_for, load_instrument
    from vae.evaluate import evaluate, format_metrics

    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    ckpt, data = checkpoint_and_test_set(args)
    instrument = load_instrument(args.classifier) if args.classifier else instrument_for(ckpt.meta["dataset"])
    k = None if args.no_nll else args.k
    metrics = evaluate(ckpt, data, k=k, save=not args.no_save, instrument=instrument)
    print(json.dumps(metrics, indent=2) if args.json else format_metrics(metrics))


def add_atlas(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atlas", help="encode the test set and store the latent map (UMAP, PCA) beside the checkpoint")
    p.add_argument("checkpoint", help="checkpoint folder")
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--subset", type=int, help="the first N test images only (quick runs and tests)")
    p.add_argument("--no-umap", action="store_true", help="PCA only: no umap import, done in seconds")
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist")
    p.add_argument("--seed", type=int, default=0, help="UMAP random state")
    p.set_defaults(func=run_atlas)


def run_atlas(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.atlas import AtlasError, build_atlas, save_atlas

    ckpt, data = checkpoint_and_test_set(args)
    last = [-1.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.1 or fraction >= 1.0:
            last[0] = fraction
            print(f"{fraction:4.0%}  {message}", file=sys.stderr)

    try:
        umap_params = {"n_neighbors": args.neighbors, "min_dist": args.min_dist}
        atlas = build_atlas(ckpt, data, progress, not args.no_umap, args.seed, umap_params)
    except AtlasError as err:
        raise ValueError(str(err)) from err
    save_atlas(ckpt.folder, atlas)
    print(json.dumps(atlas.meta, indent=2))


def add_classifier(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train the classifier that measures samples (Fréchet distance, confidence)")
    p.add_argument("--dataset", default="mnist", help="a labelled dataset: mnist, fashion-mnist or folder:PATH")
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for model.safetensors and config.json")
    p.set_defaults(func=run_classifier)


def run_classifier(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.classifier import save_instrument, train_classifier
    from vae.data import load_dataset

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    train = load_dataset(args.dataset, "train", args.data_root)
    test = load_dataset(args.dataset, "test", args.data_root)
    model, history = train_classifier(train, test, epochs=args.epochs, seed=args.seed)
    meta = {"dataset": args.dataset, "class_names": train.class_names, "history": history,
            "test_accuracy": history[-1]["test_accuracy"], "command": f"python -m vae classifier {' '.join(argv)}"}
    save_instrument(args.out, model, meta)
    print(f"test accuracy {meta['test_accuracy']:.4f}; saved to {args.out}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m vae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    add_evaluate(sub)
    add_atlas(sub)
    add_classifier(sub)
    args = parser.parse_args(argv)
    keep_freed_memory()
    try:
        args.func(args, argv[1:])
    except (DataError, CheckpointError, TrainingDiverged, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
