"""The model's shapes, its layer contract, and the config's validation and JSON round trip."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from vae.networks.config import PRESETS, ModelConfig
from vae.networks.model import VAE, ModelTooLarge, build, count_parameters, parameter_count


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 16)])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_shapes(tiny_model, arch: str, channels: int, size: int, num_classes: int) -> None:
    model = tiny_model(arch, channels=channels, height=size, width=size, num_classes=num_classes)
    x = torch.rand(5, channels, size, size)
    y = torch.tensor([0, 1, 2, 0, 1]) if num_classes else None
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (5, 4)
    assert model.decode(mu, y).shape == (5, channels, size, size)
    logits, mu2, logvar2 = model(x, y)
    assert logits.shape == x.shape
    assert torch.equal(mu, mu2) and torch.equal(logvar, logvar2)


def test_presets_build() -> None:
    mlp = VAE(PRESETS["mlp"])
    # The classic 784-400-20 shape: 784*400+400 + 400*40+40 encoder, 20*400+400 + 400*784+784 decoder.
    assert count_parameters(mlp) == (784 * 400 + 400) + (400 * 40 + 40) + (20 * 400 + 400) + (400 * 784 + 784)
    conv = VAE(PRESETS["conv"])
    assert conv.decode(torch.zeros(2, 16)).shape == (2, 1, 28, 28)


def test_conditional_model_needs_labels(tiny_model) -> None:
    model = tiny_model("conv", num_classes=10)
    with pytest.raises(ValueError, match="conditional"):
        model.encode(torch.rand(2, 1, 28, 28))


def test_labels_change_a_conditional_decoding(tiny_model) -> None:
    model = tiny_model("mlp", num_classes=10)
    z = torch.randn(1, 4)
    assert not torch.equal(model.decode(z, torch.tensor([0])), model.decode(z, torch.tensor([1])))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_an_unconditional_model_ignores_labels(tiny_model, arch: str) -> None:
    """Callers pass a dataset's labels to any model (no `if cfg.conditional` at each call): an
    unconditional one must give the same codes, decodings and losses with them as without."""
    model = tiny_model(arch)
    x, y, z, eps = torch.rand(3, 1, 28, 28), torch.tensor([0, 5, 9]), torch.randn(3, 4), torch.randn(2, 3, 4)
    for with_labels, without in zip(model.encode(x, y), model.encode(x), strict=True):
        assert torch.equal(with_labels, without)
    assert torch.equal(model.decode(z, y), model.decode(z))
    for with_labels, without in zip(model(x, y, eps), model(x, None, eps), strict=True):
        assert torch.equal(with_labels, without)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_decoder_uses_only_exportable_layers(tiny_model, arch: str) -> None:
    allowed = (nn.Linear, nn.ReLU, nn.SiLU, nn.Unflatten, nn.ConvTranspose2d, nn.Conv2d)
    for layer in tiny_model(arch).decoder:
        assert isinstance(layer, allowed), layer
        if isinstance(layer, nn.ConvTranspose2d):
            assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
        elif isinstance(layer, nn.Conv2d):
            assert (layer.kernel_size, layer.padding) == ((3, 3), (1, 1))


def test_reparameterize_follows_the_posterior() -> None:
    torch.manual_seed(0)
    mu = torch.full((20000, 2), 3.0)
    logvar = torch.log(torch.full((20000, 2), 0.25))
    z = VAE.reparameterize(mu, logvar)
    assert z.mean().item() == pytest.approx(3.0, abs=0.02)
    assert z.std().item() == pytest.approx(0.5, abs=0.02)


def test_config_round_trips_through_json() -> None:
    cfg = ModelConfig(arch="mlp", latent_dim=7, hidden=50, hidden_layers=2, beta=0.5, num_classes=10)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"arch": "rnn"}, "arch"),
        ({"hidden": 0}, "hidden"),
        ({"arch": "conv", "hidden": 1}, "hidden >= 2"),
        ({"beta": -1.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"channels": 2}, "channels"),
        ({"arch": "conv", "height": 30}, "divisible by 4"),
        ({"height": 0}, "height"),
        ({"activation": "tanh"}, "activation"),
        ({"num_classes": -1}, "num_classes"),
    ],
)
def test_config_refuses_bad_values(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**fields)


def test_config_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**ModelConfig().to_dict(), "depth": 3})


def test_the_family_is_checked_where_it_is_configured() -> None:
    assert not ModelConfig(objective="ae").stochastic and ModelConfig().stochastic
    with pytest.raises(ValueError, match="objective must be one of"):
        ModelConfig(objective="gan")
    with pytest.raises(ValueError, match="needs mmd_weight > 0"):
        ModelConfig(objective="wae")
    with pytest.raises(ValueError, match="has no KL term"):
        ModelConfig(objective="ae", beta=4.0)


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [({}, "VAE"), ({"beta": 4.0}, "β-VAE (β = 4)"), ({"num_classes": 10}, "CVAE"), ({"objective": "ae"}, "AE"),
     ({"objective": "wae", "mmd_weight": 10.0}, "WAE (λ = 10)"),
     ({"objective": "ae", "num_classes": 2}, "conditional AE")],
)
def test_each_member_says_what_it_is(overrides: dict, kind: str) -> None:
    assert ModelConfig(**overrides).kind == kind


def test_build_counts_before_it_allocates_and_refuses_absurd_sizes() -> None:
    cfg = ModelConfig(arch="mlp", latent_dim=4, hidden=32)
    assert parameter_count(cfg) == count_parameters(build(cfg)) == count_parameters(VAE(cfg))
    too_large = r"would have [\d,]+ parameters \([\d,.]+ GB\), more than the 1,073,741,824 allowed"
    with pytest.raises(ModelTooLarge, match=too_large):
        build(ModelConfig(arch="mlp", hidden=10**9))
    with pytest.raises(ModelTooLarge, match="would have"):
        build(ModelConfig(arch="conv", height=4 * 10**6, width=4 * 10**6))
    with pytest.raises(ModelTooLarge, match="more parameters than can be counted, more than the 1,073,741,824"):
        build(ModelConfig(arch="mlp", hidden=10**30))


def test_build_turns_an_allocation_failure_into_a_message(monkeypatch) -> None:
    import vae.networks.model

    def out_of_memory(cfg):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4000000000 bytes.")

    monkeypatch.setattr(vae.networks.model, "VAE", out_of_memory)
    monkeypatch.setattr(vae.networks.model, "parameter_count", lambda cfg: 10**9)
    with pytest.raises(ModelTooLarge, match=r"could not allocate the model's 1,000,000,000 parameters \(4.0 GB\)"):
        build(ModelConfig())
