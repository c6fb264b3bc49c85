"""Anomaly scores: how unusual a model finds each image. Higher is always more unusual.

- `neg_elbo`: -ELBO with the posterior mean for z (`vae.networks.objectives.negative_elbo_at_mean`), nats;
- `nll`: -log p(x) by importance sampling with k samples (`vae.networks.objectives.nll_importance_sampling`), nats;
- `recon`: the mean code's reconstruction error, mean squared error per pixel;
- `complexity`: -log2 p(x) minus the image's PNG length in bits (`vae.datasets.images.png_bits`): the likelihood
  corrected for how simple the image is (Serrà et al., ICLR 2020), bits;
- `knn`: mean distance from the image's latent mean to its KNN_K nearest training codes;
- `stats`: squared Mahalanobis distance of a few cheap per-image statistics (log reconstruction BCE and
  MSE, KL, log PNG bits) from their mean over training images (in the spirit of LPath's fitted statistics).

The deterministic members of the family (ae, wae) have no posterior, so no KL, ELBO, likelihood or
complexity score, and a decoder that outputs a `mean` image has no likelihood either (nor the
statistics' reconstruction BCE): `available` and `unavailable` say which scores a model has and why.

A conditional model is scored without being told the label: each image gets the class whose -ELBO at
the mean (the reconstruction BCE for ae and wae) is lowest, and every score uses that class, so
out-of-distribution images and test images are treated alike.

`knn` and `stats` need a `Reference` fitted on training images (`fit_reference`), stored beside the
checkpoint in `scores.safetensors` (reference codes, the statistics' mean and precision matrix) and
`scores.json` (settings, and the sha256 of the weights, so a stale fit is detected).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vae.datasets.images import png_bits
from vae.datasets.imageset import ImageSet
from vae.models.interface import Model, as_model
from vae.models.ours import Ours
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.networks.objectives import kl_per_dim, nll_importance_sampling, reconstruction_nll
from vae.store.checkpoint import CheckpointError, read_tensors, weights_sha256, write_json, write_tensors

REFERENCE_TENSORS = "scores.safetensors"
REFERENCE_META = "scores.json"
NLL_K = 16  # importance samples of the nll score: 20-30 ms per image on one CPU thread (bench/score_cost.py)
NLL_BATCH = 16  # images per importance-sampling step (NLL_BATCH x k decodes)
KNN_K = 5
KNN_CODES = 4096  # training codes kept for knn, stored as float16: 128 KB at latent size 16
FIT_IMAGES = 10_000  # training images the statistics are fitted on
BATCH = 500

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Score:
    title: str
    unit: str
    about: str
    needs_posterior: bool = False
    needs_reference: bool = False


SCORES: dict[str, Score] = {
    "neg_elbo": Score("−ELBO", "nats", "−log p(x | μ) + KL(q(z|x) ‖ p(z)) with the posterior mean for z: "
                      "one encoder and one decoder pass.", needs_posterior=True),
    "nll": Score("−log p(x)", "nats", "the likelihood by importance sampling with k samples from q(z|x).",
                 needs_posterior=True),
    "recon": Score("Reconstruction error", "MSE per pixel", "how badly the mean code's reconstruction matches."),
    "complexity": Score("Complexity-corrected likelihood", "bits", "−log₂ p(x) minus the image's PNG length in "
                        "bits: simple images are not taken for typical ones (Serrà et al., 2020).",
                        needs_posterior=True),
    "knn": Score("Distance to training codes", "latent units", f"mean distance of the latent mean to its {KNN_K} "
                 "nearest training codes.", needs_reference=True),
    "stats": Score("Unusual statistics", "Mahalanobis²", "how far a few cheap statistics of the image (log "
                   "reconstruction BCE and MSE, KL where the model has a posterior, log PNG bits) lie from those of "
                   "training images.",
                   needs_reference=True),
}


class ScoresError(RuntimeError):
    """A stored reference fit is corrupt or does not fit the model."""


Described = Model | VAE | ModelConfig  # a ModelConfig describes one of our VAEs well enough here


def _lacks(model: Described) -> tuple[str | None, str | None]:
    """Why the model has no posterior q(z|x), and why no likelihood (each None when it has them)."""
    if isinstance(model, ModelConfig):
        return (None if model.stochastic else model.objective), None
    model = as_model(model)
    name = model.config.objective if isinstance(model, Ours) else model.kind
    return (None if model.posterior else name), model.likelihood


def available(model: Described) -> list[str]:
    """The scores a model has, in SCORES order."""
    return [name for name, score in SCORES.items() if not score.needs_posterior or _lacks(model) == (None, None)]


def unavailable(model: Described) -> dict[str, str]:
    """The scores a model lacks, each with why, in a sentence."""
    no_posterior, no_likelihood = _lacks(model)
    why = (f"an {no_posterior} has no posterior q(z|x), so no KL, ELBO or likelihood" if no_posterior
           else f"{no_likelihood}, so no ELBO or likelihood")
    return {name: why for name in SCORES if name not in available(model)}


def statistic_names(model: Described) -> list[str]:
    """The per-image statistics the `stats` score compares."""
    no_posterior, no_likelihood = _lacks(model)
    return [*(["log_recon_bce"] if no_likelihood is None else []), "log_recon_mse",
            *(["kl"] if no_posterior is None else []), "log_png_bits"]


@dataclass
class Reference:
    """What `knn` and `stats` compare an image with: training codes, and the statistics' mean and precision."""

    codes: Tensor  # (M, D)
    mean: Tensor  # (F,) float64
    precision: Tensor  # (F, F) float64, the inverse covariance
    meta: dict[str, Any] = field(default_factory=dict)
    stale: bool = False


