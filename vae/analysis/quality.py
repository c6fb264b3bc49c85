"""How far to trust a 2-D map of latent codes: does it keep the latent space's neighbourhoods?

- `trustworthiness`: scikit-learn's (Venna & Kaski, 2001), k = 10, of the map against the latent means:
  1 when every map neighbour is a latent neighbour too, lower as the map invents neighbours. It needs memory
  quadratic in the points, so it is measured on a random sample of 5,000.
- `neighbours_kept`: for each point, how many of its k nearest latent neighbours are among its k nearest on
  the map (0 to k). O(n k) after the two neighbour searches; coloured on the map, it shows where a projection
  tears the latent space apart.

Both are computed when an atlas is built (vae.analysis.atlas), never when a page loads. scikit-learn is imported
here only, inside the functions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

K = 10
SAMPLE = 5000


def trustworthiness(mu: Tensor, xy: Tensor, k: int = K, sample: int = SAMPLE, seed: int = 0) -> float:
    """sklearn.manifold.trustworthiness of the map `xy` (N, 2) against the latent means `mu` (N, D)."""
    from sklearn.manifold import trustworthiness as score

    n = len(mu)
    k = min(k, max(1, n // 2 - 1))  # scikit-learn requires k < n / 2
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:sample] if n > sample else None
    part = (mu, xy) if chosen is None else (mu[chosen], xy[chosen])
    return float(score(part[0].double().numpy(), part[1].double().numpy(), n_neighbors=k))


def nearest(points: Tensor, k: int) -> np.ndarray:
    """Each point's k nearest other points (N, k), by Euclidean distance."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k).fit(points.double().numpy()).kneighbors(return_distance=False)


def neighbours_kept(mu: Tensor, xy: Tensor, k: int = K) -> Tensor:
    """For each point, how many of its k nearest latent neighbours are among its k nearest on the map: (N,) uint8."""
    k = min(k, len(mu) - 1)
    latent, mapped = nearest(mu, k), nearest(xy, k)
    kept = (latent[:, :, None] == mapped[:, None, :]).any(axis=2).sum(axis=1)
    return torch.from_numpy(kept.astype(np.uint8))
