"""Out-of-distribution benchmarks: a model's test set against other images, per anomaly score.

`python -m vae ood CHECKPOINT --against SET [SET ...]`. A SET is `mnist`, `fashion-mnist` (their test
splits), `folder:PATH` (every image in the folder, at the model's size and channels), or a shift of
the model's own test set (SHIFTS: each test image flipped, inverted, noised, or replaced by a flat
image). The test images are the negatives and the other set's the positives, so for every score
(vae.analysis.scores, higher is more unusual) AUROC 1 means every outside image scored above every test image.

Results go into config.json under `ood`, one entry per set (newer runs replace a set's entry and keep
the others); the ROC curves, sampled at FPR_GRID, into `roc.json`, and a picture of them into `roc.png`.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vae.analysis.roc_plot import save_roc_plot
from vae.analysis.scores import NLL_K, Progress, Reference, score_set
from vae.datasets.data import load_dataset
from vae.datasets.imageset import ImageSet
from vae.datasets.levels import Levels
from vae.store.checkpoint import Checkpoint, atomic_write, read_meta, update_meta, weights_sha256

ROC_JSON = "roc.json"
ROC_PNG = "roc.png"
NOISE_SIGMA = 0.2  # of the intensity range
SEED = 0
TPR_TARGET = 0.95
FPR_GRID = np.concatenate([[0.0], np.geomspace(1e-4, 1.0, 80)])  # fine near 0, where good scores live
ROUND = 6


def _noise(images: Tensor, gen: torch.Generator) -> Tensor:
    noisy = images.float() + 255 * NOISE_SIGMA * torch.randn(images.shape, generator=gen)
    return noisy.round().clamp(0, 255).to(torch.uint8)


def _constant(images: Tensor, gen: torch.Generator) -> Tensor:
    levels = torch.randint(0, 256, (len(images), 1, 1, 1), generator=gen, dtype=torch.uint8)
    return levels.expand_as(images).contiguous()


SHIFTS: dict[str, tuple[str, Callable[[Tensor, torch.Generator], Tensor]]] = {
    "hflip": ("flipped left to right", lambda x, _: x.flip(-1)),
    "vflip": ("flipped upside down", lambda x, _: x.flip(-2)),
    "invert": ("inverted intensities", lambda x, _: 255 - x),
    "noise": (f"plus Gaussian noise (sigma {NOISE_SIGMA:g} of the range)", _noise),
    "constant": ("each replaced by a flat image of a random grey", _constant),
}


def shifted(test: ImageSet, name: str) -> ImageSet:
    """The test set under one of SHIFTS, as 8-bit images (seeded: the same every time)."""
    _, shift = SHIFTS[name]
    images = shift(test.images, torch.Generator().manual_seed(SEED))
    return ImageSet(f"{test.name} {name}", images, test.labels, test.class_names)


def against_set(name: str, test: ImageSet, meta: dict[str, Any], root: str | os.PathLike | None = None) -> ImageSet:
    """The images one --against SET names (see the module docstring), checked against the model's shape."""
    if name in SHIFTS:
        return shifted(test, name)
    if name == meta.get("dataset"):
        raise ValueError(f"{name} is the model's own dataset; pick another set, or a shift: {', '.join(SHIFTS)}")
    if name.startswith("folder:"):
        channels, size, _ = test.image_shape  # folder images are made square, at the model's size
        parts = [load_dataset(name, split, root, size, channels, Levels.of(meta)) for split in ("train", "test")]
        data = ImageSet(name, torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]), [],
                        notes=list(dict.fromkeys(parts[0].notes + parts[1].notes)))
    elif name in ("mnist", "fashion-mnist"):
        data = load_dataset(name, "test", root)
    else:
        raise ValueError(f"unknown set {name!r}: use mnist, fashion-mnist, folder:PATH or one of {', '.join(SHIFTS)}")
    if data.image_shape != test.image_shape:
        raise ValueError(f"{name}: its images are {'x'.join(map(str, data.image_shape))}, the model takes "
                         f"{'x'.join(map(str, test.image_shape))}")
    return data


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores with NaN and +inf counted as more unusual than any finite score, -inf as less."""
    finite = np.isfinite(scores)
    if finite.all():
        return scores
    low, high = (scores[finite].min() - 1, scores[finite].max() + 1) if finite.any() else (0.0, 1.0)
    return np.where(finite, scores, np.where(scores == -np.inf, low, high))


def separation(inside: Tensor, outside: Tensor) -> tuple[dict[str, float], dict[str, list[float]]]:
    """AUROC, AUPRC (outside images are the positives) and FPR at 95 % TPR; and the ROC curve on FPR_GRID."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve  # a second to import

    truth = np.concatenate([np.zeros(len(inside)), np.ones(len(outside))])
    scores = _finite(torch.cat([inside, outside]).double().numpy())
    fpr, tpr, _ = roc_curve(truth, scores)
    metrics = {
        "auroc": float(roc_auc_score(truth, scores)),
        "auprc": float(average_precision_score(truth, scores)),
        "fpr95": float(fpr[np.argmax(tpr >= TPR_TARGET)]),
    }
    best_tpr = tpr[np.searchsorted(fpr, FPR_GRID, side="right") - 1]  # the highest TPR at each FPR or below
    curve = {"fpr": [round(float(f), ROUND) for f in FPR_GRID], "tpr": [round(float(t), 4) for t in best_tpr]}
    return {k: round(v, ROUND) for k, v in metrics.items()}, curve