@dataclass
class _Pass:
    """One encoder and decoder pass over a batch with the mean code, and the terms the scores share."""

    x: Tensor
    y: Tensor | None
    mu: Tensor
    logvar: Tensor
    bce: Tensor | None  # -log p(x | mu), summed over pixels; None without a likelihood
    mse: Tensor  # per pixel
    kl: Tensor | None


def _mean_pass(model: Model, x: Tensor, y: Tensor | None) -> _Pass:
    mu, logvar = model.encode(x, y)
    out = model.decode(mu, y)
    mse = (model.to_image(out) - x).pow(2).flatten(1).mean(1)
    kl = None if logvar is None else kl_per_dim(mu, logvar).sum(1)
    bce = None if model.likelihood else reconstruction_nll(model.to_logits(out), x)
    return _Pass(x, y, mu, logvar, bce, mse, kl)


def _fit_of(p: _Pass) -> Tensor:
    """What picks a conditional model's class: -ELBO at the mean, or the reconstruction BCE without a posterior
    (the reconstruction MSE without a likelihood)."""
    if p.bce is None:
        return p.mse
    return p.bce if p.kl is None else p.bce + p.kl


def _labelled_pass(model: Model, x: Tensor) -> _Pass:
    """The mean-code pass, with each image's best-fitting class for a conditional model."""
    if not model.conditional:
        return _mean_pass(model, x, None)
    fits = torch.stack([
        _fit_of(_mean_pass(model, x, torch.full((len(x),), c, dtype=torch.long, device=x.device)))
        for c in range(model.num_classes)
    ])
    return _mean_pass(model, x, fits.argmin(0))


