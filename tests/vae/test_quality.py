"""How far a map keeps the latent neighbourhoods (vae.analysis.quality), and that atlases store it."""

from __future__ import annotations

import torch

from vae.analysis.atlas import Atlas, add_quality, load_atlas, pca_2d, save_atlas
from vae.analysis.quality import K, neighbours_kept, trustworthiness


def test_a_map_that_is_the_latent_plane_keeps_every_neighbour() -> None:
    mu = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    assert trustworthiness(mu, mu.clone()) == 1.0
    assert neighbours_kept(mu, mu * 3 + 1).tolist() == [K] * 300  # scaling and shifting keeps neighbours


def test_a_scrambled_map_tears_the_neighbourhoods() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(400, 8, generator=gen)
    scrambled = mu[torch.randperm(400, generator=gen), :2]
    assert trustworthiness(mu, scrambled) < 0.7
    kept = neighbours_kept(mu, scrambled)
    assert kept.dtype == torch.uint8 and kept.shape == (400,) and kept.float().mean() < 1


def test_trustworthiness_is_measured_on_a_sample(monkeypatch) -> None:
    import sklearn.manifold

    seen = []
    real = sklearn.manifold.trustworthiness
    monkeypatch.setattr(sklearn.manifold, "trustworthiness", lambda x, y, **kw: seen.append(len(x)) or real(x, y, **kw))
    mu = torch.randn(700, 4)
    trustworthiness(mu, mu[:, :2], sample=500)
    assert seen == [500]


def test_an_atlas_stores_its_quality_per_projection(tmp_path) -> None:
    mu = torch.randn(200, 4, generator=torch.Generator().manual_seed(1))
    mean, basis = pca_2d(mu)
    coords = {"pca": (mu - mean) @ basis.T, "umap": mu[:, 2:].clone()}
    atlas = Atlas(coords, mu, torch.zeros(200, 4), torch.zeros(200), torch.arange(200) % 10, mean, basis, {})
    add_quality(atlas)
    save_atlas(tmp_path, atlas)
    again = load_atlas(tmp_path)
    assert set(again.kept) == set(atlas.projections) and set(again.meta["trustworthiness"]) == set(atlas.projections)
    assert all(torch.equal(again.kept[p], atlas.kept[p]) for p in atlas.projections)