@dataclass
class Benchmark:
    """Per set: its entry for config.json's `ood` and its ROC curves (score name -> fpr and tpr lists)."""

    results: dict[str, dict[str, Any]]
    curves: dict[str, dict[str, dict[str, list[float]]]]


def benchmark(
    ckpt: Checkpoint,
    test: ImageSet,
    against: dict[str, ImageSet],
    reference: Reference | None,
    k: int = NLL_K,
    command: str = "",
    progress: Progress | None = None,
) -> Benchmark:
    """Score the test set and each other set with every score the model has, and compare them."""
    model = ckpt.model
    inside = score_set(model, test, reference, k=k, progress=progress)
    base = {
        "date": datetime.date.today().isoformat(), "command": command, "test_images": len(test),
        "nll_k": k, "weights_sha256": weights_sha256(ckpt.folder),
    }
    results, curves = {}, {}
    for name, data in against.items():
        outside = score_set(model, data, reference, k=k, progress=progress)
        pairs = {score: separation(inside[score], outside[score]) for score in inside}
        about = SHIFTS[name][0] if name in SHIFTS else f"the {data.name} images"
        results[name] = {**base, "images": len(data), "about": about,
                         "scores": {score: metrics for score, (metrics, _) in pairs.items()}}
        curves[name] = {score: curve for score, (_, curve) in pairs.items()}
    return Benchmark(results, curves)


def load_curves(folder: str | os.PathLike) -> dict[str, dict[str, dict[str, list[float]]]]:
    """The stored ROC curves (set -> score -> fpr, tpr), empty when there are none or the file is unreadable."""
    try:
        curves = json.loads((Path(folder) / ROC_JSON).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return curves if isinstance(curves, dict) else {}


def save_benchmark(folder: str | os.PathLike, bench: Benchmark) -> dict[str, Any]:
    """Merge the results into config.json's `ood` and roc.json (a set's new entry replaces its old one), and
    redraw roc.png from all stored curves; returns the merged `ood`."""
    folder = Path(folder)
    stored = read_meta(folder).get("ood")
    ood = {**(stored if isinstance(stored, dict) else {}), **bench.results}
    curves = {**load_curves(folder), **bench.curves}
    atomic_write(folder / ROC_JSON, lambda tmp: Path(tmp).write_text(json.dumps(curves, separators=(",", ":"))))
    update_meta(folder, ood=ood)
    save_roc_plot(folder / ROC_PNG, {name: curves[name] for name in ood if name in curves},
                  {name: {s: m["auroc"] for s, m in entry.get("scores", {}).items()} for name, entry in ood.items()})
    return ood


def format_results(results: dict[str, dict[str, Any]], titles: dict[str, str]) -> str:
    """One aligned table per set, for people (the JSON in config.json is for programs)."""
    blocks = []
    for name, entry in results.items():
        width = max(len(titles.get(s, s)) for s in entry["scores"])
        lines = [f"test set ({entry['test_images']:,}) against {name} ({entry['images']:,}: {entry['about']}), "
                 f"nll k = {entry['nll_k']}",
                 f"{'score':<{width}}  {'AUROC':>7}  {'AUPRC':>7}  {'FPR@95%TPR':>10}"]
        for score, m in entry["scores"].items():
            title = titles.get(score, score)
            lines.append(f"{title:<{width}}  {m['auroc']:7.4f}  {m['auprc']:7.4f}  {m['fpr95']:10.4f}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)

