"""vae.export: the networks, the atlas and lists of values as JSON-able data for the browser."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from vae.atlas import Atlas
from vae.config import PRESETS
from vae.export import (
    UnsupportedNetwork,
    atlas_map_spec,
    decoder_spec,
    encoder_spec,
    float32_base64,
    latent_plane_spec,
    map_spec,
    values_spec,
)
from vae.model import VAE


def floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def test_float32_base64_round_trips_in_row_major_order() -> None:
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3).T  # not contiguous, not float32
    assert floats(float32_base64(t)).tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_decoder_spec_lists_every_layer_with_its_weights(arch: str, num_classes: int) -> None:
    torch.manual_seed(0)
    model = VAE(replace(PRESETS[arch], num_classes=num_classes))
    spec = json.loads(json.dumps(decoder_spec(model)))  # survives JSON unchanged
    assert spec["latent_dim"] == model.cfg.latent_dim
    assert spec["num_classes"] == num_classes
    assert spec["image_shape"] == [1, 28, 28]
    assert len(spec["layers"]) == len(model.decoder)
    for entry, layer in zip(spec["layers"], model.decoder, strict=True):
        if hasattr(layer, "weight"):
            np.testing.assert_array_equal(floats(entry["weight"]), layer.weight.detach().numpy().ravel())
            np.testing.assert_array_equal(floats(entry["bias"]), layer.bias.detach().numpy())
    first = spec["layers"][0]
    assert first["type"] == "linear" and first["in"] == model.cfg.latent_dim + num_classes


def test_spec_id_follows_the_weights() -> None:
    torch.manual_seed(0)
    model = VAE(PRESETS["conv"])
    before = decoder_spec(model)["id"]
    assert decoder_spec(model)["id"] == before
    with torch.no_grad():
        model.decoder[0].bias[0] += 1
    assert decoder_spec(model)["id"] != before


def test_unsupported_layers_are_refused_by_name() -> None:
    model = VAE(PRESETS["mlp"])
    model.decoder.append(nn.Tanh())
    with pytest.raises(UnsupportedNetwork, match="Tanh"):
        decoder_spec(model)
    model = VAE(PRESETS["conv"])
    model.decoder[3] = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1)
    with pytest.raises(UnsupportedNetwork, match="kernel 4"):
        decoder_spec(model)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_encoder_spec_lists_the_trunk_and_the_head(arch: str, num_classes: int) -> None:
    torch.manual_seed(0)
    model = VAE(replace(PRESETS[arch], num_classes=num_classes))
    spec = json.loads(json.dumps(encoder_spec(model)))
    assert (spec["latent_dim"], spec["num_classes"]) == (model.cfg.latent_dim, num_classes)
    assert spec["image_shape"] == [1, 28, 28]
    trunk = [layer["type"] for layer in spec["trunk"]]
    assert trunk == (["flatten"] if arch == "mlp" else ["conv2d", "silu", "conv2d", "silu", "flatten"])
    if arch == "conv":
        assert (spec["trunk"][0]["kernel"], spec["trunk"][0]["stride"], spec["trunk"][0]["padding"]) == (4, 2, 1)
    head = [entry for entry in spec["head"] if entry["type"] == "linear"]
    assert head[0]["in"] == model.head[0].in_features and head[-1]["out"] == 2 * model.cfg.latent_dim
    np.testing.assert_array_equal(floats(head[-1]["weight"]), model.head[-1].weight.detach().numpy().ravel())
    assert spec["id"] != encoder_spec(VAE(replace(PRESETS[arch], num_classes=num_classes)))["id"]


def test_an_encoder_with_an_odd_convolution_is_refused() -> None:
    model = VAE(PRESETS["conv"])
    model.trunk[0] = nn.Conv2d(1, 32, 5, stride=2, padding=2)
    with pytest.raises(UnsupportedNetwork, match="kernel 3"):
        encoder_spec(model)


def test_map_spec_holds_points_means_and_labels() -> None:
    xy, mu, labels = torch.randn(5, 2), torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    spec = json.loads(json.dumps(map_spec(xy, mu, labels, ["a", "b", "c"])))
    assert (spec["n"], spec["latent_dim"], spec["labels"]) == (5, 3, [0, 1, 2, 1, 0])
    assert spec["class_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(floats(spec["mu"]), mu.numpy().ravel())
    assert spec["id"] != map_spec(xy, mu + 1, labels)["id"]


def test_map_spec_refuses_mismatched_or_non_finite_input() -> None:
    with pytest.raises(ValueError, match="need xy"):
        map_spec(torch.zeros(4, 2), torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="finite"):
        map_spec(torch.full((2, 2), float("nan")), torch.zeros(2, 2), torch.zeros(2, dtype=torch.long))


def test_a_map_says_how_it_places_codes() -> None:
    n = 6
    atlas = Atlas({"pca": torch.randn(n, 2), "umap": torch.randn(n, 2)}, torch.randn(n, 3), torch.zeros(n, 3),
                  torch.zeros(n), torch.arange(n) % 2, torch.randn(3), torch.randn(2, 3))
    pca = atlas_map_spec(atlas, "pca", ["a", "b"])
    assert pca["kind"] == "atlas" and pca["placement"]["rule"] == "pca"
    np.testing.assert_array_equal(floats(pca["placement"]["basis"]), atlas.pca_basis.numpy().ravel())
    assert atlas_map_spec(atlas, "umap")["placement"] == {"rule": "neighbours", "k": 8}
    with pytest.raises(ValueError, match="PCA needs"):
        map_spec(atlas.coords["pca"], atlas.mu, atlas.labels, pca=(torch.zeros(2), torch.zeros(2, 3)))


def test_a_latent_plane_is_a_map_whose_places_are_codes() -> None:
    mu = torch.randn(4, 2)
    spec = latent_plane_spec(mu, torch.tensor([0, 1, 0, 1]), ["a", "b"])
    assert spec["kind"] == "latent_plane" and spec["placement"] == {"rule": "identity"}
    np.testing.assert_array_equal(floats(spec["xy"]), mu.numpy().ravel())
    with pytest.raises(ValueError, match="2-D latent"):
        latent_plane_spec(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_values_spec_holds_finite_numbers() -> None:
    spec = values_spec(torch.tensor([3.0, 1.0, 2.0]))
    assert spec["n"] == 3 and floats(spec["values"]).tolist() == [3, 1, 2]
    with pytest.raises(ValueError, match="finite"):
        values_spec(torch.tensor([1.0, float("inf")]))
