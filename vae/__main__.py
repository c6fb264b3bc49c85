"""Command line: `python -m vae {train,evaluate,atlas,ood,classifier,generate,export,compress,decompress} ...`;
see `python -m vae CMD --help`."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vae.analysis.ood import SHIFTS
from vae.analysis.scores import NLL_K
from vae.datasets.data import BINARIZATIONS
from vae.datasets.imageset import DataError, ImageSet
from vae.datasets.levels import NORMALISATIONS, Levels
from vae.models.model_json import MODEL_JSON
from vae.networks.config import ACTIVATIONS, OBJECTIVES, PRESETS, TrainSettings
from vae.store.checkpoint import CONFIG, Checkpoint, CheckpointError
from vae.training.allocator import keep_freed_memory
from vae.training.train import TrainingDiverged

if TYPE_CHECKING:
    from vae.analysis.scores import Reference


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE and save best and last checkpoints")
    p.add_argument("--dataset", help=(
        "mnist, fashion-mnist or folder:PATH (images in one subfolder per class, or none; stored as an absolute "
        "path). A folder's test split is about 10%% of each class, decided per file: a file is a test image when "
        "the sha256 of its path relative to the folder, read as a fraction, is below 0.1 (a class left without "
        "one gives its file of lowest hash), so adding files never moves another between train and test"))
    p.add_argument("--data-root", help="where datasets live (default: $LATENT_EXPLORER_DATA or ./data)")
    p.add_argument("--size", type=int, help="image size for folder: datasets, 1..1024 (default 28; conv: a multiple "
                   "of 4)")
    p.add_argument("--channels", type=int, choices=(1, 3), help="1 (greyscale) or 3 (RGB) for folder: datasets")
    add_normalise(p)
    p.add_argument("--arch", choices=sorted(PRESETS), help="architecture preset")
    p.add_argument("--latent-dim", type=int, help="latent size (default: the preset's)")
    p.add_argument("--hidden", type=int, help="MLP width, or the conv's base channel count")
    p.add_argument("--hidden-layers", type=int, help="hidden layers on each side (mlp)")
    p.add_argument("--activation", choices=ACTIVATIONS, help="activation (default: the preset's)")
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="vae (the ELBO, default), ae (a plain autoencoder: no noise, no KL) or wae (WAE-MMD)")
    p.add_argument("--beta", type=float, help="KL weight of a vae (default 1; beta > 1 is a beta-VAE)")
    p.add_argument("--mmd-weight", type=float, help="lambda of the wae's MMD term (default 10)")
    p.add_argument("--conditional", action="store_true", help="condition encoder and decoder on the class label")
    p.add_argument("--binarize", choices=BINARIZATIONS, help="training-time binarization")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-min", type=float, help="final learning rate of a cosine decay (default: --lr, constant)")
    p.add_argument("--warmup-epochs", type=int, help="epochs of linear KL warm-up from 0 to beta")
    p.add_argument("--free-bits", type=float, help="minimum KL per latent dimension, in nats")
    p.add_argument("--iwae-k", type=int, help="train on the IWAE bound with K samples (default 1: the ELBO)")
    p.add_argument("--init", help="start from this checkpoint's weights (architecture included), fresh optimizer")
    p.add_argument("--subset", type=int, help="train on the first N images only (quick runs and tests)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--out", required=True, help="checkpoint folder; the last state goes to OUT/last. A folder that "
                   "holds a trained model needs --resume (to continue it) or --overwrite (to replace it)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last if it exists")
    p.add_argument("--overwrite", action="store_true",
                   help="train a new model into an OUT that holds one; its files are replaced from the first save on")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train, **{f.name: f.default for f in fields(TrainSettings)})  # its defaults


def add_normalise(p: argparse.ArgumentParser) -> None:
    p.add_argument("--normalise", default="full", choices=NORMALISATIONS, help=(
        "how a folder's images deeper than 8 bits (16-bit, 32-bit, floating-point) become 8-bit: full (their "
        "type's range: integers 0..65535, floats 0..1) or range (the folder's own lowest..highest value, for "
        "12-bit sensor data in 16-bit files); recorded, and applied to uploads alike"))


def run_train(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.training.train_command import run

    run(TrainSettings.from_values(vars(args)), argv)


MODEL_HELP = "model folder: a checkpoint, or an ONNX or code folder with model.json (docs/own-models.md)"


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help=MODEL_HELP)
    p.add_argument("--trust-code", action="store_true", help="allow a model.json that names Python code "
                   "(module:callable) to import and run it; only for code you trust")


def open_named_model(args: argparse.Namespace) -> Checkpoint:
    from vae.models.sources import open_model

    return open_model(args.checkpoint, trust_code=args.trust_code)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure a checkpoint on its test set and store the metrics")
    add_model_argument(p)
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
    from vae.analysis.atlas import load_test_set

    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset must be >= 1, got {args.subset}")
    ckpt = open_named_model(args)
    if "dataset" not in ckpt.meta:
        described = CONFIG if ckpt.model.source == "checkpoint" else MODEL_JSON
        raise CheckpointError(f"{ckpt.folder / described}: names no dataset, so its test images are unknown")
    data = load_test_set(ckpt.meta, args.data_root, near=ckpt.folder)
    say_notes(data)
    return ckpt, data.subset(args.subset) if args.subset else data


def say_notes(data: ImageSet) -> None:
    """What reading a folder dataset found and skipped (unreadable files above all), on stderr."""
    for note in data.notes:
        print(f"{data.name}: {note}", file=sys.stderr)


def run_evaluate(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.networks.classifier import instrument_for, load_instrument
    from vae.training.evaluate import evaluate, format_metrics

    check_k(args.k)
    ckpt, data = checkpoint_and_test_set(args)
    instrument = load_instrument(args.classifier) if args.classifier else instrument_for(ckpt.meta["dataset"])
    k = None if args.no_nll else args.k
    metrics = evaluate(ckpt, data, k=k, save=not args.no_save, instrument=instrument)
    print(json.dumps(metrics, indent=2) if args.json else format_metrics(metrics))


def add_atlas(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atlas", help="encode the test set and store the latent map (UMAP, PCA) beside the checkpoint")
    add_model_argument(p)
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--subset", type=int, help="the first N test images only (quick runs and tests)")
    p.add_argument("--split", choices=["test", "all"], default="test",
                   help="all: the training images too, on one map with the test images (a second atlas, "
                   "atlas-all.*; 70,000 points for MNIST, UMAP takes minutes); --subset then limits each split")
    p.add_argument("--no-umap", action="store_true", help="PCA only: no umap import, done in seconds")
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist")
    p.add_argument("--seed", type=int, default=0, help="UMAP random state")
    p.add_argument("--no-scores", action="store_true", help="no anomaly scores (they fit on training images first)")
    p.add_argument("--k", type=int, default=NLL_K, help="importance samples of the nll and complexity scores")
    p.add_argument("--quality-only", action="store_true", help="keep the stored atlas; only measure again how well "
                   "each projection keeps latent neighbours (trustworthiness, neighbours kept)")
    p.set_defaults(func=run_atlas)


def printed_progress() -> Callable[[float, str], None]:
    """A progress callback that prints a line to stderr every tenth of the way, and as each step begins."""
    last = [-1.0, ""]

    def progress(fraction: float, message: str) -> None:
        step = message.split(":")[0]
        if abs(fraction - last[0]) >= 0.1 or fraction >= 1.0 or step != last[1]:
            last[:] = [fraction, step]
            print(f"{fraction:4.0%}  {message}", file=sys.stderr)

    return progress


def score_reference(ckpt: Checkpoint, data_root: str | None, refit: bool, save: bool) -> Reference:
    """The stored fit of the knn and stats scores, or a new one on training images (stored with save)."""
    from vae.analysis.atlas import load_test_set
    from vae.analysis.scores import fit_reference, load_reference, save_reference

    reference = None if refit else load_reference(ckpt.folder, ckpt.model)
    if reference is not None and not reference.stale:
        return reference
    print("fitting the knn and stats scores on training images", file=sys.stderr)
    reference = fit_reference(ckpt.model, load_test_set(ckpt.meta, data_root, ckpt.folder, split="train"),
                              progress=printed_progress())
    if save:
        save_reference(ckpt.folder, reference)
    return reference


def check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"--k must be >= 1, got {k}")


def run_atlas(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.analysis.atlas import AtlasError, add_quality, build_atlas, load_atlas, load_test_set, save_atlas, summary

    if args.quality_only:
        atlas = load_atlas(args.checkpoint, args.split)
        add_quality(atlas, printed_progress())
        save_atlas(args.checkpoint, atlas)
        print(summary(atlas, Path(args.checkpoint)))
        return
    check_k(args.k)
    ckpt, data = checkpoint_and_test_set(args)
    reference = None if args.no_scores else score_reference(ckpt, args.data_root, refit=True, save=True)
    train = None
    if args.split == "all":
        train = load_test_set(ckpt.meta, args.data_root, ckpt.folder, split="train")
        train = train.subset(args.subset) if args.subset else train
    try:
        umap_params = {"n_neighbors": args.neighbors, "min_dist": args.min_dist}
        atlas = build_atlas(ckpt, data, printed_progress(), not args.no_umap, args.seed, umap_params,
                            scores=not args.no_scores, reference=reference, nll_k=args.k, train=train)
    except AtlasError as err:
        raise ValueError(str(err)) from err
    save_atlas(ckpt.folder, atlas)
    print(summary(atlas, ckpt.folder))


def add_ood(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ood", help="score the test set against other images: AUROC, AUPRC, FPR at 95%% TPR per score")
    add_model_argument(p)
    p.add_argument("--against", nargs="+", required=True, metavar="SET",
                   help=f"mnist, fashion-mnist, folder:PATH, or a shift of the test set: {', '.join(SHIFTS)}")
    p.add_argument("--k", type=int, default=NLL_K, help="importance samples of the nll and complexity scores")
    p.add_argument("--subset", type=int, help="the first N images of the test set and of each set only")
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--no-save", action="store_true", help="print only; leave the checkpoint folder alone")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.set_defaults(func=run_ood)


def run_ood(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.analysis.ood import against_set, benchmark, format_results, save_benchmark
    from vae.analysis.scores import SCORES

    check_k(args.k)
    ckpt, test = checkpoint_and_test_set(args)
    against = {name: against_set(name, test, ckpt.meta, args.data_root) for name in dict.fromkeys(args.against)}
    for data in against.values():
        say_notes(data)
    if args.subset:
        against = {name: data.subset(args.subset) for name, data in against.items()}
    reference = score_reference(ckpt, args.data_root, refit=False, save=not args.no_save)
    command = f"python -m vae ood {shlex.join(argv)}"
    result = benchmark(ckpt, test, against, reference, args.k, command, printed_progress())
    if not args.no_save:
        save_benchmark(ckpt.folder, result)
    titles = {name: score.title for name, score in SCORES.items()}
    print(json.dumps(result.results, indent=2) if args.json else format_results(result.results, titles))


def add_classifier(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train the classifier that measures samples (Fréchet distance, confidence)")
    p.add_argument("--dataset", default="mnist", help="a labelled dataset: mnist, fashion-mnist or folder:PATH")
    p.add_argument("--data-root", help="where datasets live")
    add_normalise(p)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for model.safetensors and config.json")
    p.set_defaults(func=run_classifier)


def run_classifier(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.datasets.data import load_dataset
    from vae.networks.classifier import save_instrument, train_classifier

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    train = load_dataset(args.dataset, "train", args.data_root, levels=Levels(args.normalise))
    test = load_dataset(args.dataset, "test", args.data_root, levels=train.levels)
    model, history = train_classifier(train, test, epochs=args.epochs, seed=args.seed)
    meta = {"dataset": args.dataset, "class_names": train.class_names, "levels": train.levels.record(),
            "history": history, "test_accuracy": history[-1]["test_accuracy"],
            "command": f"python -m vae classifier {' '.join(argv)}"}
    save_instrument(args.out, model, meta)
    print(f"test accuracy {meta['test_accuracy']:.4f}; saved to {args.out}")


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write a folder dataset of PNGs decoded from prior samples, with a manifest")
    add_model_argument(p)
    p.add_argument("--n", type=int, help="images in all (spread evenly over the classes of a conditional model)")
    p.add_argument("--per-class", type=int, help="images per class (conditional models)")
    p.add_argument("--temperature", type=float, default=1.0, help="codes from N(0, T^2 I) (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the dataset folder; read it back as folder:OUT")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier generated dataset in OUT")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.datasets import generate as generated

    generated.check_temperature(args.temperature)
    generated.check_out(args.out, args.overwrite)
    ckpt = open_named_model(args)
    counts = generated.class_counts(ckpt.model.num_classes, args.n, args.per_class)
    names = generated.class_names(ckpt)
    images, labels = generated.generate(ckpt, counts, args.temperature, args.seed)
    meta = generated.manifest(ckpt, names, counts, args.temperature, args.seed,
                              f"python -m vae generate {' '.join(argv)}")
    out = generated.write_dataset(generated.dataset_files(images, labels, names, meta), args.out, args.overwrite)
    print(f"wrote {sum(counts)} images to {out} (read back as folder:{out})")


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a model as an ONNX folder: encoder.onnx, decoder.onnx, model.json")
    add_model_argument(p)
    p.add_argument("--onnx", required=True, metavar="OUT", help="the folder to write; open it in the app like any "
                   "model folder")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.store.onnx_export import export_onnx

    out = export_onnx(open_named_model(args), args.onnx)
    print(f"wrote {out}: " + ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in sorted(out.iterdir())))


def add_compress(sub: argparse._SubParsersAction) -> None:
    from vae.compression.compress import CHAINS, DEFAULT_PRECISION, MAX_K

    p = sub.add_parser("compress", help="code images with the model: lossless bits-back (BB-ANS), or lossy")
    add_model_argument(p)
    p.add_argument("--images", default="test", help="test (the model's test set, default) or folder:PATH (every "
                   "image of the folder, at the model's size and channels)")
    p.add_argument("--subset", type=int, help="the first N images only")
    p.add_argument("--data-root", help="where datasets live")
    p.add_argument("--lossy", type=int, metavar="PRECISION", help="code the latent means lossily at PRECISION bits "
                   "per latent dimension (default: lossless, on the images binarized with seed 0 as evaluate does)")
    p.add_argument("--precision", type=int, default=DEFAULT_PRECISION,
                   help="lossless: bits per latent dimension of the equal-prior-mass buckets")
    p.add_argument("--k", type=int, default=1, help=f"lossless: importance samples (1 = BB-ANS, up to {MAX_K}: "
                   "Monte Carlo bits-back, about -L_k)")
    p.add_argument("--chains", type=int, default=CHAINS, help="lossless: images coded side by side (recorded)")
    p.add_argument("--out", required=True, help="the compressed file")
    p.set_defaults(func=run_compress)


def codec_images(args: argparse.Namespace, ckpt: Checkpoint) -> ImageSet:
    """The images --images names, at the model's size and channels, the first --subset of them."""
    from vae.analysis.atlas import load_test_set
    from vae.datasets.data import load_dataset

    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset must be >= 1, got {args.subset}")
    if args.images == "test":
        if "dataset" not in ckpt.meta:
            raise CheckpointError(f"{ckpt.folder / CONFIG}: names no dataset, so its test images are unknown")
        data = load_test_set(ckpt.meta, args.data_root, near=ckpt.folder)
    elif args.images.startswith("folder:"):
        channels, height, width = ckpt.model.image_shape
        if height != width:
            raise ValueError(f"folder images are square; this model codes {height}x{width}")
        splits = [load_dataset(args.images, split, size=height, channels=channels,
                               levels=Levels.of(ckpt.meta)) for split in ("train", "test")]
        data = replace(splits[0], images=torch.cat([s.images for s in splits]),
                       labels=torch.cat([s.labels for s in splits]))
    else:
        raise ValueError(f"--images must be test or folder:PATH, got {args.images!r}")
    return data.subset(args.subset) if args.subset else data


