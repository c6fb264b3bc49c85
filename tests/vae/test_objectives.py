"""The ELBO's parts, KL warm-up and free bits, the IWAE bound and the importance-sampled NLL."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import vae.networks.objectives as objectives
from vae.networks.objectives import (
    free_bits_kl,
    iwae_bound,
    kl_per_dim,
    kl_warmup,
    negative_elbo,
    negative_iwae,
    nll_importance_sampling,
    reconstruction_nll,
)


def test_analytic_kl_matches_monte_carlo() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.0, 1.5, -0.7], [2.0, 0.0, 0.3]])
    logvar = torch.tensor([[0.0, -1.0, 0.8], [-2.0, 0.5, 0.0]])
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn((200_000, *mu.shape), generator=gen)
    log_q = torch.distributions.Normal(mu, std).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    monte_carlo = (log_q - log_p).mean(0)
    torch.testing.assert_close(kl_per_dim(mu, logvar), monte_carlo, atol=0.02, rtol=0.01)


def test_kl_is_zero_at_the_prior() -> None:
    assert torch.equal(kl_per_dim(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2, 3))


def test_reconstruction_nll_is_bce_summed_over_pixels() -> None:
    logits, x = torch.randn(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    expected = torch.stack(
        [F.binary_cross_entropy(torch.sigmoid(lg), xi, reduction="sum") for lg, xi in zip(logits, x, strict=True)]
    )
    torch.testing.assert_close(reconstruction_nll(logits, x), expected)


def test_negative_elbo_is_recon_plus_beta_kl(tiny_model, mnist_test) -> None:
    model, x = tiny_model("mlp"), mnist_test.floats(slice(0, 32))
    torch.manual_seed(1)
    plain = negative_elbo(model, x)
    torch.testing.assert_close(plain.loss, plain.recon + plain.kl)
    assert plain.elbo.item() == pytest.approx(-(plain.recon + plain.kl).item())
    torch.manual_seed(1)
    weighted = negative_elbo(model, x, beta=0.25)
    torch.testing.assert_close(weighted.loss, weighted.recon + 0.25 * weighted.kl)


def test_free_bits_hold_each_dimension_at_the_floor() -> None:
    kl_dims = torch.tensor([[0.1, 2.0], [0.3, 4.0]], requires_grad=True)
    total = free_bits_kl(kl_dims, free_bits=0.5)
    assert total.shape == (2,)
    assert total[0].item() == pytest.approx(0.5 + 3.0)  # dim 0's mean 0.2 is lifted to 0.5
    total.sum().backward()
    assert torch.equal(kl_dims.grad[:, 0], torch.zeros(2))  # no push on a dimension below the floor
    assert (kl_dims.grad[:, 1] > 0).all()
    torch.testing.assert_close(free_bits_kl(kl_dims, 0.0), kl_dims.sum(1))


def test_kl_warmup_rises_linearly_to_beta() -> None:
    assert [kl_warmup(s, 10, 2.0) for s in (0, 5, 10, 50)] == [0.0, 1.0, 2.0, 2.0]
    assert kl_warmup(0, 0, 2.0) == 2.0


def _mean_bound(model, x, k: int, repeats: int) -> float:
    torch.manual_seed(k)
    with torch.no_grad():
        return sum(iwae_bound(model, x, k).mean().item() for _ in range(repeats)) / repeats


def test_iwae_bound_is_at_least_the_elbo_and_rises_with_k(tiny_model, mnist_test) -> None:
    model, x = tiny_model("mlp"), mnist_test.floats(slice(0, 64))
    with torch.no_grad():  # a decoder that depends strongly on z leaves a wide gap between q(z|x) and p(z|x)
        model.decoder[0].weight.mul_(5)
        torch.manual_seed(0)
        elbo = sum(negative_elbo(model, x).elbo.item() for _ in range(50)) / 50
    l1 = _mean_bound(model, x, 1, repeats=50)
    assert l1 == pytest.approx(elbo, abs=6.0)  # L_1 is the ELBO, estimated with a sampled KL
    bounds = [_mean_bound(model, x, k, repeats=4) for k in (5, 50, 500)]
    assert elbo + 20 < bounds[0] < bounds[1] < bounds[2], (elbo, bounds)


def test_forward_with_k_noises_decodes_k_samples_per_image(tiny_model, mnist_test) -> None:
    model, x = tiny_model("conv"), mnist_test.floats(slice(0, 3))
    eps = torch.randn(4, 3, model.cfg.latent_dim)
    with torch.no_grad():
        logits, mu, logvar = model(x, eps=eps)
        expected = model.decode((mu + eps * torch.exp(0.5 * logvar)).flatten(0, 1))
    assert logits.shape == (12, 1, 28, 28)  # sample-major: row i * 3 + j is sample i of image j
    torch.testing.assert_close(logits, expected)


def test_negative_iwae_is_minus_the_bound_and_trains_both_networks(tiny_model, mnist_test) -> None:
    model, x = tiny_model("conv"), mnist_test.floats(slice(0, 8))
    torch.manual_seed(5)
    loss = negative_iwae(model, x, 6)
    torch.manual_seed(5)
    with torch.no_grad():
        bound = iwae_bound(model, x, 6)
    torch.testing.assert_close(loss.loss.detach(), -bound.mean())
    mu, logvar = model.encode(x)
    torch.testing.assert_close(loss.kl.detach(), kl_per_dim(mu, logvar).sum(1).mean().detach())
    loss.loss.backward()
    for net in (model.trunk, model.head, model.decoder):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_nll_with_one_chunk_is_minus_the_iwae_bound(tiny_model, mnist_test) -> None:
    model, x = tiny_model("conv"), mnist_test.floats(slice(0, 8))
    torch.manual_seed(3)
    nll = nll_importance_sampling(model, x, k=40, chunk=40)
    torch.manual_seed(3)
    with torch.no_grad():
        bound = iwae_bound(model, x, 40)
    torch.testing.assert_close(nll, -bound)


def test_nll_chunking_equals_one_shot(monkeypatch, tiny_model) -> None:
    """Any chunk size combines the same log-weights into the same logsumexp."""
    weights = torch.randn(23, 5, generator=torch.Generator().manual_seed(0)) * 30 - 200
    drawn = []

    def fake_weights(model, x, k, y=None):
        start = sum(drawn)
        drawn.append(k)
        return weights[start:start + k]

    monkeypatch.setattr(objectives, "log_importance_weights", fake_weights)
    expected = -(torch.logsumexp(weights, 0) - math.log(23))
    model, x = tiny_model("mlp"), torch.rand(5, 1, 28, 28)
    for chunk in (1, 4, 23, 100):
        drawn.clear()
        torch.testing.assert_close(nll_importance_sampling(model, x, k=23, chunk=chunk), expected)
        assert sum(drawn) == 23


def test_nll_refuses_zero_samples(tiny_model) -> None:
    with pytest.raises(ValueError, match="k"):
        nll_importance_sampling(tiny_model("mlp"), torch.rand(1, 1, 28, 28), k=0)


def test_mmd_is_zero_for_identical_samples_and_grows_with_a_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(256, 8, generator=gen)
    other = torch.randn(256, 8, generator=gen)
    assert objectives.imq_mmd(z, z).item() == pytest.approx(0.0, abs=1e-6)
    shifts = [objectives.imq_mmd(other + s, z).item() for s in (0.0, 0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[0] < 0.05 < shifts[-1], shifts


def test_mmd_has_a_gradient_where_codes_coincide() -> None:
    z = torch.zeros(4, 3, requires_grad=True)
    objectives.imq_mmd(z, torch.ones(4, 3)).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_an_autoencoder_has_no_noise_and_no_kl(tiny_model, mnist_test) -> None:
    model, x = tiny_model("conv", objective="ae"), mnist_test.floats(slice(0, 16))
    first, second = objectives.autoencoder_loss(model, x), objectives.autoencoder_loss(model, x)
    assert first.kl is None and torch.equal(first.loss, second.loss)  # the same code every time
    logits, mu, _ = model(x)
    torch.testing.assert_close(logits, model.decode(mu))
    torch.testing.assert_close(first.loss, reconstruction_nll(logits, x).mean())


def test_wae_loss_is_reconstruction_plus_weighted_mmd(tiny_model, mnist_test) -> None:
    model, x = tiny_model("mlp", objective="wae", mmd_weight=5.0), mnist_test.floats(slice(0, 32))
    loss = objectives.wae_loss(model, x)
    assert loss.kl is None and loss.mmd.item() > 0
    torch.testing.assert_close(loss.loss, loss.recon + 5.0 * loss.mmd)
    loss.loss.backward()
    assert all(p.grad is not None for p in model.head.parameters())  # the MMD term trains the encoder


def test_negative_elbo_at_the_mean_is_deterministic_and_refused_without_a_posterior(tiny_model, mnist_test) -> None:
    model, x = tiny_model("conv"), mnist_test.floats(slice(0, 8))
    score = objectives.negative_elbo_at_mean(model, x)
    mu, logvar = model.encode(x)
    expected = reconstruction_nll(model.decode(mu), x) + kl_per_dim(mu, logvar).sum(1)
    assert score.shape == (8,)
    torch.testing.assert_close(score, expected)
    torch.testing.assert_close(objectives.negative_elbo_at_mean(model, x), score)
    with pytest.raises(ValueError, match="no ELBO"):
        objectives.negative_elbo_at_mean(tiny_model("conv", objective="ae"), x)


def test_reconstruction_error_at_the_mean_is_the_atlas_recon_error(tiny_model, mnist_test) -> None:
    from vae.analysis.atlas import encode_with_errors
    from vae.datasets.imageset import ImageSet
    from vae.store.checkpoint import Checkpoint

    model, data = tiny_model("conv", objective="ae"), mnist_test.subset(16)
    images = ImageSet(data.name, data.images, data.labels, [])
    _, _, atlas_errors = encode_with_errors(Checkpoint(None, model, {}), images)
    torch.testing.assert_close(objectives.reconstruction_error_at_mean(model, data.floats(slice(0, 16))), atlas_errors)