@torch.no_grad()
def best_fit(model: Model | VAE, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """Latent means of images as the scores see them, with each image's best-fitting class (None when
    unconditional): what their reconstructions and places on the map are drawn from. On the CPU."""
    model = as_model(model)
    p = _labelled_pass(model, x.to(model.device, torch.float32))
    return p.mu.cpu(), None if p.y is None else p.y.cpu()


def percentile(values: Tensor, value: float) -> float:
    """The share of `values` at or below `value`, in percent: 99 means only 1 % of them score higher."""
    return 100.0 * float((values <= value).float().mean()) if len(values) else float("nan")


def _statistics(p: _Pass, png: Tensor) -> Tensor:
    """(B, F) float64 statistics, in statistic_names order."""
    columns = [] if p.bce is None else [p.bce.clamp_min(1e-12).log()]
    columns.append(p.mse.clamp_min(1e-12).log())
    if p.kl is not None:
        columns.append(p.kl)
    columns.append(png.to(p.mse.device).clamp_min(1).log())
    return torch.stack(columns, dim=1).double()


def _nll(model: Model, x: Tensor, y: Tensor | None, k: int) -> Tensor:
    parts = []
    for start in range(0, len(x), NLL_BATCH):
        sl = slice(start, start + NLL_BATCH)
        parts.append(nll_importance_sampling(model, x[sl], k, None if y is None else y[sl], chunk=k))
    return torch.cat(parts)


@torch.no_grad()
def score_images(
    model: Model | VAE, x: Tensor, reference: Reference | None = None, names: Sequence[str] | None = None,
    k: int = NLL_K,
) -> dict[str, Tensor]:
    """Scores of a batch of images (B, C, H, W) in [0, 1]: name -> (B,) on the CPU.

    `names` defaults to every score the model has, less those that need a reference when none is given;
    asking for one the model lacks, or one that needs a missing reference, raises ValueError.
    """
    model = as_model(model)
    has = available(model)
    if names is None:
        names = [n for n in has if reference is not None or not SCORES[n].needs_reference]
    lacking = unavailable(model)
    problems = [f"{n} ({lacking[n]})" if n in lacking else f"{n} (unknown)" for n in names if n not in has]
    if problems:
        raise ValueError(f"no such score for this model: {', '.join(problems)}")
    if reference is None and any(SCORES[n].needs_reference for n in names):
        raise ValueError("knn and stats need a reference fitted on training images (fit_reference)")
    device = model.device
    x = x.to(device, torch.float32)
    p = _labelled_pass(model, x)
    png = png_bits(x) if {"complexity", "stats"} & set(names) else None
    out: dict[str, Tensor] = {}
    if "neg_elbo" in names:
        out["neg_elbo"] = p.bce + p.kl
    if "nll" in names or "complexity" in names:
        nll = _nll(model, x, p.y, k)
        if "nll" in names:
            out["nll"] = nll
        if "complexity" in names:
            out["complexity"] = nll / math.log(2) - png.to(device)
    if "recon" in names:
        out["recon"] = p.mse
    if "knn" in names:
        dist = torch.cdist(p.mu, reference.codes.to(device))
        out["knn"] = dist.topk(min(KNN_K, dist.shape[1]), dim=1, largest=False).values.mean(1)
    if "stats" in names:
        centred = _statistics(p, png) - reference.mean.to(device)
        out["stats"] = ((centred @ reference.precision.to(device)) * centred).sum(1)
    return {n: out[n].float().cpu() for n in names}


def score_set(
    model: Model | VAE,
    data: ImageSet,
    reference: Reference | None = None,
    names: Sequence[str] | None = None,
    k: int = NLL_K,
    progress: Progress | None = None,
) -> dict[str, Tensor]:
    """score_images over a whole image set, in batches (its labels are not used: see the module docstring)."""
    model = as_model(model)
    parts: list[dict[str, Tensor]] = []
    for start in range(0, len(data), BATCH):
        parts.append(score_images(model, data.floats(slice(start, start + BATCH)), reference, names, k))
        if progress:
            done = min(len(data), start + BATCH)
            progress(done / len(data), f"Scoring {data.name}: {done:,} of {len(data):,} images")
    if not parts:
        raise ValueError(f"{data.name}: no images to score")
    return {n: torch.cat([part[n] for part in parts]) for n in parts[0]}


@torch.no_grad()
def fit_reference(
    model: Model | VAE,
    train: ImageSet,
    n: int = FIT_IMAGES,
    codes: int = KNN_CODES,
    seed: int = 0,
    progress: Progress | None = None,
) -> Reference:
    """Training codes for knn and the statistics' mean and precision for stats, from n random training images."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    if len(order) < 2:
        raise ValueError(f"{train.name}: fitting the scores needs at least 2 training images, got {len(order)}")
    model = as_model(model)
    device = model.device
    mus, stats = [], []
    for start in range(0, len(order), BATCH):
        x = train.floats(order[start:start + BATCH]).to(device)
        p = _labelled_pass(model, x)
        mus.append(p.mu.cpu())
        stats.append(_statistics(p, png_bits(x)).cpu())
        if progress:
            done = min(len(order), start + BATCH)
            progress(done / len(order), f"Fitting the scores on training images: {done:,} of {len(order):,}")
    features = torch.cat(stats)
    meta = {
        "dataset": train.name, "split": "train", "images": len(order), "seed": seed,
        "knn": {"codes": min(codes, len(order)), "k": KNN_K}, "stats": statistic_names(model),
    }
    # pinv: a statistic that is constant over the fit (possible for tiny models) must not break the inverse
    precision = torch.linalg.pinv(torch.cov(features.T).reshape(features.shape[1], -1))
    kept = torch.cat(mus)[:codes].half().float()  # as stored, so scores from a loaded fit are the same
    return Reference(kept, features.mean(0), precision, meta)


def save_reference(folder: str | os.PathLike, reference: Reference) -> None:
    """Write the tensors, then the JSON (with the weights' sha256), each atomically."""
    folder = Path(folder)
    tensors = {"knn.codes": reference.codes.half(), "stats.mean": reference.mean,
               "stats.precision": reference.precision}
    write_tensors(folder / REFERENCE_TENSORS, tensors)
    write_json(folder / REFERENCE_META, {**reference.meta, "weights_sha256": weights_sha256(folder)})


def load_reference(folder: str | os.PathLike, model: Described) -> Reference | None:
    """The stored reference fit, None when there is none; `stale` when the weights changed since the fit."""
    folder = Path(folder)
    tensors_path, meta_path = folder / REFERENCE_TENSORS, folder / REFERENCE_META
    if not tensors_path.is_file() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        t = read_tensors(tensors_path)
    except (json.JSONDecodeError, UnicodeDecodeError, CheckpointError) as err:
        raise ScoresError(f"{folder}: unreadable score fit ({err})") from err
    f = len(statistic_names(model))
    latent_dim = model.latent_dim if isinstance(model, ModelConfig) else as_model(model).latent_dim
    try:
        codes, mean, precision = t["knn.codes"].float(), t["stats.mean"].double(), t["stats.precision"].double()
    except KeyError as err:
        raise ScoresError(f"{tensors_path}: incomplete score fit (missing {err})") from err
    if codes.ndim != 2 or codes.shape[1] != latent_dim or mean.shape != (f,) or precision.shape != (f, f):
        raise ScoresError(f"{tensors_path}: does not fit this model; refit it with `python -m vae atlas {folder}`")
    try:
        stale = not isinstance(meta, dict) or meta.get("weights_sha256") != weights_sha256(folder)
    except OSError:
        stale = True
    return Reference(codes, mean, precision, meta if isinstance(meta, dict) else {}, stale)
