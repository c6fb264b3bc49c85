"""Objectives and likelihood estimates, all in nats per image.

The reconstruction term is Bernoulli: binary cross-entropy of the decoder's logits
summed over pixels. Against [0, 1] intensities this is the "continuous" loss of the
classic PyTorch example; against binarized images it is a true log-likelihood.

The family: a VAE minimizes the negative ELBO (beta weighs the KL; Higgins et al., 2017),
or the IWAE bound; a plain autoencoder the reconstruction term alone; a Wasserstein
autoencoder (WAE-MMD, Tolstikhin et al., 2018) the reconstruction term plus lambda x the MMD
between the batch's codes and as many prior samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vae.models.interface import Model, NotAvailable, as_model
from vae.networks.model import VAE

LOG_2PI = math.log(2 * math.pi)


def reconstruction_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log p(x|z) per image, summed over pixels: shape (B,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """Analytic KL(q(z|x) || N(0, I)) per latent dimension: shape (B, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def free_bits_kl(kl_dims: Tensor, free_bits: float) -> Tensor:
    """KL summed over dimensions, each dimension's batch mean held at >= free_bits nats.

    Dimensions below the floor get no gradient, so the encoder is not pushed to
    collapse them (Kingma et al., 2016). With free_bits=0 this is the plain KL.
    """
    if free_bits <= 0:
        return kl_dims.sum(1)
    per_dim = kl_dims.mean(0)
    return torch.clamp(per_dim, min=free_bits).sum().expand(kl_dims.shape[0])


IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass
class Loss:
    """One batch's objective and its parts, each averaged over the batch.

    kl is None for the deterministic members (ae, wae): they have no posterior to measure.
    """

    loss: Tensor  # what the optimizer minimizes
    recon: Tensor
    kl: Tensor | None
    mmd: Tensor | None = None

    @property
    def elbo(self) -> Tensor:
        return -(self.recon + self.kl)


def negative_elbo(
    model: VAE, x: Tensor, y: Tensor | None = None, *, beta: float | None = None, free_bits: float = 0.0
) -> Loss:
    """Reconstruction NLL + beta * KL with one reparameterized sample."""
    beta = model.cfg.beta if beta is None else beta
    logits, mu, logvar = model(x, y)
    recon = reconstruction_nll(logits, x)
    kl_dims = kl_per_dim(mu, logvar)
    kl = kl_dims.sum(1)
    loss = recon + beta * free_bits_kl(kl_dims, free_bits)
    return Loss(loss=loss.mean(), recon=recon.mean(), kl=kl.mean())


def negative_elbo_at_mean(model: Model | VAE, x: Tensor, y: Tensor | None = None) -> Tensor:
    """-ELBO per image with the posterior mean in place of a sample: -log p(x | mu) + KL(q(z|x) || p(z)).

    Deterministic, one encoder and one decoder pass: a cheap anomaly score that the browser can compute
    too (it runs the same two networks). Shape (B,). Defined for a vae only (the others have no KL).
    """
    model = as_model(model)
    mu, logvar = model.encode(x, y)
    if logvar is None:
        raise NotAvailable(f"an {model.kind} has no posterior q(z|x), so no ELBO")
    return reconstruction_nll(model.logits(mu, y), x) + kl_per_dim(mu, logvar).sum(1)


def reconstruction_error_at_mean(model: Model | VAE, x: Tensor, y: Tensor | None = None) -> Tensor:
    """Per-pixel mean squared error between x and the decoded mean of its posterior mean: shape (B,).

    What the atlas stores as `recon_error`, and the anomaly score of the models without an ELBO (ae, wae).
    """
    model = as_model(model)
    mu, _ = model.encode(x, y)
    return (model.image(mu, y) - x.to(mu.device)).pow(2).flatten(1).mean(1)


def autoencoder_loss(model: VAE, x: Tensor, y: Tensor | None = None) -> Loss:
    """A plain autoencoder's loss: the reconstruction NLL of the mean code, nothing else."""
    logits, _, _ = model(x, y)
    recon = reconstruction_nll(logits, x).mean()
    return Loss(loss=recon, recon=recon, kl=None)


def imq_mmd(z: Tensor, prior: Tensor, scales: tuple[float, ...] = IMQ_SCALES) -> Tensor:
    """Squared MMD between two samples with the inverse multiquadratic kernel C / (C + |a - b|^2).

    The kernel is summed over C = 2 * D * s for each scale s, as in the WAE paper's experiments
    (2D is the expected squared distance between two prior samples). This is the biased
    (V-statistic) estimate: exactly zero for identical samples, never negative.
    """
    c = 2.0 * z.shape[1] * torch.tensor(scales, dtype=z.dtype, device=z.device).view(-1, 1, 1)

    def kernel_mean(a: Tensor, b: Tensor) -> Tensor:
        # squared distances written out: differentiable at zero distance, where cdist's gradient is not
        sq = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min(0)
        return (c / (c + sq.unsqueeze(0))).mean(dim=(1, 2)).sum()

    return kernel_mean(z, z) + kernel_mean(prior, prior) - 2 * kernel_mean(z, prior)


def wae_loss(model: VAE, x: Tensor, y: Tensor | None = None, *, weight: float | None = None) -> Loss:
    """WAE-MMD: reconstruction NLL of the mean code + weight x MMD(codes, prior samples)."""
    weight = getattr(model, "module", model).cfg.mmd_weight if weight is None else weight
    logits, mu, _ = model(x, y)
    recon = reconstruction_nll(logits, x).mean()
    mmd = imq_mmd(mu, torch.randn_like(mu))
    return Loss(loss=recon + weight * mmd, recon=recon, kl=None, mmd=mmd)


def training_loss(
    model: VAE, x: Tensor, y: Tensor | None = None, *, beta: float | None = None, free_bits: float = 0.0,
    iwae_k: int = 1,
) -> Loss:
    """The objective of the model's kind (cfg.objective) on one batch; beta, free_bits and iwae_k apply to a vae.

    `model` may be wrapped (DistributedDataParallel): it is only called, and its config read from `.module`.
    """
    cfg = getattr(model, "module", model).cfg
    if cfg.objective == "ae":
        return autoencoder_loss(model, x, y)
    if cfg.objective == "wae":
        return wae_loss(model, x, y, weight=cfg.mmd_weight)
    if iwae_k > 1:
        return negative_iwae(model, x, iwae_k, y)
    return negative_elbo(model, x, y, beta=beta, free_bits=free_bits)


def kl_warmup(step: int, warmup_steps: int, beta: float) -> float:
    """Linear KL warm-up from 0 to beta over warmup_steps (Sønderby et al., 2016)."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def _log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def _importance_terms(model: VAE, x: Tensor, k: int, y: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For k samples z_i ~ q(z|x): log p(x, z_i) - log q(z_i|x) and -log p(x|z_i), each (k, B); mu, logvar."""
    vae = getattr(model, "module", model)  # model may be wrapped in DistributedDataParallel
    eps = torch.randn((k, x.shape[0], vae.cfg.latent_dim), device=x.device)
    logits, mu, logvar = model(x, y, eps)
    z = vae.reparameterize(mu, logvar, eps)
    recon = reconstruction_nll(logits, x.repeat(k, *([1] * (x.dim() - 1)))).view(k, -1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    log_qz = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)  # log N(z; mu, sigma) with z - mu = eps * sigma
    return -recon + log_pz - log_qz, recon, mu, logvar


def log_importance_weights(model: Model | VAE, x: Tensor, k: int, y: Tensor | None = None) -> Tensor:
    """log p(x, z_i) - log q(z_i|x) for k samples z_i ~ q(z|x): shape (k, B), through the model interface.

    The same numbers as training's `_importance_terms` for one of our VAEs (the same noise, drawn after the
    encoder pass, sample-major); NotAvailable without a posterior or a likelihood.
    """
    model = as_model(model)
    mu, logvar = model.encode(x, y)
    if logvar is None:
        raise NotAvailable(f"an {model.kind} has no posterior q(z|x) to sample from")
    eps = torch.randn((k, *mu.shape), device=mu.device)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = model.logits(z.flatten(0, 1), None if y is None else y.repeat(k))
    recon = reconstruction_nll(logits, x.to(mu.device).repeat(k, *([1] * (x.dim() - 1)))).view(k, -1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    log_qz = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)
    return -recon + log_pz - log_qz


def negative_iwae(model: VAE, x: Tensor, k: int, y: Tensor | None = None) -> Loss:
    """-L_k, the negative importance-weighted bound, as a training objective (Burda et al., 2016).

    Its gradient weights the k samples by their normalized importance weights, which trains the
    decoder towards a higher log p(x) than the ELBO does, at the price of k decoder passes.
    recon and kl report the mean single-sample terms, comparable with negative_elbo's.
    """
    log_w, recon, mu, logvar = _importance_terms(model, x, k, y)
    bound = torch.logsumexp(log_w, dim=0) - math.log(k)
    return Loss(loss=-bound.mean(), recon=recon.mean(), kl=kl_per_dim(mu, logvar).sum(1).mean())


def iwae_bound(model: Model | VAE, x: Tensor, k: int, y: Tensor | None = None) -> Tensor:
    """The importance-weighted bound L_k per image (Burda et al., 2016): shape (B,).

    L_1 is the ELBO; L_k rises towards log p(x) as k grows.
    """
    return torch.logsumexp(log_importance_weights(model, x, k, y), dim=0) - math.log(k)


@torch.no_grad()
def nll_importance_sampling(
    model: Model | VAE, x: Tensor, k: int = 1000, y: Tensor | None = None, chunk: int = 250
) -> Tensor:
    """-log p(x) per image, estimated with k importance samples from q(z|x).

    Samples are drawn `chunk` at a time and combined with a running logsumexp,
    so memory stays bounded for any k.
    """
    if k < 1 or chunk < 1:
        raise ValueError(f"k and chunk must be >= 1, got k={k}, chunk={chunk}")
    model = as_model(model)
    total = torch.full((x.shape[0],), -math.inf, device=model.device)
    remaining = k
    while remaining > 0:
        n = min(chunk, remaining)
        chunk_lse = torch.logsumexp(log_importance_weights(model, x, n, y), dim=0)
        total = torch.logaddexp(total, chunk_lse)
        remaining -= n
    return -(total - math.log(k))
