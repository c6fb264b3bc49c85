"""Evaluation of a trained VAE on a test set, in nats per image.

- continuous test loss: BCE against [0, 1] intensities + KL, one sample (the classic
  PyTorch example's convention);
- binarized NLL: -log p(x) of the test set binarized once with a fixed seed, by
  importance sampling with k samples;
- active units (Burda et al.: Cov_x(E_q[z_d]) > 0.01), KL per dimension, reconstruction MSE;
- rate (the mean KL) and distortion (the mean reconstruction term), the two sides of the ELBO;
- with a measuring classifier for the dataset (vae.networks.classifier): the Fréchet distance between its
  features of the test images and of as many prior samples, and its mean confidence on the samples.

A number that does not exist for a kind of model (an autoencoder has no posterior, so no KL,
ELBO or likelihood) is left out and named in `not_defined` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vae.datasets.data import batches, binarize
from vae.datasets.images import save_grid
from vae.datasets.imageset import ImageSet
from vae.models.interface import Model, as_model
from vae.models.ours import objective_of
from vae.networks.classifier import Instrument, sample_quality
from vae.networks.latent import decode, sample_prior
from vae.networks.model import VAE
from vae.networks.objectives import imq_mmd, iwae_bound, kl_per_dim, nll_importance_sampling, reconstruction_nll
from vae.store.checkpoint import Checkpoint, update_meta

ACTIVE_UNIT_THRESHOLD = 0.01
BINARIZE_SEED = 0
SAMPLES_PNG = "samples.png"
SAMPLE_SEED = 0  # prior samples for the Fréchet distance: the same codes for every model of a latent size
NO_POSTERIOR = {
    "ae": "a plain autoencoder encodes each image to one point, with no distribution q(z|x)",
    "wae": "a WAE's encoder is deterministic: it matches the prior with the codes of many images, not with a q(z|x)",
}


def _check_not_empty(data: ImageSet) -> None:
    if len(data) == 0:
        raise ValueError(f"{data.name}: no test images to evaluate on")


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the global RNGs for a block, restoring them after, so callers' random streams are untouched."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def continuous_test_loss(model: Model | VAE, data: ImageSet, batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean BCE (vs intensities) + KL over the set, with one seeded sample per image.

    For the deterministic members there is no KL: an ae's loss is the BCE of its mean code, a wae's
    adds mmd_weight x the MMD between each batch's codes and as many prior samples ("mmd", the mean over batches).
    """
    _check_not_empty(data)
    model = as_model(model)
    wae = objective_of(model) == "wae"
    recon = kl = mmd = 0.0
    with _seeded(seed, model.device):
        for x, y in batches(data, batch_size):
            x = x.to(model.device)
            mu, logvar = model.encode(x, y)
            z = mu if logvar is None else mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            recon += reconstruction_nll(model.logits(z, y), x).sum().item()
            if logvar is not None:
                kl += kl_per_dim(mu, logvar).sum().item()
            elif wae:
                mmd += imq_mmd(mu, torch.randn_like(mu)).item() * len(x)
    n = len(data)
    if model.posterior:
        return {"loss": (recon + kl) / n, "recon": recon / n, "kl": kl / n}
    if wae:
        return {"loss": (recon + model.config.mmd_weight * mmd) / n, "recon": recon / n, "mmd": mmd / n}
    return {"loss": recon / n, "recon": recon / n}


@torch.no_grad()
def continuous_iwae_loss(model: Model | VAE, data: ImageSet, k: int, batch_size: int = 500, seed: int = 0) -> float:
    """Mean -L_k (the IWAE bound with k seeded samples) against [0, 1] intensities: what IWAE training lowers."""
    _check_not_empty(data)
    model = as_model(model)
    total = 0.0
    with _seeded(seed, model.device):
        for x, y in batches(data, batch_size):
            total -= iwae_bound(model, x.to(model.device), k, y).sum().item()
    return total / len(data)


