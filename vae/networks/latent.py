"""Operations in latent space: encode, decode, interpolate, traverse, sample, compare."""

from __future__ import annotations

import torch
from torch import Tensor

from vae.datasets.imageset import ImageSet
from vae.models.interface import Model, as_model
from vae.networks.model import VAE


@torch.no_grad()
def encode_dataset(model: Model | VAE, data: ImageSet, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """Posterior means and log-variances of every image, each (N, latent_dim), on the CPU. A model without a
    posterior has its codes and zero log-variances (unused: such a model's pages never read them)."""
    model = as_model(model)
    mus, logvars = [], []
    for start in range(0, len(data), batch_size):
        sl = slice(start, start + batch_size)
        mu, logvar = model.encode(data.floats(sl), data.labels[sl])
        mus.append(mu.cpu())
        logvars.append(torch.zeros_like(mus[-1]) if logvar is None else logvar.cpu())
    dim = model.latent_dim
    if not mus:
        return torch.zeros(0, dim), torch.zeros(0, dim)
    return torch.cat(mus), torch.cat(logvars)


@torch.no_grad()
def decode(model: Model | VAE, z: Tensor, y: Tensor | None = None) -> Tensor:
    """Images in [0, 1] (`Model.image`) for latent codes z of shape (B, latent_dim), on the CPU."""
    return as_model(model).image(z, y).cpu()


@torch.no_grad()
def every_class(model: Model | VAE, x: Tensor, y: Tensor) -> Tensor:
    """A conditional model's "same style, every class": each image encoded with its own label, its code
    decoded with every label in turn. Images (B, C, H, W) and labels (B,) -> (B, num_classes, C, H, W)."""
    model = as_model(model)
    classes = model.num_classes
    if not classes:
        raise ValueError("every_class needs a conditional model")
    mu, _ = model.encode(x, y)
    codes = mu.cpu().repeat_interleave(classes, dim=0)
    images = decode(model, codes, torch.arange(classes).repeat(len(x)))
    return images.reshape(len(x), classes, *images.shape[1:])


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Points (1 - t) a + t b for each t: shape (len(t), D)."""
    t = t.reshape(-1, 1)
    return (1 - t) * a + t * b


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (Shoemake; White, 2016).

    Falls back to lerp for parallel or opposite codes, where the great circle is undefined.
    """
    t = t.reshape(-1, 1)
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega) < 1e-4:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(a: Tensor, b: Tensor, steps: int, method: str = "linear") -> Tensor:
    """`steps` codes from a to b inclusive, by "linear" or "spherical" interpolation."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    t = torch.linspace(0.0, 1.0, steps)
    if method == "linear":
        return lerp(a, b, t)
    if method == "spherical":
        return slerp(a, b, t)
    raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")


def traverse(z: Tensor, dim: int, values: Tensor) -> Tensor:
    """Copies of z with dimension `dim` set to each of `values`: shape (len(values), D)."""
    codes = z.reshape(1, -1).repeat(len(values), 1)
    codes[:, dim] = values
    return codes


def plane_grid(x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> Tensor:
    """An n x n grid of 2-D codes over a rectangle, row by row from the top (largest y) as an image is laid out,
    each code at the centre of its cell: shape (n * n, 2)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    centres = (torch.arange(n) + 0.5) / n
    xs = x_range[0] + centres * (x_range[1] - x_range[0])
    ys = y_range[1] - centres * (y_range[1] - y_range[0])
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1)


def sample_prior(n: int, latent_dim: int, temperature: float = 1.0, seed: int | None = None) -> Tensor:
    """n codes from N(0, temperature^2 I); the same seed gives the same codes."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(n, latent_dim, generator=gen) * temperature


def class_means(mu: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Mean latent code of each class: shape (num_classes, D); NaN rows for empty classes."""
    sums = torch.zeros(num_classes, mu.shape[1]).index_add_(0, labels, mu)
    counts = torch.bincount(labels, minlength=num_classes).unsqueeze(1)
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.nan)


def attribute_vector(mu: Tensor, labels: Tensor, source: int, target: int) -> Tensor:
    """The direction from class `source`'s mean code to class `target`'s."""
    means = class_means(mu, labels, int(max(source, target, labels.max().item())) + 1)
    return means[target] - means[source]


def nearest_neighbours(query: Tensor, codes: Tensor, k: int = 8) -> tuple[Tensor, Tensor]:
    """Indices and Euclidean distances of the k codes nearest to each query: shapes (Q, k)."""
    query = query.reshape(-1, codes.shape[1])
    dist = torch.cdist(query, codes)
    values, indices = dist.topk(min(k, len(codes)), dim=1, largest=False)
    return indices, values