def run_compress(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.compression import compress
    from vae.store.atomic import atomic_write
    from vae.store.checkpoint import weights_sha256

    ckpt = open_named_model(args)
    data = codec_images(args, ckpt)
    weights = weights_sha256(ckpt.folder)
    labels = data.labels if compress.classes(ckpt.model) else None
    if args.lossy is not None:
        blob = compress.compress_lossy(ckpt.model, weights, data.floats(), labels, args.lossy)
    else:
        blob = compress.compress_lossless(ckpt.model, weights, compress.binarized(data.floats()), labels,
                                          args.precision, args.k, args.chains)
    header, _ = compress.read_header(blob)
    atomic_write(Path(args.out), lambda path: Path(path).write_bytes(blob))
    pixels = len(data) * math.prod(header.shape)
    print(f"{header.describe}: {len(blob):,} bytes, {8 * len(blob) / pixels:.4f} bits per pixel "
          f"({compress.payload_bits(blob) / len(data):.1f} bits per image without the header)"
          f"{'' if args.lossy else '; round trip checked'}; wrote {args.out}")


def add_decompress(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decompress", help="decode a file made by compress into PNGs, one per image, in order")
    add_model_argument(p)
    p.add_argument("file", help="the compressed file")
    p.add_argument("--out", required=True, help="folder for the PNGs (00000.png, 00001.png, ...)")
    p.set_defaults(func=run_decompress)


def run_decompress(args: argparse.Namespace, argv: list[str]) -> None:
    from vae.compression import compress
    from vae.datasets.images import to_pil
    from vae.store.checkpoint import weights_sha256

    ckpt = open_named_model(args)
    blob = Path(args.file).read_bytes()
    try:
        decoded = compress.decompress(ckpt.model, weights_sha256(ckpt.folder), blob)
    except compress.CodecError as err:
        raise compress.CodecError(f"{args.file}: {err}") from err
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(decoded.images):
        to_pil(image).save(out / f"{i:05d}.png")
    print(f"{decoded.header.describe}: wrote {len(decoded.images)} PNGs to {out}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m vae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    add_evaluate(sub)
    add_atlas(sub)
    add_ood(sub)
    add_classifier(sub)
    add_generate(sub)
    add_export(sub)
    add_compress(sub)
    add_decompress(sub)
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