@torch.no_grad()
def binarized_nll(
    model: Model | VAE, data: ImageSet, k: int = 1000, batch_size: int | None = None, seed: int = BINARIZE_SEED
) -> float:
    """Mean -log p(x) over the set binarized once with `seed`, by k-sample importance sampling.

    Each step decodes batch_size x 250 samples. On a CPU the default batch is 2: a few MB per tensor,
    which the allocator reuses; 100 images per batch made tensors of over a GB that were mapped and
    unmapped on every step and took twice as long. On a GPU the default is 100.
    """
    _check_not_empty(data)
    model = as_model(model)
    batch_size = batch_size or (2 if model.device.type == "cpu" else 100)
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    with _seeded(seed, model.device):
        for x, y in batches(data, batch_size):
            xb = binarize(x, "dynamic", gen).to(model.device)
            total += nll_importance_sampling(model, xb, k, y).sum().item()
    return total / len(data)


@torch.no_grad()
def latent_statistics(model: Model | VAE, data: ImageSet, batch_size: int = 1000) -> dict[str, Any]:
    """Active units, mean KL per dimension (with a posterior only) and reconstruction MSE (of the mean code)."""
    _check_not_empty(data)
    model = as_model(model)
    mus, kls, sq_err = [], [], 0.0
    for x, y in batches(data, batch_size):
        x, labels = x.to(model.device), y
        mu, logvar = model.encode(x, labels)
        mus.append(mu.cpu())
        if logvar is not None:
            kls.append(kl_per_dim(mu, logvar).sum(0).cpu())
        sq_err += (model.image(mu, labels) - x).pow(2).sum().item()
    mu = torch.cat(mus)
    variance = mu.var(dim=0)
    stats: dict[str, Any] = {
        "active_units": int((variance > ACTIVE_UNIT_THRESHOLD).sum()),
        "latent_variance": [round(v, 5) for v in variance.tolist()],
        "recon_mse": sq_err / data.images[0].numel() / len(data),
    }
    if kls:
        stats["kl_per_dim"] = [round(v, 5) for v in (torch.stack(kls).sum(0) / len(data)).tolist()]
    return stats


def no_posterior(model: Model) -> str | None:
    """Why the model has no posterior q(z|x), or None when it has one."""
    if model.posterior:
        return None
    return NO_POSTERIOR.get(objective_of(model) or "", "its encoder gives each image one code, with no "
                            "distribution q(z|x)")


def not_defined(model: Model | VAE) -> dict[str, str]:
    """The metrics that do not exist for this model, each with the reason."""
    model = as_model(model)
    missing: dict[str, str] = {}
    if why := model.likelihood:
        missing |= {
            "nll_binarized": f"{why}, so there is no likelihood to estimate",
            "continuous_test_loss": f"{why}, so there is no reconstruction term and no ELBO",
            "distortion": f"{why}: the distortion is the reconstruction's negative log-likelihood",
        }
    if why := no_posterior(model):
        missing = {
            "nll_binarized": f"{why}, so there is nothing to importance-sample: no likelihood",
            "continuous_test_loss": f"{why}, so there is no KL term and no ELBO",
            **missing,
            "rate": f"{why}: the rate is KL(q(z|x) || p(z)), and there is no q(z|x)",
            "kl_per_dim": f"{why}: no KL per dimension",
        }
    return missing


@torch.no_grad()
def prior_samples(model: Model | VAE, n: int, labels: Tensor | None = None, seed: int = SAMPLE_SEED) -> Tensor:
    """n images decoded from N(0, I) codes with a fixed seed; a conditional model gets `labels`
    (by default the classes in turn). The standard normal is the prior of every member, an ae's included."""
    model = as_model(model)
    if model.conditional and labels is None:
        labels = torch.arange(n) % model.num_classes
    return decode(model, sample_prior(n, model.latent_dim, seed=seed), labels)


