"""vae.export: the decoder and the atlas as JSON-able data for the browser."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from vae.config import PRESETS
from vae.export import UnsupportedDecoder, decoder_spec, float32_base64, map_spec
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
    with pytest.raises(UnsupportedDecoder, match="Tanh"):
        decoder_spec(model)
    model = VAE(PRESETS["conv"])
    model.decoder[3] = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1)
    with pytest.raises(UnsupportedDecoder, match="kernel 4"):
        decoder_spec(model)


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