def evaluate(
    ckpt: Checkpoint, data: ImageSet, k: int | None = 1000, save: bool = True, instrument: Instrument | None = None
) -> dict[str, Any]:
    """All metrics for a model (any source); with save, stored in its metadata with a samples PNG.

    With an instrument (a classifier of the dataset), also the samples' Fréchet distance and confidence.
    k None skips the importance-sampled NLL (the slow part) and keeps the one stored, if it was measured
    on the same test images. What the model cannot give is named in `not_defined` with the reason.
    """
    started = time.perf_counter()
    model = as_model(ckpt.model, ckpt.class_names)
    metrics: dict[str, Any] = {"test_images": len(data), "dataset": data.name,
                               "objective": objective_of(model) or model.source}
    missing = not_defined(model)
    if "distortion" not in missing:
        loss = continuous_test_loss(model, data)
        metrics["distortion"] = loss["recon"]
        if model.posterior:
            metrics["continuous_test_loss"] = loss["loss"]
            metrics["rate"] = loss["kl"]
    metrics.update(latent_statistics(model, data))
    likelihood = "nll_binarized" not in missing
    if likelihood and k is not None:
        metrics["nll_binarized"] = binarized_nll(model, data, k)
        metrics["nll_k"] = k
    elif likelihood:
        before = ckpt.meta.get("metrics") or {}
        if before.get("test_images") == len(data) and before.get("dataset") == data.name:
            metrics.update({key: before[key] for key in ("nll_binarized", "nll_k") if key in before})
    if instrument is not None:
        samples = prior_samples(model, len(data))
        metrics.update(sample_quality(instrument, data.floats(), samples))
        metrics["quality_samples"] = len(data)
        metrics["classifier"] = str(instrument.folder.name)
    metrics["not_defined"] = missing
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    if save:
        save_samples_png(model, data, ckpt.folder / SAMPLES_PNG)
        update_meta(ckpt.folder, metrics=metrics)
    return metrics


def format_metrics(metrics: dict[str, Any]) -> str:
    """The metrics as an aligned two-column text table, for people (the JSON is for programs)."""
    kl_dims = metrics.get("kl_per_dim", [])
    units = len(metrics.get("latent_variance", kl_dims))
    rows = [("test images", f"{metrics['test_images']} ({metrics['dataset']})")]
    if "continuous_test_loss" in metrics:
        loss = metrics["continuous_test_loss"]
        rows.append(("continuous test loss", f"{loss:.2f} nats (BCE vs intensities + KL, 1 sample)"))
    if "nll_binarized" in metrics:
        nll = metrics["nll_binarized"]
        rows.append((f"binarized NLL, k={metrics['nll_k']}", f"{nll:.2f} nats (importance sampling)"))
    if "rate" in metrics:
        rows.append(("rate", f"{metrics['rate']:.2f} nats (KL)"))
    if "distortion" in metrics:
        rows.append(("distortion", f"{metrics['distortion']:.2f} nats (reconstruction BCE vs intensities)"))
    rows.append(("active units", f"{metrics['active_units']} of {units} (Cov_x E[z] > {ACTIVE_UNIT_THRESHOLD})"))
    if kl_dims:
        rows.append(("KL per dimension", " ".join(f"{v:.2f}" for v in kl_dims)))
    rows.append(("reconstruction MSE", f"{metrics['recon_mse']:.5f} per pixel (mean code)"))
    if "fid" in metrics:
        rows.append(("sample FID", f"{metrics['fid']:.2f} ({metrics['classifier']} classifier's features, "
                                   f"{metrics['quality_samples']} prior samples)"))
        rows.append(("sample confidence", f"{metrics['confidence']:.4f} (mean top-class probability)"))
    rows += [(name, f"not defined: {why}") for name, why in metrics.get("not_defined", {}).items()]
    rows.append(("seconds", f"{metrics['seconds']}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def save_samples_png(model: Model | VAE, data: ImageSet, path: Path, n: int = 8) -> None:
    """Three rows of n: test images, their reconstructions, and prior samples."""
    model = as_model(model)
    x, y = data.floats(slice(0, n)), data.labels[:n]
    with torch.no_grad():
        mu, _ = model.encode(x, y)
    recon = decode(model, mu, y)
    samples = prior_samples(model, n, y)
    save_grid(torch.cat([x, recon, samples]), path, ncol=n)
